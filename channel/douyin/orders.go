package douyin

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"omnihub/channel"
	"omnihub/errs"
)

// Documented limits of order.searchList: pages start at 0 and hold 1 to 100
// orders; the list covers orders created within the last 90 days (older
// ones are reachable by id through order.orderDetail). The platform
// documents no hard window for update-time searches; one day keeps each
// pull small and bounded.
const (
	MaxPageSize  = 100
	maxWindow    = 24 * time.Hour
	maxLookback  = 90 * 24 * time.Hour
	orderMethod  = "order.searchList"
	detailMethod = "order.orderDetail"
)

// PullLimits implements channel.OrderPuller.
func (c *Connector) PullLimits() channel.PullLimits {
	return channel.PullLimits{MaxWindow: maxWindow, MaxPageSize: MaxPageSize, MaxLookback: maxLookback}
}

// ID is a platform id that the platform writes sometimes as a JSON string
// and sometimes as a number.
type ID string

// UnmarshalJSON accepts "123", 123 and null.
func (i *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*i = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*i = ID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*i = ID(n.String())
	return nil
}

type addrPart struct {
	ID   ID     `json:"id"`
	Name string `json:"name"`
}

type postAddr struct {
	Province addrPart `json:"province"`
	City     addrPart `json:"city"`
	Town     addrPart `json:"town"`
	Street   addrPart `json:"street"`
	Detail   string   `json:"detail"`
}

type spec struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type afterSaleInfo struct {
	AfterSaleStatus int `json:"after_sale_status"`
	AfterSaleType   int `json:"after_sale_type"`
	RefundStatus    int `json:"refund_status"`
}

type skuOrder struct {
	OrderID       ID            `json:"order_id"`
	ParentOrderID ID            `json:"parent_order_id"`
	ProductID     ID            `json:"product_id"`
	SkuID         ID            `json:"sku_id"`
	OutSkuID      ID            `json:"out_sku_id"`
	Code          string        `json:"code"` // the merchant's SKU code (商家编码)
	ProductName   string        `json:"product_name"`
	Spec          []spec        `json:"spec"`
	ItemNum       int64         `json:"item_num"`
	GoodsPrice    int64         `json:"goods_price"`
	OriginAmount  int64         `json:"origin_amount"`
	PayAmount     int64         `json:"pay_amount"`
	OrderStatus   int           `json:"order_status"`
	AfterSaleInfo afterSaleInfo `json:"after_sale_info"`
}

type logisticsInfo struct {
	TrackingNo string `json:"tracking_no"`
	Company    string `json:"company"`
	ShipTime   int64  `json:"ship_time"`
}

type shopOrder struct {
	OrderID                 ID              `json:"order_id"`
	OrderStatus             int             `json:"order_status"`
	OrderStatusDesc         string          `json:"order_status_desc"`
	CreateTime              int64           `json:"create_time"`
	PayTime                 int64           `json:"pay_time"`
	UpdateTime              int64           `json:"update_time"`
	OrderAmount             int64           `json:"order_amount"`
	PayAmount               int64           `json:"pay_amount"`
	PostAmount              int64           `json:"post_amount"`
	PromotionAmount         int64           `json:"promotion_amount"`
	PromotionPlatformAmount int64           `json:"promotion_platform_amount"`
	BuyerWords              string          `json:"buyer_words"`
	SellerWords             string          `json:"seller_words"`
	DoudianOpenID           string          `json:"doudian_open_id"`
	PostReceiver            string          `json:"post_receiver"`
	PostTel                 string          `json:"post_tel"`
	PostAddr                postAddr        `json:"post_addr"`
	PresellType             int             `json:"presell_type"`
	LogisticsInfo           []logisticsInfo `json:"logistics_info"`
	SkuOrderList            []skuOrder      `json:"sku_order_list"`
}

// OrderStatus maps the platform's order_status to the neutral status.
// 1 待支付, 105 已支付 (not yet released to the seller), 2 备货中 (to
// ship), 101 部分发货, 3 已发货, 4 已取消, 5 已完成. Other codes are an
// error, so the order is parked rather than guessed.
func OrderStatus(code int) (channel.OrderStatus, bool) {
	switch code {
	case 1:
		return channel.OrderPendingPayment, true
	case 2, 105:
		return channel.OrderPaid, true
	case 101:
		return channel.OrderPartShipped, true
	case 3:
		return channel.OrderShipped, true
	case 4:
		return channel.OrderCancelled, true
	case 5:
		return channel.OrderCompleted, true
	}
	return "", false
}

