package inventory_test

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	"omnihub/bench"
	"omnihub/ids"
	"omnihub/inventory"
	"omnihub/jobs"
	"omnihub/store"
	"omnihub/store/storetest"
)

// BenchmarkReserveHotSKU measures durable reservations of one SKU through
// the group-commit Reserver, with many concurrent callers (b.SetParallelism).
func BenchmarkReserveHotSKU(b *testing.B) {
	for _, e := range storetest.Engines() {
		b.Run(e.Name, func(b *testing.B) {
			benchHot(b, e.Open(b, jobs.Config{}))
		})
	}
}

func benchHot(b *testing.B, db store.DB) {
	ctx := context.Background()
	svc := inventory.New(db, inventory.Options{})
	wh, err := svc.CreateWarehouse(ctx, "B", "bench")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.SetPolicy(ctx, inventory.Policy{ShopID: "s1", RatioPct: 80}); err != nil {
		b.Fatal(err)
	}
	if err := svc.Receive(ctx, inventory.DocRef{Type: "b", ID: "stock"}, wh.ID, "HOT", 1<<40); err != nil {
		b.Fatal(err)
	}
	batch, _ := strconv.Atoi(os.Getenv("INV_BATCH"))
	par, _ := strconv.Atoi(os.Getenv("INV_PAR"))
	if par == 0 {
		par = 200 // × GOMAXPROCS: twice MaxBatch, so a batch gathers while one commits
	}
	r := svc.NewReserver(inventory.ReserverOptions{MaxBatch: batch})
	defer r.Close()
	var seq atomic.Int64
	b.SetParallelism(par)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			seq.Add(1)
			if err := r.Reserve(ctx, []inventory.ReserveLine{{Doc: inventory.DocRef{Type: "order", ID: ids.New(), Line: 1}, WarehouseID: wh.ID, SKUID: "HOT", Qty: 1}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reservations/s")
	batches, reqs := r.Stats()
	b.ReportMetric(float64(reqs)/float64(max(1, batches)), "req/batch")
}

// BenchmarkHotSKUScenario runs the "omnihub bench hot-sku" scenario (short)
// on SQLite, for profiling it with -cpuprofile.
func BenchmarkHotSKUScenario(b *testing.B) {
	for range b.N {
		sc := inventory.HotSKUScenario(func(ctx context.Context, env bench.Env) (store.DB, func(), error) {
			return storetest.OpenSQLite(b, jobs.Config{}), func() {}, nil
		})
		res, err := bench.Run(context.Background(), sc, bench.Env{Engine: "sqlite", Short: true})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.Figures["reservations_per_s"], "reservations/s")
		b.ReportMetric(res.Figures["cpu_us_per_reservation"], "cpu-µs/reservation")
	}
}
