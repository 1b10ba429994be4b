package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"omnihub/aftersales"
	"omnihub/errs"
	"omnihub/internal/app"
	"omnihub/inventory"
)

// checkView is check's JSON answer: the stock report as the inventory API
// gives it, plus the after-sales violations; ok only when both are clean.
type checkView struct {
	inventory.CheckView
	Aftersales []aftersales.Violation `json:"aftersales_violations"`
}

// checkCmd proves the stock and after-sales invariants: balance = Σ ledger
// per bucket, reserved = Σ open reservations, nothing negative; every case's
// state where its history ends, one QC result per returned unit, refunded
// amounts only on settled cases. Any violation is printed precisely and the
// exit status is that of a conflict (4).
func (c *cli) checkCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Prove the stock and after-sales invariants (balance = Σ ledger, reserved = Σ open reservations, case state = history)",
		Long: "check reads every balance, the ledger and the open reservations in one consistent snapshot and\n" +
			"reports each violation (warehouse, SKU, bucket, expected, found); then it checks every after-sales\n" +
			"case (state where its history ends, one QC result per returned unit, refunded amounts only on\n" +
			"settled cases). It exits 0 when all hold and 4 (conflict) otherwise, so that it can run from cron or CI.",
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
			cases, err := a.Aftersales.Check(cmd.Context())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				v := checkView{CheckView: inventory.CheckView{OK: rep.OK() && len(cases) == 0, Report: rep}, Aftersales: cases}
				if v.Aftersales == nil {
					v.Aftersales = []aftersales.Violation{}
				}
				if err := enc.Encode(v); err != nil {
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
				for _, v := range cases {
					fmt.Fprintf(out, "VIOLATION aftersales_%s: case %s: %s\n", v.Rule, v.CaseID, v.Detail)
				}
				if len(cases) == 0 {
					fmt.Fprintln(out, "after-sales invariants hold")
				}
			}
			if err := rep.Err(); err != nil {
				return err
			}
			if len(cases) > 0 {
				return errs.E(errs.Conflict, "after-sales check found %d violation(s), the first: case %s: %s", len(cases), cases[0].CaseID, cases[0].Detail)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
