package catalog

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"omnihub/auth"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/sheet"
	"omnihub/store"
)

// SheetSchema is the product sheet: one row per SKU, with its product's
// columns repeated on every row of the product. Keys are the English column
// names Export writes; the aliases are the Chinese titles merchants' ERP
// templates commonly use. Money columns are yuan with at most two decimals
// (12.5 = 1250 fen); weight is grams and volume cm³.
var SheetSchema = sheet.Schema{Columns: []sheet.Column{
	{Key: "code", Aliases: []string{"商家编码", "SKU编码", "sku_code", "编码"}, Required: true},
	{Key: "name", Aliases: []string{"SKU名称", "商品名称", "名称", "sku_name"}, Required: true},
	{Key: "barcode", Aliases: []string{"条码", "条形码", "国际条码"}},
	{Key: "product_code", Aliases: []string{"款式编码", "款号", "货号", "spu_code"}},
	{Key: "product_name", Aliases: []string{"款式名称", "spu_name"}},
	{Key: "category", Aliases: []string{"分类", "类目", "商品分类"}},
	{Key: "brand", Aliases: []string{"品牌"}},
	{Key: "kind", Aliases: []string{"类型", "商品类型"}},
	{Key: "attributes", Aliases: []string{"规格", "属性", "spec"}},
	{Key: "colour", Aliases: []string{"颜色", "color"}},
	{Key: "size", Aliases: []string{"尺码", "尺寸"}},
	{Key: "cost", Aliases: []string{"成本价", "成本"}},
	{Key: "price", Aliases: []string{"售价", "销售价", "零售价"}},
	{Key: "list_price", Aliases: []string{"市场价", "吊牌价", "划线价"}},
	{Key: "currency", Aliases: []string{"币种"}},
	{Key: "weight_g", Aliases: []string{"重量(g)", "重量", "weight"}},
	{Key: "volume_cm3", Aliases: []string{"体积(cm3)", "体积", "volume"}},
	{Key: "images", Aliases: []string{"图片", "图片地址", "image_urls"}},
	{Key: "status", Aliases: []string{"状态"}},
	{Key: "components", Aliases: []string{"组合明细", "子商品", "组合商品明细"}},
}}

// exportColumns is the column order Export writes (colour and size are
// import conveniences folded into attributes).
var exportColumns = []string{"code", "name", "barcode", "product_code", "product_name", "category", "brand", "kind",
	"attributes", "cost", "price", "list_price", "currency", "weight_g", "volume_cm3", "images", "status", "components"}

// fieldColumn maps SKU validation fields to sheet columns.
var fieldColumn = map[string]string{"cost_fen": "cost", "price_fen": "price", "list_price_fen": "list_price"}

// ImportResult summarises an accepted sheet.
type ImportResult struct {
	Rows            int `json:"rows"`
	Created         int `json:"created"`
	Updated         int `json:"updated"`
	ProductsCreated int `json:"products_created"`
	ProductsUpdated int `json:"products_updated"`
}

// importRow is one validated sheet row.
type importRow struct {
	num        int
	in         SKUInput
	product    string // product code ("" = none)
	components []codeQty
}

type codeQty struct {
	code string
	qty  int64
}

type importProduct struct {
	code, name, category, brand string
	firstSKUName                string
}

// Import validates a whole product sheet and, only if every row is good,
// creates or updates all its products and SKUs in one transaction. Columns
// missing from the sheet keep their stored values on existing SKUs. A
// rejected sheet returns a *sheet.ReportError (code Invalid) listing every
// problem by row and column; nothing is written.
func (s *Service) Import(ctx context.Context, r io.Reader, f sheet.Format) (ImportResult, error) {
	rows, err := sheet.Read(r, f, SheetSchema)
	if err != nil {
		return ImportResult{}, err
	}
	return s.ImportRows(ctx, rows)
}

