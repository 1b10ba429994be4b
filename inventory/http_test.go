package inventory_test

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
	"omnihub/errs"
	"omnihub/inventory"
	"omnihub/jobs"
	"omnihub/store/storetest"
)

// TestHTTPFlow drives the inventory API with a permission check standing in
// for package auth (permissions in the X-Perms header).
func TestHTTPFlow(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	svc := inventory.New(db, inventory.Options{})
	srv := api.New(api.Options{Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(), DB: db})
	srv.Authenticate = func(perm string, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(","+r.Header.Get("X-Perms")+",", ","+perm+",") {
				api.WriteError(w, r, errs.E(errs.Forbidden, "missing %s", perm))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	svc.Routes(srv)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	const rw = "inventory.read,inventory.write"
	call := func(method, path, perms, body string, want int) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.Header.Set("X-Perms", perms)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, b)
		}
		return b
	}
	call("POST", "/api/v1/inventory/warehouses", "inventory.read", `{"code":"WH1"}`, http.StatusForbidden)
	call("POST", "/api/v1/inventory/warehouses", rw, `{"code":"WH1","name":"Main"}`, http.StatusCreated)
	call("POST", "/api/v1/inventory/receipts", rw, `{"warehouse_id":"WH1","sku_id":"A","qty":5}`, http.StatusOK)
	var wh []inventory.Warehouse
	_ = json.Unmarshal(call("GET", "/api/v1/inventory/warehouses", rw, "", http.StatusOK), &wh)
	if len(wh) != 1 {
		t.Fatalf("warehouses %v", wh)
	}
	line := `{"lines":[{"doc":{"type":"order","id":"o1","line":1},"warehouse_id":"` + wh[0].ID + `","sku_id":"A","qty":3}]}`
	call("POST", "/api/v1/inventory/reservations", rw, line, http.StatusCreated)
	call("POST", "/api/v1/inventory/reservations", rw, line, http.StatusCreated) // idempotent
	big := `{"lines":[{"doc":{"type":"order","id":"o2","line":1},"warehouse_id":"` + wh[0].ID + `","sku_id":"A","qty":3}]}`
	var p api.Problem
	_ = json.Unmarshal(call("POST", "/api/v1/inventory/reservations", rw, big, http.StatusConflict), &p)
	if p.Fields["sku_id"] != "A" {
		t.Fatalf("shortage problem %+v", p)
	}
	var page api.Page[inventory.Balance]
	_ = json.Unmarshal(call("GET", "/api/v1/inventory/balances?sku_id=A", rw, "", http.StatusOK), &page)
	if len(page.Items) != 1 || page.Items[0].Reserved != 3 || page.Items[0].Available != 2 {
		t.Fatalf("balances %+v", page)
	}
	call("POST", "/api/v1/inventory/reservations/ship", rw, `{"doc_type":"order","doc_id":"o1"}`, http.StatusNoContent)
	var led api.Page[inventory.LedgerEntry]
	_ = json.Unmarshal(call("GET", "/api/v1/inventory/ledger?sku_id=A&limit=2", rw, "", http.StatusOK), &led)
	if len(led.Items) != 2 || led.NextCursor == "" {
		t.Fatalf("ledger page %+v", led)
	}
	_ = json.Unmarshal(call("GET", "/api/v1/inventory/ledger?sku_id=A&cursor="+led.NextCursor, rw, "", http.StatusOK), &led)
	if len(led.Items) != 1 || led.Items[0].Reason != "ship" || led.Items[0].Result.OnHand != 2 {
		t.Fatalf("ledger second page %+v", led)
	}
	call("PUT", "/api/v1/inventory/policies/shop1", rw, `{"ratio_pct":50}`, http.StatusOK)
	var sv inventory.SellableView
	_ = json.Unmarshal(call("GET", "/api/v1/inventory/sellable/shop1?sku_id=A", rw, "", http.StatusOK), &sv)
	if sv.Sellable["A"] != 1 {
		t.Fatalf("sellable %+v", sv)
	}
	var cv inventory.CheckView
	_ = json.Unmarshal(call("GET", "/api/v1/inventory/check", "inventory.read", "", http.StatusOK), &cv)
	if !cv.OK || cv.Balances != 1 {
		t.Fatalf("check %+v", cv)
	}
}
