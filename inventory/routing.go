package inventory

import (
	"context"

	"omnihub/errs"
	"omnihub/store"
)

// WarehouseRoute is an active warehouse as order routing weighs it.
type WarehouseRoute struct {
	ID string
	// Priority: lower is preferred.
	Priority int
	// Provinces are the GB/T 2260 province codes (2 digits) the warehouse
	// serves; empty: none in particular.
	Provinces []string
}

// ActiveWarehousesTx lists the active warehouses with their priority and
// provinces, read in the caller's transaction, by priority (lower first),
// then the oldest first (created at, then id). Inactive warehouses are
// left out: routing sends them nothing.
func (s *Service) ActiveWarehousesTx(ctx context.Context, tx store.Tx) ([]WarehouseRoute, error) {
	rows, err := tx.Query(ctx, `SELECT id, priority, provinces FROM inv_warehouses WHERE active = $1 ORDER BY priority, created_at, id`, true)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list active warehouses")
	}
	defer rows.Close()
	var out []WarehouseRoute
	for rows.Next() {
		var w WarehouseRoute
		var provinces string
		if err := rows.Scan(&w.ID, &w.Priority, &provinces); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan warehouse")
		}
		w.Provinces = splitProvinces(provinces)
		out = append(out, w)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "list active warehouses")
}

// availableChunk bounds the SKUs of one balance query (placeholders).
const availableChunk = 500

// AvailableTx tells, in the caller's transaction, how many units of each
// SKU each warehouse could ship now: on hand − reserved, the figure a
// reservation is checked against; a bundle is the least, over its
// components, of floor(component available / quantity per bundle). The
// answer is by warehouse id, then SKU id; a missing pair is 0. It takes no
// lock: a reservation decides for good.
func (s *Service) AvailableTx(ctx context.Context, tx store.Tx, warehouseIDs, skuIDs []string) (map[string]map[string]int64, error) {
	out := make(map[string]map[string]int64, len(warehouseIDs))
	if len(warehouseIDs) == 0 || len(skuIDs) == 0 {
		return out, nil
	}
	bundles := map[string][]Component{}
	need := map[string]bool{}
	for _, k := range skuIDs {
		cs, isBundle, err := s.opts.Bundles.ComponentsTx(ctx, tx, k)
		if c := errs.CodeOf(err); c == errs.NotFound || c == errs.Invalid {
			// A SKU the catalog does not know: its own balance, if any.
			cs, isBundle, err = nil, false, nil
		}
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "resolve bundle %s", k)
		}
		if isBundle {
			bundles[k] = mergeComponents(cs)
			for _, c := range cs {
				need[c.SKUID] = true
			}
			continue
		}
		need[k] = true
	}
	bal := map[balKey]int64{}
	needList := keys(need)
	for start := 0; start < len(needList); start += availableChunk {
		chunk := needList[start:min(start+availableChunk, len(needList))]
		args := append(anys(warehouseIDs), anys(chunk)...)
		rows, err := tx.Query(ctx, `SELECT warehouse_id, sku_id, on_hand - reserved FROM inv_balances WHERE warehouse_id IN `+
			inList(1, len(warehouseIDs))+` AND sku_id IN `+inList(len(warehouseIDs)+1, len(chunk)), args...)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "read available stock")
		}
		for rows.Next() {
			var k balKey
			var n int64
			if err := rows.Scan(&k.wh, &k.sku, &n); err != nil {
				rows.Close()
				return nil, errs.Wrap(err, errs.Internal, "scan available stock")
			}
			bal[k] = max(n, 0)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "read available stock")
		}
	}
	for _, w := range warehouseIDs {
		m := make(map[string]int64, len(skuIDs))
		for _, k := range skuIDs {
			cs, isBundle := bundles[k]
			if !isBundle {
				m[k] = bal[balKey{w, k}]
				continue
			}
			n := int64(-1)
			for _, c := range cs {
				if c.Qty <= 0 {
					continue
				}
				if v := bal[balKey{w, c.SKUID}] / c.Qty; n < 0 || v < n {
					n = v
				}
			}
			m[k] = max(n, 0)
		}
		out[w] = m
	}
	return out, nil
}
