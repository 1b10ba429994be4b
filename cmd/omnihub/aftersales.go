package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"omnihub/aftersales"
	"omnihub/errs"
	"omnihub/internal/app"
)

// withAftersales opens the app (migrating first, like the user commands, so
// a fresh data directory works) and runs fn with the after-sales service.
func (c *cli) withAftersales(cmd *cobra.Command, fn func(ctx context.Context, s *aftersales.Service) error) error {
	a, err := c.openApp(cmd.Context(), cmd, app.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(cmd.Context(), a.Aftersales)
}

func (c *cli) aftersalesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "aftersales", Short: "After-sales cases: refunds, returns, exchanges, reships"}
	cases := &cobra.Command{Use: "cases", Short: "List, inspect and act on after-sales cases (steps are attributed to cli:<os user>)"}
	cmd.AddCommand(cases)

	var (
		shopID, state, typ string
		open, asJSON       bool
		limit              int
	)
	list := &cobra.Command{
		Use: "list", Short: "List cases, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withAftersales(cmd, func(ctx context.Context, s *aftersales.Service) error {
				f := aftersales.Filter{ShopID: shopID, Type: aftersales.Type(typ), OpenOnly: open, Limit: limit}
				if state != "" {
					for _, st := range strings.Split(state, ",") {
						f.States = append(f.States, aftersales.State(st))
					}
				}
				items, _, err := s.List(ctx, f)
				if err != nil {
					return err
				}
				if asJSON {
					return asPrintJSON(cmd.OutOrStdout(), items)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSHOP\tREFUND\tORDER\tTYPE\tSTATE\tAMOUNT\tAGE\tREASON")
				now := time.Now()
				for _, x := range items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.ShopID, asDash(x.PlatformRefundID), x.PlatformOrderID,
						x.Type, x.State, asYuan(x.RefundAmount), now.Sub(x.CreatedAt).Round(time.Minute), x.Reason)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&shopID, "shop", "", "only this shop")
	list.Flags().StringVar(&state, "state", "", "only these states (comma separated)")
	list.Flags().StringVar(&typ, "type", "", "refund_only, return_refund, exchange or reship")
	list.Flags().BoolVar(&open, "open", false, "only cases that still need someone to act")
	list.Flags().IntVar(&limit, "limit", 100, "at most this many")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var showJSON bool
	show := &cobra.Command{
		Use: "show ID", Short: "Show a case with its lines, QC and attributed history", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withAftersales(cmd, func(ctx context.Context, s *aftersales.Service) error {
				x, err := s.Get(ctx, args[0])
				if err != nil {
					return err
				}
				if showJSON {
					return asPrintJSON(cmd.OutOrStdout(), x)
				}
				asPrintCase(cmd.OutOrStdout(), x)
				return nil
			})
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print JSON")

	// step builds a command that takes one action and prints the new state.
	step := func(use, short string, fn func(ctx context.Context, s *aftersales.Service, id, actor string) (aftersales.Case, error)) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return c.withAftersales(cmd, func(ctx context.Context, s *aftersales.Service) error {
					x, err := fn(ctx, s, args[0], cliActor())
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "case %s is %s\n", x.ID, x.State)
					return nil
				})
			}}
	}
	var note, reason, carrier, tracking string
	var units []string
	withNote := func(cmd *cobra.Command) *cobra.Command {
		cmd.Flags().StringVar(&note, "note", "", "a note for the history")
		return cmd
	}
	var warehouse string
	var replace []string
	approve := withNote(step("approve ID", "Approve (answers the platform)", func(ctx context.Context, s *aftersales.Service, id, actor string) (aftersales.Case, error) {
		a := aftersales.Approval{Note: note, WarehouseID: warehouse}
		for _, r := range replace {
			l, sku, ok := strings.Cut(r, "=")
			n, err := strconv.ParseInt(l, 10, 64)
			if !ok || err != nil || sku == "" {
				return aftersales.Case{}, errs.WithField("replace", fmt.Sprintf("%q is not LINE=SKU", r))
			}
			a.Replacements = append(a.Replacements, aftersales.Replacement{Line: n, NewSKUID: sku})
		}
		return s.ApproveWith(ctx, id, actor, a)
	}))
	approve.Flags().StringVar(&warehouse, "warehouse", "", "warehouse receiving the return / shipping the replacement")
	approve.Flags().StringArrayVar(&replace, "replace", nil, "LINE=SKU: the SKU an exchange sends for a line")
	refuse := step("refuse ID --reason TEXT", "Refuse with a reason (answers the platform)", func(ctx context.Context, s *aftersales.Service, id, actor string) (aftersales.Case, error) {
		return s.Refuse(ctx, id, actor, reason)
	})
	refuse.Flags().StringVar(&reason, "reason", "", "why (sent to the platform)")
	trackingFlags := func(cmd *cobra.Command) *cobra.Command {
		cmd.Flags().StringVar(&carrier, "carrier", "", "carrier code (ZTO, SF…)")
		cmd.Flags().StringVar(&tracking, "tracking-no", "", "tracking number")
		return cmd
	}
	returnTracking := trackingFlags(step("return-tracking ID --carrier C --tracking-no N", "Record the buyer's return parcel",
		func(ctx context.Context, s *aftersales.Service, id, actor string) (aftersales.Case, error) {
			return s.ReturnShipped(ctx, id, actor, carrier, tracking)
		}))
	receive := withNote(step("receive ID", "The return arrived at the warehouse", func(ctx context.Context, s *aftersales.Service, id, actor string) (aftersales.Case, error) {
		return s.Receive(ctx, id, actor, note)
	}))
	qc := step("qc ID --unit LINE=good|defective ...", "Record QC, one --unit per returned unit", func(ctx context.Context, s *aftersales.Service, id, actor string) (aftersales.Case, error) {
		in, err := asParseUnits(units)
		if err != nil {
			return aftersales.Case{}, err
		}
		return s.QC(ctx, id, actor, in)
	})
	qc.Flags().StringArrayVar(&units, "unit", nil, "LINE=good or LINE=defective, once per unit (e.g. --unit 1=good --unit 1=defective)")
	restock := step("restock ID", "Book inspected units back into stock", func(ctx context.Context, s *aftersales.Service, id, actor string) (aftersales.Case, error) {
		return s.Restock(ctx, id, actor)
	})
	refund := withNote(step("refund ID", "Record the refund (for returns, confirms receipt to the platform)", func(ctx context.Context, s *aftersales.Service, id, actor string) (aftersales.Case, error) {
		return s.Refund(ctx, id, actor, note)
	}))
	ship := trackingFlags(step("ship ID --carrier C --tracking-no N", "Ship an exchange's or a reship's replacement",
		func(ctx context.Context, s *aftersales.Service, id, actor string) (aftersales.Case, error) {
			return s.Ship(ctx, id, actor, carrier, tracking)
		}))
	cancel := withNote(step("cancel ID", "Cancel an open case", func(ctx context.Context, s *aftersales.Service, id, actor string) (aftersales.Case, error) {
		return s.Cancel(ctx, id, actor, note)
	}))
	closeCmd := withNote(step("close ID", "Close a settled case", func(ctx context.Context, s *aftersales.Service, id, actor string) (aftersales.Case, error) {
		return s.Close(ctx, id, actor, note)
	}))
	cases.AddCommand(list, show, approve, refuse, returnTracking, receive, qc, restock, refund, ship, cancel, closeCmd)
	return cmd
}

