package douyin

import (
	"context"
	"encoding/json"
	"strconv"

	"omnihub/channel"
	"omnihub/errs"
)

type afterSale struct {
	AftersaleID        ID     `json:"aftersale_id"`
	AftersaleType      int    `json:"aftersale_type"`
	AftersaleStatus    int    `json:"aftersale_status"`
	RefundAmount       int64  `json:"refund_amount"`
	ApplyNum           int64  `json:"aftersale_num"`
	Reason             string `json:"reason"`
	Remark             string `json:"remark"`
	ReturnLogisticsNo  string `json:"return_logistics_code"`
	ReturnCompanyName  string `json:"return_logistics_company_name"`
	CreateTime         int64  `json:"create_time"`
	UpdateTime         int64  `json:"update_time"`
	RelatedSkuOrderID  ID     `json:"related_id"`
	ShopOrderIDInline  ID     `json:"order_id"`
	GotPkg             int    `json:"got_pkg"`
	AftersaleOrderType int    `json:"aftersale_order_type"`
	ExchangeSkuInfo    *struct {
		SkuID    ID     `json:"sku_id"`
		Code     string `json:"code"`
		Num      int64  `json:"num"`
		OutSkuID string `json:"out_sku_id"`
	} `json:"exchange_sku_info"`
	ExchangeCompanyName string `json:"exchange_logistics_company_name"`
}

type afterSaleOrder struct {
	ShopOrderID      ID `json:"shop_order_id"`
	RelatedOrderInfo []struct {
		SkuOrderID       ID    `json:"sku_order_id"`
		AftersaleItemNum int64 `json:"aftersale_item_num"`
		ProductID        ID    `json:"product_id"`
	} `json:"related_order_info"`
}

// Refund kinds (aftersale_type): 0 退货退款, 1 已发货仅退款, 2 未发货仅退款,
// 3 换货, 6 价保, 7 补寄, 8 维修. 价保 (a price-protection refund: the
// buyer keeps the goods and the order still ships) and 维修 (repair) are
// not after-sales cases OmniHub models: they are "other" and rejected.
func refundKind(t int) channel.RefundKind {
	switch t {
	case 0:
		return channel.ReturnRefund
	case 1, 2:
		return channel.RefundOnly
	case 3:
		return channel.Exchange
	case 7:
		return channel.ReshipRequest
	}
	return channel.RefundKindElse
}

// RefundStatus maps aftersale_status: 6 待商家同意, 7 待买家退货, 8 待商家
// 发货 (a reship agreed), 11 待商家二次同意 (goods sent back), 12 售后成功,
// 13 (and 3 in the list API's standard statuses) 换货待买家收货, 14 换货成功,
// 27 商家一次拒绝, 28 售后失败/关闭, 29 商家二次拒绝, 51 取消成功 (withdrawn),
// 53 逆向结束.
func RefundStatus(s int) (channel.RefundStatus, bool) {
	switch s {
	case 6:
		return channel.RefundRequested, true
	case 7:
		return channel.RefundWaitBuyerReturn, true
	case 8:
		return channel.RefundAgreed, true
	case 11:
		return channel.RefundBuyerReturned, true
	case 3, 12, 13, 14:
		return channel.RefundSucceeded, true
	case 27, 29:
		return channel.RefundRefused, true
	case 28, 51, 53:
		return channel.RefundClosed, true
	}
	return "", false
}

