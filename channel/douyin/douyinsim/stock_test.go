package douyinsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func batchJSON(pid int64, incremental bool, idem string, skus []int64, qty func(i int) int64) string {
	var list []string
	for i, id := range skus {
		list = append(list, fmt.Sprintf(`{"sku_id":%d,"sku_type":0,"stock_num":%d}`, id, qty(i)))
	}
	return fmt.Sprintf(`{"idempotent_id":%q,"incremental":%t,"product_id":%d,"sku_sync_list":[%s]}`, idem, incremental, pid, strings.Join(list, ","))
}

func TestSyncStockBatch(t *testing.T) {
	clk := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	hooked := map[int64][]int64{}
	s := New(Options{Seed: 1, Clock: func() time.Time { return clk }, OnStockSync: func(sku, stock int64) {
		mu.Lock()
		hooked[sku] = append(hooked[sku], stock)
		mu.Unlock()
	}})
	s.Start()
	defer s.Close()
	pr := Product{Title: "卫衣"}
	for i := range SyncStockBatchMax + 1 {
		pr.SKUs = append(pr.SKUs, SKU{Code: fmt.Sprintf("W-%02d", i), Spec: "尺码:" + fmt.Sprint(i), Price: 100, Stock: 5})
	}
	pr = s.AddProduct(pr)
	other := s.AddProduct(Product{Title: "杯子", SKUs: []SKU{{Code: "C-1", Spec: "颜色:白", Price: 100, Stock: 5}}})
	ids := make([]int64, len(pr.SKUs))
	for i, k := range pr.SKUs {
		ids[i] = k.SkuID
	}
	total := func() (n int64) {
		for _, id := range ids {
			n += s.Stock(id)
		}
		return n
	}

	env := call(t, s, "sku.syncStockBatch", batchJSON(pr.ProductID, false, "", ids[:SyncStockBatchMax], func(i int) int64 { return int64(10 + i) }), nil)
	if code(env) != "10000/" {
		t.Fatalf("batch: %v", env)
	}
	for i, id := range ids[:SyncStockBatchMax] {
		if got := s.Stock(id); got != int64(10+i) {
			t.Fatalf("sku %d: %d", i, got)
		}
		if n, last := s.StockSyncs(id); n != 1 || last != int64(10+i) {
			t.Fatalf("sku %d: %d syncs, last %d", i, n, last)
		}
		mu.Lock()
		h := hooked[id]
		mu.Unlock()
		if len(h) != 1 || h[0] != int64(10+i) {
			t.Fatalf("OnStockSync for sku %d: %v, want once with the new stock", i, h)
		}
	}
	if s.Stock(ids[SyncStockBatchMax]) != 5 {
		t.Fatal("a SKU outside the batch changed")
	}

	before := total()
	one := func(int) int64 { return 1 }
	for _, c := range []struct{ name, pj, want string }{
		{"over the limit", batchJSON(pr.ProductID, false, "", ids, one), "40004/isv.business-failed"},
		{"SKU of another product", batchJSON(pr.ProductID, false, "", append(ids[:2:2], other.SKUs[0].SkuID), one), "40004/isv.business-failed"},
		{"unknown SKU", batchJSON(pr.ProductID, false, "", []int64{ids[0], 42}, one), "50002/isv.business-failed"},
		{"negative overwrite", batchJSON(pr.ProductID, false, "", ids[:2], func(i int) int64 { return int64(i - 1) }), "40004/isv.business-failed"},
		{"no product", `{"incremental":false,"sku_sync_list":[{"sku_id":1,"stock_num":1}]}`, "40002/isv.missing-parameter"},
		{"empty list", fmt.Sprintf(`{"incremental":false,"product_id":%d,"sku_sync_list":[]}`, pr.ProductID), "40002/isv.missing-parameter"},
		{"area stock", strings.Replace(batchJSON(pr.ProductID, false, "", ids[:1], one), `"sku_type":0`, `"sku_type":1`, 1), "40004/isv.business-failed"},
		{"incremental without idempotent id", batchJSON(pr.ProductID, true, "", ids[:1], one), "40002/isv.missing-parameter"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := code(call(t, s, "sku.syncStockBatch", c.pj, nil)); got != c.want {
				t.Fatalf("got %s, want %s", got, c.want)
			}
			if got := total(); got != before {
				t.Fatalf("a refused call changed stock: %d → %d", before, got)
			}
		})
	}

	// Incremental: the idempotent id makes a repeat a no-op.
	inc := batchJSON(pr.ProductID, true, "inc-1", ids[:2], func(int) int64 { return 3 })
	if got := code(call(t, s, "sku.syncStockBatch", inc, nil)); got != "10000/" || s.Stock(ids[0]) != 13 {
		t.Fatalf("incremental: %s %d", got, s.Stock(ids[0]))
	}
	if got := code(call(t, s, "sku.syncStockBatch", inc, nil)); got != "40003/isv.idempotent-id-existed" || s.Stock(ids[0]) != 13 {
		t.Fatalf("repeated incremental: %s %d", got, s.Stock(ids[0]))
	}
	// A zero may be left out (the official SDKs omit it).
	pj := fmt.Sprintf(`{"incremental":false,"product_id":%d,"sku_sync_list":[{"sku_id":%d,"sku_type":0}]}`, pr.ProductID, ids[0])
	if got := code(call(t, s, "sku.syncStockBatch", pj, nil)); got != "10000/" || s.Stock(ids[0]) != 0 {
		t.Fatalf("omitted zero: %s %d", got, s.Stock(ids[0]))
	}
	// Injected rate limit.
	s.SetFaults(Faults{RateLimitBurst: 1})
	if got := code(call(t, s, "sku.syncStockBatch", batchJSON(pr.ProductID, false, "", ids[:1], one), nil)); got != "60000/isv.access-limit" {
		t.Fatalf("rate limit: %s", got)
	}
}