// ImportRows is Import for rows already read with SheetSchema.
func (s *Service) ImportRows(ctx context.Context, rows []sheet.Row) (ImportResult, error) {
	var rep sheet.Report
	if len(rows) == 0 {
		rep.Add(2, "", "the sheet has no data rows")
		return ImportResult{}, rep.Err()
	}
	has := rows[0].Has
	parsed, products := parseRows(rows, &rep)
	rowProblems := rep.Errors
	var res ImportResult
	// The rows that are good by themselves are still checked against the
	// database, so that the report names every bad row at once.
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		res = ImportResult{Rows: len(parsed)}
		rep := sheet.Report{Errors: append([]sheet.RowError(nil), rowProblems...)} // fresh per attempt: InTx may retry
		if err := s.importTx(ctx, tx, parsed, products, has, &rep, &res); err != nil {
			return err
		}
		if err := rep.Err(); err != nil {
			return err
		}
		return auth.AuditTx(ctx, tx, auth.Entry{Action: "import", Resource: "product_sheet", ResourceID: ids.New(), After: res})
	})
	if err != nil && errs.CodeOf(err) == errs.Internal {
		return ImportResult{}, errs.Wrap(err, errs.Internal, "import products")
	}
	return res, err
}

// parseRows checks everything a row says by itself and across rows
// (duplicates, product consistency).
func parseRows(rows []sheet.Row, rep *sheet.Report) ([]importRow, map[string]*importProduct) {
	out := make([]importRow, 0, len(rows))
	codeRow := map[string]int{}
	barcodeRow := map[string]int{}
	products := map[string]*importProduct{}
	for _, r := range rows {
		ir, ok := parseRow(r, rep)
		if !ok {
			continue
		}
		if prev, dup := codeRow[ir.in.Code]; dup {
			rep.Add(r.Num, "code", "code %s is already on row %d", ir.in.Code, prev)
			continue
		}
		codeRow[ir.in.Code] = r.Num
		if ir.in.Barcode != "" {
			if prev, dup := barcodeRow[ir.in.Barcode]; dup {
				rep.Add(r.Num, "barcode", "barcode %s is already on row %d", ir.in.Barcode, prev)
				continue
			}
			barcodeRow[ir.in.Barcode] = r.Num
		}
		if ir.product != "" {
			p := products[ir.product]
			if p == nil {
				p = &importProduct{code: ir.product, firstSKUName: ir.in.Name}
				products[ir.product] = p
			}
			bad := false
			for _, c := range []struct {
				col string
				dst *string
			}{{"product_name", &p.name}, {"category", &p.category}, {"brand", &p.brand}} {
				v := r.Get(c.col)
				switch {
				case v == "":
				case *c.dst == "":
					*c.dst = v
				case *c.dst != v:
					rep.Add(r.Num, c.col, "product %s has %s %q on an earlier row, not %q", ir.product, c.col, *c.dst, v)
					bad = true
				}
			}
			if bad {
				continue
			}
		} else {
			for _, col := range []string{"product_name", "category", "brand"} {
				if r.Get(col) != "" {
					rep.Add(r.Num, col, "needs a product_code")
				}
			}
		}
		out = append(out, ir)
	}
	for _, p := range products {
		_, err := normalizeProduct(ProductInput{Code: p.code, Name: firstNonEmpty(p.name, p.firstSKUName), Category: p.category, Brand: p.brand})
		if err != nil {
			row := 0
			for _, ir := range out {
				if ir.product == p.code {
					row = ir.num
					break
				}
			}
			for field, reason := range errs.FieldsOf(err) {
				col := map[string]string{"code": "product_code", "name": "product_name"}[field]
				if col == "" {
					col = field
				}
				rep.Add(row, col, "%s", reason)
			}
		}
	}
	return out, products
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func parseRow(r sheet.Row, rep *sheet.Report) (importRow, bool) {
	before := len(rep.Errors)
	ir := importRow{num: r.Num, product: r.Get("product_code")}
	in := SKUInput{Code: r.Get("code"), Name: r.Get("name"), Barcode: r.Get("barcode"), Currency: r.Get("currency")}
	bad := func(col, format string, args ...any) { rep.Add(r.Num, col, format, args...) }

	switch strings.ToLower(r.Get("kind")) {
	case "", "simple", "普通", "单品", "普通商品":
		in.Kind = Simple
	case "bundle", "kit", "组合装", "组合", "组合商品", "套装":
		in.Kind = Bundle
	default:
		bad("kind", "must be simple or bundle (普通 / 组合装), not %q", r.Get("kind"))
	}
	switch strings.ToLower(r.Get("status")) {
	case "", "active", "启用", "在售", "正常":
		in.Status = Active
	case "inactive", "停用", "下架", "禁用":
		in.Status = Inactive
	default:
		bad("status", "must be active or inactive (启用 / 停用), not %q", r.Get("status"))
	}
	attrs, err := parseAttributes(r.Get("attributes"))
	if err != nil {
		bad("attributes", "%s", err.Error())
		attrs = map[string]string{}
	}
	for _, col := range []string{"colour", "size"} {
		v := r.Get(col)
		if v == "" {
			continue
		}
		if old, ok := attrs[col]; ok && old != v {
			bad(col, "conflicts with %s:%s in attributes", col, old)
		}
		attrs[col] = v
	}
	in.Attributes = attrs
	for _, m := range []struct {
		col string
		dst *int64
	}{{"cost", &in.CostFen}, {"price", &in.PriceFen}, {"list_price", &in.ListPriceFen}} {
		v, err := ParseYuan(r.Get(m.col))
		if err != nil {
			bad(m.col, "%s", err.Error())
		}
		*m.dst = v
	}
	for _, m := range []struct {
		col string
		dst *int64
	}{{"weight_g", &in.WeightG}, {"volume_cm3", &in.VolumeCm3}} {
		v, err := parseWhole(r.Get(m.col))
		if err != nil {
			bad(m.col, "%s", err.Error())
		}
		*m.dst = v
	}
	in.Images = splitList(r.Get("images"))
	comps, err := parseComponents(r.Get("components"))
	if err != nil {
		bad("components", "%s", err.Error())
	}
	ir.components = comps
	if in.Kind == Bundle && len(comps) == 0 && err == nil {
		bad("components", "a bundle needs components, e.g. SKU-A*2;SKU-B*1")
	}
	if in.Kind != Bundle && len(comps) > 0 {
		bad("components", "only bundles have components (set kind to bundle)")
	}
	// Placeholder ids let normalizeSKU check the component rules it can;
	// codes are resolved to ids against the database later.
	for _, c := range comps {
		in.Components = append(in.Components, Component{SKUID: c.code, Qty: c.qty})
	}
	if ir.product != "" {
		p := problems{what: "product"}
		checkCode(&p, "product_code", ir.product, false)
		for f, reason := range p.fields {
			bad(f, "%s", reason)
		}
	}
	norm, err := normalizeSKU(in)
	if err != nil {
		fields := errs.FieldsOf(err)
		keys := make([]string, 0, len(fields))
		for f := range fields {
			keys = append(keys, f)
		}
		sort.Strings(keys)
		for _, f := range keys {
			col := fieldColumn[f]
			if col == "" {
				col = f
			}
			if f == "components" && len(rep.Errors) > before {
				continue // already explained above
			}
			bad(col, "%s", fields[f])
		}
	}
	ir.in = norm
	return ir, len(rep.Errors) == before
}

// ParseYuan parses a money amount in yuan ("12", "12.5", "¥1,299.00") to
// fen, exactly: no floating point. Empty is 0. Spreadsheet float noise such
// as 12.499999999999998 or 12.500000000001 is rounded to the nearest fen;
// any other third decimal is an error.
func ParseYuan(s string) (int64, error) {
	s = strings.TrimSpace(strings.NewReplacer("¥", "", "￥", "", ",", "", " ", "").Replace(s))
	if s == "" {
		return 0, nil
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if !allDigits(whole) || !allDigits(frac) || len(whole) > 11 {
		return 0, fmt.Errorf("%q is not an amount in yuan", s)
	}
	w, _ := strconv.ParseInt(whole, 10, 64)
	cents := int64(0)
	if len(frac) > 2 {
		tail := frac[2:]
		switch {
		case strings.Trim(tail, "0") == "":
		case len(tail) >= 6 && strings.HasPrefix(tail, "00000"):
		case len(tail) >= 6 && strings.HasPrefix(tail, "99999"):
			cents = 1
		default:
			return 0, fmt.Errorf("%q has more than two decimals", s)
		}
		frac = frac[:2]
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	return w*100 + f + cents, nil
}

// FormatYuan is the inverse of ParseYuan: 1250 → "12.50".
func FormatYuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// parseWhole parses a non-negative integer; "180.0" (a spreadsheet number)
// is accepted.
func parseWhole(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	w, frac, _ := strings.Cut(s, ".")
	if w == "" || !allDigits(w) || !allDigits(frac) || strings.Trim(frac, "0") != "" || len(w) > 15 {
		return 0, fmt.Errorf("%q is not a whole number", s)
	}
	return strconv.ParseInt(w, 10, 64)
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ';' || r == '；' || r == '\n' || r == '\r' || r == ' ' || r == '\t'
	})
}

// parseAttributes reads "colour:red;size:M" (full-width ：； accepted).
func parseAttributes(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '；' || r == '\n' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(strings.Replace(part, "：", ":", 1), ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not name:value", part)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s is given twice", k)
		}
		out[k] = v
	}
	return out, nil
}

