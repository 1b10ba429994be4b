package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"omnihub/bench"
	"omnihub/errs"
	"omnihub/geo"
	"omnihub/ids"
	"omnihub/internal/app"
	"omnihub/inventory"
	"omnihub/sheet"
	"omnihub/store"
	"omnihub/store/postgres"
	"omnihub/store/sqlite"
)

// hotSKUScenario is the inventory group-commit benchmark on a fresh database.
func hotSKUScenario() bench.Scenario { return inventory.HotSKUScenario(openBenchDB) }

// openBenchDB opens a fresh, migrated database of env.Engine: a new SQLite
// file in env.DataDir, or a new schema in env.PostgresURL dropped afterwards.
func openBenchDB(ctx context.Context, env bench.Env) (store.DB, func(), error) {
	var (
		db   store.DB
		err  error
		drop func()
	)
	switch env.Engine {
	case "sqlite", "":
		db, err = sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(env.DataDir, "bench-"+ids.New()+".db")})
	case "postgres":
		schema := "bench_" + strings.ReplaceAll(ids.New(), "-", "")
		var pg *postgres.DB
		pg, err = postgres.Open(ctx, postgres.Options{URL: env.PostgresURL, Schema: schema, MaxConns: 16})
		if err == nil {
			db, drop = pg, func() { _ = pg.DropSchema(context.WithoutCancel(ctx)) }
		}
	default:
		return nil, nil, errs.E(errs.Invalid, "unknown engine %q (sqlite or postgres)", env.Engine)
	}
	if err != nil {
		return nil, nil, err
	}
	release := func() {
		if drop != nil {
			drop()
		}
		db.Close()
	}
	if _, err := db.Migrate(ctx, store.Up, 0); err != nil {
		release()
		return nil, nil, fmt.Errorf("migrate bench database: %w", err)
	}
	return db, release, nil
}

