package douyin

import (
	"context"
	"net/http"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/errs"
)

// FuzzParsePush feeds arbitrary bodies, correctly signed so parsing goes
// past the signature check. ParsePush must never panic and must either
// return messages or a typed error.
func FuzzParsePush(f *testing.F) {
	f.Add([]byte(`[{"tag":"101","msg_id":"1","data":"{\"p_id\":6920000000000000010,\"shop_id\":77001,\"pay_time\":1795400000}"}]`))
	f.Add([]byte(`[{"tag":"0","msg_id":"","data":"{}"}]`))
	f.Add([]byte(`{"tag":"200","msg_id":"x","data":"{\"aftersale_id\":\"7300000000000000001\"}"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"tag":"","data":"{"}]`))
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	c := New(Options{Clock: func() time.Time { return now }})
	secret := func(string) (string, error) { return "sec", nil }
	f.Fuzz(func(t *testing.T, body []byte) {
		h := http.Header{}
		h.Set(HeaderAppID, "app")
		h.Set(HeaderEventSign, PushSign("app", "sec", body))
		msgs, err := c.ParsePush(context.Background(), h, body, secret)
		if err != nil {
			if code := errs.CodeOf(err); code != errs.Invalid && code != errs.Unauthorized {
				t.Fatalf("untyped error %v (%s)", err, code)
			}
			return
		}
		for _, m := range msgs {
			if m.Topic == "" || m.ID == "" || m.OccurredAt.IsZero() {
				t.Fatalf("incomplete message %+v", m)
			}
		}
	})
}

// FuzzDecodeResponse feeds arbitrary gateway answers: the decoder returns
// data only for a success envelope and otherwise a classified APIError.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(200, []byte(`{"code":10000,"msg":"success","sub_code":"","sub_msg":"","data":{"a":1},"log_id":"x"}`))
	f.Add(200, []byte(`{"code":40003,"msg":"非法的参数","sub_code":"isv.access-token-expired","sub_msg":"access_token已过期","data":{}}`))
	f.Add(200, []byte(`{"code":60000,"msg":"触发限流，请稍后重试"}`))
	f.Add(502, []byte(`<html>502</html>`))
	f.Add(200, []byte(`not json`))
	f.Add(404, []byte(``))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		data, err := DecodeResponse(status, body)
		if err == nil {
			if status >= 500 {
				t.Fatalf("success on HTTP %d", status)
			}
			_ = data
			return
		}
		ae, ok := err.(*channel.APIError)
		if !ok || ae.Platform != channel.Douyin || ae.Code == "" {
			t.Fatalf("error %T %v", err, err)
		}
		if ae.Class == channel.ClassAuthExpired && !channel.IsRetryable(err) {
			t.Fatal("expired token not retryable")
		}
	})
}
