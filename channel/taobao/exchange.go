package taobao

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"omnihub/channel"
	"omnihub/errs"
)

// Tmall exchanges (天猫换货) live beside refunds in their own API family,
// tmall.exchange.*, keyed by a dispute id. Only Tmall shops have it, so a
// shop turns it on with Credentials.Extra["tmall_exchange"] = "true". The
// connector names an exchange "exchange:<dispute_id>" in
// channel.Refund.PlatformRefundID, so that GetRefund and AnswerRefund know
// which family to call and an exchange never collides with a refund id.

// ExchangePrefix marks a Tmall exchange's dispute id in PlatformRefundID.
const ExchangePrefix = "exchange:"

const (
	exchangeFields = "dispute_id,bizorder_id,biz_order_id,num,buyer_nick,status,created,modified,reason,desc,title," +
		"buyer_logistic_no,buyer_logistic_name,seller_logistic_no,seller_logistic_name,bought_sku,exchange_sku," +
		"refund_phase,refund_version,good_status,price,payment"
	exchangePageSize = 100
	// exchangeCursor prefixes the page number of the exchange phase of a
	// refund pull (refund pages come first, as plain page numbers;
	// exchange pages are "exchanges:<page>").
	exchangeCursor = "exchanges:"
)

// exchangesOn reports whether the shop pulls Tmall exchanges.
func exchangesOn(s channel.Session) bool {
	v := strings.ToLower(s.Credentials.Extra["tmall_exchange"])
	return v == "true" || v == "1" || v == "yes"
}

type topExchange struct {
	DisputeID          flexString `json:"dispute_id"`
	BizOrderID         flexString `json:"biz_order_id"`
	Num                flexString `json:"num"`
	Status             string     `json:"status"`
	Created            string     `json:"created"`
	Modified           string     `json:"modified"`
	Reason             string     `json:"reason"`
	Desc               string     `json:"desc"`
	BuyerLogisticNo    string     `json:"buyer_logistic_no"`
	BuyerLogisticName  string     `json:"buyer_logistic_name"`
	SellerLogisticNo   string     `json:"seller_logistic_no"`
	SellerLogisticName string     `json:"seller_logistic_name"`
	BoughtSKU          flexString `json:"bought_sku"`
	ExchangeSKU        flexString `json:"exchange_sku"`
	RefundPhase        string     `json:"refund_phase"`
}

// ExchangeStatus maps a Tmall exchange status. TOP documents the statuses
// by number (换货待处理(1), 待买家退货(2), 买家已退货，待收货(3), 换货关闭(4),
// 换货成功(5), 待买家修改(6), 待发出换货商品(12), 待买家收货(13), 请退款(14))
// and the exchange's status field is a string: code that handles real
// answers reads the Chinese names, so both are accepted.
//
//   - 1 → requested; 2 → wait_buyer_return; 3 and 12 (the seller has the
//     goods, the replacement is to go out) → buyer_returned;
//   - 13 (replacement on its way) and 5 → succeeded;
//   - 6 (the seller refused, the buyer may edit and ask again) → refused;
//   - 4, and 14 (closed, to be refunded instead: the refund arrives as a
//     refund of its own) → closed.
func ExchangeStatus(s string) (channel.RefundStatus, bool) {
	switch strings.TrimSpace(s) {
	case "1", "换货待处理":
		return channel.RefundRequested, true
	case "2", "待买家退货":
		return channel.RefundWaitBuyerReturn, true
	case "3", "买家已退货，待收货", "买家已退货,待收货", "12", "待发出换货商品":
		return channel.RefundBuyerReturned, true
	case "5", "换货成功", "13", "待买家收货":
		return channel.RefundSucceeded, true
	case "6", "待买家修改":
		return channel.RefundRefused, true
	case "4", "换货关闭", "14", "请退款", "换货单关闭,请退款":
		return channel.RefundClosed, true
	}
	return "", false
}

