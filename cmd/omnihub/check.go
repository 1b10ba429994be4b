package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"omnihub/internal/app"
	"omnihub/inventory"
)

// checkCmd proves the stock invariants: balance = Σ ledger per bucket,
// reserved = Σ open reservations, nothing negative. Any violation is printed
// precisely and the exit status is that of a conflict (4).
func (c *cli) checkCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Prove the stock invariants (balance = Σ ledger, reserved = Σ open reservations, nothing negative)",
		Long: "check reads every balance, the ledger and the open reservations in one consistent snapshot and\n" +
			"reports each violation (warehouse, SKU, bucket, expected, found). It exits 0 when all hold and 4\n" +
			"(conflict) otherwise, so that it can run from cron or CI.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := c.openApp(cmd.Context(), cmd, app.Options{Migrate: true})
			if err != nil {
				return err
			}
			defer a.Close()
			rep, err := a.Inventory.Check(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(inventory.CheckView{OK: rep.OK(), Report: rep}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "checked %d balances, %d ledger rows, %d open reservations\n", rep.Balances, rep.LedgerRows, rep.Reservations)
				for _, v := range rep.Violations {
					fmt.Fprintf(out, "VIOLATION %s: %s\n", v.Kind, v.Message)
				}
				if rep.OK() {
					fmt.Fprintln(out, "stock invariants hold")
				}
			}
			return rep.Err()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
