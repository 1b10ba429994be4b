package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"omnihub/catalog"
	"omnihub/errs"
	"omnihub/internal/app"
	"omnihub/sheet"
)

// withCatalog opens the app and runs fn with the catalog service.
func (c *cli) withCatalog(cmd *cobra.Command, fn func(ctx context.Context, s *catalog.Service) error) error {
	a, err := c.openApp(cmd.Context(), cmd, app.Options{Migrate: true})
	if err != nil {
		return err
	}
	defer a.Close()
	return fn(cmd.Context(), a.Catalog)
}

func catalogJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (c *cli) catalogCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Products, SKUs, bundles, listing bindings; product sheet import and export",
	}
	cmd.AddCommand(c.catalogImportCmd(), c.catalogExportCmd(), c.skuCmd(), c.productCmd(),
		c.bindCmd(), c.unbindCmd(), c.bindingsCmd())
	return cmd
}

func (c *cli) catalogImportCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a product sheet (.xlsx or .csv); nothing is written if any row is bad",
		Long: "Import creates or updates the products and SKUs of a sheet in one transaction. Every row is\n" +
			"validated first; if any row is bad, every problem is printed (row, column, reason), nothing is\n" +
			"written and the exit status is 2. Columns are listed in docs/catalog.md.",
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
			return c.withCatalog(cmd, func(ctx context.Context, s *catalog.Service) error {
				res, err := s.Import(ctx, file, f)
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
				fmt.Fprintf(cmd.OutOrStdout(), "imported %d rows: %d SKUs created, %d updated; %d products created, %d updated\n",
					res.Rows, res.Created, res.Updated, res.ProductsCreated, res.ProductsUpdated)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "xlsx or csv (default: from the file extension)")
	return cmd
}

func sheetFormat(name, flag string) (sheet.Format, error) {
	if flag != "" {
		return sheet.ParseFormat(flag)
	}
	return sheet.FormatOf(name, "")
}

func (c *cli) catalogExportCmd() *cobra.Command {
	var (
		format  string
		chinese bool
	)
	cmd := &cobra.Command{
		Use:   "export FILE",
		Short: "Export every SKU as a product sheet (.xlsx or .csv; FILE - writes CSV to stdout)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			f := sheet.CSV
			if name != "-" || format != "" {
				var err error
				if f, err = sheetFormat(name, format); err != nil {
					return err
				}
			}
			return c.withCatalog(cmd, func(ctx context.Context, s *catalog.Service) error {
				var buf bytes.Buffer
				n, err := s.Export(ctx, &buf, f, catalog.ExportOptions{Chinese: chinese})
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
				fmt.Fprintf(cmd.ErrOrStderr(), "exported %d SKUs to %s\n", n, name)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "xlsx or csv (default: from the file extension)")
	cmd.Flags().BoolVar(&chinese, "zh", false, "Chinese column headers (商家编码, 名称, …)")
	return cmd
}

func (c *cli) skuCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "sku", Short: "List, show and add SKUs"}
	cmd.AddCommand(c.skuListCmd(), c.skuShowCmd(), c.skuAddCmd())
	return cmd
}

func (c *cli) skuListCmd() *cobra.Command {
	var (
		f      catalog.SKUFilter
		kind   string
		status string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List SKUs ordered by code",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Kind, f.Status = catalog.Kind(kind), catalog.Status(status)
			return c.withCatalog(cmd, func(ctx context.Context, s *catalog.Service) error {
				items, err := s.ListSKUs(ctx, f)
				if err != nil {
					return err
				}
				if asJSON {
					return catalogJSON(cmd, items)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CODE\tNAME\tKIND\tPRICE\tBARCODE\tSTATUS\tID")
				for _, k := range items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Code, k.Name, k.Kind, catalog.FormatYuan(k.PriceFen), k.Barcode, k.Status, k.ID)
				}
				return tw.Flush()
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Query, "q", "", "code prefix or name substring")
	fl.StringVar(&kind, "kind", "", "simple or bundle")
	fl.StringVar(&status, "status", "", "active or inactive")
	fl.StringVar(&f.AfterCode, "cursor", "", "list codes after this one")
	fl.IntVar(&f.Limit, "limit", 100, "page size (1–1000)")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (c *cli) skuShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show CODE|ID",
		Short: "Show one SKU (by code, or by id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withCatalog(cmd, func(ctx context.Context, s *catalog.Service) error {
				k, err := s.SKUByCode(ctx, args[0])
				if errs.Is(err, errs.NotFound) {
					k, err = s.GetSKU(ctx, args[0])
				}
				if err != nil {
					return err
				}
				return catalogJSON(cmd, k)
			})
		},
	}
}

