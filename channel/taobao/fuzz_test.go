package taobao

import (
	"testing"
)

// The decoders read outside input (the gateway's answers, TMC message
// content). Whatever arrives, they must return an error or a value, never
// panic. Seed corpora are in testdata/fuzz.

func FuzzDecodeTrades(f *testing.F) {
	f.Add([]byte(`{"trades_sold_increment_get_response":{"trades":{"trade":[{"tid":1,"status":"WAIT_BUYER_PAY","payment":"1.00","orders":{"order":[{"oid":2,"num":1,"price":"1.00"}]}}]},"has_next":true}}`))
	f.Add([]byte(`{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This ban will last for 1 more seconds"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		raw, err := decodeEnvelope(body, "taobao.trades.sold.increment.get")
		if err != nil {
			return
		}
		orders, err := decodeTradesPage(raw)
		if err == nil {
			for _, o := range orders {
				if o.Status == "" {
					t.Fatalf("decoded an order without status: %+v", o)
				}
			}
		}
	})
}

func FuzzDecodeTMC(f *testing.F) {
	f.Add([]byte(`{"tmc_messages_consume_response":{"messages":{"tmc_message":[{"id":1,"topic":"taobao_trade_TradeCreate","content":"{\"tid\":1}","pub_time":"2026-11-23 10:00:00","user_id":2}]}}}`))
	f.Add([]byte(`{"tmc_messages_consume_response":{"messages":[]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		raw, err := decodeEnvelope(body, "taobao.tmc.messages.consume")
		if err != nil {
			return
		}
		msgs, err := decodeTMC(raw)
		if err == nil {
			for _, m := range msgs {
				if m.ID == "" {
					t.Fatal("message without id returned")
				}
			}
		}
	})
}
