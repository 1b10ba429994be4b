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

	"omnihub/channel/douyin/douyinsim"
)

// simDouyinCmd runs the Douyin shop (抖店) simulator until interrupted.
func (c *cli) simDouyinCmd() *cobra.Command {
	var (
		addr, webhook           string
		seed                    uint64
		products, orders        int
		stock                   int64
		rateLimit, ordersPerMin int
	)
	cmd := &cobra.Command{
		Use:   "douyin",
		Short: "Run the Douyin shop (抖店) open-platform simulator",
		Long: "Serves the 抖店 gateway (signed requests, tokens, orders, stock, shipments, after-sales)\n" +
			"with a demo shop, pushes order and after-sale messages to --webhook, and keeps placing\n" +
			"realistic orders at --orders-per-minute. Stops on Ctrl-C.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			sim := douyinsim.New(douyinsim.Options{Seed: seed, WebhookURL: webhook, RateLimit: rateLimit})
			defer sim.Close()
			sim.SeedCatalog(products, stock)
			sim.RandomOrders(orders, true)
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			cr := sim.Credentials()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Douyin shop simulator listening on http://%s\n", ln.Addr())
			fmt.Fprintf(out, "  app_key       %s\n  app_secret    %s\n  shop_id       %d\n", cr.AppKey, cr.AppSecret, cr.ShopID)
			fmt.Fprintf(out, "  access_token  %s (expires %s)\n  refresh_token %s\n", cr.AccessToken, cr.ExpiresAt.UTC().Format(time.RFC3339), cr.RefreshToken)
			fmt.Fprintf(out, "  catalogue     %d products, %d SKUs, %d orders placed\n", products, len(sim.SKUs()), len(sim.Orders()))
			if webhook != "" {
				fmt.Fprintf(out, "  pushing to    %s\n", webhook)
			}
			fmt.Fprintln(out, "Press Ctrl-C to stop.")
			var tick <-chan time.Time
			if ordersPerMin > 0 {
				t := time.NewTicker(time.Minute / time.Duration(ordersPerMin))
				defer t.Stop()
				tick = t.C
			}
			for {
				select {
				case <-ctx.Done():
					sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
						return err
					}
					return nil
				case <-tick:
					sim.RandomOrders(1, true)
				}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8790", "listen address")
	f.StringVar(&webhook, "webhook", "", "URL the simulator pushes messages to (OmniHub's Douyin push endpoint)")
	f.Uint64Var(&seed, "seed", 1, "random seed (same seed, same shop and orders)")
	f.IntVar(&products, "products", 5, "demo products (two SKUs each)")
	f.Int64Var(&stock, "stock", 500, "initial platform stock per SKU")
	f.IntVar(&orders, "orders", 20, "paid orders placed at start")
	f.IntVar(&ordersPerMin, "orders-per-minute", 6, "new paid orders per minute while running (0: none)")
	f.IntVar(&rateLimit, "rate-limit", 0, "calls per second per app before code 60000 (0: unlimited)")
	return cmd
}