func (c *cli) skuAddCmd() *cobra.Command {
	var (
		in                     catalog.SKUInput
		product, bundle        string
		cost, price, listPrice string
		attrs                  map[string]string
		inactive               bool
	)
	cmd := &cobra.Command{
		Use:   "add",
		Short: "Add a SKU (--bundle \"A*2;B*1\" makes a bundle of existing SKUs by code)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			for _, m := range []struct {
				flag string
				v    string
				dst  *int64
			}{{"cost", cost, &in.CostFen}, {"price", price, &in.PriceFen}, {"list-price", listPrice, &in.ListPriceFen}} {
				if *m.dst, err = catalog.ParseYuan(m.v); err != nil {
					return errs.WithField(m.flag, err.Error())
				}
			}
			in.Attributes = attrs
			if inactive {
				in.Status = catalog.Inactive
			}
			return c.withCatalog(cmd, func(ctx context.Context, s *catalog.Service) error {
				if product != "" {
					p, err := s.ProductByCode(ctx, product)
					if err != nil {
						return err
					}
					in.ProductID = p.ID
				}
				if bundle != "" {
					in.Kind = catalog.Bundle
					for _, part := range strings.Split(bundle, ";") {
						code, qty, _ := strings.Cut(strings.TrimSpace(part), "*")
						n := int64(1)
						if qty != "" {
							if _, err := fmt.Sscan(qty, &n); err != nil {
								return errs.WithField("bundle", fmt.Sprintf("bad quantity in %q", part))
							}
						}
						k, err := s.SKUByCode(ctx, strings.TrimSpace(code))
						if err != nil {
							return err
						}
						in.Components = append(in.Components, catalog.Component{SKUID: k.ID, Qty: n})
					}
				}
				k, err := s.CreateSKU(ctx, in)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created SKU %s (%s)\n", k.Code, k.ID)
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&in.Code, "code", "", "SKU code (商家编码), unique")
	fl.StringVar(&in.Name, "name", "", "name")
	fl.StringVar(&in.Barcode, "barcode", "", "barcode, unique when set")
	fl.StringVar(&product, "product", "", "product (SPU) code")
	fl.StringVar(&cost, "cost", "", "cost in yuan, e.g. 12.50")
	fl.StringVar(&price, "price", "", "price in yuan")
	fl.StringVar(&listPrice, "list-price", "", "list (strike-through) price in yuan")
	fl.StringVar(&in.Currency, "currency", "", "ISO 4217 currency (default CNY)")
	fl.Int64Var(&in.WeightG, "weight", 0, "weight in grams")
	fl.Int64Var(&in.VolumeCm3, "volume", 0, "volume in cm³")
	fl.StringToStringVar(&attrs, "attr", nil, "spec attribute name=value (repeatable), e.g. --attr colour=red")
	fl.StringSliceVar(&in.Images, "image", nil, "image URL (repeatable)")
	fl.StringVar(&bundle, "bundle", "", `make a bundle of these SKU codes, e.g. "A*2;B*1"`)
	fl.BoolVar(&inactive, "inactive", false, "create the SKU inactive")
	return cmd
}

func (c *cli) productCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "product", Short: "List and add products (SPU)"}
	var in catalog.ProductInput
	add := &cobra.Command{
		Use:   "add",
		Short: "Add a product",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withCatalog(cmd, func(ctx context.Context, s *catalog.Service) error {
				p, err := s.CreateProduct(ctx, in)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created product %s (%s)\n", p.Code, p.ID)
				return nil
			})
		},
	}
	add.Flags().StringVar(&in.Code, "code", "", "product code (款式编码), unique")
	add.Flags().StringVar(&in.Name, "name", "", "name")
	add.Flags().StringVar(&in.Category, "category", "", "category")
	add.Flags().StringVar(&in.Brand, "brand", "", "brand")
	var (
		cursor string
		limit  int
	)
	list := &cobra.Command{
		Use:   "list",
		Short: "List products ordered by code",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withCatalog(cmd, func(ctx context.Context, s *catalog.Service) error {
				items, err := s.ListProducts(ctx, cursor, limit)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "CODE\tNAME\tCATEGORY\tBRAND\tSTATUS\tID")
				for _, p := range items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Code, p.Name, p.Category, p.Brand, p.Status, p.ID)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&cursor, "cursor", "", "list codes after this one")
	list.Flags().IntVar(&limit, "limit", 100, "page size (1–1000)")
	cmd.AddCommand(add, list)
	return cmd
}

