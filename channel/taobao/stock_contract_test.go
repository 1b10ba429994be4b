package taobao_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"omnihub/channel"
	"omnihub/channel/taobao"
	"omnihub/channel/taobao/taobaosim"
)

// stockItem puts an item with n SKUs (5 units each) on sale.
func stockItem(e *env, title string, n int) taobaosim.Item {
	spec := taobaosim.ItemSpec{Title: title, Price: 9900, OuterID: title}
	for i := range n {
		spec.SKUs = append(spec.SKUs, taobaosim.SKUSpec{Properties: "尺码:" + strconv.Itoa(i), Price: 9900, Quantity: 5, OuterID: fmt.Sprintf("%s-%02d", title, i)})
	}
	return e.sim.AddItem(spec)
}

func skuUpdate(it taobaosim.Item, i int, qty int64) channel.StockUpdate {
	return channel.StockUpdate{PlatformItemID: strconv.FormatInt(it.NumIID, 10), PlatformSKUID: strconv.FormatInt(it.SKUs[i].SkuID, 10), Quantity: qty}
}

func TestContractStockPushBatch(t *testing.T) {
	e := setup(t, taobaosim.Options{RateLimit: -1}, "")
	ctx := context.Background()
	a, b := stockItem(e, "A", 45), stockItem(e, "B", 3)
	// A's and B's SKUs interleaved, as a caller may hand them over.
	var ups []channel.StockUpdate
	for i := range 45 {
		ups = append(ups, skuUpdate(a, i, int64(100+i)))
		if i < 3 {
			ups = append(ups, skuUpdate(b, i, int64(200+i)))
		}
	}
	res, err := e.conn.PushStock(ctx, e.sess, ups)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(ups) {
		t.Fatalf("%d results for %d updates", len(res), len(ups))
	}
	for i, r := range res {
		if r.Update != ups[i] || r.Err != nil {
			t.Fatalf("result %d: %+v, want %+v without error", i, r, ups[i])
		}
		id, _ := strconv.ParseInt(r.Update.PlatformItemID, 10, 64)
		sku, _ := strconv.ParseInt(r.Update.PlatformSKUID, 10, 64)
		if q := e.sim.Quantity(id, sku); q != r.Update.Quantity {
			t.Fatalf("update %d: channel shows %d, want %d", i, q, r.Update.Quantity)
		}
	}
	// A: 20 + 20 + 5, B: 3 — one call per item and chunk of 20.
	if n, m := e.sim.Calls("taobao.skus.quantity.update"), e.sim.Calls("taobao.item.quantity.update"); n != 4 || m != 0 {
		t.Fatalf("%d batch calls and %d single calls, want 4 and 0", n, m)
	}
	if n := e.sim.QuantityUpdates(); n != 48 {
		t.Fatalf("%d SKU quantities set, want 48", n)
	}

	// Retrying the same batch is harmless: same values, same outcome.
	res, err = e.conn.PushStock(ctx, e.sess, ups)
	if err != nil || len(res) != len(ups) {
		t.Fatalf("retry: %v, %d results", err, len(res))
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("retry result %d: %v", i, r.Err)
		}
	}
	if q := e.sim.Quantity(a.NumIID, 0); q != int64(45*100+45*44/2) {
		t.Fatalf("item A after retry: %d", q)
	}
}

func TestContractStockPushBatchLimit(t *testing.T) {
	e := setup(t, taobaosim.Options{RateLimit: -1}, "")
	a := stockItem(e, "A", 21)
	var parts []string
	for _, k := range a.SKUs {
		parts = append(parts, strconv.FormatInt(k.SkuID, 10)+":1")
	}
	params := map[string]string{"num_iid": strconv.FormatInt(a.NumIID, 10), "type": "1", "skuid_quantities": strings.Join(parts, ";")}
	_, err := e.conn.Call(context.Background(), e.sess.Credentials, "taobao.skus.quantity.update", params)
	if ae := apiErr(t, err); ae.Code != "41" || ae.SubCode != "isv.invalid-parameter" || ae.Class != channel.ClassPermanent {
		t.Fatalf("21 SKUs in one call: %+v", ae)
	}
	params["skuid_quantities"] = strings.Join(parts[:taobao.SKUsPerCall], ";")
	if _, err := e.conn.Call(context.Background(), e.sess.Credentials, "taobao.skus.quantity.update", params); err != nil {
		t.Fatalf("%d SKUs in one call: %v", taobao.SKUsPerCall, err)
	}
}

