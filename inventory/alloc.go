package inventory

import (
	"cmp"
	"context"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"omnihub/errs"
	"omnihub/store"
)

// Policy is a shop's channel allocation policy: what part of the available
// stock the shop may sell.
//
//	pool     = Σ over the shop's warehouses of (on hand − reserved)
//	sellable = min(cap, floor(max(0, pool − safety) × ratio / 100) + virtual), never below 0
type Policy struct {
	ShopID string `json:"shop_id"`
	// RatioPct is the percentage of available stock offered (0–100).
	RatioPct int64 `json:"ratio_pct"`
	// SafetyStock is kept back from the shop.
	SafetyStock int64 `json:"safety_stock"`
	// Cap, when set, is the most the shop ever shows.
	Cap *int64 `json:"cap,omitempty"`
	// VirtualExtra is sellable beyond stock (presale, virtual stock).
	VirtualExtra int64 `json:"virtual_extra"`
	// WarehouseIDs the shop sells from; empty means all.
	WarehouseIDs []string  `json:"warehouse_ids,omitempty"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Override changes a shop's policy for one SKU; a nil field keeps the shop's value.
type Override struct {
	ShopID       string    `json:"shop_id"`
	SKUID        string    `json:"sku_id"`
	RatioPct     *int64    `json:"ratio_pct,omitempty"`
	SafetyStock  *int64    `json:"safety_stock,omitempty"`
	Cap          *int64    `json:"cap,omitempty"`
	VirtualExtra *int64    `json:"virtual_extra,omitempty"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// PushMark says a shop's sellable number for a SKU changed and needs pushing.
type PushMark struct {
	ShopID        string    `json:"shop_id"`
	SKUID         string    `json:"sku_id"`
	Sellable      int64     `json:"sellable"`
	Version       int64     `json:"version"`
	PushedVersion int64     `json:"pushed_version"`
	MarkedAt      time.Time `json:"marked_at"`
}

func (p Policy) validate() error {
	if p.ShopID == "" {
		return errs.WithField("shop_id", "is required")
	}
	if p.RatioPct < 0 || p.RatioPct > 100 {
		return errs.WithField("ratio_pct", "must be from 0 to 100")
	}
	if p.SafetyStock < 0 {
		return errs.WithField("safety_stock", "must not be negative")
	}
	if p.Cap != nil && *p.Cap < 0 {
		return errs.WithField("cap", "must not be negative")
	}
	if p.VirtualExtra < 0 {
		return errs.WithField("virtual_extra", "must not be negative")
	}
	return nil
}

func (o Override) validate() error {
	if o.ShopID == "" || o.SKUID == "" {
		return errs.E(errs.Invalid, "shop_id and sku_id are required")
	}
	if o.RatioPct != nil && (*o.RatioPct < 0 || *o.RatioPct > 100) {
		return errs.WithField("ratio_pct", "must be from 0 to 100")
	}
	for name, v := range map[string]*int64{"safety_stock": o.SafetyStock, "cap": o.Cap, "virtual_extra": o.VirtualExtra} {
		if v != nil && *v < 0 {
			return errs.WithField(name, "must not be negative")
		}
	}
	return nil
}

// effective merges an override into the policy.
func (p Policy) effective(o *Override) Policy {
	if o == nil {
		return p
	}
	if o.RatioPct != nil {
		p.RatioPct = *o.RatioPct
	}
	if o.SafetyStock != nil {
		p.SafetyStock = *o.SafetyStock
	}
	if o.Cap != nil {
		p.Cap = o.Cap
	}
	if o.VirtualExtra != nil {
		p.VirtualExtra = *o.VirtualExtra
	}
	return p
}

// Allocate applies the policy to a pool of available stock.
func (p Policy) Allocate(pool int64) int64 {
	base := max(0, pool-p.SafetyStock)
	x := base*p.RatioPct/100 + p.VirtualExtra
	if p.Cap != nil && x > *p.Cap {
		x = *p.Cap
	}
	return max(0, x)
}

func (p Policy) sellsFrom(wh string) bool {
	if len(p.WarehouseIDs) == 0 {
		return true
	}
	for _, w := range p.WarehouseIDs {
		if w == wh {
			return true
		}
	}
	return false
}

// SetPolicy creates or replaces a shop's policy and re-marks every SKU whose
// sellable number it moves.
func (s *Service) SetPolicy(ctx context.Context, p Policy) (Policy, error) {
	if p.RatioPct == 0 && p.SafetyStock == 0 && p.Cap == nil && p.VirtualExtra == 0 {
		// An empty policy means "everything": a shop that sells nothing
		// should say ratio_pct 0 with a cap of 0.
		p.RatioPct = 100
	}
	if err := p.validate(); err != nil {
		return p, err
	}
	p.UpdatedAt = s.now()
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, w := range p.WarehouseIDs {
			if _, err := requireWarehouse(ctx, tx, w); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO inv_policies (shop_id, ratio_pct, safety_stock, cap, virtual_extra, warehouse_ids, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (shop_id) DO UPDATE SET ratio_pct = excluded.ratio_pct, safety_stock = excluded.safety_stock, cap = excluded.cap,
				virtual_extra = excluded.virtual_extra, warehouse_ids = excluded.warehouse_ids, updated_at = excluded.updated_at`,
			p.ShopID, p.RatioPct, p.SafetyStock, p.Cap, p.VirtualExtra, strings.Join(p.WarehouseIDs, ","), p.UpdatedAt)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "save policy")
		}
		return s.remarkAll(ctx, tx)
	})
	return p, err
}

// SetOverride creates or replaces a per-SKU override of a shop's policy.
func (s *Service) SetOverride(ctx context.Context, o Override) (Override, error) {
	if err := o.validate(); err != nil {
		return o, err
	}
	o.UpdatedAt = s.now()
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO inv_policy_overrides (shop_id, sku_id, ratio_pct, safety_stock, cap, virtual_extra, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (shop_id, sku_id) DO UPDATE SET ratio_pct = excluded.ratio_pct, safety_stock = excluded.safety_stock,
				cap = excluded.cap, virtual_extra = excluded.virtual_extra, updated_at = excluded.updated_at`,
			o.ShopID, o.SKUID, o.RatioPct, o.SafetyStock, o.Cap, o.VirtualExtra, o.UpdatedAt)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "save override")
		}
		return s.markTx(ctx, tx, []string{o.SKUID})
	})
	return o, err
}

