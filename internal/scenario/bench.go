package scenario

import (
	"context"
	"io"
	"time"

	"omnihub/bench"
)

// FlashSaleScenario is "omnihub bench flash-sale": the demo's live-stream
// sale (two Taobao and two Douyin shops sharing two warehouses) through the
// real connectors and simulators, without faults.
func FlashSaleScenario() bench.Scenario {
	return bench.Scenario{
		Name: "flash-sale",
		Description: "live-stream flash sale on 2 Douyin + 2 Taobao shops sharing 2 warehouses, through the real connectors: " +
			"orders/s, ingest completeness, correct reservation refusals, propagation and cross-shop latency, oversell",
		Run: func(ctx context.Context, env bench.Env, r *bench.Result) error {
			o := Options{Sale: env.Duration, Settle: 2 * time.Minute}
			if o.Sale == 0 && env.Short {
				o.Sale, o.DouyinRate, o.TaobaoRate, o.FlashStock = 3*time.Second, 40, 10, 60
			}
			o = o.withRate(env.Rate)
			return runSaleBench(ctx, env, r, o)
		},
	}
}

// SoakScenario is "omnihub bench soak": the flash sale under injected
// platform faults (30% 5xx, rate-limit bursts, lost, duplicated and
// reordered messages, expired sessions); it fails unless OmniHub ends equal
// to the platforms' ground truth.
func SoakScenario() bench.Scenario {
	return bench.Scenario{
		Name: "soak",
		Description: "the flash sale under platform faults (30% 5xx, rate-limit bursts, lost/duplicated/reordered messages, " +
			"expired sessions): convergence time, nothing lost or duplicated, channels at policy, zero oversell",
		Run: func(ctx context.Context, env bench.Env, r *bench.Result) error {
			o := Options{Sale: env.Duration, Faults: true, DouyinRate: 60, TaobaoRate: 15, Settle: 3 * time.Minute}
			if o.Sale == 0 {
				o.Sale = 60 * time.Second
				if env.Short {
					o.Sale, o.DouyinRate, o.TaobaoRate, o.FlashStock = 3*time.Second, 30, 10, 60
				}
			}
			o = o.withRate(env.Rate)
			return runSaleBench(ctx, env, r, o)
		},
	}
}

func runSaleBench(ctx context.Context, env bench.Env, r *bench.Result, o Options) error {
	cfg, cleanup, err := BenchConfig(ctx, env)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg.Jobs.BackoffBase = 50 * time.Millisecond
	cfg.Jobs.BackoffMax = time.Second
	rec := NewRecorder()
	st, err := Start(ctx, cfg, io.Discard, 300*time.Millisecond, rec)
	if err != nil {
		return err
	}
	defer st.App.Close()
	defer st.Stop() //nolint:errcheck // shutdown after the figures are taken
	o.Progress, o.Recorder = env.Log, rec
	w, err := Setup(ctx, st.App, st.URL, o)
	if err != nil {
		return err
	}
	defer w.Close()
	sum, err := w.Run(ctx, rec)
	if err != nil {
		return err
	}
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 }
	r.Set("platform_orders_per_s", sum.OrdersPerSecond, "orders/s")
	r.Set("platform_orders", float64(sum.PlatformOrders), "orders")
	r.Set("orders_ingested", float64(sum.Ingested), "orders")
	r.Set("missing_orders", float64(sum.Missing), "orders")
	r.Set("duplicate_orders", float64(sum.Duplicates), "orders")
	r.Set("reservation_refusals_correct", float64(sum.OutOfStockHeld), "orders")
	r.Set("held_bad_address", float64(sum.HeldByReason["bad_address"]), "orders")
	r.Set("oversell", float64(sum.Oversell), "violations")
	r.Set("stock_pushes", float64(sum.StockPushes), "calls")
	r.Set("propagation_p50", ms(sum.PropagationP50), "ms")
	r.Set("propagation_p99", ms(sum.PropagationP99), "ms")
	r.Set("cross_shop_p50", ms(sum.CrossShopP50), "ms")
	r.Set("cross_shop_p99", ms(sum.CrossShopP99), "ms")
	r.Set("settle", ms(sum.SettleDuration), "ms")
	r.Set("dead_letters", float64(sum.DeadLetters), "jobs")
	r.Set("refunds_requested", float64(sum.Refunds), "cases")
	for _, v := range sum.Violations() {
		r.Violate("%s", v)
	}
	if sum.PlatformOrders == 0 {
		r.Violate("the platforms took no orders: the sale did not run")
	}
	return nil
}
