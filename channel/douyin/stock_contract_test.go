package douyin_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"omnihub/channel"
	"omnihub/channel/douyin"
	"omnihub/channel/douyin/douyinsim"
)

func stockProduct(f *fixture, title string, n int) douyinsim.Product {
	pr := douyinsim.Product{Title: title}
	for i := range n {
		pr.SKUs = append(pr.SKUs, douyinsim.SKU{Code: fmt.Sprintf("%s-%03d", title, i), Spec: "尺码:" + strconv.Itoa(i), Price: 100, Stock: 5})
	}
	return f.sim.AddProduct(pr)
}

func skuUpdate(pr douyinsim.Product, i int, qty int64) channel.StockUpdate {
	return channel.StockUpdate{PlatformItemID: strconv.FormatInt(pr.ProductID, 10), PlatformSKUID: strconv.FormatInt(pr.SKUs[i].SkuID, 10), Quantity: qty}
}

func TestPushStockBatch(t *testing.T) {
	var mu sync.Mutex
	hooked := map[int64]int{}
	f := newFixture(t, douyinsim.Options{OnStockSync: func(sku, _ int64) { mu.Lock(); hooked[sku]++; mu.Unlock() }}, "")
	a, b := stockProduct(f, "A", 2*douyin.SKUsPerCall+20), stockProduct(f, "B", 3)
	var ups []channel.StockUpdate
	for i := range a.SKUs {
		ups = append(ups, skuUpdate(a, i, int64(100+i)))
		if i < len(b.SKUs) {
			ups = append(ups, skuUpdate(b, i, int64(200+i)))
		}
	}
	ctx := context.Background()
	res, err := f.conn.PushStock(ctx, f.sess, ups)
	if err != nil || len(res) != len(ups) {
		t.Fatalf("%v, %d results for %d updates", err, len(res), len(ups))
	}
	for i, r := range res {
		if r.Update != ups[i] || r.Err != nil {
			t.Fatalf("result %d: %+v, want %+v without error", i, r, ups[i])
		}
		id, _ := strconv.ParseInt(r.Update.PlatformSKUID, 10, 64)
		if got := f.sim.Stock(id); got != r.Update.Quantity {
			t.Fatalf("update %d: platform shows %d, want %d", i, got, r.Update.Quantity)
		}
		if n, last := f.sim.StockSyncs(id); n != 1 || last != r.Update.Quantity {
			t.Fatalf("update %d: %d syncs, last %d", i, n, last)
		}
	}
	// A: 50 + 50 + 20, B: 3 — one call per product and chunk.
	if n, m := f.sim.Calls("sku.syncStockBatch"), f.sim.Calls("sku.syncStock"); n != 4 || m != 0 {
		t.Fatalf("%d batch calls and %d single calls, want 4 and 0", n, m)
	}
	mu.Lock()
	for _, u := range ups {
		id, _ := strconv.ParseInt(u.PlatformSKUID, 10, 64)
		if hooked[id] != 1 {
			t.Fatalf("OnStockSync fired %d times for sku %d", hooked[id], id)
		}
	}
	mu.Unlock()

	// Retrying the same batch (same instant, same idempotent ids) is harmless.
	res, _ = f.conn.PushStock(ctx, f.sess, ups)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("retry result %d: %v", i, r.Err)
		}
		id, _ := strconv.ParseInt(r.Update.PlatformSKUID, 10, 64)
		if got := f.sim.Stock(id); got != r.Update.Quantity {
			t.Fatalf("after retry, update %d: platform shows %d", i, got)
		}
	}
}

// rawCall signs and posts param_json as the platform expects, so that a
// request the connector would never build can be sent.
func rawCall(t *testing.T, f *fixture, method, pj string) error {
	t.Helper()
	cr := f.sess.Credentials
	ts := strconv.FormatInt(f.clk.Now().Unix(), 10)
	q := url.Values{"app_key": {cr.AppKey}, "method": {method}, "access_token": {cr.AccessToken}, "timestamp": {ts}, "v": {"2"},
		"sign_method": {douyin.SignMD5}, "sign": {douyin.Sign(douyin.SignMD5, cr.AppKey, cr.AppSecret, method, pj, ts)}}
	resp, err := http.Post(f.sim.URL()+"/"+strings.ReplaceAll(method, ".", "/")+"?"+q.Encode(), "application/json", strings.NewReader(pj))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	_, err = douyin.DecodeResponse(resp.StatusCode, body)
	return err
}

func TestPushStockBatchLimit(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	a := stockProduct(f, "A", douyin.SKUsPerCall+1)
	list := func(n int) string {
		var parts []string
		for _, k := range a.SKUs[:n] {
			parts = append(parts, fmt.Sprintf(`{"sku_id":%d,"sku_type":0,"stock_num":1}`, k.SkuID))
		}
		pj, err := douyin.ParamJSON(map[string]any{"product_id": a.ProductID, "incremental": false, "sku_sync_list": []any{}})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Replace(pj, `"sku_sync_list":[]`, `"sku_sync_list":[`+strings.Join(parts, ",")+`]`, 1)
	}
	err := rawCall(t, f, "sku.syncStockBatch", list(douyin.SKUsPerCall+1))
	if ae := asAPIError(t, err); ae.Code != "40004" || ae.Class != channel.ClassPermanent {
		t.Fatalf("%d SKUs in one call: %+v", douyin.SKUsPerCall+1, ae)
	}
	if err := rawCall(t, f, "sku.syncStockBatch", list(douyin.SKUsPerCall)); err != nil {
		t.Fatalf("%d SKUs in one call: %v", douyin.SKUsPerCall, err)
	}
	if f.sim.Stock(a.SKUs[0].SkuID) != 1 || f.sim.Stock(a.SKUs[douyin.SKUsPerCall].SkuID) != 5 {
		t.Fatal("the accepted call was not applied as sent")
	}
}