// DeleteOverride removes a per-SKU override.
func (s *Service) DeleteOverride(ctx context.Context, shopID, skuID string) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM inv_policy_overrides WHERE shop_id = $1 AND sku_id = $2`, shopID, skuID); err != nil {
			return errs.Wrap(err, errs.Internal, "delete override")
		}
		return s.markTx(ctx, tx, []string{skuID})
	})
}

// GetPolicy returns a shop's policy with its overrides.
func (s *Service) GetPolicy(ctx context.Context, shopID string) (Policy, []Override, error) {
	ps, err := loadPolicies(ctx, s.db, shopID)
	if err != nil {
		return Policy{}, nil, err
	}
	if len(ps) == 0 {
		return Policy{}, nil, errs.E(errs.NotFound, "shop %s has no allocation policy", shopID)
	}
	rows, err := s.db.Query(ctx, `SELECT shop_id, sku_id, ratio_pct, safety_stock, cap, virtual_extra, updated_at FROM inv_policy_overrides WHERE shop_id = $1 ORDER BY sku_id`, shopID)
	if err != nil {
		return Policy{}, nil, errs.Wrap(err, errs.Internal, "read overrides")
	}
	defer rows.Close()
	var os []Override
	for rows.Next() {
		var o Override
		if err := rows.Scan(&o.ShopID, &o.SKUID, &o.RatioPct, &o.SafetyStock, &o.Cap, &o.VirtualExtra, &o.UpdatedAt); err != nil {
			return Policy{}, nil, errs.Wrap(err, errs.Internal, "scan override")
		}
		os = append(os, o)
	}
	return ps[0], os, errs.Wrap(rows.Err(), errs.Internal, "read overrides")
}

// Policies lists every shop's policy.
func (s *Service) Policies(ctx context.Context) ([]Policy, error) { return loadPolicies(ctx, s.db, "") }

func loadPolicies(ctx context.Context, q store.Querier, shopID string) ([]Policy, error) {
	query := `SELECT shop_id, ratio_pct, safety_stock, cap, virtual_extra, warehouse_ids, updated_at FROM inv_policies`
	var args []any
	if shopID != "" {
		query += ` WHERE shop_id = $1`
		args = append(args, shopID)
	}
	rows, err := q.Query(ctx, query+` ORDER BY shop_id`, args...)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "read policies")
	}
	defer rows.Close()
	var out []Policy
	for rows.Next() {
		var p Policy
		var whs string
		if err := rows.Scan(&p.ShopID, &p.RatioPct, &p.SafetyStock, &p.Cap, &p.VirtualExtra, &whs, &p.UpdatedAt); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan policy")
		}
		if whs != "" {
			p.WarehouseIDs = strings.Split(whs, ",")
		}
		out = append(out, p)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "read policies")
}

// remarkAll re-marks every SKU with stock (and the bundles containing them).
func (s *Service) remarkAll(ctx context.Context, tx store.Tx) error {
	rows, err := tx.Query(ctx, `SELECT DISTINCT sku_id FROM inv_balances ORDER BY sku_id`)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "list SKUs")
	}
	var skus []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return errs.Wrap(err, errs.Internal, "scan SKU")
		}
		skus = append(skus, k)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return errs.Wrap(err, errs.Internal, "list SKUs")
	}
	return s.markTx(ctx, tx, skus)
}

// markTx recomputes the sellable number of the given SKUs, and of the bundles
// containing them, for every shop with a policy, and upserts a push mark
// (version + 1) wherever the number moved. It runs in the transaction of the
// change, so a mark exists exactly when the change commits. It costs three
// statements whatever the number of shops and SKUs (up to 300 at a time).
func (s *Service) markTx(ctx context.Context, tx store.Tx, skus []string) error {
	if len(skus) == 0 {
		return nil
	}
	// Targets: the SKUs and the bundles containing them.
	targets := map[string]bool{}
	for _, k := range skus {
		targets[k] = true
		bs, err := s.opts.Bundles.BundlesContainingTx(ctx, tx, k)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "find bundles containing %s", k)
		}
		for _, b := range bs {
			targets[b] = true
		}
	}
	tlist := keys(targets)
	if tx.Engine() == store.Postgres {
		// Two transactions changing stock of one SKU in different
		// warehouses (or two components of one bundle) would each compute
		// the number without the other's change; serialising the
		// computation per target SKU lets the later one see both.
		locks := make([]int64, len(tlist))
		for i, k := range tlist {
			h := fnv.New64a()
			h.Write([]byte("omnihub.inventory.sellable:" + k))
			locks[i] = int64(h.Sum64())
		}
		sort.Slice(locks, func(i, j int) bool { return locks[i] < locks[j] })
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k`, locks); err != nil {
			return errs.Wrap(err, errs.Internal, "lock sellable computation")
		}
	}
	changedShops := map[string]bool{}
	const chunk = 300
	for len(tlist) > 0 {
		n := min(len(tlist), chunk)
		in, err := s.loadInputs(ctx, tx, "", tlist[:n], true)
		if err != nil {
			return err
		}
		if len(in.policies) == 0 {
			return nil
		}
		sell := in.compute(tlist[:n])
		now := s.now()
		var rows []markRow
		for _, p := range in.policies {
			for _, sku := range tlist[:n] {
				v := sell[p.ShopID][sku]
				if prev, ok := in.marks[[2]string{p.ShopID, sku}]; ok && prev == v {
					continue
				}
				rows = append(rows, markRow{p.ShopID, sku, v})
				changedShops[p.ShopID] = true
			}
		}
		if err := upsertMarks(ctx, tx, now, rows); err != nil {
			return err
		}
		tlist = tlist[n:]
	}
	if len(changedShops) > 0 && s.opts.OnMarked != nil {
		return s.opts.OnMarked(ctx, tx, keys(changedShops))
	}
	return nil
}

