package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"omnihub/config"
	"omnihub/errs"
	"omnihub/internal/scenario"
)

// demoMarker marks a directory the demo created, so that a second run may
// wipe it and nothing else.
const demoMarker = ".omnihub-demo"

func (c *cli) demoCmd() *cobra.Command {
	var (
		addr   string
		dir    string
		sale   time.Duration
		faults bool
		exit   bool
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a live-stream flash sale against simulated Taobao and Douyin shops, then keep serving",
		Long: `demo needs no configuration and no services. It starts OmniHub on embedded
SQLite in a fresh directory (./data-demo), starts Taobao (TOP) and Douyin shop
simulators, creates an apparel and cosmetics merchant with two warehouses, and
connects two shops per platform through OmniHub's HTTP API exactly as a real
shop is connected. Then a host goes live: thousands of buyers rush a few
SKUs with limited stock on both platforms at once, some cancel and some ask
for refunds. Progress is printed while it runs and a summary at the end
(orders ingested, held by audit and why, reservations, oversell, stock
pushes, propagation latency, dead letters), together with the stock check.

Afterwards OmniHub keeps serving at http://127.0.0.1:8080 with the printed
admin login until you press Ctrl-C. The exit status is non-zero when an
invariant broke (oversell, a lost or duplicated order, channel stock off
policy).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if dir == "" {
				dir = "data-demo"
			}
			if err := freshDemoDir(dir); err != nil {
				return err
			}
			logPath := filepath.Join(dir, "omnihub.log")
			logFile, err := os.Create(logPath)
			if err != nil {
				return errs.Wrap(err, errs.Internal, "create the demo log")
			}
			defer logFile.Close()

			cfg := config.Default()
			cfg.DataDir = dir
			cfg.HTTP.Addr = addr
			// Quick retries so that the demo settles within its time budget
			// when faults are on; production keeps the defaults.
			cfg.Jobs.BackoffBase = 100 * time.Millisecond
			cfg.Jobs.BackoffMax = 2 * time.Second
			cfg.Jobs.Workers = 16

			ctx := cmd.Context()
			fmt.Fprintf(out, "OmniHub demo: embedded SQLite in %s, log in %s\n", dir, logPath)
			rec := scenario.NewRecorder()
			st, err := scenario.Start(ctx, cfg, logFile, 500*time.Millisecond, rec)
			if err != nil {
				return fmt.Errorf("start OmniHub on %s: %w", addr, err)
			}
			defer st.App.Close()
			stopped := false
			stop := func() error {
				if stopped {
					return nil
				}
				stopped = true
				return st.Stop()
			}
			defer stop() //nolint:errcheck // the explicit call below reports the error
			fmt.Fprintf(out, "OmniHub is serving at %s\n", st.URL)

			w, err := scenario.Setup(ctx, st.App, st.URL, scenario.Options{
				Sale: sale, Faults: faults, Progress: out, Recorder: rec, Settle: 2 * time.Minute,
			})
			if err != nil {
				return fmt.Errorf("set the merchant up: %w", err)
			}
			defer w.Close()
			sum, err := w.Run(ctx, rec)
			if err != nil {
				return fmt.Errorf("flash sale: %w", err)
			}
			printDemoSummary(out, sum)
			violations := sum.Violations()

			fmt.Fprintf(out, "\nConsole and API: %s   (OpenAPI: %s/api/openapi.json)\n", st.URL, st.URL)
			fmt.Fprintf(out, "  admin login: user admin, password %s\n", w.Admin)
			fmt.Fprintf(out, "  API token:   %s\n", w.Token)
			fmt.Fprintf(out, "  try: curl -H 'Authorization: Bearer %s' %s/api/v1/orders?limit=5\n", w.Token, st.URL)
			fmt.Fprintf(out, "  stock check after you stop: go run ./cmd/omnihub check --data-dir %s\n", dir)
			if len(violations) > 0 {
				for _, v := range violations {
					fmt.Fprintf(out, "INVARIANT BROKEN: %s\n", v)
				}
			}
			if !exit && len(violations) == 0 {
				fmt.Fprintln(out, "\nServing until Ctrl-C …")
				<-ctx.Done()
				fmt.Fprintln(out, "stopping …")
			}
			w.Close()
			if err := stop(); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			if len(violations) > 0 {
				return errs.E(errs.Conflict, "demo: %d invariants broken", len(violations))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "listen address")
	f.StringVar(&dir, "dir", "", "demo data directory, wiped at start (default ./data-demo)")
	f.DurationVar(&sale, "sale", 20*time.Second, "how long buyers rush")
	f.BoolVar(&faults, "faults", false, "inject platform faults during the sale (30% 5xx, rate-limit bursts, lost/duplicated/reordered messages, expired sessions)")
	f.BoolVar(&exit, "exit", false, "exit after the summary instead of serving")
	return cmd
}

// freshDemoDir makes dir an empty demo directory. It refuses to wipe a
// non-empty directory the demo did not create.
func freshDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return errs.Wrap(err, errs.Internal, "read the demo directory")
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return errs.E(errs.Conflict, "%s exists and was not made by the demo; pass --dir with another directory", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return errs.Wrap(err, errs.Internal, "wipe the previous demo")
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return errs.Wrap(err, errs.Internal, "create the demo directory")
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("made by omnihub demo; wiped by the next run\n"), 0o600)
}

func printDemoSummary(out io.Writer, s scenario.Summary) {
	ms := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	fmt.Fprintf(out, "\n── Summary ─────────────────────────────────────────────\n")
	fmt.Fprintf(out, "sale %s, settled in %s (total %s)\n", ms(s.SaleDuration), ms(s.SettleDuration), ms(s.Elapsed))
	fmt.Fprintf(out, "platform orders            %6d  (%.0f/s; %d paid, %d cancelled by buyers, %d refunds requested)\n",
		s.PlatformOrders, s.OrdersPerSecond, s.PlatformPaid, s.Cancelled, s.Refunds)
	fmt.Fprintf(out, "buyers refused by platform %6d  (channel stock was 0: the policy held stock back)\n", s.SoldOut)
	fmt.Fprintf(out, "orders ingested            %6d  (missing %d, duplicated %d)\n", s.Ingested, s.Missing, s.Duplicates)
	fmt.Fprintf(out, "orders by status           %s\n", countList(s.ByStatus))
	fmt.Fprintf(out, "held by audit, by reason   %s\n", countList(s.HeldByReason))
	fmt.Fprintf(out, "reservations refused       %6d  (correct: the platform sold stock OmniHub did not have)\n", s.OutOfStockHeld)
	fmt.Fprintf(out, "open reservations          %6d units\n", s.OpenReservations)
	fmt.Fprintf(out, "oversell                   %6d\n", s.Oversell)
	fmt.Fprintf(out, "stock pushes               %6d  (channel quantities off policy at the end: %d)\n", s.StockPushes, len(s.ChannelMismatch))
	fmt.Fprintf(out, "propagation p50 / p99      %s / %s  (stock change → channel API call)\n", ms(s.PropagationP50), ms(s.PropagationP99))
	fmt.Fprintf(out, "cross-shop p50 / p99       %s / %s  (sale on one shop → the other live shop's stock update)\n", ms(s.CrossShopP50), ms(s.CrossShopP99))
	fmt.Fprintf(out, "after-sales cases          %6d  (%s)\n", s.AftersalesCases, countList(s.CasesByStatus))
	if len(s.RefundsWithoutCase) == 0 {
		fmt.Fprintf(out, "platform refunds           %6d  (every one has its case; the sale's %d refund requests are among them)\n", s.PlatformRefunds, s.Refunds)
	} else {
		fmt.Fprintf(out, "platform refunds           %6d  (%d WITHOUT A CASE: %s)\n", s.PlatformRefunds, len(s.RefundsWithoutCase), strings.Join(s.RefundsWithoutCase, ", "))
	}
	fmt.Fprintf(out, "dead letters               %6d\n", s.DeadLetters)
	if len(s.CheckViolations) == 0 {
		fmt.Fprintf(out, "omnihub check              clean (balance = Σ ledger, reserved = Σ open reservations, nothing negative)\n")
	} else {
		fmt.Fprintf(out, "omnihub check              %d VIOLATIONS: %s\n", len(s.CheckViolations), strings.Join(s.CheckViolations, "; "))
	}
}

// countList renders {"a": 2, "b": 5} as "b 5, a 2" (largest first).
func countList(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
