package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"omnihub/channel/taobao/taobaosim"
)

// simTaobaoCmd runs the Taobao (TOP) simulator so that a shop can be
// connected and tried without real credentials.
func (c *cli) simTaobaoCmd() *cobra.Command {
	var (
		addr      string
		seed      int64
		trades    int
		every     time.Duration
		rateLimit float64
	)
	cmd := &cobra.Command{
		Use:   "taobao",
		Short: "Run the Taobao/Tmall Open Platform (TOP) simulator",
		Long: "Serves a simulated TOP gateway (/router/rest) and OAuth token endpoint (/token) with a demo\n" +
			"shop: a small catalogue, generated trades, refunds and TMC messages. Prints the app key,\n" +
			"secret and session to configure a Taobao shop against it. Stops on Ctrl-C.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			sim := taobaosim.New(taobaosim.Options{Seed: seed, RateLimit: rateLimit})
			sim.SeedCatalog()
			for i := 0; i < trades; i++ {
				if _, err := sim.GenerateTrade(i%4 != 0); err != nil {
					return err
				}
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()

			base := "http://" + ln.Addr().String()
			cr := sim.Credentials()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Taobao (TOP) simulator listening on %s\n", base)
			fmt.Fprintf(out, "  gateway:       %s/router/rest\n", base)
			fmt.Fprintf(out, "  token:         %s/token\n", base)
			fmt.Fprintf(out, "  app key:       %s\n", cr.AppKey)
			fmt.Fprintf(out, "  app secret:    %s\n", cr.AppSecret)
			fmt.Fprintf(out, "  session:       %s\n", cr.Session)
			fmt.Fprintf(out, "  refresh token: %s\n", cr.RefreshToken)
			fmt.Fprintf(out, "  seller:        %s (%d)\n", cr.SellerNick, cr.SellerID)
			fmt.Fprintf(out, "  %d items, %d trades; press Ctrl-C to stop\n", len(sim.Items()), trades)

			var tick <-chan time.Time
			if every > 0 {
				t := time.NewTicker(every)
				defer t.Stop()
				tick = t.C
			}
			for {
				select {
				case <-ctx.Done():
					sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					return srv.Shutdown(sctx)
				case err := <-errc:
					if errors.Is(err, http.ErrServerClosed) {
						return nil
					}
					return err
				case <-tick:
					// A steady trickle of new trades for demos; stock running
					// out simply stops it.
					_, _ = sim.GenerateTrade(true)
				}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8087", "listen address")
	f.Int64Var(&seed, "seed", 1, "random seed (same seed, same shop)")
	f.IntVar(&trades, "trades", 20, "trades to generate at start")
	f.DurationVar(&every, "every", 0, "generate a new paid trade at this interval (0: never)")
	f.Float64Var(&rateLimit, "rate-limit", 100, "API calls per second per app before code 7 (negative: unlimited)")
	return cmd
}