// markRow is one (shop, SKU) sellable number to mark for pushing.
type markRow struct {
	shopID, skuID string
	sellable      int64
}

// upsertMarks marks the rows in one statement per chunk, of constant text
// whatever the number of rows (json_each on SQLite, unnest on PostgreSQL),
// so that it is prepared once.
//
// Rows are written, and so locked on PostgreSQL, in (SKU, shop) order, the
// order acknowledgements lock them in too (AckPushesTx), so that the two
// cannot deadlock. markTx hands the SKUs over sorted, in chunks.
func upsertMarks(ctx context.Context, tx store.Tx, now time.Time, rows []markRow) error {
	slices.SortFunc(rows, func(a, b markRow) int {
		return cmp.Or(strings.Compare(a.skuID, b.skuID), strings.Compare(a.shopID, b.shopID))
	})
	const chunk = 500
	for len(rows) > 0 {
		part := rows[:min(len(rows), chunk)]
		rows = rows[len(part):]
		var err error
		if tx.Engine() == store.Postgres {
			shops, skus, sell := make([]string, len(part)), make([]string, len(part)), make([]int64, len(part))
			for i, r := range part {
				shops[i], skus[i], sell[i] = r.shopID, r.skuID, r.sellable
			}
			_, err = tx.Exec(ctx, `INSERT INTO stock_push_marks (shop_id, sku_id, sellable, marked_at, version, pushed_version)
				SELECT m.shop_id, m.sku_id, m.sellable, $4, 1, 0 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS m (shop_id, sku_id, sellable)
				ORDER BY m.sku_id, m.shop_id
				ON CONFLICT (shop_id, sku_id) DO UPDATE SET sellable = excluded.sellable, marked_at = excluded.marked_at,
					version = stock_push_marks.version + 1`, shops, skus, sell, now)
		} else {
			b := make([]byte, 0, 48*len(part)+2)
			b = append(b, '[')
			for i, r := range part {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, '[')
				b = appendJSONString(b, r.shopID)
				b = append(b, ',')
				b = appendJSONString(b, r.skuID)
				b = append(b, ',')
				b = strconv.AppendInt(b, r.sellable, 10)
				b = append(b, ']')
			}
			b = append(b, ']')
			// "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint.
			_, err = tx.Exec(ctx, `INSERT INTO stock_push_marks (shop_id, sku_id, sellable, marked_at, version, pushed_version)
				SELECT value->>0, value->>1, value->>2, $1, 1, 0 FROM json_each($2) WHERE true
				ON CONFLICT (shop_id, sku_id) DO UPDATE SET sellable = excluded.sellable, marked_at = excluded.marked_at,
					version = stock_push_marks.version + 1`, now, string(b))
		}
		if err != nil {
			return errs.Wrap(err, errs.Internal, "upsert push marks")
		}
	}
	return nil
}