// exchangeState names the states the answering code tells apart.
func exchangeState(s string) int {
	switch strings.TrimSpace(s) {
	case "1", "换货待处理":
		return 1
	case "2", "待买家退货":
		return 2
	case "3", "买家已退货，待收货", "买家已退货,待收货":
		return 3
	case "4", "换货关闭":
		return 4
	case "5", "换货成功":
		return 5
	case "6", "待买家修改":
		return 6
	case "12", "待发出换货商品":
		return 12
	case "13", "待买家收货":
		return 13
	case "14", "请退款", "换货单关闭,请退款":
		return 14
	}
	return 0
}

// toExchange translates a Tmall exchange. The order line is found in the
// trade (taobao.trade.fullinfo.get): biz_order_id is the trade (正向订单号),
// and the line is the one that bought bought_sku; when biz_order_id names
// a line itself (its oid), that line is taken.
func (c *Connector) toExchange(ctx context.Context, s channel.Session, x topExchange, raw json.RawMessage) (channel.Refund, error) {
	var p fieldParser
	st, ok := ExchangeStatus(x.Status)
	if !ok {
		return channel.Refund{}, decodeErr("exchange", string(x.DisputeID), errs.E(errs.Invalid, "unknown status %q", x.Status))
	}
	out := channel.Refund{
		PlatformRefundID:      ExchangePrefix + string(x.DisputeID),
		PlatformOrderID:       string(x.BizOrderID),
		Kind:                  channel.Exchange,
		PlatformStatus:        x.Status,
		Status:                st,
		Reason:                x.Reason,
		Description:           x.Desc,
		Quantity:              p.int(x.Num),
		ReturnCarrier:         x.BuyerLogisticName,
		ReturnTrackingNo:      x.BuyerLogisticNo,
		ReplacementCarrier:    x.SellerLogisticName,
		ReplacementTrackingNo: x.SellerLogisticNo,
		// An exchange is asked for goods the buyer has (售后换货); 售中
		// exchanges exist too but the goods had still been shipped.
		GoodsShipped: true,
		CreatedAt:    p.time(x.Created),
		ModifiedAt:   p.time(x.Modified),
		Raw:          raw,
	}
	if p.err != nil {
		return channel.Refund{}, decodeErr("exchange", string(x.DisputeID), p.err)
	}
	if x.ExchangeSKU != "" {
		out.Exchange = &channel.ExchangeWant{PlatformSKUID: string(x.ExchangeSKU), Quantity: out.Quantity}
	}
	if out.PlatformOrderID == "" {
		return out, nil
	}
	o, err := c.GetOrder(ctx, s, out.PlatformOrderID)
	if err != nil {
		return channel.Refund{}, err
	}
	for _, l := range o.Lines {
		if l.PlatformLineID == out.PlatformOrderID || (x.BoughtSKU != "" && l.PlatformSKUID == string(x.BoughtSKU)) {
			out.PlatformLineID = l.PlatformLineID
			if out.Exchange != nil {
				// Exchanges are between SKUs of the bought item.
				out.Exchange.PlatformItemID = l.PlatformItemID
			}
			break
		}
	}
	return out, nil
}

