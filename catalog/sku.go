package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"omnihub/auth"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/store"
)

type scanner interface{ Scan(...any) error }

// placeholders returns "$start, $start+1, …" for n values.
func placeholders(start, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", start+i)
	}
	return b.String()
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// ---- products ----

const productCols = `id, code, name, category, brand, images_json, status, created_at, updated_at`

func scanProduct(r scanner) (Product, error) {
	var (
		p      Product
		images string
		status string
	)
	if err := r.Scan(&p.ID, &p.Code, &p.Name, &p.Category, &p.Brand, &images, &status, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return p, err
	}
	p.Status = Status(status)
	if err := json.Unmarshal([]byte(images), &p.Images); err != nil {
		return p, errs.Wrap(err, errs.Internal, "product %s images", p.ID)
	}
	if p.Images == nil {
		p.Images = []string{}
	}
	return p, nil
}

// CreateProduct adds a product. A duplicate code is a conflict.
func (s *Service) CreateProduct(ctx context.Context, in ProductInput) (Product, error) {
	in, err := normalizeProduct(in)
	if err != nil {
		return Product{}, err
	}
	now := s.now()
	p := Product{ID: ids.New(), Code: in.Code, Name: in.Name, Category: in.Category, Brand: in.Brand,
		Images: in.Images, Status: in.Status, CreatedAt: now, UpdatedAt: now}
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO catalog_products (`+productCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
			p.ID, p.Code, p.Name, p.Category, p.Brand, jsonText(p.Images), string(p.Status), now, now)
		if err != nil {
			return err
		}
		return auth.AuditTx(ctx, tx, auth.Entry{Action: "create", Resource: "product", ResourceID: p.ID, After: p})
	})
	if store.IsUniqueViolation(err) {
		return Product{}, errs.E(errs.Conflict, "product code %s is taken", in.Code).WithField("code", "already exists")
	}
	if err != nil {
		return Product{}, errs.Wrap(err, errs.Internal, "create product")
	}
	return p, nil
}

// UpdateProduct replaces a product's fields.
func (s *Service) UpdateProduct(ctx context.Context, id string, in ProductInput) (Product, error) {
	in, err := normalizeProduct(in)
	if err != nil {
		return Product{}, err
	}
	var out Product
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		before, err := scanProduct(tx.QueryRow(ctx, `SELECT `+productCols+` FROM catalog_products WHERE id = $1`, id))
		if err != nil {
			return store.NotFoundIfNoRows(err, "product %s", id)
		}
		n, err := tx.Exec(ctx, `UPDATE catalog_products SET code=$1, name=$2, category=$3, brand=$4, images_json=$5, status=$6, updated_at=$7 WHERE id=$8`,
			in.Code, in.Name, in.Category, in.Brand, jsonText(in.Images), string(in.Status), s.now(), id)
		if err != nil {
			return err
		}
		if n == 0 {
			return errs.E(errs.NotFound, "product %s", id)
		}
		out, err = scanProduct(tx.QueryRow(ctx, `SELECT `+productCols+` FROM catalog_products WHERE id = $1`, id))
		if err != nil {
			return err
		}
		return auth.AuditTx(ctx, tx, auth.Entry{Action: "update", Resource: "product", ResourceID: id, Before: before, After: out})
	})
	if store.IsUniqueViolation(err) {
		return Product{}, errs.E(errs.Conflict, "product code %s is taken", in.Code).WithField("code", "already exists")
	}
	if err != nil && errs.CodeOf(err) == errs.Internal {
		return Product{}, errs.Wrap(err, errs.Internal, "update product %s", id)
	}
	return out, err
}

// GetProduct returns one product.
func (s *Service) GetProduct(ctx context.Context, id string) (Product, error) {
	p, err := scanProduct(s.db.QueryRow(ctx, `SELECT `+productCols+` FROM catalog_products WHERE id = $1`, id))
	return p, store.NotFoundIfNoRows(err, "product %s", id)
}

// ProductByCode returns the product with a code.
func (s *Service) ProductByCode(ctx context.Context, code string) (Product, error) {
	p, err := scanProduct(s.db.QueryRow(ctx, `SELECT `+productCols+` FROM catalog_products WHERE code = $1`, code))
	return p, store.NotFoundIfNoRows(err, "product with code %s", code)
}

// ListProducts returns products ordered by code, after the given code.
func (s *Service) ListProducts(ctx context.Context, afterCode string, limit int) ([]Product, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := s.db.Query(ctx, `SELECT `+productCols+` FROM catalog_products WHERE code > $1 ORDER BY code LIMIT $2`, afterCode, limit)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list products")
	}
	defer rows.Close()
	out := []Product{}
	for rows.Next() {
		p, err := scanProduct(rows)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan product")
		}
		out = append(out, p)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "list products")
}

// ---- SKUs ----

const skuCols = `id, product_id, code, barcode, name, kind, attrs_json, cost_fen, price_fen, list_price_fen, currency, weight_g, volume_cm3, images_json, status, created_at, updated_at`

func scanSKU(r scanner) (SKU, error) {
	var (
		k                    SKU
		productID, barcode   *string
		kind, status         string
		attrs, images        string
		createdAt, updatedAt time.Time
	)
	if err := r.Scan(&k.ID, &productID, &k.Code, &barcode, &k.Name, &kind, &attrs, &k.CostFen, &k.PriceFen, &k.ListPriceFen,
		&k.Currency, &k.WeightG, &k.VolumeCm3, &images, &status, &createdAt, &updatedAt); err != nil {
		return k, err
	}
	if productID != nil {
		k.ProductID = *productID
	}
	if barcode != nil {
		k.Barcode = *barcode
	}
	k.Kind, k.Status, k.CreatedAt, k.UpdatedAt = Kind(kind), Status(status), createdAt, updatedAt
	if err := json.Unmarshal([]byte(attrs), &k.Attributes); err != nil {
		return k, errs.Wrap(err, errs.Internal, "SKU %s attributes", k.ID)
	}
	if err := json.Unmarshal([]byte(images), &k.Images); err != nil {
		return k, errs.Wrap(err, errs.Internal, "SKU %s images", k.ID)
	}
	if k.Attributes == nil {
		k.Attributes = map[string]string{}
	}
	if k.Images == nil {
		k.Images = []string{}
	}
	return k, nil
}

// CreateSKU adds a SKU (and a bundle's components).
func (s *Service) CreateSKU(ctx context.Context, in SKUInput) (SKU, error) {
	in, err := normalizeSKU(in)
	if err != nil {
		return SKU{}, err
	}
	now := s.now()
	k := skuFromInput(ids.New(), in, now, now)
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := s.checkSKURefsTx(ctx, tx, k.ID, in); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO catalog_skus (`+skuCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)`,
			skuArgs(k)...); err != nil {
			return err
		}
		if err := writeComponentsTx(ctx, tx, k.ID, k.Components); err != nil {
			return err
		}
		return auth.AuditTx(ctx, tx, auth.Entry{Action: "create", Resource: "sku", ResourceID: k.ID, After: k})
	})
	if err != nil {
		return SKU{}, skuWriteErr(err, in, "create SKU")
	}
	return k, nil
}

// UpdateSKU replaces a SKU's fields (and a bundle's components). A SKU's
// kind never changes: stock and reservations already recorded against a
// simple SKU would be meaningless for a bundle and vice versa.
func (s *Service) UpdateSKU(ctx context.Context, id string, in SKUInput) (SKU, error) {
	in, err := normalizeSKU(in)
	if err != nil {
		return SKU{}, err
	}
	var out SKU
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, err := scanSKU(tx.QueryRow(ctx, `SELECT `+skuCols+` FROM catalog_skus WHERE id = $1`, id))
		if err != nil {
			return store.NotFoundIfNoRows(err, "SKU %s", id)
		}
		if cur.Kind == Bundle {
			comps, err := componentsOf(ctx, tx, []string{id})
			if err != nil {
				return err
			}
			cur.Components = comps[id] // for the audit log
		}
		if cur.Kind != in.Kind {
			return errs.E(errs.Conflict, "SKU %s is a %s SKU; its kind cannot change (create a new SKU)", cur.Code, cur.Kind).
				WithField("kind", "cannot change")
		}
		if err := s.checkSKURefsTx(ctx, tx, id, in); err != nil {
			return err
		}
		out = skuFromInput(id, in, cur.CreatedAt, s.now())
		if _, err := tx.Exec(ctx, `UPDATE catalog_skus SET product_id=$2, code=$3, barcode=$4, name=$5, kind=$6, attrs_json=$7, cost_fen=$8,
			price_fen=$9, list_price_fen=$10, currency=$11, weight_g=$12, volume_cm3=$13, images_json=$14, status=$15, updated_at=$16
			WHERE id=$1`, append(skuArgs(out)[:15], out.UpdatedAt)...); err != nil {
			return err
		}
		if out.Kind == Bundle {
			if _, err := tx.Exec(ctx, `DELETE FROM catalog_bundle_components WHERE bundle_id = $1`, id); err != nil {
				return err
			}
			if err := writeComponentsTx(ctx, tx, id, out.Components); err != nil {
				return err
			}
		}
		return auth.AuditTx(ctx, tx, auth.Entry{Action: "update", Resource: "sku", ResourceID: id, Before: cur, After: out})
	})
	if err != nil {
		return SKU{}, skuWriteErr(err, in, "update SKU "+id)
	}
	return out, nil
}

// SetComponents replaces a bundle's components.
func (s *Service) SetComponents(ctx context.Context, bundleID string, comps []Component) (SKU, error) {
	k, err := s.GetSKU(ctx, bundleID)
	if err != nil {
		return SKU{}, err
	}
	if k.Kind != Bundle {
		return SKU{}, errs.E(errs.Conflict, "SKU %s is not a bundle", k.Code).WithField("kind", "not a bundle")
	}
	return s.UpdateSKU(ctx, bundleID, inputFromSKU(k, comps))
}

func skuWriteErr(err error, in SKUInput, what string) error {
	if store.IsUniqueViolation(err) {
		return errs.E(errs.Conflict, "SKU code %s or barcode %s is taken", in.Code, in.Barcode)
	}
	if errs.CodeOf(err) == errs.Internal {
		return errs.Wrap(err, errs.Internal, "%s", what)
	}
	return err
}

func skuFromInput(id string, in SKUInput, created, updated time.Time) SKU {
	images := in.Images
	if images == nil {
		images = []string{}
	}
	return SKU{ID: id, ProductID: in.ProductID, Code: in.Code, Barcode: in.Barcode, Name: in.Name, Kind: in.Kind,
		Attributes: in.Attributes, CostFen: in.CostFen, PriceFen: in.PriceFen, ListPriceFen: in.ListPriceFen,
		Currency: in.Currency, WeightG: in.WeightG, VolumeCm3: in.VolumeCm3, Images: images, Status: in.Status,
		Components: in.Components, CreatedAt: created, UpdatedAt: updated}
}

func inputFromSKU(k SKU, comps []Component) SKUInput {
	return SKUInput{ProductID: k.ProductID, Code: k.Code, Barcode: k.Barcode, Name: k.Name, Kind: k.Kind,
		Attributes: k.Attributes, CostFen: k.CostFen, PriceFen: k.PriceFen, ListPriceFen: k.ListPriceFen,
		Currency: k.Currency, WeightG: k.WeightG, VolumeCm3: k.VolumeCm3, Images: k.Images, Status: k.Status,
		Components: comps}
}

func skuArgs(k SKU) []any {
	return []any{k.ID, nullable(k.ProductID), k.Code, nullable(k.Barcode), k.Name, string(k.Kind), jsonText(k.Attributes),
		k.CostFen, k.PriceFen, k.ListPriceFen, k.Currency, k.WeightG, k.VolumeCm3, jsonText(k.Images), string(k.Status),
		k.CreatedAt, k.UpdatedAt}
}

// checkSKURefsTx checks what a SKU refers to or collides with: code and
// barcode held by another SKU, the product, and a bundle's components.
func (s *Service) checkSKURefsTx(ctx context.Context, tx store.Tx, id string, in SKUInput) error {
	var other string
	err := tx.QueryRow(ctx, `SELECT id FROM catalog_skus WHERE code = $1 AND id <> $2`, in.Code, id).Scan(&other)
	if err == nil {
		return errs.E(errs.Conflict, "SKU code %s is taken", in.Code).WithField("code", "already exists")
	} else if !errors.Is(err, store.ErrNoRows) {
		return err
	}
	if in.Barcode != "" {
		err := tx.QueryRow(ctx, `SELECT code FROM catalog_skus WHERE barcode = $1 AND id <> $2`, in.Barcode, id).Scan(&other)
		if err == nil {
			return errs.E(errs.Conflict, "barcode %s belongs to SKU %s", in.Barcode, other).WithField("barcode", "already exists")
		} else if !errors.Is(err, store.ErrNoRows) {
			return err
		}
	}
	if in.ProductID != "" {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM catalog_products WHERE id = $1`, in.ProductID).Scan(&one); errors.Is(err, store.ErrNoRows) {
			return errs.E(errs.Invalid, "product %s does not exist", in.ProductID).WithField("product_id", "does not exist")
		} else if err != nil {
			return err
		}
	}
	if in.Kind == Bundle {
		return checkComponentsTx(ctx, tx, id, in.Components)
	}
	return nil
}