// inputsQuery reads loadInputs' rows: the policies (of the shop given by
// the parameter after the need SKUs when byShop, else of every shop), the
// balances and overrides of the need SKUs ($1…$need) and, when marks > 0,
// the current push marks of that many SKUs (the last parameters). Every
// per-SKU part must probe an index by SKU (see TestAllocInputsProbe): the
// tables are keyed (shop, SKU), and a scan of the marks, one row per shop
// and SKU, ran in every marking transaction.
func inputsQuery(need int, byShop bool, marks int) string {
	n := need
	polWhere := ""
	if byShop {
		n++
		polWhere = " WHERE shop_id = $" + itoa(n)
	}
	needIn := inList(1, need)
	q := `SELECT 'p', shop_id, warehouse_ids, ratio_pct, safety_stock, cap, virtual_extra FROM inv_policies` + polWhere + `
		UNION ALL SELECT 'b', warehouse_id, sku_id, on_hand - reserved, NULL, NULL, NULL FROM inv_balances WHERE sku_id IN ` + needIn + `
		UNION ALL SELECT 'o', shop_id, sku_id, ratio_pct, safety_stock, cap, virtual_extra FROM inv_policy_overrides WHERE sku_id IN ` + needIn
	if marks > 0 {
		q += ` UNION ALL SELECT 'm', shop_id, sku_id, sellable, NULL, NULL, NULL FROM stock_push_marks WHERE sku_id IN ` + inList(n+1, marks)
	}
	return q
}