// pullExchanges reads one page of tmall.exchange.receive.get by
// modification time (start_gmt_modified_time / end_gmt_modifed_time, the
// second one spelt as TOP spells it).
func (c *Connector) pullExchanges(ctx context.Context, s channel.Session, q channel.RefundQuery, page int) (channel.RefundPage, error) {
	size := q.PageSize
	if size <= 0 || size > exchangePageSize {
		size = exchangePageSize
	}
	raw, err := c.Call(ctx, s.Credentials, "tmall.exchange.receive.get", map[string]string{
		"fields":                  exchangeFields,
		"start_gmt_modified_time": FormatTime(q.Start),
		"end_gmt_modifed_time":    FormatTime(q.End),
		"page_no":                 strconv.Itoa(page),
		"page_size":               strconv.Itoa(size),
	})
	if err != nil {
		return channel.RefundPage{}, err
	}
	var w struct {
		Results list[json.RawMessage] `json:"results"`
		HasNext flexBool              `json:"has_next"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return channel.RefundPage{}, decodeErr("exchanges page", "", err)
	}
	var out channel.RefundPage
	for _, r := range w.Results {
		var x topExchange
		if err := json.Unmarshal(r, &x); err != nil {
			return channel.RefundPage{}, decodeErr("exchange", "", err)
		}
		rf, err := c.toExchange(ctx, s, x, r)
		if err != nil {
			return channel.RefundPage{}, err
		}
		out.Refunds = append(out.Refunds, rf)
	}
	if w.HasNext {
		out.NextCursor = exchangeCursor + strconv.Itoa(page+1)
	}
	return out, nil
}

// exchangeResult reads the result envelope of tmall.exchange.* answers:
// {"result": {"success": …, "msg_code": …, "message": …, "exchange": {…}}}.
func exchangeResult(method string, raw json.RawMessage) (json.RawMessage, error) {
	var w struct {
		Result struct {
			Success  flexBool        `json:"success"`
			MsgCode  string          `json:"msg_code"`
			Message  string          `json:"message"`
			Exchange json.RawMessage `json:"exchange"`
		} `json:"result"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		return nil, decodeErr(method, "", err)
	}
	if !w.Result.Success {
		return nil, &channel.APIError{Platform: channel.Taobao, Code: "exchange_failed", SubCode: w.Result.MsgCode,
			Message: method + ": " + w.Result.Message, Class: channel.ClassPermanent}
	}
	return w.Result.Exchange, nil
}

func (c *Connector) getExchange(ctx context.Context, s channel.Session, disputeID string) (topExchange, json.RawMessage, error) {
	raw, err := c.Call(ctx, s.Credentials, "tmall.exchange.get", map[string]string{"dispute_id": disputeID, "fields": exchangeFields})
	if err != nil {
		return topExchange{}, nil, err
	}
	ex, err := exchangeResult("tmall.exchange.get", raw)
	if err != nil {
		return topExchange{}, nil, err
	}
	var x topExchange
	if err := json.Unmarshal(ex, &x); err != nil || x.DisputeID == "" {
		return topExchange{}, nil, decodeErr("exchange", disputeID, errs.E(errs.Invalid, "no exchange in response"))
	}
	return x, ex, nil
}

// getExchangeRefund is GetRefund for an exchange (tmall.exchange.get).
func (c *Connector) getExchangeRefund(ctx context.Context, s channel.Session, disputeID string) (channel.Refund, error) {
	x, raw, err := c.getExchange(ctx, s, disputeID)
	if err != nil {
		return channel.Refund{}, err
	}
	return c.toExchange(ctx, s, x, raw)
}

