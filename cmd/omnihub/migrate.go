package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"omnihub/errs"
	"omnihub/internal/app"
	"omnihub/store"
)

func (c *cli) migrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, roll back or list schema migrations",
	}
	run := func(dir store.Direction) func(cmd *cobra.Command, args []string) error {
		return func(cmd *cobra.Command, args []string) error {
			steps := 0
			if len(args) == 1 {
				n, err := strconv.Atoi(args[0])
				if err != nil || n < 1 {
					return errs.E(errs.Invalid, "steps must be a positive integer, not %q", args[0])
				}
				steps = n
			}
			cfg, err := c.config(cmd)
			if err != nil {
				return err
			}
			db, err := app.OpenDB(cmd.Context(), cfg, app.Options{})
			if err != nil {
				return err
			}
			defer db.Close()
			ran, err := db.Migrate(cmd.Context(), dir, steps)
			for _, m := range ran {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %04d_%s\n", dir, m.Version, m.Name)
			}
			if err != nil {
				return err
			}
			if len(ran) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to do")
			}
			return nil
		}
	}
	cmd.AddCommand(
		&cobra.Command{Use: "up [steps]", Short: "Apply pending migrations (all by default)", Args: cobra.MaximumNArgs(1), RunE: run(store.Up)},
		&cobra.Command{Use: "down [steps]", Short: "Roll back the latest migrations (one by default)", Args: cobra.MaximumNArgs(1), RunE: run(store.Down)},
		&cobra.Command{Use: "status", Short: "List migrations and whether each is applied", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, err := c.config(cmd)
				if err != nil {
					return err
				}
				db, err := app.OpenDB(cmd.Context(), cfg, app.Options{})
				if err != nil {
					return err
				}
				defer db.Close()
				st, err := db.MigrationStatus(cmd.Context())
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
				for _, s := range st {
					applied := "no"
					if s.Applied {
						applied = s.AppliedAt.Format("2006-01-02 15:04:05Z")
					}
					fmt.Fprintf(tw, "%04d\t%s\t%s\n", s.Version, s.Name, applied)
				}
				return tw.Flush()
			}},
	)
	return cmd
}
