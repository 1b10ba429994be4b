package taobao

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"omnihub/channel"
)

// topTrade is the part of TOP's Trade structure OmniHub reads.
type topTrade struct {
	Tid              flexString     `json:"tid"`
	Status           string         `json:"status"`
	Type             string         `json:"type"`
	StepTradeStatus  string         `json:"step_trade_status"`
	Created          string         `json:"created"`
	Modified         string         `json:"modified"`
	PayTime          string         `json:"pay_time"`
	BuyerNick        string         `json:"buyer_nick"`
	BuyerOpenUID     string         `json:"buyer_open_uid"`
	ReceiverName     string         `json:"receiver_name"`
	ReceiverMobile   string         `json:"receiver_mobile"`
	ReceiverPhone    string         `json:"receiver_phone"`
	ReceiverState    string         `json:"receiver_state"`
	ReceiverCity     string         `json:"receiver_city"`
	ReceiverDistrict string         `json:"receiver_district"`
	ReceiverTown     string         `json:"receiver_town"`
	ReceiverAddress  string         `json:"receiver_address"`
	ReceiverZip      string         `json:"receiver_zip"`
	TotalFee         string         `json:"total_fee"`
	DiscountFee      string         `json:"discount_fee"`
	PostFee          string         `json:"post_fee"`
	Payment          string         `json:"payment"`
	PlatformSubsidy  string         `json:"platform_subsidy_fee"`
	BuyerMessage     string         `json:"buyer_message"`
	SellerMemo       string         `json:"seller_memo"`
	Orders           list[topOrder] `json:"orders"`
}

// topOrder is TOP's Order (a trade line, 子订单).
type topOrder struct {
	Oid               flexString `json:"oid"`
	NumIID            flexString `json:"num_iid"`
	SkuID             flexString `json:"sku_id"`
	OuterSkuID        string     `json:"outer_sku_id"`
	OuterIID          string     `json:"outer_iid"`
	Title             string     `json:"title"`
	SkuPropertiesName string     `json:"sku_properties_name"`
	Num               flexString `json:"num"`
	Price             string     `json:"price"`
	TotalFee          string     `json:"total_fee"`
	Payment           string     `json:"payment"`
	DivideOrderFee    string     `json:"divide_order_fee"`
	DiscountFee       string     `json:"discount_fee"`
	AdjustFee         string     `json:"adjust_fee"`
	RefundStatus      string     `json:"refund_status"`
	Status            string     `json:"status"`
	InvoiceNo         string     `json:"invoice_no"`
	LogisticsCompany  string     `json:"logistics_company"`
}

// OrderStatus maps a TOP trade status to OmniHub's.
func OrderStatus(s string) (channel.OrderStatus, bool) {
	switch s {
	case "TRADE_NO_CREATE_PAY", "WAIT_BUYER_PAY", "PAY_PENDING", "WAIT_PRE_AUTH_CONFIRM":
		return channel.OrderPendingPayment, true
	case "WAIT_SELLER_SEND_GOODS", "PAID_FORBID_CONSIGN":
		return channel.OrderPaid, true
	case "SELLER_CONSIGNED_PART":
		return channel.OrderPartShipped, true
	case "WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED":
		return channel.OrderShipped, true
	case "TRADE_FINISHED":
		return channel.OrderCompleted, true
	case "TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO":
		return channel.OrderCancelled, true
	}
	return "", false
}

// RefundStatus maps a TOP refund status to OmniHub's.
func RefundStatus(s string) (channel.RefundStatus, bool) {
	switch s {
	case "WAIT_SELLER_AGREE":
		return channel.RefundRequested, true
	case "WAIT_BUYER_RETURN_GOODS":
		return channel.RefundWaitBuyerReturn, true
	case "WAIT_SELLER_CONFIRM_GOODS":
		return channel.RefundBuyerReturned, true
	case "SELLER_REFUSE_BUYER":
		return channel.RefundRefused, true
	case "SUCCESS":
		return channel.RefundSucceeded, true
	case "CLOSED":
		return channel.RefundClosed, true
	}
	return "", false
}

// decodeErr makes a malformed field a permanent error that names the field:
// retrying will not fix the platform's data, a person has to look.
func decodeErr(what, id string, err error) error {
	return &channel.APIError{Platform: channel.Taobao, Code: "bad_data",
		Message: fmt.Sprintf("%s %s: %v", what, id, err), Class: channel.ClassPermanent}
}

type fieldParser struct {
	err error
}