func asParseUnits(units []string) ([]aftersales.QCInput, error) {
	if len(units) == 0 {
		return nil, errs.WithField("unit", "give one --unit LINE=good|defective per returned unit")
	}
	var out []aftersales.QCInput
	for _, u := range units {
		l, r, ok := strings.Cut(u, "=")
		n, err := strconv.ParseInt(l, 10, 64)
		if !ok || err != nil || n < 1 {
			return nil, errs.WithField("unit", fmt.Sprintf("%q is not LINE=good|defective", u))
		}
		out = append(out, aftersales.QCInput{Line: n, Result: aftersales.QCResult(r)})
	}
	return out, nil
}

func asPrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func asDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func asYuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

func asPrintCase(w io.Writer, x aftersales.Case) {
	fmt.Fprintf(w, "case %s  %s  %s\n", x.ID, x.Type, x.State)
	fmt.Fprintf(w, "shop %s  refund %s  order %s (%s)\n", x.ShopID, asDash(x.PlatformRefundID), x.PlatformOrderID, asDash(x.OrderID))
	fmt.Fprintf(w, "reason %s  amount %s  refunded %s  shipped %v  warehouse %s\n", x.Reason, asYuan(x.RefundAmount), asYuan(x.RefundedAmount), x.GoodsShipped, asDash(x.WarehouseID))
	if x.ReturnTrackingNo != "" {
		fmt.Fprintf(w, "return parcel %s %s\n", x.ReturnCarrier, x.ReturnTrackingNo)
	}
	if x.ShipTrackingNo != "" {
		fmt.Fprintf(w, "replacement parcel %s %s\n", x.ShipCarrier, x.ShipTrackingNo)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nLINE\tORDER LINE\tSKU\tNEW SKU\tQTY\tAMOUNT")
	for _, l := range x.Lines {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%s\n", l.No, l.OrderLine, l.SKUID, asDash(l.NewSKUID), l.Qty, asYuan(l.Amount))
	}
	if len(x.QC) > 0 {
		fmt.Fprintln(tw, "\nQC LINE\tUNIT\tSKU\tRESULT\tBY\tAT\tNOTE")
		for _, u := range x.QC {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\n", u.Line, u.Unit, u.SKUID, u.Result, u.Actor, u.At.Format(time.RFC3339), u.Note)
		}
	}
	fmt.Fprintln(tw, "\nAT\tACTOR\tACTION\tFROM\tTO\tNOTE")
	for _, e := range x.History {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339), e.Actor, e.Action, asDash(string(e.From)), asDash(string(e.To)), e.Note)
	}
	_ = tw.Flush()
	if len(x.Allowed) > 0 {
		var a []string
		for _, x := range x.Allowed {
			a = append(a, string(x))
		}
		fmt.Fprintf(w, "\nnext: %s\n", strings.Join(a, ", "))
	}
}
