package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"omnihub/bench"
	"omnihub/store/storetest"
)

// scenarios lists every benchmark scenario; packages contribute theirs.
func scenarios() *bench.Registry {
	return bench.NewRegistry(hotSKUScenario(), ingestScenario(), ingestCoreScenario(), propagationScenario(), flashSaleScenario(), soakScenario())
}

func (c *cli) benchCmd() *cobra.Command {
	var (
		asJSON   bool
		short    bool
		engine   string
		pgURL    string
		duration time.Duration
		history  int
		cpuProf  string
		rate     int
	)
	cmd := &cobra.Command{
		Use:   "bench SCENARIO",
		Short: "Run a benchmark scenario and print its figures",
		Long: `Run a benchmark scenario against a fresh database and print machine
information and figures. Exits non-zero if an invariant breaks (oversell,
loss, duplicates). Scenarios: ` + joinNames(scenarios().Names()),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := scenarios().Get(args[0])
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "omnihub-bench-*")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			if pgURL == "" {
				pgURL = storetest.PostgresURL()
			}
			if cpuProf != "" {
				f, err := os.Create(cpuProf)
				if err != nil {
					return fmt.Errorf("bench: cpu profile: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("bench: cpu profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			env := bench.Env{Engine: engine, DataDir: filepath.Join(dir, "data"), PostgresURL: pgURL, Short: short, Duration: duration, Rate: rate, History: history, Log: cmd.ErrOrStderr()}
			res, err := bench.Run(cmd.Context(), s, env)
			bench.Print(cmd.OutOrStdout(), res, asJSON)
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVar(&short, "short", false, "a run of seconds, for CI")
	f.StringVar(&engine, "engine", "sqlite", "sqlite or postgres")
	f.StringVar(&pgURL, "pg-url", "", "PostgreSQL URL for --engine postgres (default OMNIHUB_TEST_POSTGRES_URL or the local test database)")
	f.DurationVar(&duration, "duration", 0, "length of the main phase (scenario default when 0)")
	f.IntVar(&history, "history", 0, "records stored before the measured phase (ingest, ingest-core: orders of the same shop, 40 days old)")
	f.IntVar(&rate, "rate", 0, "main load of the scenario: total orders/s for flash-sale and soak (split evenly across shops), changes/s for propagation (scenario default when 0)")
	f.StringVar(&cpuProf, "cpuprofile", "", "write a CPU profile of the run to this file (inspect with go tool pprof)")
	return cmd
}

func joinNames(n []string) string {
	if len(n) == 0 {
		return "(none yet)"
	}
	s := n[0]
	for _, x := range n[1:] {
		s += ", " + x
	}
	return s
}