func formatAttributes(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + m[k]
	}
	return strings.Join(parts, ";")
}

// parseComponents reads "A*2;B*1" (× also separates the quantity; a missing
// quantity means 1). Letters such as x are not separators: they occur in codes.
func parseComponents(s string) ([]codeQty, error) {
	var out []codeQty
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '；' || r == '\n' || r == ',' || r == '，' }) {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		code, qty := part, "1"
		if i := strings.LastIndexAny(part, "*×"); i > 0 {
			_, size := utf8.DecodeRuneInString(part[i:])
			q := strings.TrimSpace(part[i+size:])
			if q != "" && allDigits(q) {
				code, qty = strings.TrimSpace(part[:i]), q
			}
		}
		n, err := strconv.ParseInt(qty, 10, 64)
		if err != nil || n <= 0 || n > MaxComponentQty {
			return nil, fmt.Errorf("quantity in %q must be from 1 to %d", part, MaxComponentQty)
		}
		out = append(out, codeQty{code: code, qty: n})
	}
	return out, nil
}

// Statement sizes for batched writes and IN lists. SQLite resolves each $N
// parameter name by a linear scan, so a statement's cost grows with the
// square of its parameter count; a few hundred parameters per statement is
// the sweet spot on both engines.
const (
	importChunk = 25
	inChunk     = 100
)

