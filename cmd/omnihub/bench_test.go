package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"omnihub/bench"
)

// Every bench scenario runs in its short mode so that none can rot: each
// must finish, report figures and hold its invariants.
func TestBenchScenariosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("bench scenarios take seconds each")
	}
	if raceEnabled {
		// The race detector slows the database-bound scenarios tenfold;
		// .ci/run runs this test again without it.
		t.Skip("bench scenarios run without -race (see .ci/run)")
	}
	names := scenarios().Names()
	if len(names) < 6 {
		t.Fatalf("scenarios = %v: ingest, hot-sku, propagation, flash-sale and soak are expected", names)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			out, err := runCLI(t, filepath.Join(t.TempDir(), "data"), "", "bench", name, "--short", "--json")
			if err != nil {
				t.Fatalf("bench %s: %v\n%s", name, err, out)
			}
			var res bench.Result
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("bench %s --json printed %q: %v", name, out, err)
			}
			if res.Scenario != name || len(res.Figures) == 0 {
				t.Fatalf("bench %s: result %+v", name, res)
			}
			if len(res.Violations) > 0 {
				t.Fatalf("bench %s: invariants broken: %v", name, res.Violations)
			}
			if res.Machine.CPUs == 0 {
				t.Errorf("bench %s: no machine information", name)
			}
		})
	}
}