func asAPIError(t *testing.T, err error) *channel.APIError {
	t.Helper()
	ae, ok := err.(*channel.APIError)
	if !ok {
		t.Fatalf("want *channel.APIError, got %T %v", err, err)
	}
	return ae
}

// One bad update fails the whole call of its product (the platform's all
// or nothing); the connector finds it and still sets the product's other
// SKUs, and other products are not touched by the failure.
func TestPushStockBatchPartialFailure(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	a, b, c := stockProduct(f, "A", 4), stockProduct(f, "B", 2), stockProduct(f, "C", 1)
	foreign := skuUpdate(c, 0, 77) // C's SKU sent as one of A's
	foreign.PlatformItemID = strconv.FormatInt(a.ProductID, 10)
	ups := []channel.StockUpdate{
		skuUpdate(a, 0, 10), skuUpdate(a, 1, 11), foreign, skuUpdate(a, 2, 12),
		skuUpdate(b, 0, 20), {PlatformItemID: strconv.FormatInt(b.ProductID, 10), PlatformSKUID: "1799999999999", Quantity: 1}, skuUpdate(b, 1, 21),
		skuUpdate(a, 3, -1), // refused before any call
	}
	res, err := f.conn.PushStock(context.Background(), f.sess, ups)
	if err != nil || len(res) != len(ups) {
		t.Fatalf("%v, %d results", err, len(res))
	}
	bad := map[int]bool{2: true, 5: true, 7: true}
	for i, r := range res {
		if r.Update != ups[i] {
			t.Fatalf("result %d is for %+v, want %+v", i, r.Update, ups[i])
		}
		if bad[i] != (r.Err != nil) || (r.Err != nil && channel.IsRetryable(r.Err)) {
			t.Fatalf("result %d: err %v", i, r.Err)
		}
	}
	for _, w := range []struct {
		k    douyinsim.SKU
		want int64
	}{{a.SKUs[0], 10}, {a.SKUs[1], 11}, {a.SKUs[2], 12}, {a.SKUs[3], 5}, {b.SKUs[0], 20}, {b.SKUs[1], 21}, {c.SKUs[0], 5}} {
		if got := f.sim.Stock(w.k.SkuID); got != w.want {
			t.Fatalf("sku %s: %d, want %d", w.k.Code, got, w.want)
		}
	}
}

// failNth answers the nth request (1-based) with HTTP 502 and passes the
// others on.
type failNth struct{ n, seen atomic.Int64 }

func (f *failNth) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.seen.Add(1) == f.n.Load() {
		return &http.Response{StatusCode: http.StatusBadGateway, Status: "502 Bad Gateway", Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A transient failure stops the push: its call's updates and every later
// one carry the error; nothing more is sent.
func TestPushStockBatchStopsOnTransient(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	ft := &failNth{}
	ft.n.Store(2)
	conn := douyin.New(douyin.Options{BaseURL: f.sim.URL(), Clock: f.clk.Now, HTTPClient: &http.Client{Transport: ft}})
	a, b, c := stockProduct(f, "A", 2), stockProduct(f, "B", 2), stockProduct(f, "C", 2)
	ups := []channel.StockUpdate{skuUpdate(a, 0, 1), skuUpdate(a, 1, 2), skuUpdate(b, 0, 3), skuUpdate(b, 1, 4), skuUpdate(c, 0, 5), skuUpdate(c, 1, 6)}
	res, err := conn.PushStock(context.Background(), f.sess, ups)
	if err != nil || len(res) != len(ups) {
		t.Fatalf("%v %d", err, len(res))
	}
	for i, r := range res {
		if (i < 2) != (r.Err == nil) || (r.Err != nil && !channel.IsRetryable(r.Err)) {
			t.Fatalf("result %d: %v", i, r.Err)
		}
	}
	if n := f.sim.Calls("sku.syncStockBatch"); n != 1 {
		t.Fatalf("%d batch calls reached the platform, want 1 (the rest stop at the failure)", n)
	}
	if f.sim.Stock(c.SKUs[0].SkuID) != 5 || f.sim.Stock(a.SKUs[1].SkuID) != 2 {
		t.Fatal("calls went on after the failure, or the first was lost")
	}
}

// The platform's "idempotent id exists" answer to a batch counts as
// success for each of its SKUs.
func TestPushStockBatchIdempotentIDExists(t *testing.T) {
	var batches atomic.Int64
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sku/syncStockBatch" {
			batches.Add(1)
		}
		io.WriteString(w, `{"code":40003,"msg":"非法的参数","sub_code":"isv.idempotent-id-existed","sub_msg":"幂等ID重复","data":{},"log_id":"1"}`)
	}))
	defer gw.Close()
	f := newFixture(t, douyinsim.Options{}, "")
	conn := douyin.New(douyin.Options{BaseURL: gw.URL, Clock: f.clk.Now})
	a := stockProduct(f, "A", 3)
	ups := []channel.StockUpdate{skuUpdate(a, 0, 1), skuUpdate(a, 1, 2), skuUpdate(a, 2, 3)}
	res, _ := conn.PushStock(context.Background(), f.sess, ups)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("result %d: %v", i, r.Err)
		}
	}
	if batches.Load() != 1 {
		t.Fatalf("%d batch calls, want 1", batches.Load())
	}
}