// importTx checks the rows against the database and writes them.
func (s *Service) importTx(ctx context.Context, tx store.Tx, rows []importRow, products map[string]*importProduct,
	has func(string) bool, rep *sheet.Report, res *ImportResult) error {
	codes := make([]string, 0, len(rows))
	inSheet := map[string]*importRow{}
	var compCodes []string
	for i := range rows {
		codes = append(codes, rows[i].in.Code)
		inSheet[rows[i].in.Code] = &rows[i]
		for _, c := range rows[i].components {
			compCodes = append(compCodes, c.code)
		}
	}
	existing, err := skusByCode(ctx, tx, append(codes, compCodes...))
	if err != nil {
		return err
	}
	// Barcodes held by SKUs that the sheet does not also change.
	var barcodes []string
	for _, r := range rows {
		if r.in.Barcode != "" {
			barcodes = append(barcodes, r.in.Barcode)
		}
	}
	owners, err := barcodeOwners(ctx, tx, barcodes)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if owner, ok := owners[r.in.Barcode]; ok && owner != r.in.Code {
			if _, alsoInSheet := inSheet[owner]; !alsoInSheet {
				rep.Add(r.num, "barcode", "barcode %s belongs to SKU %s", r.in.Barcode, owner)
			}
		}
		if cur, ok := existing[r.in.Code]; ok && cur.kind != r.in.Kind {
			rep.Add(r.num, "kind", "SKU %s is a %s SKU; its kind cannot change", r.in.Code, cur.kind)
		}
		for _, c := range r.components {
			switch {
			case c.code == r.in.Code:
				rep.Add(r.num, "components", "a bundle cannot contain itself")
			case existing[c.code].id != "": // stored kinds never change
				if existing[c.code].kind == Bundle {
					rep.Add(r.num, "components", "component %s is a bundle; bundles are made of simple SKUs only", c.code)
				}
			case inSheet[c.code] != nil:
				if inSheet[c.code].in.Kind == Bundle {
					rep.Add(r.num, "components", "component %s is a bundle; bundles are made of simple SKUs only", c.code)
				}
			default:
				rep.Add(r.num, "components", "component SKU %s does not exist", c.code)
			}
		}
	}
	if !rep.Empty() {
		return nil
	}

	now := s.now()
	productIDs, err := s.upsertProducts(ctx, tx, products, now, res)
	if err != nil {
		return err
	}
	// Free the barcodes the sheet moves between its own SKUs, so that the
	// upsert cannot trip over a value that is about to be released.
	for start := 0; start < len(codes); start += inChunk {
		chunk := codes[start:min(start+inChunk, len(codes))]
		args := make([]any, len(chunk))
		for i, c := range chunk {
			args[i] = c
		}
		if has("barcode") {
			if _, err := tx.Exec(ctx, `UPDATE catalog_skus SET barcode = NULL WHERE barcode IS NOT NULL AND code IN (`+placeholders(1, len(args))+`)`, args...); err != nil {
				return err
			}
		}
	}
	// Columns absent from the sheet keep their stored values.
	set := []string{"name = excluded.name", "updated_at = excluded.updated_at"}
	for col, sql := range map[string]string{
		"barcode": "barcode = excluded.barcode", "product_code": "product_id = excluded.product_id",
		"cost": "cost_fen = excluded.cost_fen", "price": "price_fen = excluded.price_fen",
		"list_price": "list_price_fen = excluded.list_price_fen", "currency": "currency = excluded.currency",
		"weight_g": "weight_g = excluded.weight_g", "volume_cm3": "volume_cm3 = excluded.volume_cm3",
		"images": "images_json = excluded.images_json", "status": "status = excluded.status",
	} {
		if has(col) {
			set = append(set, sql)
		}
	}
	if has("attributes") || has("colour") || has("size") {
		set = append(set, "attrs_json = excluded.attrs_json")
	}
	sort.Strings(set)
	skuIDs := map[string]string{}
	for start := 0; start < len(rows); start += importChunk {
		chunk := rows[start:min(start+importChunk, len(rows))]
		var (
			sb   strings.Builder
			args []any
		)
		sb.WriteString(`INSERT INTO catalog_skus (` + skuCols + `) VALUES `)
		for i, r := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			// A fresh id for every row: on a code conflict the stored id
			// stays and RETURNING reports it.
			id := ids.New()
			if _, ok := existing[r.in.Code]; ok {
				res.Updated++
			} else {
				res.Created++
			}
			in := r.in
			in.ProductID = productIDs[r.product]
			in.Components = nil
			sb.WriteString("(" + placeholders(len(args)+1, 17) + ")")
			args = append(args, skuArgs(skuFromInput(id, in, now, now))...)
		}
		sb.WriteString(` ON CONFLICT (code) DO UPDATE SET ` + strings.Join(set, ", ") + ` RETURNING id, code`)
		out, err := tx.Query(ctx, sb.String(), args...)
		if err != nil {
			return err
		}
		for out.Next() {
			var id, code string
			if err := out.Scan(&id, &code); err != nil {
				out.Close()
				return err
			}
			skuIDs[code] = id
		}
		err = out.Err()
		out.Close()
		if err != nil {
			return err
		}
	}
	if !has("components") {
		return nil
	}
	idOf := func(code string) string {
		if id := skuIDs[code]; id != "" {
			return id
		}
		return existing[code].id
	}
	var bundleIDs []any
	var compArgs []any
	for _, r := range rows {
		if r.in.Kind != Bundle {
			continue
		}
		bid := idOf(r.in.Code)
		bundleIDs = append(bundleIDs, bid)
		for _, c := range r.components {
			compArgs = append(compArgs, bid, idOf(c.code), c.qty)
		}
	}
	for start := 0; start < len(bundleIDs); start += inChunk {
		chunk := bundleIDs[start:min(start+inChunk, len(bundleIDs))]
		if _, err := tx.Exec(ctx, `DELETE FROM catalog_bundle_components WHERE bundle_id IN (`+placeholders(1, len(chunk))+`)`, chunk...); err != nil {
			return err
		}
	}
	for start := 0; start < len(compArgs); start += 3 * inChunk {
		chunk := compArgs[start:min(start+3*inChunk, len(compArgs))]
		var sb strings.Builder
		sb.WriteString(`INSERT INTO catalog_bundle_components (bundle_id, component_id, qty) VALUES `)
		for i := 0; i < len(chunk); i += 3 {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "($%d, $%d, $%d)", i+1, i+2, i+3)
		}
		if _, err := tx.Exec(ctx, sb.String(), chunk...); err != nil {
			return err
		}
	}
	return nil
}

