package aftersalesapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"omnihub/aftersales"
	"omnihub/aftersales/aftersalesapi"
	"omnihub/api"
	"omnihub/channel"
	"omnihub/store"
	"omnihub/store/storetest"
)

// orders is a one-order fake of aftersales.OrderEffects.
type orders struct{}

func (orders) FindByPlatformIDTx(_ context.Context, _ store.Tx, _, pid string) (aftersales.OrderRef, bool, error) {
	if pid != "T1" {
		return aftersales.OrderRef{}, false, nil
	}
	return aftersales.OrderRef{ID: "O1", Paid: 5000, Lines: []aftersales.OrderLineRef{
		{Line: 1, PlatformLineID: "T1-1", SKUID: "SKU-A", Qty: 2, Paid: 5000, WarehouseID: "WH1"}}}, true, nil
}
func (orders) IsShippedTx(context.Context, store.Tx, string) (bool, error)  { return true, nil }
func (orders) MarkRefundingTx(context.Context, store.Tx, string) error      { return nil }
func (orders) ClearRefundingTx(context.Context, store.Tx, string) error     { return nil }
func (orders) MarkRefundedTx(context.Context, store.Tx, string, bool) error { return nil }
func (orders) CancelTx(context.Context, store.Tx, string, string) error     { return nil }

type stock struct{}

func (stock) ReleaseTx(context.Context, store.Tx, string, string) error               { return nil }
func (stock) ReleaseLineTx(context.Context, store.Tx, aftersales.DocRef, int64) error { return nil }
func (stock) RestockTx(context.Context, store.Tx, aftersales.DocRef, string, string, int64, bool) error {
	return nil
}
func (stock) ReserveTx(context.Context, store.Tx, []aftersales.ReserveLine) error { return nil }
func (stock) ShipTx(context.Context, store.Tx, string, string) error              { return nil }

type client struct {
	t   *testing.T
	url string
}