type listingFlags struct{ shop, item, platformSKU string }

func (f *listingFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.shop, "shop", "", "shop id")
	cmd.Flags().StringVar(&f.item, "item", "", "platform item id")
	cmd.Flags().StringVar(&f.platformSKU, "platform-sku", "", "platform SKU id (empty for single-spec items)")
}

func (c *cli) bindCmd() *cobra.Command {
	var (
		lf        listingFlags
		sku       string
		outerCode string
	)
	cmd := &cobra.Command{
		Use:   "bind",
		Short: "Bind a shop's platform listing to a SKU (orders waiting for it are replayed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withCatalog(cmd, func(ctx context.Context, s *catalog.Service) error {
				k, err := s.SKUByCode(ctx, sku)
				if err != nil {
					return err
				}
				b, err := s.Bind(ctx, catalog.BindInput{ShopID: lf.shop, PlatformItemID: lf.item, PlatformSKUID: lf.platformSKU,
					SKUID: k.ID, OuterCode: outerCode})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "bound %s/%s/%s to SKU %s\n", b.ShopID, b.PlatformItemID, b.PlatformSKUID, k.Code)
				return nil
			})
		},
	}
	lf.bind(cmd)
	cmd.Flags().StringVar(&sku, "sku", "", "SKU code")
	cmd.Flags().StringVar(&outerCode, "outer-code", "", "the seller's code on the platform (商家编码), if known")
	return cmd
}

func (c *cli) unbindCmd() *cobra.Command {
	var lf listingFlags
	cmd := &cobra.Command{
		Use:   "unbind",
		Short: "Remove a listing binding",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withCatalog(cmd, func(ctx context.Context, s *catalog.Service) error {
				return s.Unbind(ctx, lf.shop, lf.item, lf.platformSKU)
			})
		},
	}
	lf.bind(cmd)
	return cmd
}

func (c *cli) bindingsCmd() *cobra.Command {
	var (
		shop, sku string
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "bindings",
		Short: "List the bindings of a shop (--shop) or of a SKU (--sku CODE)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.withCatalog(cmd, func(ctx context.Context, s *catalog.Service) error {
				var (
					items []catalog.Binding
					err   error
				)
				switch {
				case sku != "":
					k, kerr := s.SKUByCode(ctx, sku)
					if kerr != nil {
						return kerr
					}
					items, err = s.BindingsForSKU(ctx, shop, k.ID)
				case shop != "":
					items, err = s.BindingsForShop(ctx, shop, "", "", 10000)
				default:
					return errs.E(errs.Invalid, "give --shop or --sku")
				}
				if err != nil {
					return err
				}
				if asJSON {
					return catalogJSON(cmd, items)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SHOP\tITEM\tPLATFORM SKU\tSKU ID\tOUTER CODE\tSOURCE")
				for _, b := range items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", b.ShopID, b.PlatformItemID, b.PlatformSKUID, b.SKUID, b.OuterCode, b.Source)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&shop, "shop", "", "shop id")
	cmd.Flags().StringVar(&sku, "sku", "", "SKU code")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
