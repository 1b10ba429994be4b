package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"omnihub/bench"
	"omnihub/catalog"
	"omnihub/internal/app"
	"omnihub/inventory"
	"omnihub/order"
	"omnihub/store"
)

// withOrders opens the app and runs fn with the order service.
func (c *cli) withOrders(cmd *cobra.Command, fn func(ctx context.Context, s *order.Service) error) error {
	a, err := c.openApp(cmd.Context(), cmd, app.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(cmd.Context(), a.Orders)
}

type orderListFlags struct {
	shop, status, reason, search, cursor string
	limit                                int
	asJSON, pii                          bool
}

func (f *orderListFlags) bind(cmd *cobra.Command, withStatus bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.shop, "shop", "", "shop id")
	if withStatus {
		fl.StringVar(&f.status, "status", "", "comma-separated statuses (pending_payment, paid, held, exception, approved, …)")
	}
	fl.StringVar(&f.reason, "reason", "", "hold reason (bad_address, unbound_sku, out_of_stock, note_change_address, …)")
	fl.StringVar(&f.search, "q", "", "platform order id or receiver phone")
	fl.StringVar(&f.cursor, "cursor", "", "page cursor from a previous listing")
	fl.IntVar(&f.limit, "limit", 50, "page size (1–200)")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON")
	fl.BoolVar(&f.pii, "pii", false, "show receiver names, phones and addresses unmasked")
}

func (f *orderListFlags) query() order.Query {
	q := order.Query{ShopID: f.shop, HoldReason: f.reason, Search: f.search, Cursor: f.cursor, Limit: f.limit}
	if f.status != "" {
		for _, s := range strings.Split(f.status, ",") {
			q.Status = append(q.Status, order.Status(strings.TrimSpace(s)))
		}
	}
	return q
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printOrders(cmd *cobra.Command, f *orderListFlags, items []order.Order, next string) error {
	if !f.pii {
		for i := range items {
			items[i] = items[i].Masked()
		}
	}
	if f.asJSON {
		return printJSON(cmd, map[string]any{"items": items, "next_cursor": next})
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSHOP\tPLATFORM ID\tSTATUS\tREASONS\tPAID\tRECEIVER\tWAREHOUSE\tCOURIER")
	for _, o := range items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%.2f\t%s %s %s\t%s\t%s\n", o.ID, o.ShopID, o.PlatformOrderID, o.Status, strings.Join(o.HoldReasons, ","),
			float64(o.Amounts.Paid)/100, o.Receiver.Province, o.Receiver.City, o.Receiver.Phone, o.WarehouseID, o.Courier)
	}
	if next != "" {
		fmt.Fprintf(w, "next page: --cursor %s\n", next)
	}
	return w.Flush()
}

func (c *cli) ordersCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "orders", Short: "List and inspect unified orders"}
	var lf orderListFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List orders, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withOrders(cmd, func(ctx context.Context, s *order.Service) error {
				p, err := s.List(ctx, lf.query())
				if err != nil {
					return err
				}
				return printOrders(cmd, &lf, p.Items, p.NextCursor)
			})
		},
	}
	lf.bind(list, true)
	var pii bool
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an order with its lines, parts, history and platform versions (JSON)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withOrders(cmd, func(ctx context.Context, s *order.Service) error {
				d, err := s.Get(ctx, args[0])
				if err != nil {
					return err
				}
				if !pii {
					d = d.Masked()
				}
				return printJSON(cmd, d)
			})
		},
	}
	show.Flags().BoolVar(&pii, "pii", false, "show personal data and raw payloads")
	cmd.AddCommand(list, show)
	return cmd
}

func (c *cli) exceptionsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "exceptions", Short: "The order exception queue: held and excepted orders"}
	var lf orderListFlags
	list := &cobra.Command{
		Use:   "list",
		Short: "List orders waiting for a person",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withOrders(cmd, func(ctx context.Context, s *order.Service) error {
				p, err := s.Exceptions(ctx, lf.query())
				if err != nil {
					return err
				}
				return printOrders(cmd, &lf, p.Items, p.NextCursor)
			})
		},
	}
	lf.bind(list, false)
	var reason string
	action := func(use, short string, fn func(ctx context.Context, s *order.Service, id, actor, reason string) (*order.Order, error)) *cobra.Command {
		ac := &cobra.Command{
			Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return c.withOrders(cmd, func(ctx context.Context, s *order.Service) error {
					o, err := fn(ctx, s, args[0], cliActor(), reason)
					if err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "order %s is %s %s (%s)\n", o.ID, o.Status, strings.Join(o.HoldReasons, ","), time.Now().UTC().Format(time.RFC3339))
					return nil
				})
			},
		}
		ac.Flags().StringVar(&reason, "reason", "", "why (kept in the order history and the audit log)")
		return ac
	}
	cmd.AddCommand(list,
		action("approve", "Approve a held order (routing and stock still apply)", func(ctx context.Context, s *order.Service, id, actor, reason string) (*order.Order, error) {
			return s.Approve(ctx, id, actor, reason)
		}),
		action("reject", "Reject (cancel) a held order; --reason is required", func(ctx context.Context, s *order.Service, id, actor, reason string) (*order.Order, error) {
			return s.Reject(ctx, id, actor, reason)
		}),
		action("replay", "Re-run the automatic audit of a held order", func(ctx context.Context, s *order.Service, id, actor, _ string) (*order.Order, error) {
			return s.Replay(ctx, id, actor)
		}),
	)
	return cmd
}

// ingestScenario is "omnihub bench ingest" with the real inventory and
// catalog on a fresh database.
func ingestScenario() bench.Scenario {
	return order.IngestScenario(openBenchDB, orderBenchDeps)
}

// ingestCoreScenario is "omnihub bench ingest-core": the same mix with
// in-memory stock, to separate the order module's cost from inventory's.
func ingestCoreScenario() bench.Scenario { return order.IngestScenario(openBenchDB, nil) }

// orderBenchDeps creates the mix's SKUs in the catalog (their codes are the
// orders' outer codes, so lines auto-bind), one warehouse with plenty of
// each, and returns the real inventory and catalog to the order service.
func orderBenchDeps(ctx context.Context, db store.DB, skus []string) (order.StockReserver, order.SKUResolver, string, error) {
	cat := catalog.New(db, catalog.Options{})
	inv := inventory.New(db, inventory.Options{})
	wh, err := inv.CreateWarehouse(ctx, "BENCH", "Bench warehouse")
	if err != nil {
		return nil, nil, "", err
	}
	for i, code := range skus {
		s, err := cat.CreateSKU(ctx, catalog.SKUInput{Code: code, Name: "商品 " + code, PriceFen: 1990, WeightG: 300})
		if err != nil {
			return nil, nil, "", err
		}
		if err := inv.Receive(ctx, inventory.DocRef{Type: "bench", ID: "stock", Line: i + 1}, wh.ID, s.ID, 1_000_000_000); err != nil {
			return nil, nil, "", err
		}
	}
	return app.OrderStock(inv), app.OrderResolver(cat), wh.ID, nil
}
