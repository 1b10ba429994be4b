package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"omnihub/auth"
	"omnihub/errs"
	"omnihub/store"
)

const bindingCols = `shop_id, platform_item_id, platform_sku_id, sku_id, outer_code, source, created_at, updated_at`

func scanBinding(r scanner) (Binding, error) {
	var b Binding
	err := r.Scan(&b.ShopID, &b.PlatformItemID, &b.PlatformSKUID, &b.SKUID, &b.OuterCode, &b.Source, &b.CreatedAt, &b.UpdatedAt)
	return b, err
}

// BindInput binds a shop's platform listing to an internal SKU.
type BindInput struct {
	ShopID         string `json:"shop_id"`
	PlatformItemID string `json:"platform_item_id"`
	PlatformSKUID  string `json:"platform_sku_id"`
	SKUID          string `json:"sku_id"`
	OuterCode      string `json:"outer_code,omitempty"`
}

// Bind creates or replaces the binding of a listing (a person fixing or
// confirming a mapping). The OnBound hook runs in the same transaction.
func (s *Service) Bind(ctx context.Context, in BindInput) (Binding, error) {
	var out Binding
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = s.BindTx(ctx, tx, in)
		return err
	})
	return out, err
}

// BindTx is Bind inside the caller's transaction.
func (s *Service) BindTx(ctx context.Context, tx store.Tx, in BindInput) (Binding, error) {
	in.ShopID = strings.TrimSpace(in.ShopID)
	in.PlatformItemID = strings.TrimSpace(in.PlatformItemID)
	in.PlatformSKUID = strings.TrimSpace(in.PlatformSKUID)
	in.SKUID = strings.TrimSpace(in.SKUID)
	in.OuterCode = strings.TrimSpace(in.OuterCode)
	p := problems{what: "invalid binding"}
	checkBindingKey(&p, in.ShopID, in.PlatformItemID, in.PlatformSKUID)
	checkText(&p, "sku_id", in.SKUID, maxPlatformIDLen, true)
	checkText(&p, "outer_code", in.OuterCode, maxPlatformIDLen, false)
	if err := p.err(); err != nil {
		return Binding{}, err
	}
	var one int
	if err := tx.QueryRow(ctx, `SELECT 1 FROM catalog_skus WHERE id = $1`, in.SKUID).Scan(&one); err != nil {
		if errors.Is(err, store.ErrNoRows) {
			return Binding{}, errs.E(errs.Invalid, "SKU %s does not exist", in.SKUID).WithField("sku_id", "does not exist")
		}
		return Binding{}, errs.Wrap(err, errs.Internal, "bind: look up SKU")
	}
	now := s.now()
	b, err := scanBinding(tx.QueryRow(ctx, `INSERT INTO catalog_bindings (`+bindingCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$7)
		ON CONFLICT (shop_id, platform_item_id, platform_sku_id) DO UPDATE
		SET sku_id = excluded.sku_id, outer_code = excluded.outer_code, source = excluded.source, updated_at = excluded.updated_at
		RETURNING `+bindingCols, in.ShopID, in.PlatformItemID, in.PlatformSKUID, in.SKUID, in.OuterCode, SourceManual, now))
	if err != nil {
		return Binding{}, errs.Wrap(err, errs.Internal, "bind listing")
	}
	if err := auth.AuditTx(ctx, tx, auth.Entry{Action: "bind", Resource: "listing_binding",
		ResourceID: b.ShopID + "/" + b.PlatformItemID + "/" + b.PlatformSKUID, After: b}); err != nil {
		return Binding{}, err
	}
	if err := s.onBound(ctx, tx, b); err != nil {
		return Binding{}, err
	}
	return b, nil
}

func (s *Service) onBound(ctx context.Context, tx store.Tx, b Binding) error {
	if s.opts.OnBound == nil {
		return nil
	}
	return s.opts.OnBound(ctx, tx, b.ShopID, b.PlatformSKUID, b.SKUID)
}

// Unbind removes a listing's binding. Removing a binding that does not
// exist is NotFound.
func (s *Service) Unbind(ctx context.Context, shopID, platformItemID, platformSKUID string) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.Exec(ctx, `DELETE FROM catalog_bindings WHERE shop_id = $1 AND platform_item_id = $2 AND platform_sku_id = $3`,
			shopID, platformItemID, platformSKUID)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "unbind listing")
		}
		if n == 0 {
			return errs.E(errs.NotFound, "no binding for shop %s item %s sku %q", shopID, platformItemID, platformSKUID)
		}
		return auth.AuditTx(ctx, tx, auth.Entry{Action: "unbind", Resource: "listing_binding",
			ResourceID: shopID + "/" + platformItemID + "/" + platformSKUID})
	})
}

// ResolveTx maps a platform order line to an internal SKU inside the
// caller's transaction: the listing's binding if there is one; otherwise
// the SKU whose code equals outerCode (the seller's 商家编码), which is then
// bound automatically (and OnBound called); otherwise ok is false and the
// caller parks the line for a person to bind. It never guesses by name.
func (s *Service) ResolveTx(ctx context.Context, tx store.Tx, shopID, platformItemID, platformSKUID, outerCode string) (string, bool, error) {
	var skuID string
	err := tx.QueryRow(ctx, `SELECT sku_id FROM catalog_bindings WHERE shop_id = $1 AND platform_item_id = $2 AND platform_sku_id = $3`,
		shopID, platformItemID, platformSKUID).Scan(&skuID)
	if err == nil {
		return skuID, true, nil
	}
	if !errors.Is(err, store.ErrNoRows) {
		return "", false, errs.Wrap(err, errs.Internal, "resolve listing")
	}
	outerCode = strings.TrimSpace(outerCode)
	if outerCode == "" {
		return "", false, nil
	}
	err = tx.QueryRow(ctx, `SELECT id FROM catalog_skus WHERE code = $1`, outerCode).Scan(&skuID)
	if errors.Is(err, store.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, errs.Wrap(err, errs.Internal, "resolve outer code")
	}
	if shopID == "" || platformItemID == "" {
		// Nothing to bind to; the code alone identifies the SKU.
		return skuID, true, nil
	}
	now := s.now()
	// DO NOTHING: a concurrent transaction may have bound the listing (on
	// PostgreSQL) — its binding wins and is read back below.
	n, err := tx.Exec(ctx, `INSERT INTO catalog_bindings (`+bindingCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$7)
		ON CONFLICT (shop_id, platform_item_id, platform_sku_id) DO NOTHING`,
		shopID, platformItemID, platformSKUID, skuID, outerCode, SourceAuto, now)
	if err != nil {
		return "", false, errs.Wrap(err, errs.Internal, "auto-bind listing")
	}
	if n == 0 {
		err := tx.QueryRow(ctx, `SELECT sku_id FROM catalog_bindings WHERE shop_id = $1 AND platform_item_id = $2 AND platform_sku_id = $3`,
			shopID, platformItemID, platformSKUID).Scan(&skuID)
		return skuID, err == nil, errs.Wrap(err, errs.Internal, "read concurrent binding")
	}
	b := Binding{ShopID: shopID, PlatformItemID: platformItemID, PlatformSKUID: platformSKUID, SKUID: skuID,
		OuterCode: outerCode, Source: SourceAuto, CreatedAt: now, UpdatedAt: now}
	if err := s.onBound(ctx, tx, b); err != nil {
		return "", false, err
	}
	return skuID, true, nil
}

// ListingRef names one order line's listing, as ResolveTx takes it.
type ListingRef struct {
	PlatformItemID, PlatformSKUID, OuterCode string
}

// ResolveManyTx is ResolveTx for many lines of one shop: the listings
// already bound are read in one query per chunk (an order batch would
// otherwise make a round trip per listing, which on PostgreSQL is most of
// its time); the others go through ResolveTx one by one (by outer code,
// binding them; that happens once per listing). The answer holds the
// listings that resolved.
func (s *Service) ResolveManyTx(ctx context.Context, tx store.Tx, shopID string, refs []ListingRef) (map[ListingRef]string, error) {
	out := make(map[ListingRef]string, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	type pair struct{ item, sku string }
	bound := map[pair]string{}
	// The distinct listings, looked up by the full key: by platform SKU
	// alone, both engines read the shop's every binding per batch.
	seen := make(map[pair]bool, len(refs))
	items := make([]string, 0, len(refs))
	skus := make([]string, 0, len(refs))
	for _, r := range refs {
		p := pair{r.PlatformItemID, r.PlatformSKUID}
		if !seen[p] {
			seen[p] = true
			items = append(items, p.item)
			skus = append(skus, p.sku)
		}
	}
	// One statement of constant text whatever the number of listings:
	// a JSON array of pairs on SQLite, array parameters on PostgreSQL.
	args := []any{shopID}
	if tx.Engine() == store.Postgres {
		args = append(args, items, skus)
	} else {
		ps := make([][2]string, len(items))
		for i := range items {
			ps[i] = [2]string{items[i], skus[i]}
		}
		js, err := json.Marshal(ps)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "resolve listings")
		}
		args = append(args, string(js))
	}
	rows, err := tx.Query(ctx, boundListingsQuery(tx.Engine()), args...)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "resolve listings")
	}
	for rows.Next() {
		var p pair
		var id string
		if err := rows.Scan(&p.item, &p.sku, &id); err != nil {
			rows.Close()
			return nil, errs.Wrap(err, errs.Internal, "resolve listings")
		}
		bound[p] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, errs.Internal, "resolve listings")
	}
	for _, r := range refs {
		if _, done := out[r]; done {
			continue
		}
		if id, ok := bound[pair{r.PlatformItemID, r.PlatformSKUID}]; ok {
			out[r] = id
			continue
		}
		id, ok, err := s.ResolveTx(ctx, tx, shopID, r.PlatformItemID, r.PlatformSKUID, r.OuterCode)
		if err != nil {
			return nil, err
		}
		if ok {
			out[r] = id
		}
	}
	return out, nil
}

