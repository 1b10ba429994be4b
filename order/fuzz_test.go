package order

import (
	"context"
	"encoding/json"
	"testing"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/jobs"
	"omnihub/store/storetest"
)

// FuzzIngestJSON feeds hostile platform orders (as a connector would decode
// them) to Ingest: it must reject or store them, never panic or fail with
// anything but invalid input, and a second delivery must change nothing.
func FuzzIngestJSON(f *testing.F) {
	seed, _ := json.Marshal(mk("F-1", t0))
	f.Add(seed)
	f.Add([]byte(`{"platform_order_id":"x","status":"paid","modified_at":"2026-01-01T00:00:00Z","lines":[{"quantity":9223372036854775807}]}`))
	f.Add([]byte(`{"platform_order_id":"\u0000","status":"cancelled","modified_at":"9999-12-31T23:59:59Z","lines":[]}`))
	f.Add([]byte(`{"platform_order_id":"y","status":"paid","modified_at":"2026-01-01T00:00:00Z","receiver":{"province":"北京","city":"北京","district":"朝阳区","detail":"x"},"buyer_note":"改地址 发票 顺丰","lines":[{"platform_sku_id":"A","outer_sku_id":"SKU-A","quantity":1,"paid":-5}]}`))
	// One database per fuzzing process: opening one per input would
	// dominate the run.
	db := storetest.OpenSQLite(f, jobs.Config{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var o channel.Order
		if json.Unmarshal(data, &o) != nil {
			return
		}
		svc := New(db, Options{Stock: infiniteStock{}, DefaultWarehouse: "WH"})
		ctx := context.Background()
		r, err := svc.Ingest(ctx, "fuzz", o)
		if err != nil {
			if !errs.Is(err, errs.Invalid) {
				t.Fatalf("ingest %q: %v", data, err)
			}
			return
		}
		r2, err := svc.Ingest(ctx, "fuzz", o)
		if err != nil || (r2.Outcome != Duplicate && r2.Outcome != Stale) || r2.OrderID != r.OrderID {
			t.Fatalf("second delivery %+v %v after %+v", r2, err, r)
		}
	})
}
