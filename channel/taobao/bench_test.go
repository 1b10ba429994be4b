package taobao_test

import (
	"context"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/channel/taobao/taobaosim"
)

// BenchmarkPullOrdersWindow measures pulling a window of 300 trades (four
// calls: count + three pages) from the simulator over loopback HTTP,
// decoding and mapping included.
func BenchmarkPullOrdersWindow(b *testing.B) {
	e := setup(b, taobaosim.Options{RateLimit: -1}, "")
	e.sim.SeedCatalog()
	start := e.clock.Now().Add(-time.Minute)
	for i := 0; i < 300; i++ {
		if _, err := e.sim.GenerateTrade(true); err != nil {
			b.Fatal(err)
		}
	}
	end := e.clock.Now().Add(time.Minute)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := channel.OrderQuery{Start: start, End: end}
		n := 0
		for {
			p, err := e.conn.PullOrders(ctx, e.sess, q)
			if err != nil {
				b.Fatal(err)
			}
			n += len(p.Orders)
			if p.NextCursor == "" {
				break
			}
			q.Cursor = p.NextCursor
		}
		if n != 300 {
			b.Fatalf("pulled %d", n)
		}
	}
	b.ReportMetric(float64(300*b.N)/b.Elapsed().Seconds(), "orders/s")
}