// checkComponentsTx enforces the bundle rules that make cycles impossible:
// no bundle contains itself, every component exists and is a simple SKU.
func checkComponentsTx(ctx context.Context, tx store.Tx, bundleID string, comps []Component) error {
	args := make([]any, len(comps))
	for i, c := range comps {
		if c.SKUID == bundleID {
			return errs.E(errs.Invalid, "a bundle cannot contain itself").WithField("components", "contains the bundle itself")
		}
		args[i] = c.SKUID
	}
	rows, err := tx.Query(ctx, `SELECT id, code, kind FROM catalog_skus WHERE id IN (`+placeholders(1, len(args))+`)`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	found := map[string]bool{}
	for rows.Next() {
		var id, code, kind string
		if err := rows.Scan(&id, &code, &kind); err != nil {
			return err
		}
		if Kind(kind) == Bundle {
			return errs.E(errs.Invalid, "component %s is a bundle; bundles are made of simple SKUs only", code).
				WithField("components", "component "+code+" is a bundle")
		}
		found[id] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range comps {
		if !found[c.SKUID] {
			return errs.E(errs.Invalid, "component SKU %s does not exist", c.SKUID).
				WithField("components", "SKU "+c.SKUID+" does not exist")
		}
	}
	return nil
}

func writeComponentsTx(ctx context.Context, tx store.Tx, bundleID string, comps []Component) error {
	for _, c := range comps {
		if _, err := tx.Exec(ctx, `INSERT INTO catalog_bundle_components (bundle_id, component_id, qty) VALUES ($1, $2, $3)`,
			bundleID, c.SKUID, c.Qty); err != nil {
			return err
		}
	}
	return nil
}

// GetSKU returns one SKU with its components.
func (s *Service) GetSKU(ctx context.Context, id string) (SKU, error) {
	return s.getSKU(ctx, s.db, `id`, id)
}

// SKUByCode returns the SKU with a code (商家编码).
func (s *Service) SKUByCode(ctx context.Context, code string) (SKU, error) {
	return s.getSKU(ctx, s.db, `code`, code)
}

// SKUByBarcode returns the SKU with a barcode.
func (s *Service) SKUByBarcode(ctx context.Context, barcode string) (SKU, error) {
	return s.getSKU(ctx, s.db, `barcode`, barcode)
}

// GetSKUTx returns one SKU with its components inside tx.
func (s *Service) GetSKUTx(ctx context.Context, tx store.Tx, id string) (SKU, error) {
	return s.getSKU(ctx, tx, `id`, id)
}

// GetSKUIn is GetSKU through q: a transaction, or the database.
func (s *Service) GetSKUIn(ctx context.Context, q store.Querier, id string) (SKU, error) {
	return s.getSKU(ctx, q, `id`, id)
}

func (s *Service) getSKU(ctx context.Context, q store.Querier, col, v string) (SKU, error) {
	k, err := scanSKU(q.QueryRow(ctx, `SELECT `+skuCols+` FROM catalog_skus WHERE `+col+` = $1`, v))
	if err != nil {
		return k, store.NotFoundIfNoRows(err, "SKU with %s %s", col, v)
	}
	if k.Kind == Bundle {
		comps, err := componentsOf(ctx, q, []string{k.ID})
		if err != nil {
			return k, errs.Wrap(err, errs.Internal, "components of %s", k.Code)
		}
		k.Components = comps[k.ID]
	}
	return k, nil
}

func componentsOf(ctx context.Context, q store.Querier, bundleIDs []string) (map[string][]Component, error) {
	out := map[string][]Component{}
	if len(bundleIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(bundleIDs))
	for i, id := range bundleIDs {
		args[i] = id
	}
	rows, err := q.Query(ctx, `SELECT bundle_id, component_id, qty FROM catalog_bundle_components
		WHERE bundle_id IN (`+placeholders(1, len(args))+`) ORDER BY bundle_id, component_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var b string
		var c Component
		if err := rows.Scan(&b, &c.SKUID, &c.Qty); err != nil {
			return nil, err
		}
		out[b] = append(out[b], c)
	}
	return out, rows.Err()
}

// SKUFilter selects SKUs for ListSKUs.
type SKUFilter struct {
	// Query matches a code prefix or a substring of the name.
	Query     string
	ProductID string
	Kind      Kind
	Status    Status
	// AfterCode is the cursor: SKUs with a greater code.
	AfterCode string
	Limit     int // default 100, at most 1000
}

// ListSKUs returns SKUs ordered by code.
func (s *Service) ListSKUs(ctx context.Context, f SKUFilter) ([]SKU, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	where := []string{"code > $1"}
	args := []any{f.AfterCode}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Query != "" {
		// LOWER on both sides: PostgreSQL's LIKE is case-sensitive, SQLite's is not.
		q := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(f.Query))
		where = append(where, `(LOWER(code) LIKE `+arg(q+"%")+` ESCAPE '\' OR LOWER(name) LIKE `+arg("%"+q+"%")+` ESCAPE '\')`)
	}
	if f.ProductID != "" {
		where = append(where, "product_id = "+arg(f.ProductID))
	}
	if f.Kind != "" {
		where = append(where, "kind = "+arg(string(f.Kind)))
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(string(f.Status)))
	}
	args = append(args, f.Limit)
	rows, err := s.db.Query(ctx, `SELECT `+skuCols+` FROM catalog_skus WHERE `+strings.Join(where, " AND ")+
		fmt.Sprintf(` ORDER BY code LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list SKUs")
	}
	out := []SKU{}
	var bundles []string
	for rows.Next() {
		k, err := scanSKU(rows)
		if err != nil {
			rows.Close()
			return nil, errs.Wrap(err, errs.Internal, "scan SKU")
		}
		if k.Kind == Bundle {
			bundles = append(bundles, k.ID)
		}
		out = append(out, k)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list SKUs")
	}
	if len(bundles) > 0 {
		comps, err := componentsOf(ctx, s.db, bundles)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "list bundle components")
		}
		for i := range out {
			out[i].Components = comps[out[i].ID]
		}
	}
	return out, nil
}

// ComponentsTx returns the components of skuID when it is a bundle
// (isBundle false and no components for a simple SKU). An unknown SKU is a
// NotFound error: inventory must not guess what it is reserving.
//
// Inventory calls it for every stock change, so it costs one query, and
// none for a SKU already seen to be simple: a SKU's kind never changes and
// SKUs are never deleted, so that answer can be remembered once committed.
func (s *Service) ComponentsTx(ctx context.Context, tx store.Tx, skuID string) ([]Component, bool, error) {
	if _, simple := s.simple.Load(skuID); simple {
		return nil, false, nil
	}
	rows, err := tx.Query(ctx, `SELECT s.kind, c.component_id, c.qty FROM catalog_skus s
		LEFT JOIN catalog_bundle_components c ON c.bundle_id = s.id WHERE s.id = $1 ORDER BY c.component_id`, skuID)
	if err != nil {
		return nil, false, errs.Wrap(err, errs.Internal, "components of %s", skuID)
	}
	defer rows.Close()
	var (
		kind  string
		found bool
		comps []Component
	)
	for rows.Next() {
		var (
			compID *string
			qty    *int64
		)
		if err := rows.Scan(&kind, &compID, &qty); err != nil {
			return nil, false, errs.Wrap(err, errs.Internal, "components of %s", skuID)
		}
		found = true
		if compID != nil && qty != nil {
			comps = append(comps, Component{SKUID: *compID, Qty: *qty})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, errs.Wrap(err, errs.Internal, "components of %s", skuID)
	}
	if !found {
		return nil, false, errs.E(errs.NotFound, "SKU %s", skuID)
	}
	if Kind(kind) != Bundle {
		tx.AfterCommit(func() { s.simple.Store(skuID, true) })
		return nil, false, nil
	}
	return comps, true, nil
}

// BundlesContainingTx lists the ids of the bundles that have skuID as a
// component, so that a change to a component's stock can re-derive the
// bundles' availability.
func (s *Service) BundlesContainingTx(ctx context.Context, tx store.Tx, skuID string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT bundle_id FROM catalog_bundle_components WHERE component_id = $1 ORDER BY bundle_id`, skuID)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "bundles containing %s", skuID)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan bundle id")
		}
		out = append(out, id)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "bundles containing %s", skuID)
}
