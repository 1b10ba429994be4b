package scenario

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"omnihub/bench"
	"omnihub/store/storetest"
)

// The propagation benchmark in short mode: every change reaches every
// channel, in order, and every channel ends at its policy value. The figures
// are not asserted (they are measured with omnihub bench propagation).
func TestPropagationShort(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			env := bench.Env{Engine: engine, DataDir: t.TempDir(), Short: true, Log: io.Discard}
			if engine == "postgres" {
				storetest.RequirePostgres(t)
				env.PostgresURL = storetest.PostgresURL()
			}
			if testing.Verbose() {
				env.Log = os.Stderr
			}
			cfg, cleanup, err := BenchConfig(context.Background(), env)
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			rep, err := RunPropagation(context.Background(), cfg, PropagationOptions{
				TaobaoShops: 2, DouyinShops: 2, Products: 5, SKUsPerProduct: 4, Rate: 200, Duration: 2 * time.Second, Progress: env.Log})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range rep.Violations {
				t.Error(v)
			}
			if rep.Changes == 0 || rep.Calls == 0 {
				t.Fatalf("nothing happened: %+v", rep)
			}
			if rep.DelayP50 <= 0 || rep.DelayMax < rep.DelayP99 {
				t.Errorf("implausible delays: %+v", rep)
			}
			t.Logf("%d changes, %d pushes, p50 %s p99 %s", rep.Changes, rep.Calls, rep.DelayP50, rep.DelayP99)
		})
	}
}