type skuRef struct {
	id   string
	kind Kind
}

func skusByCode(ctx context.Context, tx store.Tx, codes []string) (map[string]skuRef, error) {
	out := map[string]skuRef{}
	err := inChunks(codes, func(args []any) error {
		rows, err := tx.Query(ctx, `SELECT id, code, kind FROM catalog_skus WHERE code IN (`+placeholders(1, len(args))+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, code, kind string
			if err := rows.Scan(&id, &code, &kind); err != nil {
				return err
			}
			out[code] = skuRef{id: id, kind: Kind(kind)}
		}
		return rows.Err()
	})
	return out, err
}

func barcodeOwners(ctx context.Context, tx store.Tx, barcodes []string) (map[string]string, error) {
	out := map[string]string{}
	err := inChunks(barcodes, func(args []any) error {
		rows, err := tx.Query(ctx, `SELECT barcode, code FROM catalog_skus WHERE barcode IN (`+placeholders(1, len(args))+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var b, code string
			if err := rows.Scan(&b, &code); err != nil {
				return err
			}
			out[b] = code
		}
		return rows.Err()
	})
	return out, err
}

// inChunks calls fn with the distinct values in groups small enough for
// every engine's parameter limit.
func inChunks(values []string, fn func(args []any) error) error {
	seen := make(map[string]bool, len(values))
	var args []any
	for _, v := range values {
		if seen[v] {
			continue
		}
		seen[v] = true
		args = append(args, v)
		if len(args) == inChunk {
			if err := fn(args); err != nil {
				return err
			}
			args = nil
		}
	}
	if len(args) > 0 {
		return fn(args)
	}
	return nil
}