func toRefund(a afterSale, o afterSaleOrder, raw json.RawMessage) (channel.Refund, error) {
	st, ok := RefundStatus(a.AftersaleStatus)
	if !ok {
		return channel.Refund{}, errs.E(errs.Invalid, "douyin: after-sale %s has unknown status %d", a.AftersaleID, a.AftersaleStatus)
	}
	r := channel.Refund{
		PlatformRefundID: string(a.AftersaleID),
		PlatformOrderID:  string(o.ShopOrderID),
		PlatformLineID:   string(a.RelatedSkuOrderID),
		Kind:             refundKind(a.AftersaleType),
		PlatformStatus:   strconv.Itoa(a.AftersaleStatus),
		Status:           st,
		Reason:           a.Reason,
		Description:      a.Remark,
		Quantity:         a.ApplyNum,
		Amount:           a.RefundAmount,
		ReturnCarrier:    a.ReturnCompanyName,
		ReturnTrackingNo: a.ReturnLogisticsNo,
		GoodsShipped:     a.AftersaleType != 2,
		CreatedAt:        epoch(a.CreateTime),
		ModifiedAt:       epoch(a.UpdateTime),
		Raw:              raw,
	}
	if r.PlatformOrderID == "" {
		r.PlatformOrderID = string(a.ShopOrderIDInline)
	}
	if r.Kind == channel.Exchange || r.Kind == channel.ReshipRequest {
		r.GoodsShipped = true
	}
	if x := a.ExchangeSkuInfo; x != nil && x.SkuID != "" && x.SkuID != "0" {
		r.Exchange = &channel.ExchangeWant{PlatformSKUID: string(x.SkuID), OuterSKUID: x.Code, Quantity: x.Num}
		if x.OutSkuID != "" {
			r.Exchange.OuterSKUID = x.OutSkuID
		}
		if len(o.RelatedOrderInfo) > 0 {
			r.Exchange.PlatformItemID = string(o.RelatedOrderInfo[0].ProductID)
		}
	}
	r.ReplacementCarrier = a.ExchangeCompanyName
	if len(o.RelatedOrderInfo) > 0 {
		if r.PlatformLineID == "" {
			r.PlatformLineID = string(o.RelatedOrderInfo[0].SkuOrderID)
		}
		if r.Quantity == 0 {
			r.Quantity = o.RelatedOrderInfo[0].AftersaleItemNum
		}
	}
	return r, nil
}

// RefundPullLimits implements channel.RefundPuller: afterSale.List takes
// the same update-time window as order.searchList (one day) and pages of 1
// to 100; page·size may not exceed 50000, which a day's window of a shop
// stays far below. No lookback limit is documented for after-sales.
func (c *Connector) RefundPullLimits() channel.PullLimits {
	return channel.PullLimits{MaxWindow: maxWindow, MaxPageSize: MaxPageSize}
}

// PullRefunds implements channel.RefundPuller with afterSale.List by update
// time, oldest update first; the cursor is the next page number (pages
// start at 0). A window longer than RefundPullLimits allows is refused
// before calling, as in PullOrders.
func (c *Connector) PullRefunds(ctx context.Context, s channel.Session, q channel.RefundQuery) (channel.RefundPage, error) {
	size := q.PageSize
	if size <= 0 || size > MaxPageSize {
		size = MaxPageSize
	}
	if q.End.Sub(q.Start) > maxWindow {
		return channel.RefundPage{}, errs.E(errs.Invalid, "douyin: after-sale window %s exceeds %s", q.End.Sub(q.Start), maxWindow)
	}
	page := 0
	if q.Cursor != "" {
		p, err := strconv.Atoi(q.Cursor)
		if err != nil || p < 0 {
			return channel.RefundPage{}, errs.E(errs.Invalid, "douyin: bad cursor %q", q.Cursor)
		}
		page = p
	}
	params := map[string]any{
		"update_start_time": q.Start.Unix(),
		"update_end_time":   q.End.Unix(),
		"page":              page,
		"size":              size,
		"order_by":          []string{"update_time asc"},
	}
	var d struct {
		Items   []json.RawMessage `json:"items"`
		HasMore bool              `json:"has_more"`
		Total   int               `json:"total"`
	}
	if err := c.call(ctx, s.Credentials, "afterSale.List", params, true, &d); err != nil {
		return channel.RefundPage{}, err
	}
	var out channel.RefundPage
	for _, raw := range d.Items {
		var it struct {
			AftersaleInfo afterSale      `json:"aftersale_info"`
			OrderInfo     afterSaleOrder `json:"order_info"`
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			return channel.RefundPage{}, &channel.APIError{Platform: channel.Douyin, Code: "bad_data", Message: err.Error(), Class: channel.ClassPermanent}
		}
		r, err := toRefund(it.AftersaleInfo, it.OrderInfo, append(json.RawMessage(nil), raw...))
		if err != nil {
			return channel.RefundPage{}, err
		}
		out.Refunds = append(out.Refunds, r)
	}
	if d.HasMore {
		out.NextCursor = strconv.Itoa(page + 1)
	}
	return out, nil
}