// sellInputs is everything the sellable numbers of some SKUs depend on.
type sellInputs struct {
	policies []Policy
	bundles  map[string][]Component
	avail    map[string]map[string]int64 // SKU → warehouse → on hand − reserved
	ovr      map[[2]string]*Override     // (shop, SKU)
	marks    map[[2]string]int64         // (shop, SKU) → marked sellable
}

// loadInputs reads policies (of one shop, or all), the targets' bundle
// structure, balances, overrides and (withMarks) current marks, in one query.
func (s *Service) loadInputs(ctx context.Context, tx store.Tx, shopID string, targets []string, withMarks bool) (*sellInputs, error) {
	in := &sellInputs{bundles: map[string][]Component{}, avail: map[string]map[string]int64{}, ovr: map[[2]string]*Override{}, marks: map[[2]string]int64{}}
	need := map[string]bool{}
	for _, k := range targets {
		cs, isBundle, err := s.opts.Bundles.ComponentsTx(ctx, tx, k)
		if errs.Is(err, errs.NotFound) {
			// Stock of a SKU the catalog does not know (yet): a simple SKU.
			cs, isBundle, err = nil, false, nil
		}
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "resolve bundle %s", k)
		}
		if isBundle {
			in.bundles[k] = mergeComponents(cs)
			for _, c := range cs {
				need[c.SKUID] = true
			}
		}
		need[k] = true
	}
	needList := keys(need)
	args := anys(needList)
	if shopID != "" {
		args = append(args, shopID)
	}
	nMarks := 0
	if withMarks {
		nMarks = len(targets)
		args = append(args, anys(targets)...)
	}
	rows, err := tx.Query(ctx, inputsQuery(len(needList), shopID != "", nMarks), args...)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "read allocation inputs")
	}
	defer rows.Close()
	for rows.Next() {
		var kind, a, b string
		var n1, n2, n3, n4 *int64
		if err := rows.Scan(&kind, &a, &b, &n1, &n2, &n3, &n4); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan allocation inputs")
		}
		switch kind {
		case "p":
			p := Policy{ShopID: a, RatioPct: deref(n1), SafetyStock: deref(n2), Cap: n3, VirtualExtra: deref(n4)}
			if b != "" {
				p.WarehouseIDs = strings.Split(b, ",")
			}
			in.policies = append(in.policies, p)
		case "b":
			if in.avail[b] == nil {
				in.avail[b] = map[string]int64{}
			}
			in.avail[b][a] = deref(n1)
		case "o":
			in.ovr[[2]string{a, b}] = &Override{ShopID: a, SKUID: b, RatioPct: n1, SafetyStock: n2, Cap: n3, VirtualExtra: n4}
		case "m":
			in.marks[[2]string{a, b}] = deref(n1)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, errs.Internal, "read allocation inputs")
	}
	sort.Slice(in.policies, func(i, j int) bool { return in.policies[i].ShopID < in.policies[j].ShopID })
	return in, nil
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// compute returns shop → SKU → sellable for the targets:
// a simple SKU applies the shop's effective policy to the stock of the
// warehouses it sells from; a bundle is the least, over its components, of
// floor(component sellable / quantity per bundle), capped by the bundle's
// own override cap.
func (in *sellInputs) compute(targets []string) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for _, p := range in.policies {
		m := map[string]int64{}
		simple := func(sku string) int64 {
			var pool int64
			for wh, a := range in.avail[sku] {
				if p.sellsFrom(wh) {
					pool += max(0, a)
				}
			}
			return p.effective(in.ovr[[2]string{p.ShopID, sku}]).Allocate(pool)
		}
		for _, k := range targets {
			cs, isBundle := in.bundles[k]
			if !isBundle {
				m[k] = simple(k)
				continue
			}
			v := int64(-1)
			for _, c := range cs {
				n := simple(c.SKUID) / c.Qty
				if v < 0 || n < v {
					v = n
				}
			}
			if o := in.ovr[[2]string{p.ShopID, k}]; o != nil && o.Cap != nil && v > *o.Cap {
				v = *o.Cap
			}
			m[k] = max(0, v)
		}
		out[p.ShopID] = m
	}
	return out
}