func (s *Service) upsertProducts(ctx context.Context, tx store.Tx, products map[string]*importProduct, now time.Time, res *ImportResult) (map[string]string, error) {
	byCode := map[string]string{}
	if len(products) == 0 {
		return byCode, nil
	}
	codes := make([]string, 0, len(products))
	for c := range products {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	type cur struct{ id, name, category, brand string }
	existing := map[string]cur{}
	err := inChunks(codes, func(args []any) error {
		rows, err := tx.Query(ctx, `SELECT id, code, name, category, brand FROM catalog_products WHERE code IN (`+placeholders(1, len(args))+`)`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c cur
			var code string
			if err := rows.Scan(&c.id, &code, &c.name, &c.category, &c.brand); err != nil {
				return err
			}
			existing[code] = c
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	for start := 0; start < len(codes); start += importChunk {
		chunk := codes[start:min(start+importChunk, len(codes))]
		var sb strings.Builder
		var args []any
		sb.WriteString(`INSERT INTO catalog_products (` + productCols + `) VALUES `)
		for i, code := range chunk {
			p := products[code]
			id, name, category, brand := ids.New(), firstNonEmpty(p.name, p.firstSKUName), p.category, p.brand
			if c, ok := existing[code]; ok {
				// Only what the sheet says changes an existing product.
				name, category, brand = firstNonEmpty(p.name, c.name), firstNonEmpty(p.category, c.category), firstNonEmpty(p.brand, c.brand)
				res.ProductsUpdated++
			} else {
				res.ProductsCreated++
			}
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(" + placeholders(len(args)+1, 9) + ")")
			args = append(args, id, code, name, category, brand, "[]", string(Active), now, now)
		}
		sb.WriteString(` ON CONFLICT (code) DO UPDATE SET name = excluded.name, category = excluded.category, brand = excluded.brand,
			updated_at = excluded.updated_at RETURNING id, code`)
		rows, err := tx.Query(ctx, sb.String(), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, code string
			if err := rows.Scan(&id, &code); err != nil {
				rows.Close()
				return nil, err
			}
			byCode[code] = id
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return byCode, nil
}

// ExportOptions tune Export.
type ExportOptions struct {
	// Chinese writes the first Chinese alias of every column as the header
	// (Import accepts either).
	Chinese bool
}

// Export writes every SKU, ordered by code, in the format Import reads. It
// returns the number of SKUs written.
func (s *Service) Export(ctx context.Context, w io.Writer, f sheet.Format, opts ExportOptions) (int, error) {
	products := map[string]Product{}
	after := ""
	for {
		page, err := s.ListProducts(ctx, after, 1000)
		if err != nil {
			return 0, err
		}
		for _, p := range page {
			products[p.ID] = p
		}
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Code
	}
	var skus []SKU
	after = ""
	for {
		page, err := s.ListSKUs(ctx, SKUFilter{AfterCode: after, Limit: 1000})
		if err != nil {
			return 0, err
		}
		skus = append(skus, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Code
	}
	codeOf := make(map[string]string, len(skus))
	for _, k := range skus {
		codeOf[k.ID] = k.Code
	}
	header := exportColumns
	if opts.Chinese {
		header = make([]string, len(exportColumns))
		alias := map[string]string{}
		for _, c := range SheetSchema.Columns {
			alias[c.Key] = c.Key
			if len(c.Aliases) > 0 {
				alias[c.Key] = c.Aliases[0]
			}
		}
		for i, c := range exportColumns {
			header[i] = alias[c]
		}
	}
	out := make([][]string, 0, len(skus))
	for _, k := range skus {
		p := products[k.ProductID]
		comps := make([]string, len(k.Components))
		for i, c := range k.Components {
			comps[i] = fmt.Sprintf("%s*%d", codeOf[c.SKUID], c.Qty)
		}
		sort.Strings(comps)
		out = append(out, []string{k.Code, k.Name, k.Barcode, p.Code, p.Name, p.Category, p.Brand, string(k.Kind),
			formatAttributes(k.Attributes), FormatYuan(k.CostFen), FormatYuan(k.PriceFen), FormatYuan(k.ListPriceFen),
			k.Currency, strconv.FormatInt(k.WeightG, 10), strconv.FormatInt(k.VolumeCm3, 10), strings.Join(k.Images, ";"),
			string(k.Status), strings.Join(comps, ";")})
	}
	if err := sheet.Write(w, f, header, out); err != nil {
		return 0, err
	}
	return len(out), nil
}