// answerExchange is AnswerRefund for an exchange:
//
//   - agree while 换货待处理: tmall.exchange.agree with the return address
//     (address_id = the shop's Extra["seller_address_id"], a contact id of
//     taobao.logistics.address.search; and/or complete_address, mobile, post);
//   - refuse while 换货待处理: tmall.exchange.refuse; after the goods came
//     back: tmall.exchange.returngoods.refuse. Both need a
//     seller_refuse_reason_id (tmall.exchange.refusereason.get): the shop's
//     Extra["exchange_refuse_reason_id"];
//   - confirm_receipt after the buyer sent the goods: tmall.exchange.returngoods.agree;
//   - ship_replacement: tmall.exchange.confirm.consign (confirm the returned
//     goods and ship in one call) while 买家已退货，待收货, or
//     tmall.exchange.consigngoods once receipt was confirmed (待发出换货商品);
//     logistics_type 200 (express), logistics_company_name, logistics_no.
//
// A decision the exchange already reflects succeeds without a call.
func (c *Connector) answerExchange(ctx context.Context, s channel.Session, disputeID string, d channel.RefundDecision) error {
	x, _, err := c.getExchange(ctx, s, disputeID)
	if err != nil {
		return err
	}
	st := exchangeState(x.Status)
	call := func(method string, p map[string]string) error {
		p["dispute_id"] = disputeID
		p["fields"] = "dispute_id,bizorder_id,modified,status"
		raw, err := c.Call(ctx, s.Credentials, method, p)
		if err != nil {
			return err
		}
		_, err = exchangeResult(method, raw)
		return err
	}
	switch d.Action {
	case channel.RefundAgree:
		switch st {
		case 2, 3, 5, 12, 13:
			return nil // already agreed
		case 1:
		default:
			return errs.E(errs.Invalid, "taobao: exchange %s cannot be agreed in status %s", disputeID, x.Status)
		}
		p := map[string]string{"address_id": s.Credentials.Extra["seller_address_id"], "leave_message": d.Reason}
		if a := d.ReturnAddress; a != nil {
			p["complete_address"] = strings.Join([]string{a.Province, a.City, a.District, a.Town, a.Detail, " ", a.Name}, "")
			p["mobile"] = a.Phone
			p["post"] = a.Zip
		}
		if p["address_id"] == "" && d.ReturnAddress == nil {
			return errs.E(errs.Invalid, "taobao: agreeing to an exchange needs a return address or the shop's seller_address_id")
		}
		return call("tmall.exchange.agree", p)
	case channel.RefundRefuse:
		if st == 6 {
			return nil
		}
		reasonID := s.Credentials.Extra["exchange_refuse_reason_id"]
		if reasonID == "" {
			return errs.E(errs.Invalid, "taobao: refusing an exchange needs the shop's exchange_refuse_reason_id (tmall.exchange.refusereason.get)")
		}
		p := map[string]string{"seller_refuse_reason_id": reasonID, "leave_message": d.Reason}
		switch st {
		case 1:
			return call("tmall.exchange.refuse", p)
		case 3:
			return call("tmall.exchange.returngoods.refuse", p)
		}
		return errs.E(errs.Invalid, "taobao: exchange %s cannot be refused in status %s", disputeID, x.Status)
	case channel.RefundConfirmReceipt:
		switch st {
		case 12, 13, 5:
			return nil
		case 3:
			return call("tmall.exchange.returngoods.agree", map[string]string{})
		}
		return errs.E(errs.Invalid, "taobao: exchange %s has no returned goods to confirm in status %s", disputeID, x.Status)
	case channel.RefundShipReplacement:
		if d.TrackingNo == "" {
			return errs.E(errs.Invalid, "taobao: shipping an exchange needs a tracking number")
		}
		p := map[string]string{"logistics_no": d.TrackingNo, "logistics_type": "200",
			"logistics_company_name": CompanyName(d.CarrierCode, s.Credentials.Extra)}
		switch st {
		case 13, 5:
			if x.SellerLogisticNo == d.TrackingNo {
				return nil // shipped already with this parcel
			}
			return errs.E(errs.Invalid, "taobao: exchange %s was shipped with another parcel (%s)", disputeID, x.SellerLogisticNo)
		case 3:
			return call("tmall.exchange.confirm.consign", p)
		case 12:
			return call("tmall.exchange.consigngoods", p)
		}
		return errs.E(errs.Invalid, "taobao: exchange %s cannot ship before the goods come back (status %s)", disputeID, x.Status)
	}
	return errs.E(errs.Invalid, "taobao: unknown exchange action %q", d.Action)
}

// CompanyName is the express company's name for APIs that take a name
// rather than a code (tmall.exchange.consigngoods logistics_company_name):
// the shop's Extra["carrier_name:<CODE>"], else the common companies'
// names, else the code itself.
func CompanyName(carrier string, extra map[string]string) string {
	c := CompanyCode(carrier, extra)
	if v := extra["carrier_name:"+c]; v != "" {
		return v
	}
	if v, ok := companyNames[c]; ok {
		return v
	}
	return c
}

var companyNames = map[string]string{
	"SF": "顺丰速运", "ZTO": "中通快递", "YTO": "圆通速递", "STO": "申通快递", "YUNDA": "韵达快递",
	"EMS": "EMS", "JD": "京东物流", "DBL": "德邦快递", "JT": "极兔速递",
}