// boundListingsQuery reads the bindings of a shop's listings, given as
// (item, SKU) pairs: a JSON array of pairs on SQLite ($2), two arrays on
// PostgreSQL ($2 items, $3 SKUs). It probes the primary key once per
// listing (see TestBindingLookupsProbe).
func boundListingsQuery(e store.Engine) string {
	if e == store.Postgres {
		return `SELECT platform_item_id, platform_sku_id, sku_id FROM catalog_bindings
			WHERE shop_id = $1 AND (platform_item_id, platform_sku_id) IN (SELECT * FROM unnest($2::text[], $3::text[]))`
	}
	return `SELECT platform_item_id, platform_sku_id, sku_id FROM catalog_bindings
			WHERE shop_id = $1 AND (platform_item_id, platform_sku_id) IN (SELECT value->>0, value->>1 FROM json_each($2))`
}

// Resolve is ResolveTx in a transaction of its own.
func (s *Service) Resolve(ctx context.Context, shopID, platformItemID, platformSKUID, outerCode string) (skuID string, ok bool, err error) {
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		skuID, ok, err = s.ResolveTx(ctx, tx, shopID, platformItemID, platformSKUID, outerCode)
		return err
	})
	return skuID, ok, err
}

// BindingsForSKU lists the listings bound to a SKU in one shop, or in every
// shop when shopID is empty (the stock pusher needs the platform ids to push to).
func (s *Service) BindingsForSKU(ctx context.Context, shopID, skuID string) ([]Binding, error) {
	if shopID == "" {
		return s.bindings(ctx, `sku_id = $1 ORDER BY shop_id, platform_item_id, platform_sku_id`, skuID)
	}
	return s.bindings(ctx, skuBindingsWhere(s.db.Engine()), skuID, shopID)
}