func (o shopOrder) toChannel(raw json.RawMessage) (channel.Order, error) {
	st, ok := OrderStatus(o.OrderStatus)
	if !ok {
		return channel.Order{}, errs.E(errs.Invalid, "douyin: order %s has unknown order_status %d", o.OrderID, o.OrderStatus).WithField("order_status", strconv.Itoa(o.OrderStatus))
	}
	out := channel.Order{
		PlatformOrderID: string(o.OrderID),
		PlatformStatus:  strconv.Itoa(o.OrderStatus),
		Status:          st,
		CreatedAt:       epoch(o.CreateTime),
		ModifiedAt:      epoch(o.UpdateTime),
		BuyerID:         o.DoudianOpenID,
		Receiver: channel.Address{
			Name: o.PostReceiver, Phone: o.PostTel,
			Province: o.PostAddr.Province.Name, City: o.PostAddr.City.Name,
			District: o.PostAddr.Town.Name, Town: o.PostAddr.Street.Name,
			Detail: o.PostAddr.Detail,
		},
		Currency:        "CNY",
		ShippingAmount:  o.PostAmount,
		PaidAmount:      o.PayAmount,
		DiscountAmount:  o.PromotionAmount,
		PlatformSubsidy: o.PromotionPlatformAmount,
		BuyerNote:       o.BuyerWords,
		SellerNote:      o.SellerWords,
		Presale:         o.PresellType != 0,
		Raw:             raw,
	}
	if o.PayTime > 0 {
		t := epoch(o.PayTime)
		out.PaidAt = &t
	}
	if out.ModifiedAt.IsZero() {
		out.ModifiedAt = out.CreatedAt
	}
	for _, s := range o.SkuOrderList {
		specs := make([]string, 0, len(s.Spec))
		for _, sp := range s.Spec {
			specs = append(specs, sp.Name+":"+sp.Value)
		}
		price := s.GoodsPrice
		if price == 0 && s.ItemNum > 0 {
			price = s.OriginAmount / s.ItemNum
		}
		l := channel.OrderLine{
			PlatformLineID: string(s.OrderID),
			PlatformItemID: string(s.ProductID),
			PlatformSKUID:  string(s.SkuID),
			OuterSKUID:     s.Code,
			Title:          s.ProductName,
			SpecName:       strings.Join(specs, ";"),
			Quantity:       s.ItemNum,
			Price:          price,
			Discount:       s.OriginAmount - s.PayAmount,
			Paid:           s.PayAmount,
		}
		if l.OuterSKUID == "" {
			l.OuterSKUID = string(s.OutSkuID)
		}
		if s.AfterSaleInfo.AfterSaleStatus != 0 {
			l.RefundStatus = strconv.Itoa(s.AfterSaleInfo.AfterSaleStatus)
		}
		if l.Discount < 0 {
			l.Discount = 0
		}
		out.GoodsAmount += s.OriginAmount
		out.Lines = append(out.Lines, l)
	}
	if out.GoodsAmount == 0 {
		out.GoodsAmount = o.OrderAmount - o.PostAmount
	}
	return out, nil
}

type searchListData struct {
	ShopOrderList []json.RawMessage `json:"shop_order_list"`
	Page          int               `json:"page"`
	Size          int               `json:"size"`
	Total         int               `json:"total"`
}

// PullOrders implements channel.OrderPuller with order.searchList ordered by
// update time. The cursor is the next page number (pages start at 0).
func (c *Connector) PullOrders(ctx context.Context, s channel.Session, q channel.OrderQuery) (channel.OrderPage, error) {
	size := q.PageSize
	if size <= 0 || size > MaxPageSize {
		size = MaxPageSize
	}
	if q.End.Sub(q.Start) > maxWindow {
		return channel.OrderPage{}, errs.E(errs.Invalid, "douyin: order window %s exceeds %s", q.End.Sub(q.Start), maxWindow)
	}
	page := 0
	if q.Cursor != "" {
		p, err := strconv.Atoi(q.Cursor)
		if err != nil || p < 0 {
			return channel.OrderPage{}, errs.E(errs.Invalid, "douyin: bad cursor %q", q.Cursor)
		}
		page = p
	}
	params := map[string]any{
		"update_time_start": q.Start.Unix(),
		"update_time_end":   q.End.Unix(),
		"page":              page,
		"size":              size,
		"order_by":          "update_time",
		"order_asc":         true,
	}
	var d searchListData
	if err := c.call(ctx, s.Credentials, orderMethod, params, true, &d); err != nil {
		return channel.OrderPage{}, err
	}
	var out channel.OrderPage
	for _, raw := range d.ShopOrderList {
		o, err := decodeOrder(raw)
		if err != nil {
			return channel.OrderPage{}, err
		}
		out.Orders = append(out.Orders, o)
	}
	if (page+1)*size < d.Total && len(d.ShopOrderList) > 0 {
		out.NextCursor = strconv.Itoa(page + 1)
	}
	return out, nil
}

func decodeOrder(raw json.RawMessage) (channel.Order, error) {
	var o shopOrder
	if err := json.Unmarshal(raw, &o); err != nil {
		return channel.Order{}, &channel.APIError{Platform: channel.Douyin, Code: "bad_data", Message: "order: " + err.Error(), Class: channel.ClassPermanent}
	}
	return o.toChannel(append(json.RawMessage(nil), raw...))
}

// GetOrder implements channel.OrderPuller with order.orderDetail.
func (c *Connector) GetOrder(ctx context.Context, s channel.Session, platformOrderID string) (channel.Order, error) {
	o, _, err := c.orderDetail(ctx, s, platformOrderID)
	return o, err
}

func (c *Connector) orderDetail(ctx context.Context, s channel.Session, id string) (channel.Order, shopOrder, error) {
	var d struct {
		ShopOrderDetail json.RawMessage `json:"shop_order_detail"`
	}
	if err := c.call(ctx, s.Credentials, detailMethod, map[string]any{"shop_order_id": id}, true, &d); err != nil {
		return channel.Order{}, shopOrder{}, err
	}
	if len(d.ShopOrderDetail) == 0 {
		return channel.Order{}, shopOrder{}, errs.E(errs.NotFound, "douyin: order %s not found", id)
	}
	var so shopOrder
	if err := json.Unmarshal(d.ShopOrderDetail, &so); err != nil {
		return channel.Order{}, shopOrder{}, &channel.APIError{Platform: channel.Douyin, Code: "bad_data", Message: err.Error(), Class: channel.ClassPermanent}
	}
	o, err := so.toChannel(append(json.RawMessage(nil), d.ShopOrderDetail...))
	return o, so, err
}
