// Package bench runs OmniHub's benchmark scenarios (omnihub bench NAME): each
// drives real services on a real engine, prints machine information and
// figures (throughput, latency percentiles, peak memory), and fails when an
// invariant breaks (oversell, loss, duplicates) — a fast run that is wrong is
// not a result.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"omnihub/errs"
)

// Env is what a scenario runs with.
type Env struct {
	// Engine is "sqlite" or "postgres".
	Engine string
	// DataDir is a scratch directory for SQLite files.
	DataDir string
	// PostgresURL is used when Engine is postgres.
	PostgresURL string
	// Short asks for a run of seconds (CI), not minutes.
	Short bool
	// Duration, when set, bounds the scenario's main phase.
	Duration time.Duration
	// Rate, when set, is the scenario's main load in its own unit (total
	// order attempts per second for the sales, changes per second for
	// propagation); zero takes the scenario's default.
	Rate int
	// History, when set, is how many records a scenario stores before its
	// measured phase (orders for ingest), to show how it runs on a database
	// that has been in use rather than a fresh one.
	History int
	// Log receives progress lines.
	Log io.Writer
}

// Result is a scenario's outcome.
type Result struct {
	Scenario string             `json:"scenario"`
	Engine   string             `json:"engine"`
	Machine  Machine            `json:"machine"`
	Figures  map[string]float64 `json:"figures"`
	Units    map[string]string  `json:"units,omitempty"`
	// Violations lists broken invariants; any makes the run fail.
	Violations []string      `json:"violations,omitempty"`
	Elapsed    time.Duration `json:"elapsed_ns"`
	PeakHeapMB float64       `json:"peak_heap_mb"`
}

// Set records a figure with its unit.
func (r *Result) Set(name string, v float64, unit string) {
	if r.Figures == nil {
		r.Figures = map[string]float64{}
		r.Units = map[string]string{}
	}
	r.Figures[name] = v
	r.Units[name] = unit
}

// Violate records a broken invariant.
func (r *Result) Violate(format string, args ...any) {
	r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
}

// Scenario is one benchmark.
type Scenario struct {
	Name        string
	Description string
	Run         func(ctx context.Context, env Env, r *Result) error
}

// Registry holds the scenarios by name.
type Registry struct{ byName map[string]Scenario }

// NewRegistry returns a registry of the given scenarios.
func NewRegistry(s ...Scenario) *Registry {
	r := &Registry{byName: map[string]Scenario{}}
	for _, sc := range s {
		r.byName[sc.Name] = sc
	}
	return r
}

// Names lists the scenarios.
func (r *Registry) Names() []string {
	var n []string
	for k := range r.byName {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Get returns a scenario.
func (r *Registry) Get(name string) (Scenario, error) {
	s, ok := r.byName[name]
	if !ok {
		return s, errs.E(errs.NotFound, "no benchmark scenario %q (have: %s)", name, strings.Join(r.Names(), ", "))
	}
	return s, nil
}

// Machine describes where a run happened.
type Machine struct {
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	GoVersion string `json:"go_version"`
}

// ThisMachine reads the machine description.
func ThisMachine() Machine {
	m := Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// Run executes a scenario, sampling peak heap while it runs.
func Run(ctx context.Context, s Scenario, env Env) (Result, error) {
	r := Result{Scenario: s.Name, Engine: env.Engine, Machine: ThisMachine()}
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	err := s.Run(ctx, env, &r)
	r.Elapsed = time.Since(start)
	close(stop)
	wg.Wait()
	r.PeakHeapMB = float64(peak.Load()) / (1 << 20)
	if err != nil {
		return r, err
	}
	if len(r.Violations) > 0 {
		return r, errs.E(errs.Conflict, "%s: %d invariant violation(s): %s", s.Name, len(r.Violations), strings.Join(r.Violations, "; "))
	}
	return r, nil
}

// Print writes a result for people or as JSON.
func Print(w io.Writer, r Result, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
		return
	}
	fmt.Fprintf(w, "scenario   %s on %s\n", r.Scenario, r.Engine)
	fmt.Fprintf(w, "machine    %s/%s, %d CPUs, %s, %s\n", r.Machine.GOOS, r.Machine.GOARCH, r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GoVersion)
	keys := make([]string, 0, len(r.Figures))
	for k := range r.Figures {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %-34s %14.2f %s\n", k, r.Figures[k], r.Units[k])
	}
	fmt.Fprintf(w, "  %-34s %14.2f MB\n", "peak_heap", r.PeakHeapMB)
	fmt.Fprintf(w, "  %-34s %14.2f s\n", "elapsed", r.Elapsed.Seconds())
	if len(r.Violations) == 0 {
		fmt.Fprintln(w, "invariants ok")
	} else {
		for _, v := range r.Violations {
			fmt.Fprintln(w, "VIOLATION:", v)
		}
	}
}

// Latencies collects durations and reports percentiles. Safe for concurrent use.
type Latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one latency.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// Len is the number of samples.
func (l *Latencies) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// Percentile returns the p-th percentile (0 < p <= 100), or 0 without samples.
func (l *Latencies) Percentile(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return s[i]
}

// Record puts p50/p95/p99 of l into r in milliseconds under prefix.
func (l *Latencies) Record(r *Result, prefix string) {
	for _, p := range []float64{50, 95, 99} {
		r.Set(fmt.Sprintf("%s_p%g", prefix, p), float64(l.Percentile(p).Microseconds())/1000, "ms")
	}
}