// skuBindingsWhere selects the bindings of SKU $1 in shop $2 in listing
// order. On SQLite the order is kept off the planner's choice: it would
// otherwise walk the shop's primary key (already in that order) rather
// than probe catalog_bindings_sku, and read every binding of the shop.
func skuBindingsWhere(e store.Engine) string {
	return `sku_id = $1 AND shop_id = $2 ORDER BY ` + listingOrder(e)
}

// skusBindingsWhere selects the bindings of shop $1 of many SKUs ($2: an
// array on PostgreSQL, a JSON array on SQLite) in listing order, probing
// catalog_bindings_sku per SKU (see skuBindingsWhere).
func skusBindingsWhere(e store.Engine) string {
	if e == store.Postgres {
		return `shop_id = $1 AND sku_id = ANY($2::text[]) ORDER BY ` + listingOrder(e)
	}
	return `shop_id = $1 AND sku_id IN (SELECT value FROM json_each($2)) ORDER BY ` + listingOrder(e)
}

// listingOrder orders bindings of one shop by platform item and SKU. The
// unary + on SQLite makes the terms expressions, which no index provides:
// the few rows found are sorted instead (see TestBindingLookupsProbe).
func listingOrder(e store.Engine) string {
	if e == store.SQLite {
		return `+platform_item_id, +platform_sku_id`
	}
	return `platform_item_id, platform_sku_id`
}

// BindingsForSKUs lists the listings bound to each of skuIDs in one shop, in
// one query (the stock pusher asks for every SKU of a push cycle at once).
func (s *Service) BindingsForSKUs(ctx context.Context, shopID string, skuIDs []string) (map[string][]Binding, error) {
	out := make(map[string][]Binding, len(skuIDs))
	if len(skuIDs) == 0 {
		return out, nil
	}
	var bs []Binding
	var err error
	if s.db.Engine() == store.Postgres {
		bs, err = s.bindings(ctx, skusBindingsWhere(store.Postgres), shopID, skuIDs)
	} else {
		list, jerr := json.Marshal(skuIDs)
		if jerr != nil {
			return nil, errs.Wrap(jerr, errs.Internal, "encode sku ids")
		}
		bs, err = s.bindings(ctx, skusBindingsWhere(store.SQLite), shopID, string(list))
	}
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		out[b.SKUID] = append(out[b.SKUID], b)
	}
	return out, nil
}

// BindingsForShop lists a shop's bindings ordered by platform item and SKU,
// after the given (item, sku) cursor.
func (s *Service) BindingsForShop(ctx context.Context, shopID, afterItemID, afterSKUID string, limit int) ([]Binding, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	return s.bindings(ctx, `shop_id = $1 AND (platform_item_id > $2 OR (platform_item_id = $2 AND platform_sku_id > $3))
		ORDER BY platform_item_id, platform_sku_id LIMIT $4`, shopID, afterItemID, afterSKUID, limit)
}

// bindingsQuery reads the bindings that where selects (and orders).
func bindingsQuery(where string) string {
	return `SELECT ` + bindingCols + ` FROM catalog_bindings WHERE ` + where
}

func (s *Service) bindings(ctx context.Context, where string, args ...any) ([]Binding, error) {
	rows, err := s.db.Query(ctx, bindingsQuery(where), args...)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list bindings")
	}
	defer rows.Close()
	out := []Binding{}
	for rows.Next() {
		b, err := scanBinding(rows)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan binding")
		}
		out = append(out, b)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "list bindings")
}