// sku.syncStockBatch's param_json is outside input: whatever arrives, the
// simulator answers without panicking, a refusal changes nothing, and a
// full overwrite never leaves a SKU below 0.
func FuzzSyncStockBatch(f *testing.F) {
	f.Add(`{"incremental":false,"product_id":3600000000000000100,"sku_sync_list":[{"sku_id":1700000000001,"sku_type":0,"stock_num":3}]}`)
	f.Add(`{"incremental":true,"idempotent_id":"x","product_id":3600000000000000100,"sku_sync_list":[{"sku_id":"1700000000002","stock_num":-9}]}`)
	f.Add(`{"product_id":"3600000000000000100","sku_sync_list":[{"sku_id":1700000000001},7,null,{"sku_type":"1"}]}`)
	f.Add(`{"incremental":true,"idempotent_id":"y","product_id":3600000000000000100,"sku_sync_list":[{"sku_id":1700000000001,"stock_num":-3},{"sku_id":1700000000001,"stock_num":-3}]}`)
	f.Fuzz(func(t *testing.T, pj string) {
		s := New(Options{Seed: 1})
		pr := s.AddProduct(Product{Title: "杯", SKUs: []SKU{{Code: "A", Stock: 5}, {Code: "B", Stock: 5}}})
		var params map[string]any
		dec := json.NewDecoder(strings.NewReader(pj))
		dec.UseNumber()
		if dec.Decode(&params) != nil {
			return
		}
		_, err := s.skuSyncStockBatch(p(params))
		for _, k := range pr.SKUs {
			got := s.Stock(k.SkuID)
			if err != nil && got != 5 {
				t.Fatalf("refused (%v) but sku %d changed to %d", err, k.SkuID, got)
			}
			if got < 0 {
				t.Fatalf("sku %d at %d", k.SkuID, got)
			}
		}
	})
}