// GetRefund implements channel.RefundPuller with afterSale.Detail.
func (c *Connector) GetRefund(ctx context.Context, s channel.Session, id string) (channel.Refund, error) {
	var d struct {
		ProcessInfo struct {
			AfterSaleInfo afterSale `json:"after_sale_info"`
		} `json:"process_info"`
		OrderInfo afterSaleOrder `json:"order_info"`
	}
	var raw json.RawMessage
	if err := c.call(ctx, s.Credentials, "afterSale.Detail", map[string]any{"after_sale_id": id}, true, &raw); err != nil {
		return channel.Refund{}, err
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return channel.Refund{}, &channel.APIError{Platform: channel.Douyin, Code: "bad_data", Message: err.Error(), Class: channel.ClassPermanent}
	}
	if d.ProcessInfo.AfterSaleInfo.AftersaleID == "" {
		return channel.Refund{}, errs.E(errs.NotFound, "douyin: after-sale %s not found", id)
	}
	return toRefund(d.ProcessInfo.AfterSaleInfo, d.OrderInfo, raw)
}

// Operation types of afterSale.operate.
const (
	OpAgreeReturn         = 101 // 同意退货申请 (first review)
	OpRefuseReturn        = 102
	OpConfirmReturnRefund = 111 // 确认收货并退款 (second review)
	OpRefuseReturnGoods   = 112
	OpAgreeRefund         = 201 // 同意仅退款
	OpRefuseRefund        = 202
	OpAgreeExchange       = 301
	OpRefuseExchange      = 302
	// OpShipExchange confirms the returned goods and ships the new SKU in
	// one operation (logistics.company_code, logistics.logistics_code).
	OpShipExchange = 311
	// sendTypeReship is afterSale.fillLogistics send_type 1 (补寄商家发货).
	sendTypeReship = 1
)

// operateType chooses the afterSale.operate type for a decision on a case
// in its current state.
func operateType(r channel.Refund, action string) (int, error) {
	switch action {
	case channel.RefundAgree:
		switch r.Kind {
		case channel.RefundOnly:
			return OpAgreeRefund, nil
		case channel.ReturnRefund:
			if r.Status == channel.RefundBuyerReturned {
				return OpConfirmReturnRefund, nil
			}
			return OpAgreeReturn, nil
		case channel.Exchange:
			return OpAgreeExchange, nil
		}
	case channel.RefundRefuse:
		switch r.Kind {
		case channel.RefundOnly:
			return OpRefuseRefund, nil
		case channel.ReturnRefund:
			if r.Status == channel.RefundBuyerReturned {
				return OpRefuseReturnGoods, nil
			}
			return OpRefuseReturn, nil
		case channel.Exchange:
			return OpRefuseExchange, nil
		}
	case channel.RefundConfirmReceipt:
		if r.Kind == channel.ReturnRefund {
			return OpConfirmReturnRefund, nil
		}
	case channel.RefundShipReplacement:
		if r.Kind == channel.Exchange && r.Status == channel.RefundBuyerReturned {
			return OpShipExchange, nil
		}
		if r.Kind == channel.Exchange {
			return 0, errs.E(errs.Invalid, "douyin: an exchange ships its new goods once the returned goods are back (status %s)", r.PlatformStatus)
		}
	default:
		return 0, errs.E(errs.Invalid, "douyin: unknown refund action %q", action)
	}
	return 0, errs.E(errs.Invalid, "douyin: cannot %s an after-sale of kind %s", action, r.Kind)
}