// do calls the API as user with the given permissions.
func (c client) do(method, path, user, perms string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-User", user)
	req.Header.Set("X-Perms", perms)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			c.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func TestFollowACaseThroughTheAPI(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		svc := aftersales.NewService(db, aftersales.Options{Stock: stock{}, Orders: orders{}, DefaultWarehouseID: "WH1"})
		srv := api.New(api.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(), DB: db})
		srv.Authenticate = func(perm string, next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.Contains(r.Header.Get("X-Perms"), perm) {
					http.Error(w, "forbidden", http.StatusForbidden)
					return
				}
				next.ServeHTTP(w, r)
			})
		}
		aftersalesapi.Register(srv, svc, aftersalesapi.Options{Actor: func(r *http.Request) string { return r.Header.Get("X-User") }})
		doc := srv.OpenAPI()
		b, err := json.Marshal(doc)
		if err != nil || !strings.Contains(string(b), "/api/v1/aftersales/cases/{id}/qc") || !strings.Contains(string(b), "new_sku_id") {
			t.Fatalf("OpenAPI document lacks the after-sales routes or schemas (%v)", err)
		}
		ts := httptest.NewServer(srv.Handler())
		defer ts.Close()
		c := client{t: t, url: ts.URL + "/api/v1/aftersales"}
		const rw = "aftersales.read aftersales.write"

		// The platform asks; the case is then followed to its close.
		r := channel.Refund{PlatformRefundID: "R1", PlatformOrderID: "T1", Kind: channel.ReturnRefund, Status: channel.RefundRequested,
			PlatformStatus: "WAIT_SELLER_AGREE", Reason: "质量问题", Amount: 5000, Quantity: 2, ModifiedAt: time.Now()}
		pc, err := svc.Apply(ctx, "S1", r)
		if err != nil {
			t.Fatal(err)
		}
		id := pc.ID
		if code := c.do("POST", "/cases/"+id+"/approve", "alice", "aftersales.read", nil, nil); code != http.StatusForbidden {
			t.Fatalf("approve without aftersales.write: %d", code)
		}
		var got aftersales.Case
		steps := []struct {
			path string
			body any
			want aftersales.State
			user string
		}{
			{"/approve", map[string]string{"note": "ok"}, aftersales.AwaitingReturn, "alice"},
			{"/return-tracking", map[string]string{"carrier": "ZTO", "tracking_no": "ZT1"}, aftersales.ReturnInTransit, "alice"},
			{"/receive", nil, aftersales.Received, "wh-bob"},
			{"/qc", map[string]any{"units": []map[string]any{{"line": 1, "result": "good"}, {"line": 1, "result": "defective"}}}, aftersales.QCDone, "wh-bob"},
			{"/restock", nil, aftersales.Restocked, "wh-bob"},
			{"/refund", nil, aftersales.Refunded, "alice"},
			{"/close", map[string]string{"note": "done"}, aftersales.Closed, "alice"},
		}
		for _, s := range steps {
			if code := c.do("POST", "/cases/"+id+s.path, s.user, rw, s.body, &got); code != http.StatusOK || got.State != s.want {
				t.Fatalf("%s: %d, state %s, want %s", s.path, code, got.State, s.want)
			}
		}
		if code := c.do("POST", "/cases/"+id+"/approve", "alice", rw, nil, nil); code != http.StatusConflict {
			t.Fatalf("approving a closed case: %d, want 409", code)
		}
		if code := c.do("GET", "/cases/"+id, "carol", "aftersales.read", nil, &got); code != http.StatusOK {
			t.Fatalf("detail: %d", code)
		}
		if len(got.History) != 9 {
			t.Fatalf("history has %d events: %+v", len(got.History), got.History)
		}
		wantActors := []string{"platform", "alice", "alice", "alice", "wh-bob", "wh-bob", "wh-bob", "alice", "alice"}
		for i, e := range got.History {
			if e.Actor != wantActors[i] || e.At.IsZero() {
				t.Fatalf("event %d = %+v, want actor %s with a time", i, e, wantActors[i])
			}
		}
		if len(got.QC) != 2 || got.ReturnTrackingNo != "ZT1" {
			t.Fatalf("detail = %+v", got)
		}

		// Manual case, list, reports.
		var mc aftersales.Case
		if code := c.do("POST", "/cases", "carol", rw, aftersales.NewCase{ShopID: "S1", PlatformOrderID: "T1",
			Type: aftersales.RefundOnly, Reason: "少件", RefundAmount: 100}, &mc); code != http.StatusCreated || mc.State != aftersales.Requested || len(mc.History) != 1 {
			t.Fatalf("create: %d %+v", code, mc)
		}
		if code := c.do("POST", "/cases", "carol", rw, map[string]any{"shop_id": "S1", "bogus": 1}, nil); code != http.StatusBadRequest {
			t.Fatalf("unknown field: %d", code)
		}
		if code := c.do("POST", "/cases/"+mc.ID+"/refuse", "carol", rw, map[string]string{"reason": ""}, nil); code != http.StatusBadRequest {
			t.Fatalf("refuse without reason: %d", code)
		}
		var page api.Page[aftersales.Case]
		if code := c.do("GET", "/cases?shop_id=S1&open=true", "carol", "aftersales.read", nil, &page); code != http.StatusOK || len(page.Items) != 1 || page.Items[0].ID != mc.ID {
			t.Fatalf("open cases: %d %+v", code, page)
		}
		var open []aftersales.OpenBucket
		if code := c.do("GET", "/reports/open?shop_id=S1", "carol", "aftersales.read", nil, &open); code != http.StatusOK || len(open) != 1 {
			t.Fatalf("open report: %d %+v", code, open)
		}
		var defects []aftersales.DefectRate
		if code := c.do("GET", "/reports/defects?since=24h", "carol", "aftersales.read", nil, &defects); code != http.StatusOK || len(defects) != 1 || defects[0].PerMille != 500 {
			t.Fatalf("defects: %d %+v", code, defects)
		}
		var reasons []aftersales.ReasonCount
		if code := c.do("GET", "/reports/reasons", "carol", "aftersales.read", nil, &reasons); code != http.StatusOK || len(reasons) != 2 {
			t.Fatalf("reasons: %d %+v", code, reasons)
		}

		// Rules CRUD and dry run.
		if code := c.do("POST", "/rules", "alice", rw, aftersales.RuleInput{Name: "x", Expr: "amount <"}, nil); code != http.StatusBadRequest {
			t.Fatalf("invalid rule saved: %d", code)
		}
		var rule aftersales.Rule
		if code := c.do("POST", "/rules", "alice", rw, aftersales.RuleInput{Name: "small", Expr: `amount < 5000 && type == "refund_only"`, Enabled: true}, &rule); code != http.StatusCreated {
			t.Fatalf("create rule: %d", code)
		}
		var dr aftersales.DryRun
		if code := c.do("POST", "/rules/dry-run", "alice", rw, aftersalesapi.DryRunBody{Expression: rule.Expr, CaseID: mc.ID}, &dr); code != http.StatusOK || !dr.Matched {
			t.Fatalf("dry run: %d %+v", code, dr)
		}
		if code := c.do("POST", "/rules/dry-run", "alice", rw, aftersalesapi.DryRunBody{Expression: rule.Expr,
			Sample: &aftersales.Case{Type: aftersales.ReturnRefund, RefundAmount: 1}}, &dr); code != http.StatusOK || dr.Matched {
			t.Fatalf("dry run on sample: %d %+v", code, dr)
		}
		var rules []aftersales.Rule
		if code := c.do("GET", "/rules", "alice", rw, nil, &rules); code != http.StatusOK || len(rules) != 1 {
			t.Fatalf("rules: %d %+v", code, rules)
		}
		if code := c.do("PUT", "/rules/"+rule.ID, "alice", rw, aftersales.RuleInput{Name: "small", Expr: "false"}, &rule); code != http.StatusOK || rule.Expr != "false" {
			t.Fatalf("update rule: %d %+v", code, rule)
		}
		if code := c.do("DELETE", "/rules/"+rule.ID, "alice", rw, nil, nil); code != http.StatusNoContent {
			t.Fatalf("delete rule: %d", code)
		}
		if code := c.do("GET", "/rules/"+rule.ID, "alice", rw, nil, nil); code != http.StatusNotFound {
			t.Fatalf("deleted rule: %d", code)
		}
	})
}