// withInventory opens the app and runs fn with the inventory service.
func (c *cli) withInventory(cmd *cobra.Command, fn func(ctx context.Context, s *inventory.Service) error) error {
	a, err := c.openApp(cmd.Context(), cmd, app.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(cmd.Context(), a.Inventory)
}

// parseDoc reads "type:id" or "type:id:line".
func parseDoc(s, defType string) (inventory.DocRef, error) {
	d := inventory.DocRef{Type: defType, ID: ids.New()}
	if s == "" {
		return d, nil
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return d, errs.WithField("doc", "must be TYPE:ID or TYPE:ID:LINE")
	}
	d.Type, d.ID = parts[0], parts[1]
	if len(parts) == 3 {
		n, err := strconv.Atoi(parts[2])
		if err != nil || n < 0 {
			return d, errs.WithField("doc", "line must be a whole number")
		}
		d.Line = n
	}
	return d, nil
}

func (c *cli) stockCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stock",
		Short: "Warehouses and stock: receive, adjust (stocktake), transfer, show, import and export sheets",
	}
	var doc string
	docFlag := func(cmd *cobra.Command) {
		cmd.Flags().StringVar(&doc, "doc", "", "document the change belongs to, TYPE:ID[:LINE] (default: a new id)")
	}

	whCmd := &cobra.Command{Use: "warehouse", Short: "Add, change or list warehouses"}
	var whPriority int
	var whProvinces string
	add := &cobra.Command{
		Use: "add CODE [NAME]", Short: "Add a warehouse (--priority, --provinces steer order routing)", Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := inventory.WarehouseInput{Code: args[0], Provinces: splitProvinceList(whProvinces)}
			if len(args) == 2 {
				in.Name = args[1]
			}
			if cmd.Flags().Changed("priority") {
				in.Priority = &whPriority
			}
			return c.withInventory(cmd, func(ctx context.Context, s *inventory.Service) error {
				w, err := s.CreateWarehouseFrom(ctx, in)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "warehouse %s (%s) id %s priority %d provinces %s\n", w.Code, w.Name, w.ID, w.Priority, provinceList(w.Provinces))
				return nil
			})
		},
	}
	var whName string
	var whActive bool
	set := &cobra.Command{
		Use:   "set CODE",
		Short: "Change a warehouse (id or code): --name, --active, --priority, --provinces (\"\" clears)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p inventory.WarehousePatch
			if cmd.Flags().Changed("name") {
				p.Name = &whName
			}
			if cmd.Flags().Changed("active") {
				p.Active = &whActive
			}
			if cmd.Flags().Changed("priority") {
				p.Priority = &whPriority
			}
			if cmd.Flags().Changed("provinces") {
				ps := splitProvinceList(whProvinces)
				p.Provinces = &ps
			}
			if p == (inventory.WarehousePatch{}) {
				return errs.E(errs.Invalid, "nothing to change: give --name, --active, --priority or --provinces")
			}
			return c.withInventory(cmd, func(ctx context.Context, s *inventory.Service) error {
				w, err := s.UpdateWarehouse(ctx, args[0], p)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "warehouse %s (%s) active %t priority %d provinces %s\n", w.Code, w.Name, w.Active, w.Priority, provinceList(w.Provinces))
				return nil
			})
		},
	}
	for _, sub := range []*cobra.Command{add, set} {
		sub.Flags().IntVar(&whPriority, "priority", inventory.DefaultWarehousePriority, "routing priority, lower is preferred (0 or more)")
		sub.Flags().StringVar(&whProvinces, "provinces", "", "provinces served, comma-separated names or GB/T 2260 codes (浙江,上海 or 33,31)")
	}
	set.Flags().StringVar(&whName, "name", "", "new name")
	set.Flags().BoolVar(&whActive, "active", true, "whether orders may be routed there (--active=false to deactivate)")
	whCmd.AddCommand(add, set, &cobra.Command{
		Use: "list", Short: "List warehouses", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withInventory(cmd, func(ctx context.Context, s *inventory.Service) error {
				ws, err := s.Warehouses(ctx)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CODE\tNAME\tACTIVE\tPRIORITY\tPROVINCES\tID")
				for _, w := range ws {
					fmt.Fprintf(tw, "%s\t%s\t%t\t%d\t%s\t%s\n", w.Code, w.Name, w.Active, w.Priority, provinceList(w.Provinces), w.ID)
				}
				return tw.Flush()
			})
		},
	})

	var wh, skuArg, sku, from, to string
	// resolve turns --sku (a code or an id) into the SKU id.
	resolve := func(ctx context.Context, s *inventory.Service) error {
		var err error
		sku, err = s.ResolveSKU(ctx, skuArg)
		return err
	}
	var qty int64
	receive := &cobra.Command{
		Use: "receive", Short: "Put stock on hand (--warehouse, --sku, --qty)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := parseDoc(doc, "receipt")
			if err != nil {
				return err
			}
			return c.withInventory(cmd, func(ctx context.Context, s *inventory.Service) error {
				if err := resolve(ctx, s); err != nil {
					return err
				}
				if err := s.Receive(ctx, d, wh, sku, qty); err != nil {
					return err
				}
				return printBalance(cmd, ctx, s, wh, sku)
			})
		},
	}
	var delta, counted int64
	adjust := &cobra.Command{
		Use: "adjust", Short: "Adjust on hand by --delta, or set it to --counted (stocktake)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := parseDoc(doc, "adjustment")
			if err != nil {
				return err
			}
			a := inventory.Adjustment{Doc: d, WarehouseID: wh}
			if cmd.Flags().Changed("delta") {
				a.Delta = &delta
			}
			if cmd.Flags().Changed("counted") {
				a.Counted = &counted
			}
			return c.withInventory(cmd, func(ctx context.Context, s *inventory.Service) error {
				if err := resolve(ctx, s); err != nil {
					return err
				}
				a.SKUID = sku
				if err := s.Adjust(ctx, a); err != nil {
					return err
				}
				return printBalance(cmd, ctx, s, wh, sku)
			})
		},
	}
	adjust.Flags().Int64Var(&delta, "delta", 0, "units to add (negative to remove)")
	adjust.Flags().Int64Var(&counted, "counted", 0, "units counted on hand")
	transfer := &cobra.Command{
		Use: "transfer", Short: "Ship --qty of --sku from --from to --to (in transit until transfer-in)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withInventory(cmd, func(ctx context.Context, s *inventory.Service) error {
				if err := resolve(ctx, s); err != nil {
					return err
				}
				t, err := s.TransferOut(ctx, from, to, []inventory.TransferLine{{SKUID: sku, Qty: qty}}, "")
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "transfer %s in transit; receive it with: omnihub stock transfer-in %s\n", t.ID, t.ID)
				return nil
			})
		},
	}
	transfer.Flags().StringVar(&from, "from", "", "source warehouse (id or code)")
	transfer.Flags().StringVar(&to, "to", "", "destination warehouse (id or code)")
	transferIn := &cobra.Command{
		Use: "transfer-in ID", Short: "Receive a transfer at its destination", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withInventory(cmd, func(ctx context.Context, s *inventory.Service) error {
				if err := s.TransferIn(ctx, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "transfer %s received\n", args[0])
				return nil
			})
		},
	}
	show := &cobra.Command{
		Use: "show", Short: "Show balances (optionally of --warehouse and/or --sku)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withInventory(cmd, func(ctx context.Context, s *inventory.Service) error {
				if err := resolve(ctx, s); err != nil {
					return err
				}
				q := inventory.BalanceQuery{SKUID: sku, Limit: 1000}
				ws, err := s.Warehouses(ctx)
				if err != nil {
					return err
				}
				code := map[string]string{}
				for _, w := range ws {
					code[w.ID] = w.Code
				}
				if wh != "" {
					w, err := s.Warehouse(ctx, wh)
					if err != nil {
						return err
					}
					q.WarehouseID = w.ID
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "WAREHOUSE\tSKU\tON HAND\tRESERVED\tAVAILABLE\tIN TRANSIT\tDEFECTIVE\t")
				for {
					bs, next, err := s.Balances(ctx, q)
					if err != nil {
						return err
					}
					for _, b := range bs {
						fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t\n", code[b.WarehouseID], b.SKUID, b.OnHand, b.Reserved, b.Available, b.InTransit, b.Defective)
					}
					if next == "" {
						break
					}
					q.Cursor = next
				}
				return tw.Flush()
			})
		},
	}
	for _, sub := range []*cobra.Command{receive, adjust, transfer, show} {
		sub.Flags().StringVar(&skuArg, "sku", "", "SKU code (商家编码) or id")
		if sub != transfer {
			sub.Flags().StringVar(&wh, "warehouse", "", "warehouse (id or code)")
		}
		if sub == receive || sub == transfer {
			sub.Flags().Int64Var(&qty, "qty", 0, "quantity")
		}
	}
	docFlag(receive)
	docFlag(adjust)

	var format string
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a stock sheet (.xlsx or .csv): set on hand per (warehouse, SKU); nothing is written if any row is bad",
		Long: "Columns: warehouse (code or id), sku_id or sku_code (商家编码), on_hand (the counted quantity).\n" +
			"Each row is a stocktake of that (warehouse, SKU). Every row is validated first; if any is bad,\n" +
			"every problem is printed (row, column, reason), nothing is written and the exit status is 2.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := sheetFormat(args[0], format)
			if err != nil {
				return err
			}
			file, err := os.Open(args[0])
			if err != nil {
				return errs.Wrap(err, errs.Invalid, "open %s", args[0])
			}
			defer file.Close()
			return c.withInventory(cmd, func(ctx context.Context, s *inventory.Service) error {
				res, err := s.ImportStock(ctx, file, f, filepath.Base(args[0]))
				if rep, ok := sheet.ReportOf(err); ok {
					w := cmd.ErrOrStderr()
					fmt.Fprintf(w, "%s: rejected, nothing imported; %d problem(s) in %d row(s):\n", args[0], len(rep.Errors), len(rep.Rows()))
					for _, e := range rep.Errors {
						fmt.Fprintf(w, "  %s\n", e)
					}
					return errs.E(errs.Invalid, "fix the rows above and import again")
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "imported %d rows; %d changed on hand\n", res.Rows, res.Changed)
				return nil
			})
		},
	}
	imp.Flags().StringVar(&format, "format", "", "xlsx or csv (default: from the file extension)")
	exp := &cobra.Command{
		Use:   "export FILE",
		Short: "Export every balance as a stock sheet (.xlsx or .csv; FILE - writes CSV to stdout)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, f := args[0], sheet.CSV
			if name != "-" || format != "" {
				var err error
				if f, err = sheetFormat(name, format); err != nil {
					return err
				}
			}
			return c.withInventory(cmd, func(ctx context.Context, s *inventory.Service) error {
				var buf bytes.Buffer
				n, err := s.ExportStock(ctx, &buf, f)
				if err != nil {
					return err
				}
				if name == "-" {
					_, err = io.Copy(cmd.OutOrStdout(), &buf)
					return err
				}
				if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
					return errs.Wrap(err, errs.Unavailable, "write %s", name)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %d balances to %s\n", n, name)
				return nil
			})
		},
	}
	exp.Flags().StringVar(&format, "format", "", "xlsx or csv (default: from the file extension)")

	cmd.AddCommand(whCmd, receive, adjust, transfer, transferIn, show, imp, exp)
	return cmd
}

func printBalance(cmd *cobra.Command, ctx context.Context, s *inventory.Service, wh, sku string) error {
	w, err := s.Warehouse(ctx, wh)
	if err != nil {
		return err
	}
	b, err := s.Balance(ctx, w.ID, sku)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %s: on hand %d, reserved %d, available %d, in transit %d, defective %d\n",
		w.Code, sku, b.OnHand, b.Reserved, b.Available, b.InTransit, b.Defective)
	return nil
}

// splitProvinceList reads --provinces: names or codes separated by commas
// (ASCII or full-width) or 、.
func splitProvinceList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '，' || r == '、' })
}

// provinceList shows province codes with their names: "33 浙江省, 31 上海市";
// "-" for none.
func provinceList(codes []string) string {
	if len(codes) == 0 {
		return "-"
	}
	out := make([]string, len(codes))
	for i, c := range codes {
		out[i] = c
		if n, ok := geo.Default().Name(c); ok {
			out[i] += " " + n
		}
	}
	return strings.Join(out, ", ")
}
