package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"omnihub/auth"
	"omnihub/channel"
	"omnihub/errs"
	"omnihub/internal/app"
	"omnihub/shop"
)

// withShops opens the app and runs fn with the shop service as the CLI
// actor, so that changes are audited under the machine's user.
func (c *cli) withShops(cmd *cobra.Command, fn func(ctx context.Context, s *shop.Service) error) error {
	a, err := c.openApp(cmd.Context(), cmd, app.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(auth.WithActor(cmd.Context(), cliActor()), a.Shops)
}

// shopCmd lists shops and changes them after they are connected; the same
// operations are GET and PATCH /api/v1/shops/{id} and PUT
// /api/v1/shops/{id}/credentials. Every change is audited.
func (c *cli) shopCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "shop", Aliases: []string{"shops"}, Short: "List shops; pause, resume or change one; rotate its credentials"}

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List connected shops with their status and settings (never credentials)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withShops(cmd, func(ctx context.Context, s *shop.Service) error {
				shops, err := s.List(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					if shops == nil {
						shops = []shop.Shop{}
					}
					return catalogJSON(cmd, shops)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tPLATFORM\tNAME\tPLATFORM SHOP\tSTATUS\tPULL\tOVERLAP\tPUSH STOCK\tSTOCK RATE\tTOKEN EXPIRES")
				for _, sh := range shops {
					exp := "-"
					if sh.TokenExpiresAt != nil {
						exp = sh.TokenExpiresAt.Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\t%s\n", sh.ID, sh.Platform, sh.Name, sh.PlatformShopID, sh.Status,
						shop.FormatDuration(sh.Settings.PullInterval), shop.FormatDuration(sh.Settings.PullOverlap), sh.Settings.PushStock,
						strconv.FormatFloat(sh.Settings.StockRate, 'f', -1, 64), exp)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	status := func(verb string, st shop.Status, short string) *cobra.Command {
		return &cobra.Command{
			Use:   verb + " ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return c.withShops(cmd, func(ctx context.Context, s *shop.Service) error {
					sh, err := s.Update(ctx, args[0], shop.Change{Status: &st})
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "shop %s (%s) is %s\n", sh.ID, sh.Name, sh.Status)
					return nil
				})
			},
		}
	}

	var (
		name, pullInterval, pullOverlap string
		pushStock                       bool
		stockRate                       float64
	)
	set := &cobra.Command{
		Use:   "set ID",
		Short: "Change a shop's name or settings; only the flags given change",
		Example: "  omnihub shop set 0193… --pull-interval 30s --push-stock=true\n" +
			"  omnihub shop set 0193… --name 抖音旗舰店 --stock-rate 5",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ch shop.Change
			var sc shop.SettingsChange
			fl := cmd.Flags()
			if fl.Changed("name") {
				ch.Name = &name
			}
			for _, d := range []struct {
				flag string
				val  string
				dst  **time.Duration
			}{{"pull-interval", pullInterval, &sc.PullInterval}, {"pull-overlap", pullOverlap, &sc.PullOverlap}} {
				if !fl.Changed(d.flag) {
					continue
				}
				v, err := time.ParseDuration(d.val)
				if err != nil {
					return errs.E(errs.Invalid, "--%s must be a duration such as 90s, 1m30s or 2h, not %q", d.flag, d.val)
				}
				*d.dst = &v
			}
			if fl.Changed("push-stock") {
				sc.PushStock = &pushStock
			}
			if fl.Changed("stock-rate") {
				sc.StockRate = &stockRate
			}
			if !sc.IsZero() {
				ch.Settings = &sc
			}
			if ch.IsZero() {
				return errs.E(errs.Invalid, "nothing to change: give --name, --pull-interval, --pull-overlap, --push-stock or --stock-rate")
			}
			return c.withShops(cmd, func(ctx context.Context, s *shop.Service) error {
				sh, err := s.Update(ctx, args[0], ch)
				if err != nil {
					return err
				}
				return catalogJSON(cmd, sh)
			})
		},
	}
	set.Flags().StringVar(&name, "name", "", "the shop's name")
	set.Flags().StringVar(&pullInterval, "pull-interval", "", "time between incremental pulls (e.g. 1m, 90s)")
	set.Flags().StringVar(&pullOverlap, "pull-overlap", "", "how much of the previous pull window is read again (e.g. 2m)")
	set.Flags().BoolVar(&pushStock, "push-stock", false, "push stock to this shop (--push-stock=false to stop)")
	set.Flags().Float64Var(&stockRate, "stock-rate", 0, "stock API calls per second for this shop (0: the platform budget only)")

	creds := &cobra.Command{
		Use:   "credentials ID",
		Short: "Replace a shop's credentials with the JSON object read from standard input (rotation)",
		Long: "Reads one JSON object from standard input, as in the API:\n" +
			`  {"app_key": "…", "app_secret": "…", "access_token": "…", "refresh_token": "…", "expires_at": "2026-12-01T00:00:00+08:00"}` + "\n" +
			"Every field is replaced (app_key and app_secret are required). Secrets are never taken as\n" +
			"arguments, which shells and process lists keep; the audit log records which fields changed,\n" +
			"never their values.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var cr channel.Credentials
			dec := json.NewDecoder(cmd.InOrStdin())
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cr); err != nil {
				return errs.Wrap(err, errs.Invalid, "read the credentials JSON object from standard input")
			}
			return c.withShops(cmd, func(ctx context.Context, s *shop.Service) error {
				sh, err := s.RotateCredentials(ctx, args[0], cr)
				if err != nil {
					return err
				}
				exp := "no expiry"
				if sh.TokenExpiresAt != nil {
					exp = "token expires " + sh.TokenExpiresAt.Format(time.RFC3339)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "shop %s (%s): credentials replaced, %s\n", sh.ID, sh.Name, exp)
				return nil
			})
		},
	}

	cmd.AddCommand(list,
		status("pause", shop.Paused, "Pause a shop: no more pulls or pushes until it is resumed"),
		status("resume", shop.Active, "Resume a paused shop (a reconciliation is scheduled to catch up)"),
		set, creds)
	return cmd
}