func inList(from, n int) string {
	var sb strings.Builder
	sb.WriteByte('(')
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('$')
		sb.WriteString(itoa(from + i))
	}
	sb.WriteByte(')')
	return sb.String()
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Sellable computes what a shop may sell of a SKU now (0 for a shop without
// a policy is not assumed: that is a not-found error).
func (s *Service) Sellable(ctx context.Context, shopID, skuID string) (int64, error) {
	var v int64
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		in, err := s.loadInputs(ctx, tx, shopID, []string{skuID}, false)
		if err != nil {
			return err
		}
		if len(in.policies) == 0 {
			return errs.E(errs.NotFound, "shop %s has no allocation policy", shopID)
		}
		v = in.compute([]string{skuID})[shopID][skuID]
		return nil
	})
	return v, err
}

// SellableAll computes a shop's sellable number for every SKU it has a push
// mark for or that has stock, sorted by SKU.
func (s *Service) SellableAll(ctx context.Context, shopID string) (map[string]int64, error) {
	var out map[string]int64
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		rows, err := tx.Query(ctx, `SELECT DISTINCT sku_id FROM inv_balances UNION SELECT sku_id FROM stock_push_marks WHERE shop_id = $1`, shopID)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "list SKUs")
		}
		var skus []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return errs.Wrap(err, errs.Internal, "scan SKU")
			}
			skus = append(skus, k)
		}
		rows.Close()
		out = map[string]int64{}
		if len(skus) == 0 {
			ps, err := loadPolicies(ctx, tx, shopID)
			if err == nil && len(ps) == 0 {
				err = errs.E(errs.NotFound, "shop %s has no allocation policy", shopID)
			}
			return err
		}
		for len(skus) > 0 {
			n := min(len(skus), 300)
			in, err := s.loadInputs(ctx, tx, shopID, skus[:n], false)
			if err != nil {
				return err
			}
			if len(in.policies) == 0 {
				return errs.E(errs.NotFound, "shop %s has no allocation policy", shopID)
			}
			for k, v := range in.compute(skus[:n])[shopID] {
				out[k] = v
			}
			skus = skus[n:]
		}
		return nil
	})
	return out, err
}

// PendingPushes returns marks of a shop not yet pushed (version > pushed_version).
func (s *Service) PendingPushes(ctx context.Context, shopID string, limit int) ([]PushMark, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.Query(ctx, `SELECT shop_id, sku_id, sellable, version, pushed_version, marked_at FROM stock_push_marks
		WHERE shop_id = $1 AND version > pushed_version ORDER BY sku_id LIMIT $2`, shopID, limit)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "read push marks")
	}
	defer rows.Close()
	var out []PushMark
	for rows.Next() {
		var m PushMark
		if err := rows.Scan(&m.ShopID, &m.SKUID, &m.Sellable, &m.Version, &m.PushedVersion, &m.MarkedAt); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan push mark")
		}
		out = append(out, m)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "read push marks")
}

