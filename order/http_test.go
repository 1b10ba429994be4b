package order

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"omnihub/api"
	"omnihub/channel"
	"omnihub/jobs"
	"omnihub/store/storetest"
)

func TestHTTP(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	e := newEnv(t, db)
	srv := api.New(api.Options{Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(), DB: db})
	srv.Authenticate = func(perm string, next http.Handler) http.Handler { return next }
	e.svc.Register(srv, HTTPOptions{Caller: func(r *http.Request) (string, bool) { return "tester", r.Header.Get("X-PII") == "1" }})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	held := e.ingest(t, "shop", mk("H1", t0, func(o *channel.Order) { o.BuyerNote = "改地址" }))
	e.ingest(t, "shop", mk("H2", t0))

	do := func(method, path, body string, pii bool) (int, string) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if pii {
			req.Header.Set("X-PII", "1")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	code, body := do("GET", "/api/v1/orders?shop_id=shop&limit=1", "", false)
	var page api.Page[Order]
	_ = json.Unmarshal([]byte(body), &page)
	if code != 200 || len(page.Items) != 1 || page.NextCursor == "" || strings.Contains(body, "文三路") {
		t.Fatalf("list masked: %d %s", code, body)
	}
	code, body = do("GET", "/api/v1/orders?shop_id=shop&limit=1&cursor="+page.NextCursor, "", true)
	if code != 200 || !strings.Contains(body, "文三路") {
		t.Fatalf("list with pii: %d %s", code, body)
	}
	code, body = do("GET", "/api/v1/orders?status=bogus", "", false)
	if code != 400 {
		t.Fatalf("bad status filter: %d %s", code, body)
	}
	code, body = do("GET", "/api/v1/order-exceptions?hold_reason=note_change_address", "", false)
	if code != 200 || !strings.Contains(body, held.OrderID) {
		t.Fatalf("exceptions: %d %s", code, body)
	}
	code, body = do("GET", "/api/v1/orders/"+held.OrderID, "", false)
	if code != 200 || !strings.Contains(body, `"kind":"audit"`) || strings.Contains(body, "13") && strings.Contains(body, `"raw":"{`) {
		t.Fatalf("detail: %d %s", code, body)
	}
	code, body = do("POST", "/api/v1/order-exceptions/"+held.OrderID+"/approve", `{"reason":"buyer confirmed"}`, false)
	if code != 200 || !strings.Contains(body, `"status":"approved"`) {
		t.Fatalf("approve: %d %s", code, body)
	}
	code, body = do("POST", "/api/v1/order-exceptions/"+held.OrderID+"/approve", `{}`, false)
	if code != 409 {
		t.Fatalf("approve twice: %d %s", code, body)
	}
	code, body = do("POST", "/api/v1/order-rules", `{"kind":"audit","name":"x","expression":"PaidAmount >","action":"hold","reason":"x","enabled":true}`, false)
	if code != 400 || !strings.Contains(body, "line 1") {
		t.Fatalf("bad rule: %d %s", code, body)
	}
	code, body = do("POST", "/api/v1/order-rules/dry-run", `{"expression":"PaidAmount > 100 && !AddressValid","env":{"PaidAmount":500,"AddressValid":false}}`, false)
	if code != 200 || !strings.Contains(body, `"value":true`) {
		t.Fatalf("dry run: %d %s", code, body)
	}
	code, body = do("POST", "/api/v1/order-blacklist", `{"kind":"phone","value":"139 0000 1111","note":"fraud"}`, false)
	var bl BlacklistEntry
	_ = json.Unmarshal([]byte(body), &bl)
	if code != 201 || strings.Contains(body, "13900001111") || bl.ID == "" {
		t.Fatalf("blacklist: %d %s", code, body)
	}
	if r := e.ingest(t, "shop", mk("BL", t0, func(o *channel.Order) { o.Receiver.Phone = "13900001111" })); r.Status != Held {
		t.Fatalf("blacklisted phone passed: %+v", r)
	}
	if code, body = do("GET", "/api/v1/order-blacklist", "", false); code != 200 || !strings.Contains(body, "13900001111") {
		t.Fatalf("list blacklist: %d %s", code, body)
	}
	if code, body = do("DELETE", "/api/v1/order-blacklist/"+bl.ID, "", false); code != 204 {
		t.Fatalf("unblacklist: %d %s", code, body)
	}
	code, body = do("GET", "/api/v1/order-rules", "", false)
	if code != 200 || !strings.Contains(body, "phone_frequency") {
		t.Fatalf("rules: %d %s", code, body)
	}
}