// AnswerRefund implements channel.RefundResponder with afterSale.operate.
// It reads the case first: the operation type depends on its kind and stage.
// A case already in the state the decision leads to counts as answered.
func (c *Connector) AnswerRefund(ctx context.Context, s channel.Session, d channel.RefundDecision) error {
	r, err := c.GetRefund(ctx, s, d.PlatformRefundID)
	if err != nil {
		return err
	}
	if done(r.Status, d.Action) {
		return nil
	}
	if r.Kind == channel.ReshipRequest {
		return c.answerReship(ctx, s, r, d)
	}
	typ, err := operateType(r, d.Action)
	if err != nil {
		return err
	}
	item := map[string]any{"aftersale_id": d.PlatformRefundID}
	if d.Action == channel.RefundRefuse {
		reason := d.Reason
		if reason == "" {
			reason = "商家拒绝"
		}
		item["reason"] = reason
		item["remark"] = reason
		item["reject_reason_code"] = 1
	}
	if (typ == OpAgreeReturn || typ == OpAgreeExchange) && d.ReturnAddress != nil {
		a := d.ReturnAddress
		item["logistics"] = map[string]any{"after_sale_address_detail": map[string]any{
			"province_name": a.Province, "city_name": a.City, "town_name": a.District,
			"street_name": a.Town, "detail": a.Detail, "user_name": a.Name, "mobile": a.Phone,
		}}
	}
	if typ == OpShipExchange {
		if d.TrackingNo == "" || d.CarrierCode == "" {
			return errs.E(errs.Invalid, "douyin: shipping an exchange needs a carrier and a tracking number")
		}
		item["logistics"] = map[string]any{"company_code": CarrierCode(d.CarrierCode), "logistics_code": d.TrackingNo}
	}
	params := map[string]any{"type": typ, "items": []any{item}}
	return c.call(ctx, s.Credentials, "afterSale.operate", params, true, nil)
}

// answerReship answers a 补寄 after-sale. Its parcel goes with
// afterSale.fillLogistics (send_type 1, company_code, tracking_no). The
// platform documents no afterSale.operate type to agree to or refuse a
// 补寄, so those are answered in the Douyin back office: the connector
// refuses them as invalid (the case records it) rather than pretend.
func (c *Connector) answerReship(ctx context.Context, s channel.Session, r channel.Refund, d channel.RefundDecision) error {
	if d.Action != channel.RefundShipReplacement {
		return errs.E(errs.Invalid, "douyin: %s a 补寄 (reship) after-sale in the Douyin back office; the API documents no operation for it", d.Action)
	}
	if d.TrackingNo == "" || d.CarrierCode == "" {
		return errs.E(errs.Invalid, "douyin: a reship parcel needs a carrier and a tracking number")
	}
	if r.Status != channel.RefundAgreed {
		return errs.E(errs.Invalid, "douyin: the reship %s is not waiting for the seller's parcel (status %s)", r.PlatformRefundID, r.PlatformStatus)
	}
	params := map[string]any{"aftersale_id": r.PlatformRefundID, "send_type": sendTypeReship,
		"company_code": CarrierCode(d.CarrierCode), "tracking_no": d.TrackingNo}
	return c.call(ctx, s.Credentials, "afterSale.fillLogistics", params, true, nil)
}

func done(st channel.RefundStatus, action string) bool {
	switch action {
	case channel.RefundAgree:
		return st == channel.RefundSucceeded || st == channel.RefundWaitBuyerReturn
	case channel.RefundRefuse:
		return st == channel.RefundRefused
	case channel.RefundConfirmReceipt, channel.RefundShipReplacement:
		return st == channel.RefundSucceeded
	}
	return false
}
