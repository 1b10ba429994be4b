package scenario

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"omnihub/config"
	"omnihub/store/storetest"
)

func testConfig(t *testing.T, engine string) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Jobs.BackoffBase = 50 * time.Millisecond
	cfg.Jobs.BackoffMax = time.Second
	cfg.Jobs.Workers = 16
	if engine == "postgres" {
		storetest.RequirePostgres(t)
		cfg.DB = storetest.FreshPostgresURL(t)
	}
	return cfg
}

// The fault-injection acceptance: a flash sale across Taobao and
// Douyin shops with 30% 5xx, rate-limit bursts, lost, duplicated and
// reordered messages and expired sessions ends with every platform order in
// OmniHub exactly once, every channel at its policy value, zero oversell,
// and the failures visible in the metrics.
func TestFlashSaleWithFaults(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			ctx := context.Background()
			var logs strings.Builder
			rec := NewRecorder()
			st, err := Start(ctx, testConfig(t, engine), &logs, 300*time.Millisecond, rec)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := st.Stop(); err != nil {
					t.Error(err)
				}
				st.App.Close()
			}()
			progress := io.Discard
			if testing.Verbose() {
				progress = os.Stderr
			}
			w, err := Setup(ctx, st.App, st.URL, Options{Sale: 4 * time.Second, DouyinRate: 60, TaobaoRate: 15,
				FlashStock: 120, Faults: true, Settle: 90 * time.Second, Progress: progress, Recorder: rec})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			sum, err := w.Run(ctx, rec)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("summary: %+v", sum)
			for _, v := range sum.Violations() {
				t.Error(v)
			}
			if sum.PlatformOrders == 0 || sum.Ingested != sum.PlatformOrders {
				t.Errorf("ingested %d of %d platform orders", sum.Ingested, sum.PlatformOrders)
			}
			if sum.Oversell != 0 {
				t.Errorf("oversell: %v", sum.CheckViolations)
			}
			// The injected failures are visible in the metrics.
			resp, err := http.Get(st.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(body), `outcome="error"`) {
				t.Error("no failed platform calls in /metrics despite injected faults")
			}
		})
	}
}