func (p *fieldParser) fen(s string) int64 {
	v, err := ParseFen(s)
	if err != nil && p.err == nil {
		p.err = err
	}
	return v
}

func (p *fieldParser) time(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := ParseTime(s)
	if err != nil && p.err == nil {
		p.err = err
	}
	return t
}

func (p *fieldParser) int(s flexString) int64 {
	if s == "" {
		return 0
	}
	var v int64
	_, err := fmt.Sscan(string(s), &v)
	if err != nil && p.err == nil {
		p.err = err
	}
	return v
}

// toOrder translates a TOP trade. raw is kept for audit.
func toOrder(t topTrade, raw json.RawMessage) (channel.Order, error) {
	var p fieldParser
	st, ok := OrderStatus(t.Status)
	if !ok {
		return channel.Order{}, decodeErr("trade", string(t.Tid), fmt.Errorf("unknown status %q", t.Status))
	}
	o := channel.Order{
		PlatformOrderID: string(t.Tid),
		PlatformStatus:  t.Status,
		Status:          st,
		CreatedAt:       p.time(t.Created),
		ModifiedAt:      p.time(t.Modified),
		BuyerID:         t.BuyerOpenUID,
		BuyerNick:       t.BuyerNick,
		Receiver: channel.Address{
			Name: t.ReceiverName, Phone: t.ReceiverMobile,
			Province: t.ReceiverState, City: t.ReceiverCity, District: t.ReceiverDistrict,
			Town: t.ReceiverTown, Detail: t.ReceiverAddress, Zip: t.ReceiverZip,
		},
		Currency:        "CNY",
		GoodsAmount:     p.fen(t.TotalFee),
		DiscountAmount:  p.fen(t.DiscountFee),
		ShippingAmount:  p.fen(t.PostFee),
		PaidAmount:      p.fen(t.Payment),
		PlatformSubsidy: p.fen(t.PlatformSubsidy),
		BuyerNote:       t.BuyerMessage,
		SellerNote:      t.SellerMemo,
		Presale:         t.Type == "step" || t.StepTradeStatus != "",
		Raw:             raw,
	}
	if o.BuyerID == "" {
		o.BuyerID = t.BuyerNick
	}
	if o.Receiver.Phone == "" {
		o.Receiver.Phone = t.ReceiverPhone
	}
	if t.PayTime != "" {
		pt := p.time(t.PayTime)
		o.PaidAt = &pt
	}
	for _, l := range t.Orders {
		ol := channel.OrderLine{
			PlatformLineID: string(l.Oid),
			PlatformItemID: string(l.NumIID),
			PlatformSKUID:  string(l.SkuID),
			OuterSKUID:     l.OuterSkuID,
			Title:          l.Title,
			SpecName:       l.SkuPropertiesName,
			Quantity:       p.int(l.Num),
			Price:          p.fen(l.Price),
			Discount:       p.fen(l.DiscountFee),
			Paid:           p.fen(l.Payment),
			RefundStatus:   l.RefundStatus,
		}
		if l.DivideOrderFee != "" {
			// What the buyer paid for the line after trade-level
			// discounts are shared out (分摊之后的实付金额).
			ol.Paid = p.fen(l.DivideOrderFee)
		}
		if ol.OuterSKUID == "" {
			ol.OuterSKUID = l.OuterIID // items without SKUs carry the code on the item
		}
		if ol.PlatformSKUID == "0" {
			ol.PlatformSKUID = ""
		}
		o.Lines = append(o.Lines, ol)
	}
	if p.err != nil {
		return channel.Order{}, decodeErr("trade", string(t.Tid), p.err)
	}
	return o, nil
}

// topRefund is TOP's Refund structure (the fields OmniHub reads).
type topRefund struct {
	RefundID      flexString `json:"refund_id"`
	Tid           flexString `json:"tid"`
	Oid           flexString `json:"oid"`
	Status        string     `json:"status"`
	GoodStatus    string     `json:"good_status"`
	HasGoodReturn flexBool   `json:"has_good_return"`
	RefundFee     string     `json:"refund_fee"`
	TotalFee      string     `json:"total_fee"`
	Reason        string     `json:"reason"`
	Desc          string     `json:"desc"`
	Num           flexString `json:"num"`
	CompanyName   string     `json:"company_name"`
	Sid           string     `json:"sid"`
	Created       string     `json:"created"`
	Modified      string     `json:"modified"`
	OrderStatus   string     `json:"order_status"`
	RefundPhase   string     `json:"refund_phase"`
	RefundVersion flexString `json:"refund_version"`
}