// AckPush records that version of a mark was pushed. Acknowledging an older
// version than already acknowledged does nothing.
func (s *Service) AckPush(ctx context.Context, shopID, skuID string, version int64) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var cur, pushed int64
		err := tx.QueryRow(ctx, `SELECT version, pushed_version FROM stock_push_marks WHERE shop_id = $1 AND sku_id = $2`+forUpdate(tx), shopID, skuID).Scan(&cur, &pushed)
		if err != nil {
			return store.NotFoundIfNoRows(err, "no push mark for shop %s SKU %s", shopID, skuID)
		}
		if version > cur {
			return errs.E(errs.Invalid, "version %d of shop %s SKU %s was never marked (latest %d)", version, shopID, skuID, cur)
		}
		if version <= pushed {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE stock_push_marks SET pushed_version = $1 WHERE shop_id = $2 AND sku_id = $3`, version, shopID, skuID)
		return errs.Wrap(err, errs.Internal, "acknowledge push")
	})
}

// PushAck says version Version of a SKU's mark reached the channel.
type PushAck struct {
	SKUID   string
	Version int64
}

// AckPushesTx is AckPush for many SKUs of a shop in the caller's transaction
// (the sync engine records a round's pushes and acknowledges them in one
// write). A version never marked, or older than already acknowledged,
// changes nothing.
func (s *Service) AckPushesTx(ctx context.Context, tx store.Tx, shopID string, acks []PushAck) error {
	// One row per SKU, its highest version: an UPDATE … FROM that matched
	// a SKU twice would apply either.
	newest := make(map[string]int64, len(acks))
	for _, a := range acks {
		newest[a.SKUID] = max(newest[a.SKUID], a.Version)
	}
	acks = make([]PushAck, 0, len(newest))
	for k, v := range newest {
		acks = append(acks, PushAck{k, v})
	}
	// In SKU order, as the marking upsert locks them (see upsertMarks).
	slices.SortFunc(acks, func(a, b PushAck) int { return strings.Compare(a.SKUID, b.SKUID) })
	const chunk = 500
	for len(acks) > 0 {
		part := acks[:min(len(acks), chunk)]
		acks = acks[len(part):]
		var err error
		if tx.Engine() == store.Postgres {
			skus, vers := make([]string, len(part)), make([]int64, len(part))
			for i, a := range part {
				skus[i], vers[i] = a.SKUID, a.Version
			}
			// Lock the marks in SKU order first, the order the marking
			// upsert takes them in: an UPDATE … FROM locks rows in its
			// join's order, and the two deadlocked (each a one-second
			// deadlock_timeout stall of a marking transaction).
			_, err = tx.Exec(ctx, `SELECT 1 FROM stock_push_marks WHERE shop_id = $1 AND sku_id = ANY($2::text[])
				ORDER BY sku_id FOR UPDATE`, shopID, skus)
			if err == nil {
				_, err = tx.Exec(ctx, `UPDATE stock_push_marks m SET pushed_version = a.version
					FROM unnest($2::text[], $3::bigint[]) AS a (sku_id, version)
					WHERE m.shop_id = $1 AND m.sku_id = a.sku_id AND m.pushed_version < a.version AND m.version >= a.version`,
					shopID, skus, vers)
			}
		} else {
			// SQLite: one cached statement per row is an index lookup
			// each; an UPDATE … FROM json_each was planned as a scan.
			for _, a := range part {
				if _, err = tx.Exec(ctx, `UPDATE stock_push_marks SET pushed_version = $1
					WHERE shop_id = $2 AND sku_id = $3 AND pushed_version < $1 AND version >= $1`, a.Version, shopID, a.SKUID); err != nil {
					break
				}
			}
		}
		if err != nil {
			return errs.Wrap(err, errs.Internal, "acknowledge %d pushes of shop %s", len(part), shopID)
		}
	}
	return nil
}

// Available is on hand − reserved of a SKU in a warehouse (0 when unknown).
func (s *Service) Available(ctx context.Context, warehouseID, skuID string) (int64, error) {
	var a int64
	err := s.db.QueryRow(ctx, `SELECT on_hand - reserved FROM inv_balances WHERE warehouse_id = $1 AND sku_id = $2`, warehouseID, skuID).Scan(&a)
	if isNoRows(err) {
		return 0, nil
	}
	return a, errs.Wrap(err, errs.Internal, "read available")
}
