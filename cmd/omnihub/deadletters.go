package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"omnihub/auth"
	"omnihub/errs"
	"omnihub/internal/app"
	"omnihub/store"
)

// deadLettersCmd lists, retries and skips jobs that exhausted their
// attempts (a platform call that kept failing, an alert that could not be
// sent). The same operations are at /api/v1/dead-letters.
func (c *cli) deadLettersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "dead-letters",
		Aliases: []string{"dlq"},
		Short:   "List, retry or skip jobs that exhausted their retries",
	}
	var (
		limit  int
		after  int64
		asJSON bool
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List dead letters, oldest first, with their last error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := c.openApp(cmd.Context(), cmd, app.Options{Migrate: true})
			if err != nil {
				return err
			}
			defer a.Close()
			items, err := a.DB.Jobs().DeadLetters(cmd.Context(), after, limit)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(items)
			}
			if len(items) == 0 {
				fmt.Fprintln(out, "no dead letters")
				return nil
			}
			for _, d := range items {
				fmt.Fprintf(out, "%d\t%s\t%d/%d attempts\t%s\t%s\n\t%s\n", d.ID, d.Kind, d.Attempts, d.MaxAttempts,
					d.FinalizedAt.Format("2006-01-02 15:04:05Z07:00"), string(d.Args), oneLine(d.LastError))
			}
			return nil
		},
	}
	list.Flags().IntVar(&limit, "limit", 100, "how many")
	list.Flags().Int64Var(&after, "after", 0, "list after this job id (paging)")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	act := func(verb, short string, do func(ctx context.Context, a *app.App, id int64) error) *cobra.Command {
		return &cobra.Command{
			Use:   verb + " ID",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil {
					return errs.E(errs.Invalid, "job id %q is not a number", args[0])
				}
				a, err := c.openApp(cmd.Context(), cmd, app.Options{Migrate: true})
				if err != nil {
					return err
				}
				defer a.Close()
				ctx := auth.WithActor(cmd.Context(), cliActor())
				before, err := a.DB.Jobs().Get(ctx, id)
				if err != nil {
					return err
				}
				if err := do(ctx, a, id); err != nil {
					return err
				}
				err = a.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					return auth.AuditTx(ctx, tx, auth.Entry{Action: verb, Resource: "dead_letter", ResourceID: args[0],
						Before: map[string]any{"kind": before.Kind, "state": before.State, "attempts": before.Attempt, "errors": len(before.Errors)}})
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: job %d (%s)\n", verb, id, before.Kind)
				return nil
			},
		}
	}
	cmd.AddCommand(list,
		act("retry", "Run a dead letter again now", func(ctx context.Context, a *app.App, id int64) error { return a.DB.Jobs().Retry(ctx, id) }),
		act("skip", "Drop a dead letter a person decided not to retry", func(ctx context.Context, a *app.App, id int64) error { return a.DB.Jobs().Skip(ctx, id) }),
	)
	return cmd
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