func toRefund(r topRefund, raw json.RawMessage) (channel.Refund, error) {
	var p fieldParser
	st, ok := RefundStatus(r.Status)
	if !ok {
		return channel.Refund{}, decodeErr("refund", string(r.RefundID), fmt.Errorf("unknown status %q", r.Status))
	}
	kind := channel.RefundOnly
	if r.HasGoodReturn {
		kind = channel.ReturnRefund
	}
	out := channel.Refund{
		PlatformRefundID: string(r.RefundID),
		PlatformOrderID:  string(r.Tid),
		PlatformLineID:   string(r.Oid),
		Kind:             kind,
		PlatformStatus:   r.Status,
		Status:           st,
		Reason:           r.Reason,
		Description:      r.Desc,
		Quantity:         p.int(r.Num),
		Amount:           p.fen(r.RefundFee),
		ReturnCarrier:    r.CompanyName,
		ReturnTrackingNo: r.Sid,
		// The trade line had left the warehouse if the order status at
		// refund time says so (售后 phase, or shipped/confirmed states).
		GoodsShipped: r.RefundPhase == "aftersale" || shippedTradeStatus(r.OrderStatus),
		CreatedAt:    p.time(r.Created),
		ModifiedAt:   p.time(r.Modified),
		Raw:          raw,
	}
	if p.err != nil {
		return channel.Refund{}, decodeErr("refund", string(r.RefundID), p.err)
	}
	return out, nil
}

func shippedTradeStatus(s string) bool {
	switch s {
	case "WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", "TRADE_FINISHED", "SELLER_CONSIGNED_PART":
		return true
	}
	return false
}

// topTMCMessage is one TMC message.
type topTMCMessage struct {
	ID        flexString `json:"id"`
	Topic     string     `json:"topic"`
	UserID    flexString `json:"user_id"`
	UserNick  string     `json:"user_nick"`
	Content   string     `json:"content"`
	PubTime   string     `json:"pub_time"`
	PubAppKey string     `json:"pub_app_key"`
}

// tmcContent is the JSON inside a trade or refund message's content.
type tmcContent struct {
	Tid      flexString `json:"tid"`
	Oid      flexString `json:"oid"`
	RefundID flexString `json:"refund_id"`
	Status   string     `json:"status"`
	Modified string     `json:"modified"`
}

// MessageKind maps a TMC topic to OmniHub's message kind.
func MessageKind(topic string) channel.MessageKind {
	switch topic {
	case "taobao_trade_TradeCreate":
		return channel.MsgOrderCreated
	case "taobao_trade_TradeBuyerPay":
		return channel.MsgOrderPaid
	case "taobao_trade_TradeSellerShip", "taobao_trade_TradePartlySellerShip":
		return channel.MsgOrderShipped
	case "taobao_trade_TradeClose", "taobao_trade_TradeCloseAndModifyDetailOrder":
		return channel.MsgOrderCanceled
	case "taobao_refund_RefundCreated":
		return channel.MsgRefundCreated
	}
	switch {
	case strings.HasPrefix(topic, "taobao_trade_"):
		return channel.MsgOrderModified
	case strings.HasPrefix(topic, "taobao_refund_"):
		return channel.MsgRefundChanged
	}
	return channel.MsgOther
}

func toMessage(m topTMCMessage) (channel.Message, error) {
	raw, _ := json.Marshal(m)
	msg := channel.Message{
		ID:             string(m.ID),
		Kind:           MessageKind(m.Topic),
		Topic:          m.Topic,
		PlatformShopID: string(m.UserID),
		Raw:            raw,
	}
	if m.ID == "" {
		return msg, decodeErr("tmc message", "", fmt.Errorf("no id"))
	}
	if m.PubTime != "" {
		t, err := ParseTime(m.PubTime)
		if err != nil {
			return msg, decodeErr("tmc message", string(m.ID), err)
		}
		msg.OccurredAt = t
	}
	if m.Content != "" {
		var c tmcContent
		if err := json.Unmarshal([]byte(m.Content), &c); err != nil {
			return msg, decodeErr("tmc message", string(m.ID), err)
		}
		msg.PlatformOrderID = string(c.Tid)
		msg.PlatformRefundID = string(c.RefundID)
		if c.Modified != "" {
			if t, err := ParseTime(c.Modified); err == nil {
				msg.OccurredAt = t
			}
		}
	}
	return msg, nil
}
