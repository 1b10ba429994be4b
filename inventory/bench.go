package inventory

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"omnihub/bench"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/store"
)

// DBOpener opens a fresh, migrated database for a benchmark run; release
// closes it (and drops what it created).
type DBOpener func(ctx context.Context, env bench.Env) (db store.DB, release func(), err error)

// HotSKUScenario is "omnihub bench hot-sku": many concurrent callers reserve
// one SKU through the group-commit Reserver on a durable database. It
// reports reservations per second and latency, then proves the invariants:
// successes equal the reserved balance, a scarce SKU is reserved exactly up
// to its stock and no further, and Check is clean.
func HotSKUScenario(open DBOpener) bench.Scenario {
	return bench.Scenario{
		Name:        "hot-sku",
		Description: "concurrent reservations of one SKU through group commit; no oversell, check clean",
		Run: func(ctx context.Context, env bench.Env, r *bench.Result) error {
			db, release, err := open(ctx, env)
			if err != nil {
				return err
			}
			defer release()
			return runHotSKU(ctx, env, r, db)
		},
	}
}

func runHotSKU(ctx context.Context, env bench.Env, r *bench.Result, db store.DB) error {
	logf := func(format string, args ...any) {
		if env.Log != nil {
			fmt.Fprintf(env.Log, format+"\n", args...)
		}
	}
	svc := New(db, Options{})
	wh, err := svc.CreateWarehouse(ctx, "HOT", "Hot warehouse")
	if err != nil {
		return err
	}
	// Two shops with policies, so every batch also recomputes sellable
	// numbers and writes push marks, as in production.
	for _, shop := range []string{"bench-shop-1", "bench-shop-2"} {
		if _, err := svc.SetPolicy(ctx, Policy{ShopID: shop, RatioPct: 80, SafetyStock: 5}); err != nil {
			return err
		}
	}
	const hot, scarce = "HOT-SKU", "SCARCE-SKU"
	const stock = 1 << 40
	if err := svc.Receive(ctx, DocRef{Type: "bench", ID: "stock"}, wh.ID, hot, stock); err != nil {
		return err
	}
	workers, dur := 400, 10*time.Second
	if env.Short {
		workers, dur = 200, 2*time.Second
	}
	if env.Duration > 0 {
		dur = env.Duration
	}
	res := svc.NewReserver(ReserverOptions{MaxBatch: 200, MaxWait: time.Millisecond})
	defer res.Close()

	// Main phase: the hot SKU never runs out; measure.
	var lat bench.Latencies
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(dur)
	cpu0 := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				t0 := time.Now()
				// Order ids are UUIDv7, as the order module makes them:
				// time-ordered, so reservations append to their index.
				err := res.Reserve(ctx, []ReserveLine{{Doc: DocRef{Type: "order", ID: ids.New(), Line: 1}, WarehouseID: wh.ID, SKUID: hot, Qty: 1}})
				lat.Add(time.Since(t0))
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	batches, reqs := res.Stats()
	// CPU of this process per reservation (the PostgreSQL server's is not
	// included) and the machine's load: on a shared machine the rate says
	// as much about the neighbours as about the code.
	r.Set("cpu_us_per_reservation", float64(cpu.Microseconds())/float64(max(1, ok.Load())), "µs")
	r.Set("loadavg_1m", loadAvg(), "")
	r.Set("reservations_per_s", float64(ok.Load())/elapsed.Seconds(), "1/s")
	r.Set("reservations", float64(ok.Load()), "")
	r.Set("failed", float64(failed.Load()), "")
	r.Set("workers", float64(workers), "")
	r.Set("mean_batch_size", float64(reqs)/float64(max(1, batches)), "requests")
	lat.Record(r, "reserve_latency")
	logf("hot-sku: %d reservations in %s by %d workers (%d batches)", ok.Load(), elapsed.Round(time.Millisecond), workers, batches)
	if n := failed.Load(); n > 0 {
		r.Violate("%d reservations of a SKU with ample stock failed; first: %v", n, firstErr.Load())
	}
	b, err := svc.Balance(ctx, wh.ID, hot)
	if err != nil {
		return err
	}
	if b.Reserved != ok.Load() {
		r.Violate("hot SKU: reserved %d but %d reservations succeeded", b.Reserved, ok.Load())
	}

	// Scarce phase: more attempts than stock; exactly the stock is reserved.
	const scarceStock = 2000
	if err := svc.Receive(ctx, DocRef{Type: "bench", ID: "scarce"}, wh.ID, scarce, scarceStock); err != nil {
		return err
	}
	var sOK, sShort atomic.Int64
	var sWG sync.WaitGroup
	for w := range workers {
		sWG.Add(1)
		go func() {
			defer sWG.Done()
			for i := range 3 * scarceStock / workers {
				err := res.Reserve(ctx, []ReserveLine{{Doc: DocRef{Type: "bench-scarce", ID: fmt.Sprintf("w%d-%d", w, i), Line: 1}, WarehouseID: wh.ID, SKUID: scarce, Qty: 1}})
				switch {
				case err == nil:
					sOK.Add(1)
				case errs.Is(err, errs.Conflict):
					sShort.Add(1)
				default:
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	sWG.Wait()
	sb, err := svc.Balance(ctx, wh.ID, scarce)
	if err != nil {
		return err
	}
	if sOK.Load() != scarceStock || sb.Reserved != scarceStock || sb.Available != 0 {
		r.Violate("scarce SKU with stock %d: %d successes, balance %+v (oversell or lost stock)", scarceStock, sOK.Load(), sb)
	}
	r.Set("scarce_shortages", float64(sShort.Load()), "")

	rep, err := svc.Check(ctx)
	if err != nil {
		return err
	}
	for _, v := range rep.Violations {
		r.Violate("check: %s", v.Message)
	}
	r.Set("ledger_rows_checked", float64(rep.LedgerRows), "")
	return nil
}

// processCPU is the user+system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg reads the 1-minute load average (0 where /proc is absent).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}
