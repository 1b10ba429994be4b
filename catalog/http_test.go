package catalog_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"omnihub/api"
	"omnihub/catalog"
	"omnihub/errs"
	"omnihub/jobs"
	"omnihub/store/storetest"
)

// testServer serves the catalog routes; the caller's permissions come from
// the X-Perms header (comma separated), standing in for package auth.
func testServer(t *testing.T) (*httptest.Server, *catalog.Service) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	c := catalog.New(db, catalog.Options{})
	srv := api.New(api.Options{Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(), DB: db})
	srv.Authenticate = func(perm string, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, p := range strings.Split(r.Header.Get("X-Perms"), ",") {
				if p == perm {
					next.ServeHTTP(w, r)
					return
				}
			}
			api.WriteError(w, r, errs.E(errs.Forbidden, "missing %s", perm))
		})
	}
	c.Routes(srv)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, c
}

func call(t *testing.T, ts *httptest.Server, method, path, perms, ctype string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, ts.URL+path, body)
	req.Header.Set("X-Perms", perms)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func TestHTTP(t *testing.T) {
	ts, _ := testServer(t)
	rw := "catalog.read,catalog.write"

	res, body := call(t, ts, "POST", "/api/v1/catalog/skus", "catalog.read", "application/json", strings.NewReader(`{"code":"A","name":"a"}`))
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("write with read permission: %d %s", res.StatusCode, body)
	}
	res, body = call(t, ts, "POST", "/api/v1/catalog/skus", rw, "application/json", strings.NewReader(`{"code":"A","name":"a","price_fen":990}`))
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	var k catalog.SKU
	_ = json.Unmarshal(body, &k)
	res, body = call(t, ts, "POST", "/api/v1/catalog/skus", rw, "application/json", strings.NewReader(`{"code":"","name":"","price_fen":-1}`))
	var prob api.Problem
	_ = json.Unmarshal(body, &prob)
	if res.StatusCode != http.StatusBadRequest || prob.Fields["code"] == "" || prob.Fields["price_fen"] == "" {
		t.Fatalf("invalid create: %d %s", res.StatusCode, body)
	}
	res, body = call(t, ts, "GET", "/api/v1/catalog/skus/"+k.ID, "catalog.read", "", nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), `"price_fen":990`) {
		t.Fatalf("get: %d %s", res.StatusCode, body)
	}
	res, _ = call(t, ts, "GET", "/api/v1/catalog/skus/by-code/A", "catalog.read", "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("by code: %d", res.StatusCode)
	}
	res, _ = call(t, ts, "GET", "/api/v1/catalog/skus/by-barcode/000", "catalog.read", "", nil)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("by unknown barcode: %d", res.StatusCode)
	}
	res, body = call(t, ts, "POST", "/api/v1/catalog/skus", rw, "application/json",
		strings.NewReader(`{"code":"KIT","name":"kit","kind":"bundle","components":[{"sku_id":"`+k.ID+`","qty":2}]}`))
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create bundle: %d %s", res.StatusCode, body)
	}
	var kit catalog.SKU
	_ = json.Unmarshal(body, &kit)
	res, body = call(t, ts, "PUT", "/api/v1/catalog/skus/"+kit.ID+"/components", rw, "application/json",
		strings.NewReader(`{"components":[{"sku_id":"`+kit.ID+`","qty":1}]}`))
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("self bundle: %d %s", res.StatusCode, body)
	}

	res, body = call(t, ts, "POST", "/api/v1/catalog/bindings", rw, "application/json",
		strings.NewReader(`{"shop_id":"s1","platform_item_id":"i1","platform_sku_id":"p1","sku_id":"`+k.ID+`"}`))
	if res.StatusCode != 200 {
		t.Fatalf("bind: %d %s", res.StatusCode, body)
	}
	res, body = call(t, ts, "GET", "/api/v1/catalog/bindings?shop_id=s1", "catalog.read", "", nil)
	if res.StatusCode != 200 || !strings.Contains(string(body), `"platform_sku_id":"p1"`) {
		t.Fatalf("list bindings: %d %s", res.StatusCode, body)
	}
	res, _ = call(t, ts, "DELETE", "/api/v1/catalog/bindings?shop_id=s1&platform_item_id=i1&platform_sku_id=p1", rw, "", nil)
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("unbind: %d", res.StatusCode)
	}

	// A bad sheet: 400 problem+json naming every bad row.
	bad := "code,name,price\nB,b,1\n,missing code,1\nC,c,abc\n"
	res, body = call(t, ts, "POST", "/api/v1/catalog/import", rw, "text/csv", strings.NewReader(bad))
	var ip catalog.ImportProblem
	if err := json.Unmarshal(body, &ip); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Content-Type") != "application/problem+json" ||
		ip.Code != errs.Invalid || len(ip.Errors) != 2 || ip.Errors[0].Row != 3 || ip.Errors[1].Row != 4 || ip.Errors[1].Column != "price" {
		t.Fatalf("bad sheet: %d %s", res.StatusCode, body)
	}
	res, body = call(t, ts, "GET", "/api/v1/catalog/skus/by-code/B", "catalog.read", "", nil)
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("rejected sheet wrote B: %d %s", res.StatusCode, body)
	}

	// A good sheet as a multipart upload.
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("file", "products.csv")
	_, _ = fw.Write([]byte("商家编码,名称,售价\nB,b,1\nC,c,2.5\n"))
	_ = mw.Close()
	res, body = call(t, ts, "POST", "/api/v1/catalog/import", rw, mw.FormDataContentType(), &mp)
	if res.StatusCode != 200 || !strings.Contains(string(body), `"created":2`) {
		t.Fatalf("multipart import: %d %s", res.StatusCode, body)
	}

	res, body = call(t, ts, "GET", "/api/v1/catalog/export?format=csv", "catalog.read", "", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(string(body), "code,name,") || strings.Count(string(body), "\n") != 5 {
		t.Fatalf("export: %d %s", res.StatusCode, body)
	}
	res, body = call(t, ts, "GET", "/api/v1/catalog/skus?limit=2", "catalog.read", "", nil)
	var page api.Page[catalog.SKU]
	_ = json.Unmarshal(body, &page)
	if res.StatusCode != 200 || len(page.Items) != 2 || page.NextCursor != "B" {
		t.Fatalf("list: %d %s", res.StatusCode, body)
	}
}
