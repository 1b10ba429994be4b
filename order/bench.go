package order

import (
	"context"
	"fmt"
	"strings"
	"time"

	"omnihub/bench"
	"omnihub/channel"
	"omnihub/store"
)

// DBOpener opens a fresh, migrated database for a benchmark run; release
// closes it (and drops what it created).
type DBOpener func(ctx context.Context, env bench.Env) (db store.DB, release func(), err error)

// BenchDeps builds the real inventory and catalog over db for a benchmark:
// warehouse gets skus in stock, and the SKUs' codes equal the outer codes
// of the generated mix. Nil deps mean in-memory fakes.
type BenchDeps func(ctx context.Context, db store.DB, skus []string) (StockReserver, SKUResolver, string, error)

// IngestScenario is "omnihub bench ingest": a generated day of orders (3%
// bad addresses, 5% notes needing a person, risk patterns, 10% duplicate
// deliveries) ingested in batches through the real service on a fresh
// database. It reports orders per second and the auto-pass rate of clean
// orders, and fails if a clean order pass rate is under 95%, a bad order is
// not held with its reason, or a duplicate order appears.
func IngestScenario(open DBOpener, deps BenchDeps) bench.Scenario {
	name, desc := "ingest", "order ingest: parse, upsert, audit, reserve, durable; auto-pass rate of a realistic mix"
	if deps == nil {
		name, desc = "ingest-core", "order ingest with in-memory stock and outer-code binding: the order module's own cost"
	}
	return bench.Scenario{
		Name:        name,
		Description: desc,
		Run: func(ctx context.Context, env bench.Env, r *bench.Result) error {
			db, release, err := open(ctx, env)
			if err != nil {
				return err
			}
			defer release()
			n := 10000
			if env.Short {
				n = 2000
			}
			skus := make([]string, MixSKUs)
			for i := range skus {
				skus[i] = fmt.Sprintf("SKU-%d", i)
			}
			var stock StockReserver = infiniteStock{}
			var res SKUResolver
			wh := "WH-BENCH"
			if deps != nil {
				stock, res, wh, err = deps(ctx, db, skus)
				if err != nil {
					return err
				}
				r.Set("real_inventory_catalog", 1, "bool")
			}
			svc := New(db, Options{Stock: stock, Resolver: res, DefaultWarehouse: wh})
			now := time.Now().UTC()
			if env.History > 0 {
				if err := storeHistory(ctx, svc, "bench-shop", env.History, now); err != nil {
					return err
				}
				r.Set("history_orders", float64(env.History), "orders")
			}
			mix := GenerateMix(n, 1, now)
			rep, err := RunMix(ctx, svc, "bench-shop", mix, 500)
			if err != nil {
				return err
			}
			if env.Log != nil {
				fmt.Fprintln(env.Log, rep.String())
			}
			r.Set("orders", float64(rep.Orders), "orders")
			r.Set("deliveries", float64(rep.Deliveries), "deliveries")
			r.Set("orders_per_s", rep.OrdersPerSec(), "orders/s")
			r.Set("deliveries_per_s", float64(rep.Deliveries)/rep.Elapsed.Seconds(), "deliveries/s")
			r.Set("clean_auto_pass_pct", rep.CleanPassPct(), "%")
			r.Set("bad_held_with_reason_pct", rep.BadHeldPct(), "%")
			r.Set("duplicates", float64(rep.Duplicates), "orders")
			for _, v := range rep.Violations() {
				r.Violate("%s", v)
			}
			return nil
		},
	}
}

// storeHistory ingests n orders of the shop paid 40 days before now (outside
// the risk and merge windows, so that the measured run's audit outcomes stay
// the same), with their own platform ids and the same buyers, phones and
// SKUs as the measured mix.
func storeHistory(ctx context.Context, svc *Service, shopID string, n int, now time.Time) error {
	hist := GenerateMix(n, 2, now.Add(-40*24*time.Hour))
	batch := make([]channel.Order, 0, 1000)
	for i := range hist {
		o := hist[i].Order
		o.PlatformOrderID = "H" + o.PlatformOrderID
		lines := make([]channel.OrderLine, len(o.Lines))
		copy(lines, o.Lines)
		for j := range lines {
			lines[j].PlatformLineID = "H" + lines[j].PlatformLineID
		}
		o.Lines = lines
		batch = append(batch, o)
		if len(batch) == cap(batch) || i == len(hist)-1 {
			res, err := svc.IngestBatch(ctx, shopID, batch)
			if err != nil {
				return fmt.Errorf("store history: %w", err)
			}
			for _, r := range res {
				if r.Err != nil {
					return fmt.Errorf("store history: %w", r.Err)
				}
			}
			batch = batch[:0]
		}
	}
	return nil
}

// infiniteStock reserves anything (benchmarks without the inventory module).
type infiniteStock struct{}

