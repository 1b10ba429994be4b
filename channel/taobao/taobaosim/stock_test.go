package taobaosim

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func skuItem(s *Sim, n int, qty int64) Item {
	spec := ItemSpec{Title: "T恤", Price: 9900, OuterID: "TEE"}
	for i := range n {
		spec.SKUs = append(spec.SKUs, SKUSpec{Properties: "尺码:" + strconv.Itoa(i), Price: 9900, Quantity: qty, OuterID: fmt.Sprintf("TEE-%02d", i)})
	}
	return s.AddItem(spec)
}

func skuList(it Item, from, to int, qty func(i int) int64) string {
	var parts []string
	for i := from; i < to; i++ {
		parts = append(parts, fmt.Sprintf("%d:%d", it.SKUs[i].SkuID, qty(i)))
	}
	return strings.Join(parts, ";")
}

func TestSkusQuantityUpdate(t *testing.T) {
	s := newSim(t)
	it := skuItem(s, 25, 5)
	other := skuItem(s, 2, 5)
	num := strconv.FormatInt(it.NumIID, 10)
	batch := func(p map[string]string) map[string]any {
		p["method"] = "taobao.skus.quantity.update"
		return call(t, s, p, nil)
	}

	out := batch(map[string]string{"num_iid": num, "type": "1", "skuid_quantities": skuList(it, 0, 20, func(i int) int64 { return int64(100 + i) })})
	if code, _ := errCode(out); code != 0 {
		t.Fatalf("20 SKUs: %v", out)
	}
	for i := range 20 {
		if q := s.Quantity(it.NumIID, it.SKUs[i].SkuID); q != int64(100+i) {
			t.Fatalf("sku %d: %d", i, q)
		}
	}
	if q := s.Quantity(it.NumIID, it.SKUs[20].SkuID); q != 5 {
		t.Fatalf("untouched sku changed: %d", q)
	}
	resp := out["skus_quantity_update_response"].(map[string]any)["item"].(map[string]any)
	if n := len(resp["skus"].(map[string]any)["sku"].([]any)); n != 20 || resp["num"].(float64) != float64(20*100+190+5*5) {
		t.Fatalf("response: %v", resp)
	}
	if n := s.QuantityUpdates(); n != 20 {
		t.Fatalf("%d quantity updates counted, want one per SKU", n)
	}

	// Refusals leave every SKU as it was (all or nothing).
	before := s.Quantity(it.NumIID, 0)
	for _, c := range []struct {
		name string
		p    map[string]string
		code float64
		sub  string
	}{
		{"21 SKUs", map[string]string{"num_iid": num, "skuid_quantities": skuList(it, 0, 21, func(int) int64 { return 1 })}, 41, "isv.invalid-parameter"},
		{"SKU of another item", map[string]string{"num_iid": num, "skuid_quantities": skuList(it, 0, 2, func(int) int64 { return 1 }) + ";" + skuList(other, 0, 1, func(int) int64 { return 1 })}, 15, "isv.item-sku-not-exist"},
		{"negative overwrite", map[string]string{"num_iid": num, "type": "1", "skuid_quantities": skuList(it, 0, 2, func(i int) int64 { return int64(i - 1) })}, 41, "isv.invalid-parameter"},
		{"bad format", map[string]string{"num_iid": num, "skuid_quantities": "12345"}, 41, "isv.invalid-parameter"},
		{"bad type", map[string]string{"num_iid": num, "type": "3", "skuid_quantities": skuList(it, 0, 1, func(int) int64 { return 1 })}, 41, "isv.invalid-parameter"},
		{"no list", map[string]string{"num_iid": num}, 40, "isv.missing-parameter"},
		{"no item", map[string]string{"skuid_quantities": skuList(it, 0, 1, func(int) int64 { return 1 })}, 40, "isv.missing-parameter"},
		{"unknown item", map[string]string{"num_iid": "1", "skuid_quantities": skuList(it, 0, 1, func(int) int64 { return 1 })}, 15, "isv.item-not-exist"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if code, sub := errCode(batch(c.p)); code != c.code || sub != c.sub {
				t.Fatalf("got %v %q, want %v %q", code, sub, c.code, c.sub)
			}
			if q := s.Quantity(it.NumIID, 0); q != before {
				t.Fatalf("a refused call changed stock: %d → %d", before, q)
			}
		})
	}

	// Incremental floors at 0; outer ids address SKUs when no ids are given.
	out = batch(map[string]string{"num_iid": num, "type": "2", "outerid_quantities": "TEE-00:-1000;TEE-01:3"})
	if code, _ := errCode(out); code != 0 || s.Quantity(it.NumIID, it.SKUs[0].SkuID) != 0 || s.Quantity(it.NumIID, it.SKUs[1].SkuID) != 104 {
		t.Fatalf("incremental by outer id: %v", out)
	}
	if n := s.Calls("taobao.skus.quantity.update"); n < 2 {
		t.Fatalf("calls %d", n)
	}
}

func TestSkusQuantityUpdateFaults(t *testing.T) {
	s := newSim(t)
	it := skuItem(s, 3, 5)
	p := map[string]string{"method": "taobao.skus.quantity.update", "num_iid": strconv.FormatInt(it.NumIID, 10), "skuid_quantities": skuList(it, 0, 3, func(int) int64 { return 9 })}
	s.SetFaults(Faults{RateLimitNext: 1})
	if code, _ := errCode(call(t, s, p, nil)); code != 7 {
		t.Fatalf("rate limit not injected: %v", code)
	}
	s.SetFaults(Faults{RemoteErrorNext: 1})
	if code, sub := errCode(call(t, s, p, nil)); code != 15 || !strings.HasPrefix(sub, "isp.") {
		t.Fatalf("remote error not injected: %v %s", code, sub)
	}
	if q := s.Quantity(it.NumIID, 0); q != 15 {
		t.Fatalf("a refused call changed stock: %d", q)
	}
	if code, _ := errCode(call(t, s, p, nil)); code != 0 || s.Quantity(it.NumIID, 0) != 27 {
		t.Fatal("recovered call not applied")
	}
}

// skuid_quantities / outerid_quantities are outside input: whatever
// arrives, the simulator answers without panicking, a refusal changes
// nothing, and an overwrite never leaves a SKU below 0.
func FuzzSkusQuantityUpdate(f *testing.F) {
	f.Add("4000000000001:5;4000000000002:7", "", "1")
	f.Add("", "TEE-00:-3;TEE-01:2", "2")
	f.Add("4000000000001:;:5;;x:y", "", "1")
	f.Add("4000000000001:99999999999999999999", "", "")
	f.Fuzz(func(t *testing.T, skuids, outerids, typ string) {
		s := New(Options{Seed: 1, Clock: func() time.Time { return t0 }})
		it := skuItem(s, 3, 5)
		p := map[string]string{"num_iid": strconv.FormatInt(it.NumIID, 10), "skuid_quantities": skuids, "outerid_quantities": outerids, "type": typ}
		s.mu.Lock()
		_, terr := s.apiSkusQuantityUpdate(p)
		s.mu.Unlock()
		for _, k := range it.SKUs {
			q := s.Quantity(it.NumIID, k.SkuID)
			if terr != nil && q != 5 {
				t.Fatalf("refused (%v) but sku %d changed to %d", terr, k.SkuID, q)
			}
			if q < 0 {
				t.Fatalf("sku %d at %d", k.SkuID, q)
			}
		}
	})
}