// One bad update fails the platform call of its item; the connector finds
// it and still sets the item's other SKUs, and other items are not
// touched by the failure.
func TestContractStockPushBatchPartialFailure(t *testing.T) {
	e := setup(t, taobaosim.Options{RateLimit: -1}, "")
	ctx := context.Background()
	a, b, c := stockItem(e, "A", 4), stockItem(e, "B", 2), stockItem(e, "C", 1)
	foreign := skuUpdate(c, 0, 77) // C's SKU sent as one of A's
	foreign.PlatformItemID = strconv.FormatInt(a.NumIID, 10)
	gone := channel.StockUpdate{PlatformItemID: "600000999999", PlatformSKUID: "4000000999999", Quantity: 1}
	ups := []channel.StockUpdate{
		skuUpdate(a, 0, 10), skuUpdate(a, 1, 11), foreign, skuUpdate(a, 2, 12),
		skuUpdate(b, 0, 20), gone, skuUpdate(b, 1, 21),
		skuUpdate(a, 3, -1), // refused before any call
	}
	res, err := e.conn.PushStock(ctx, e.sess, ups)
	if err != nil || len(res) != len(ups) {
		t.Fatalf("%v, %d results", err, len(res))
	}
	bad := map[int]bool{2: true, 5: true, 7: true}
	for i, r := range res {
		if r.Update != ups[i] {
			t.Fatalf("result %d is for %+v, want %+v", i, r.Update, ups[i])
		}
		if bad[i] != (r.Err != nil) {
			t.Fatalf("result %d: err %v", i, r.Err)
		}
		if r.Err != nil && channel.IsRetryable(r.Err) {
			t.Fatalf("result %d: a rejected update must not be retryable: %v", i, r.Err)
		}
	}
	for _, w := range []struct {
		it   taobaosim.Item
		sku  int
		want int64
	}{{a, 0, 10}, {a, 1, 11}, {a, 2, 12}, {a, 3, 5}, {b, 0, 20}, {b, 1, 21}, {c, 0, 5}} {
		if q := e.sim.Quantity(w.it.NumIID, w.it.SKUs[w.sku].SkuID); q != w.want {
			t.Fatalf("%s sku %d: %d, want %d", w.it.Title, w.sku, q, w.want)
		}
	}
}

// failNth answers the nth request (1-based) with HTTP 503 and passes the
// others to the simulator.
type failNth struct {
	n, seen atomic.Int64
}

func (f *failNth) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.seen.Add(1) == f.n.Load() {
		return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable",
			Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// A transient failure stops the push: the updates sent before it are
// reported, the rest is left to the caller's retry.
func TestContractStockPushBatchStopsOnTransient(t *testing.T) {
	e := setup(t, taobaosim.Options{RateLimit: -1}, "")
	ft := &failNth{}
	ft.n.Store(2)
	conn := taobao.New(taobao.Options{BaseURL: e.sim.GatewayURL(), Clock: e.clock.Now, HTTPClient: &http.Client{Transport: ft}})
	a, b, c := stockItem(e, "A", 2), stockItem(e, "B", 2), stockItem(e, "C", 2)
	ups := []channel.StockUpdate{skuUpdate(a, 0, 1), skuUpdate(a, 1, 2), skuUpdate(b, 0, 3), skuUpdate(b, 1, 4), skuUpdate(c, 0, 5), skuUpdate(c, 1, 6)}
	res, err := conn.PushStock(context.Background(), e.sess, ups)
	if !channel.IsRetryable(err) {
		t.Fatalf("want the transient error as the call's error, got %v", err)
	}
	if len(res) != 2 || res[0].Update != ups[0] || res[1].Update != ups[1] || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("results before the failure: %+v", res)
	}
	if e.sim.Quantity(c.NumIID, 0) != 10 || e.sim.Quantity(a.NumIID, 0) != 3 {
		t.Fatal("calls went on after the failure, or the first was lost")
	}
	// The retry of the whole batch completes it.
	res, err = conn.PushStock(context.Background(), e.sess, ups)
	if err != nil || len(res) != len(ups) || e.sim.Quantity(c.NumIID, 0) != 11 || e.sim.Quantity(b.NumIID, 0) != 7 {
		t.Fatalf("retry: %v %+v", err, res)
	}
}