func (infiniteStock) ReserveTx(context.Context, store.Tx, []StockLine) error { return nil }
func (infiniteStock) ReleaseTx(context.Context, store.Tx, string) error      { return nil }
func (infiniteStock) ShipTx(context.Context, store.Tx, string) error         { return nil }
func (infiniteStock) Available(context.Context, string, string) (int64, error) {
	return 1 << 40, nil
}

// MixReport is the outcome of RunMix.
type MixReport struct {
	Orders, Deliveries int
	Elapsed            time.Duration
	Clean, CleanPassed int
	Bad, BadHeld       int
	Duplicates         int
	Wrong              []string // first few bad orders not held with their reason
}

func (m MixReport) OrdersPerSec() float64 { return float64(m.Orders) / m.Elapsed.Seconds() }
func (m MixReport) CleanPassPct() float64 {
	return 100 * float64(m.CleanPassed) / float64(max(m.Clean, 1))
}
func (m MixReport) BadHeldPct() float64 { return 100 * float64(m.BadHeld) / float64(max(m.Bad, 1)) }

// Violations lists broken acceptance criteria.
func (m MixReport) Violations() []string {
	var v []string
	if m.CleanPassPct() < 95 {
		v = append(v, fmt.Sprintf("clean orders passing untouched: %.2f%% < 95%%", m.CleanPassPct()))
	}
	if m.BadHeld != m.Bad {
		v = append(v, fmt.Sprintf("%d of %d bad orders not held with their reason: %s", m.Bad-m.BadHeld, m.Bad, strings.Join(m.Wrong, "; ")))
	}
	if m.Duplicates != 0 {
		v = append(v, fmt.Sprintf("%d duplicate orders", m.Duplicates))
	}
	return v
}

func (m MixReport) String() string {
	return fmt.Sprintf("%d orders (%d deliveries) in %s: %.0f orders/s; clean auto-pass %d/%d = %.2f%%; bad held with reason %d/%d; duplicates %d",
		m.Orders, m.Deliveries, m.Elapsed.Round(time.Millisecond), m.OrdersPerSec(), m.CleanPassed, m.Clean, m.CleanPassPct(), m.BadHeld, m.Bad, m.Duplicates)
}

// RunMix ingests a generated mix in batches, every tenth order delivered a
// second time in a later batch, and checks the outcome of every order.
func RunMix(ctx context.Context, svc *Service, shopID string, mix []MixOrder, batchSize int) (MixReport, error) {
	rep := MixReport{Orders: len(mix)}
	stream := make([]channel.Order, 0, len(mix)+len(mix)/10)
	for i, m := range mix {
		stream = append(stream, m.Order)
		if i%10 == 0 && i >= batchSize {
			stream = append(stream, mix[i-batchSize].Order)
		}
	}
	rep.Deliveries = len(stream)
	start := time.Now()
	for i := 0; i < len(stream); i += batchSize {
		res, err := svc.IngestBatch(ctx, shopID, stream[i:min(i+batchSize, len(stream))])
		if err != nil {
			return rep, err
		}
		for _, r := range res {
			if r.Err != nil {
				return rep, r.Err
			}
		}
	}
	rep.Elapsed = time.Since(start)

	type got struct {
		status Status
		holds  string
	}
	inMix := make(map[string]bool, len(mix))
	for _, m := range mix {
		inMix[m.PlatformOrderID] = true
	}
	seen := map[string]got{}
	rows, err := svc.db.Query(ctx, `SELECT platform_order_id, status, hold_reasons FROM orders WHERE shop_id = $1`, shopID)
	if err != nil {
		return rep, err
	}
	for rows.Next() {
		var pid, st, h string
		if err := rows.Scan(&pid, &st, &h); err != nil {
			rows.Close()
			return rep, err
		}
		if !inMix[pid] {
			continue // stored before the run (bench --history)
		}
		if _, dup := seen[pid]; dup {
			rep.Duplicates++
		}
		seen[pid] = got{Status(st), h}
	}
	rows.Close()
	if len(seen) > len(mix) {
		rep.Duplicates += len(seen) - len(mix)
	}
	for _, m := range mix {
		g := seen[m.PlatformOrderID]
		if m.Expect == "" {
			rep.Clean++
			if g.status == Approved {
				rep.CleanPassed++
			}
			continue
		}
		rep.Bad++
		if (g.status == Held || g.status == Exception) && strings.Contains(","+g.holds+",", ","+m.Expect+",") {
			rep.BadHeld++
		} else if len(rep.Wrong) < 5 {
			rep.Wrong = append(rep.Wrong, fmt.Sprintf("%s want %s got %s [%s]", m.PlatformOrderID, m.Expect, g.status, g.holds))
		}
	}
	return rep, nil
}
