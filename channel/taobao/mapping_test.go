package taobao

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"omnihub/channel"
)

func TestOrderStatusMapping(t *testing.T) {
	cases := map[string]channel.OrderStatus{
		"TRADE_NO_CREATE_PAY":      channel.OrderPendingPayment,
		"WAIT_BUYER_PAY":           channel.OrderPendingPayment,
		"PAY_PENDING":              channel.OrderPendingPayment,
		"WAIT_PRE_AUTH_CONFIRM":    channel.OrderPendingPayment,
		"WAIT_SELLER_SEND_GOODS":   channel.OrderPaid,
		"PAID_FORBID_CONSIGN":      channel.OrderPaid,
		"SELLER_CONSIGNED_PART":    channel.OrderPartShipped,
		"WAIT_BUYER_CONFIRM_GOODS": channel.OrderShipped,
		"TRADE_BUYER_SIGNED":       channel.OrderShipped,
		"TRADE_FINISHED":           channel.OrderCompleted,
		"TRADE_CLOSED":             channel.OrderCancelled,
		"TRADE_CLOSED_BY_TAOBAO":   channel.OrderCancelled,
	}
	for in, want := range cases {
		if got, ok := OrderStatus(in); !ok || got != want {
			t.Errorf("%s → %s %v, want %s", in, got, ok, want)
		}
	}
	if _, ok := OrderStatus("SOMETHING_NEW"); ok {
		t.Error("unknown status mapped")
	}
}

func TestRefundStatusMapping(t *testing.T) {
	cases := map[string]channel.RefundStatus{
		"WAIT_SELLER_AGREE":         channel.RefundRequested,
		"WAIT_BUYER_RETURN_GOODS":   channel.RefundWaitBuyerReturn,
		"WAIT_SELLER_CONFIRM_GOODS": channel.RefundBuyerReturned,
		"SELLER_REFUSE_BUYER":       channel.RefundRefused,
		"CLOSED":                    channel.RefundClosed,
		"SUCCESS":                   channel.RefundSucceeded,
	}
	for in, want := range cases {
		if got, ok := RefundStatus(in); !ok || got != want {
			t.Errorf("%s → %s %v, want %s", in, got, ok, want)
		}
	}
	if _, ok := RefundStatus("NO_REFUND"); ok {
		t.Error("NO_REFUND is a line refund status, not a refund case status")
	}
}

