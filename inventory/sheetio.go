package inventory

import (
	"context"
	"io"
	"strconv"
	"strings"

	"omnihub/errs"
	"omnihub/sheet"
	"omnihub/store"
)

// StockSchema is the stock sheet: one row per (warehouse, SKU) with the
// quantity counted on hand. Importing it is a stocktake of those rows.
var StockSchema = sheet.Schema{Columns: []sheet.Column{
	{Key: "warehouse", Aliases: []string{"warehouse_code", "warehouse_id", "仓库", "仓库编码"}, Required: true},
	{Key: "sku_id", Aliases: []string{"sku id"}},
	{Key: "sku_code", Aliases: []string{"code", "商家编码", "SKU编码"}},
	{Key: "on_hand", Aliases: []string{"qty", "quantity", "counted", "实物库存", "数量"}, Required: true},
	// Export-only figures, ignored on import.
	{Key: "reserved", Aliases: []string{"锁定库存"}},
	{Key: "available", Aliases: []string{"可售库存"}},
	{Key: "in_transit", Aliases: []string{"在途库存"}},
	{Key: "defective", Aliases: []string{"次品"}},
}}

// StockImportResult summarises an import.
type StockImportResult struct {
	Rows    int `json:"rows"`
	Changed int `json:"changed"`
}

// ImportStock reads a stock sheet and sets each row's on-hand quantity (a
// stocktake, reason "stocktake"), all rows in one transaction. Every row is
// validated first; any bad row rejects the whole sheet with a report naming
// each problem (see sheet.ReportOf), and nothing is written.
func (s *Service) ImportStock(ctx context.Context, r io.Reader, f sheet.Format, docID string) (StockImportResult, error) {
	rows, err := sheet.Read(r, f, StockSchema)
	if err != nil {
		return StockImportResult{}, err
	}
	rep := &sheet.Report{}
	type stockRow struct {
		num      int
		wh, sku  string
		counted  int64
		wantCode string
	}
	whs, err := s.Warehouses(ctx)
	if err != nil {
		return StockImportResult{}, err
	}
	whByKey := map[string]string{}
	for _, w := range whs {
		whByKey[w.ID], whByKey[w.Code] = w.ID, w.ID
	}
	seen := map[[2]string]int{}
	var todo []stockRow
	for _, row := range rows {
		sr := stockRow{num: row.Num}
		if w, ok := whByKey[row.Get("warehouse")]; ok {
			sr.wh = w
		} else if row.Get("warehouse") == "" {
			rep.Add(row.Num, "warehouse", "is required")
		} else {
			rep.Add(row.Num, "warehouse", "no warehouse %q", row.Get("warehouse"))
		}
		switch id, code := row.Get("sku_id"), row.Get("sku_code"); {
		case id != "":
			sr.sku = id
		case code != "" && s.opts.SKUByCode != nil:
			sid, ok, err := s.opts.SKUByCode(ctx, code)
			if err != nil {
				return StockImportResult{}, err
			}
			if !ok {
				rep.Add(row.Num, "sku_code", "no SKU with code %q", code)
			}
			sr.sku = sid
		case code != "":
			rep.Add(row.Num, "sku_code", "SKU codes cannot be resolved here; give sku_id")
		default:
			rep.Add(row.Num, "sku_id", "give sku_id or sku_code")
		}
		q, err := strconv.ParseInt(strings.TrimSpace(row.Get("on_hand")), 10, 64)
		if err != nil || q < 0 {
			rep.Add(row.Num, "on_hand", "must be a whole number of at least 0, not %q", row.Get("on_hand"))
		}
		sr.counted = q
		if sr.wh != "" && sr.sku != "" {
			k := [2]string{sr.wh, sr.sku}
			if first, dup := seen[k]; dup {
				rep.Add(row.Num, "sku_id", "same warehouse and SKU as row %d", first)
			}
			seen[k] = row.Num
		}
		todo = append(todo, sr)
	}
	if !rep.Empty() {
		return StockImportResult{}, rep.Err()
	}
	res := StockImportResult{Rows: len(todo)}
	if docID == "" {
		docID = "import"
	}
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		res.Changed = 0
		rep := &sheet.Report{}
		for _, sr := range todo {
			if err := s.requireStockable(ctx, tx, sr.sku); err != nil {
				if c := errs.CodeOf(err); c == errs.NotFound || c == errs.Invalid {
					rep.Add(sr.num, "sku_id", "%s", errs.MessageOf(err))
					continue
				}
				return err
			}
		}
		if !rep.Empty() {
			return rep.Err()
		}
		for _, sr := range todo {
			cur, _, err := balanceTx(ctx, tx, sr.wh, sr.sku)
			if err != nil {
				return err
			}
			if cur.OnHand != sr.counted {
				res.Changed++
			}
			counted := sr.counted
			err = s.AdjustTx(ctx, tx, Adjustment{Doc: DocRef{Type: "stock_import", ID: docID, Line: sr.num}, WarehouseID: sr.wh, SKUID: sr.sku, Counted: &counted})
			if errs.Is(err, errs.Conflict) {
				rep.Add(sr.num, "on_hand", "%s", errs.MessageOf(err))
				continue
			}
			if err != nil {
				return err
			}
		}
		return rep.Err()
	})
	if err != nil {
		return StockImportResult{}, err
	}
	return res, nil
}

// ExportStock writes every balance as a stock sheet (the format ImportStock
// reads; the extra figures are ignored on import). It returns the row count.
func (s *Service) ExportStock(ctx context.Context, w io.Writer, f sheet.Format) (int, error) {
	whs, err := s.Warehouses(ctx)
	if err != nil {
		return 0, err
	}
	code := map[string]string{}
	for _, wh := range whs {
		code[wh.ID] = wh.Code
	}
	var rows [][]string
	cursor := ""
	for {
		bs, next, err := s.Balances(ctx, BalanceQuery{Cursor: cursor, Limit: 1000})
		if err != nil {
			return 0, err
		}
		for _, b := range bs {
			rows = append(rows, []string{code[b.WarehouseID], b.SKUID, "", strconv.FormatInt(b.OnHand, 10), strconv.FormatInt(b.Reserved, 10),
				strconv.FormatInt(b.Available, 10), strconv.FormatInt(b.InTransit, 10), strconv.FormatInt(b.Defective, 10)})
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return len(rows), sheet.Write(w, f, StockSchema.Keys(), rows)
}

// ResolveSKU turns a SKU code into its id when a code resolver is set and
// knows the code; anything else is returned unchanged (taken as an id).
func (s *Service) ResolveSKU(ctx context.Context, idOrCode string) (string, error) {
	if s.opts.SKUByCode == nil || idOrCode == "" {
		return idOrCode, nil
	}
	id, ok, err := s.opts.SKUByCode(ctx, idOrCode)
	if err != nil || !ok {
		return idOrCode, err
	}
	return id, nil
}