func TestMessageKindMapping(t *testing.T) {
	cases := map[string]channel.MessageKind{
		"taobao_trade_TradeCreate":                 channel.MsgOrderCreated,
		"taobao_trade_TradeBuyerPay":               channel.MsgOrderPaid,
		"taobao_trade_TradeSellerShip":             channel.MsgOrderShipped,
		"taobao_trade_TradePartlySellerShip":       channel.MsgOrderShipped,
		"taobao_trade_TradeClose":                  channel.MsgOrderCanceled,
		"taobao_trade_TradeSuccess":                channel.MsgOrderModified,
		"taobao_trade_TradeChanged":                channel.MsgOrderModified,
		"taobao_trade_TradeMemoModified":           channel.MsgOrderModified,
		"taobao_refund_RefundCreated":              channel.MsgRefundCreated,
		"taobao_refund_RefundSellerAgreeAgreement": channel.MsgRefundChanged,
		"taobao_refund_RefundSuccess":              channel.MsgRefundChanged,
		"taobao_refund_RefundClosed":               channel.MsgRefundChanged,
		"taobao_item_ItemAdd":                      channel.MsgOther,
	}
	for in, want := range cases {
		if got := MessageKind(in); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
}

func TestClassify(t *testing.T) {
	cases := []struct {
		body  string
		class channel.ErrorClass
		retry time.Duration
	}{
		{`{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This ban will last for 31 more seconds"}`, channel.ClassRateLimited, 31 * time.Second},
		{`{"code":"7","msg":"App Call Limited"}`, channel.ClassRateLimited, 0},
		{`{"code":27,"msg":"Invalid session","sub_code":"invalid-sessionkey"}`, channel.ClassAuthExpired, 0},
		{`{"code":26,"msg":"Missing Session"}`, channel.ClassAuthExpired, 0},
		{`{"code":25,"msg":"Invalid Signature"}`, channel.ClassAuthInvalid, 0},
		{`{"code":29,"msg":"Invalid App Key"}`, channel.ClassAuthInvalid, 0},
		{`{"code":15,"msg":"Remote service error","sub_code":"isp.top-remote-connection-timeout"}`, channel.ClassTransient, 0},
		{`{"code":10,"msg":"Service Currently Unavailable"}`, channel.ClassTransient, 0},
		{`{"code":15,"msg":"Remote service error","sub_code":"isv.trade-not-exist"}`, channel.ClassPermanent, 0},
		{`{"code":11,"msg":"Insufficient ISV Permissions"}`, channel.ClassPermanent, 0},
		{`{"code":41,"msg":"Invalid arguments","sub_code":"isv.invalid-parameter"}`, channel.ClassPermanent, 0},
		{`{"code":40,"msg":"Missing required arguments:fields"}`, channel.ClassPermanent, 0},
	}
	for _, c := range cases {
		_, err := decodeEnvelope([]byte(`{"error_response":`+c.body+`}`), "taobao.trade.fullinfo.get")
		var ae *channel.APIError
		if !errors.As(err, &ae) || ae.Class != c.class || ae.RetryAfter != c.retry {
			t.Errorf("%s → %+v", c.body, ae)
		}
	}
}

func TestDecodeEnvelope(t *testing.T) {
	raw, err := decodeEnvelope([]byte(`{"trades_sold_increment_get_response":{"has_next":false}}`), "taobao.trades.sold.increment.get")
	if err != nil || string(raw) != `{"has_next":false}` {
		t.Fatalf("%s %v", raw, err)
	}
	if _, err := decodeEnvelope([]byte(`{"other_response":{}}`), "taobao.trade.fullinfo.get"); err == nil {
		t.Fatal("wrong wrapper accepted")
	}
	if _, err := decodeEnvelope([]byte(`<xml/>`), "taobao.trade.fullinfo.get"); err == nil {
		t.Fatal("non-JSON accepted")
	}
}

// Both list shapes (simplify=false wraps, simplify=true does not) and both
// id encodings decode to the same order.
func TestDecodeTradeShapes(t *testing.T) {
	wrapped := `{"tid":4100000000000000001,"status":"WAIT_SELLER_SEND_GOODS","created":"2026-11-23 10:00:00","modified":"2026-11-23 10:05:00","pay_time":"2026-11-23 10:01:00","payment":"69.00","total_fee":"59.00","post_fee":"10.00","discount_fee":"0.00","orders":{"order":[{"oid":4100000000000000002,"num_iid":600000000001,"sku_id":"4000000000002","num":1,"price":"59.00","payment":"59.00","outer_sku_id":"TS-001-WH-M"}]}}`
	simple := `{"tid":"4100000000000000001","status":"WAIT_SELLER_SEND_GOODS","created":"2026-11-23 10:00:00","modified":"2026-11-23 10:05:00","pay_time":"2026-11-23 10:01:00","payment":"69.00","total_fee":"59.00","post_fee":"10.00","discount_fee":"0.00","orders":[{"oid":"4100000000000000002","num_iid":"600000000001","sku_id":4000000000002,"num":"1","price":"59.00","payment":"59.00","outer_sku_id":"TS-001-WH-M"}]}`
	a, err := decodeTrade(json.RawMessage(wrapped))
	if err != nil {
		t.Fatal(err)
	}
	b, err := decodeTrade(json.RawMessage(simple))
	if err != nil {
		t.Fatal(err)
	}
	a.Raw, b.Raw = nil, nil
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("\n%s\n%s", ja, jb)
	}
	if a.PlatformOrderID != "4100000000000000001" || a.Lines[0].PlatformLineID != "4100000000000000002" {
		t.Fatalf("ids lost precision: %+v", a)
	}
	if want := time.Date(2026, 11, 23, 2, 5, 0, 0, time.UTC); !a.ModifiedAt.Equal(want) {
		t.Fatalf("modified %v", a.ModifiedAt)
	}
	if _, err := decodeTrade(json.RawMessage(`{"tid":1,"status":"WAIT_BUYER_PAY","payment":"1.234"}`)); err == nil {
		t.Fatal("sub-fen amount accepted")
	}
	if _, err := decodeTrade(json.RawMessage(`{"tid":1,"status":"NEW_THING"}`)); err == nil {
		t.Fatal("unknown status accepted")
	}
}

func TestDecodeTMCKeepsUnreadableContent(t *testing.T) {
	raw := `{"messages":{"tmc_message":[{"id":1,"topic":"taobao_trade_TradeCreate","content":"not json","pub_time":"2026-11-23 10:00:00","user_id":1},{"topic":"x"}]}}`
	msgs, err := decodeTMC(json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].ID != "1" || msgs[0].Kind != channel.MsgOther {
		t.Fatalf("%+v", msgs)
	}
}
