package inventory

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"time"

	"omnihub/errs"
	"omnihub/store"
)

// ReserveTx reserves every line in tx, all or nothing: bundles expand to their
// components, a document line already reserved is skipped (idempotent), and a
// shortage fails with an errs.Conflict whose fields name "sku_id".
func (s *Service) ReserveTx(ctx context.Context, tx store.Tx, lines []ReserveLine) error {
	res, err := s.reserveBatch(ctx, tx, [][]ReserveLine{lines})
	if err != nil {
		return err
	}
	return res[0]
}

// Reserve is ReserveTx in a transaction of its own.
func (s *Service) Reserve(ctx context.Context, lines []ReserveLine) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return s.ReserveTx(ctx, tx, lines) })
}

// errDeferred answers a request that must go into the next batch.
var errDeferred = errors.New("inventory: deferred to the next batch")

type balKey struct{ wh, sku string }

type resKey struct {
	docType, docID string
	line           int
	sku            string
}

// item is one component reservation of one request line.
type item struct {
	req     int
	key     resKey
	bal     balKey
	lineSKU string
	perUnit int64
	qty     int64
	doc     DocRef
	fresh   bool // inserted by this batch (not a repeat)
}

// reserveBatch applies independent reservation requests in one transaction.
// Each request is all or nothing and gets its own answer in results; a
// shortage in one does not affect the others. The balance rows are locked
// first (in key order), the decision is taken against the locked figures, and
// the balances then move by guarded conditional updates that re-check
// on_hand - reserved >= qty, so an oversell is impossible even if the
// decision were wrong. A non-nil error means the transaction must roll back.
func (s *Service) reserveBatch(ctx context.Context, tx store.Tx, reqs [][]ReserveLine) (results []error, err error) {
	results = make([]error, len(reqs))
	var items []item
	comps := map[string][]Component{}
	claimed := map[resKey]bool{}
	for i, lines := range reqs {
		its, err := s.expand(ctx, tx, i, lines, comps)
		if err != nil {
			if errs.CodeOf(err) == errs.Internal {
				return nil, err
			}
			results[i] = err
			continue
		}
		// Two requests of one batch naming the same document line: the
		// later one waits for the next batch, where it is a plain repeat.
		clash := false
		for _, it := range its {
			if claimed[it.key] {
				clash = true
				break
			}
		}
		if clash {
			results[i] = errDeferred
			continue
		}
		for _, it := range its {
			claimed[it.key] = true
		}
		items = append(items, its...)
	}
	if len(items) == 0 {
		return results, nil
	}

	// Claim the document lines first, before taking the balance locks, so
	// that on PostgreSQL this work overlaps with the batch holding them. A
	// key already present (committed before) is a repeat and reserves
	// nothing; a claim whose request then fails is withdrawn below.
	toInsert := make([]*item, len(items))
	for i := range items {
		toInsert[i] = &items[i]
	}
	inserted, err := s.insertReservations(ctx, tx, toInsert)
	if err != nil {
		return nil, err
	}
	for i := range items {
		items[i].fresh = inserted[items[i].key]
	}
	if err := s.checkRepeats(ctx, tx, items, results); err != nil {
		return nil, err
	}

	// Lock and read every balance involved, in a fixed order.
	balSet := map[balKey]bool{}
	for _, it := range items {
		balSet[it.bal] = true
	}
	bals := make([]balKey, 0, len(balSet))
	for k := range balSet {
		bals = append(bals, k)
	}
	sort.Slice(bals, func(i, j int) bool {
		if bals[i].wh != bals[j].wh {
			return bals[i].wh < bals[j].wh
		}
		return bals[i].sku < bals[j].sku
	})
	running := make(map[balKey]Buckets, len(bals))
	now := s.now()
	// One SKU (the hot case): try the guarded update for the whole batch
	// at once. When everything fits — nearly always — it both locks the row
	// and moves it, and the figures before it are the result minus the
	// total. Otherwise fall back to lock, decide request by request, move.
	var preapplied *balKey
	var preWant int64
	if len(bals) == 1 {
		var want int64
		for _, it := range items {
			if it.fresh && results[it.req] == nil {
				want += it.qty
			}
		}
		if want > 0 {
			k := bals[0]
			got, ok, err := guardedReserve(ctx, tx, k, want, now)
			if err != nil {
				return nil, err
			}
			if ok {
				got.Reserved -= want
				running[k] = got
				preapplied, preWant = &k, want
			}
		}
	}
	if preapplied == nil {
		locked, err := lockBalances(ctx, tx, bals)
		if err != nil {
			return nil, err
		}
		for _, k := range bals {
			running[k] = locked[k] // zero when the SKU was never stocked there
		}
	}

	// Decide request by request against the running balances.
	byReq := make([][]*item, len(reqs))
	for i := range items {
		byReq[items[i].req] = append(byReq[items[i].req], &items[i])
	}
	var ledger []ledgerRow
	var undo []*item
	total := map[balKey]int64{}
	for r, its := range byReq {
		if results[r] != nil {
			for _, it := range its {
				if it.fresh {
					undo = append(undo, it)
				}
			}
			continue
		}
		need := map[balKey]int64{}
		for _, it := range its {
			if it.fresh {
				need[it.bal] += it.qty
			}
		}
		for _, it := range its {
			if n := need[it.bal]; n > 0 {
				b := running[it.bal]
				if b.OnHand-b.Reserved < n {
					results[r] = shortage(it.bal.sku, it.bal.wh, n, max(0, b.OnHand-b.Reserved))
					break
				}
			}
		}
		if results[r] != nil {
			for _, it := range its {
				if it.fresh {
					undo = append(undo, it)
				}
			}
			continue
		}
		for _, it := range its {
			if !it.fresh {
				continue
			}
			b := running[it.bal]
			b.Reserved += it.qty
			running[it.bal] = b
			total[it.bal] += it.qty
			ledger = append(ledger, ledgerRow{m: move{WarehouseID: it.bal.wh, SKUID: it.bal.sku, Reason: ReasonReserve, Doc: it.doc,
				Delta: Buckets{Reserved: it.qty}}, res: b})
		}
	}
	for _, it := range undo {
		if _, err := tx.Exec(ctx, `DELETE FROM inv_reservations WHERE doc_id = $1 AND doc_type = $2 AND doc_line = $3 AND sku_id = $4`,
			it.key.docID, it.key.docType, int64(it.key.line), it.key.sku); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "withdraw reservation")
		}
	}
	if preapplied != nil && total[*preapplied] != preWant {
		// Everything fitted, so every request must have been granted.
		return nil, errs.E(errs.Internal, "batch granted %d of %d units reserved up front", total[*preapplied], preWant)
	}
	if len(ledger) == 0 {
		return results, nil
	}

	// Move the balances: one guarded update per (warehouse, SKU), all in
	// one statement; each row is re-checked against the decision.
	var touched []string
	moves := map[balKey]int64{}
	for _, k := range bals {
		if q := total[k]; q > 0 {
			touched = append(touched, k.sku)
			moves[k] = q
		}
	}
	if preapplied == nil && len(moves) > 0 {
		got, err := guardedReserveMany(ctx, tx, moves, now)
		if err != nil {
			return nil, err
		}
		for k := range moves {
			g, ok := got[k]
			if !ok {
				// The lock makes this unreachable; refuse rather than oversell.
				return nil, errs.E(errs.Internal, "guarded reserve of %d of SKU %s in %s refused under lock", moves[k], k.sku, k.wh)
			}
			if g != running[k] {
				return nil, errs.E(errs.Internal, "balance of SKU %s in %s moved under lock: %+v, expected %+v", k.sku, k.wh, g, running[k])
			}
		}
	}
	if err := insertLedger(ctx, tx, now, ledger); err != nil {
		return nil, err
	}
	return results, s.markTx(ctx, tx, touched)
}

// expand validates a request and turns its lines into component items.
func (s *Service) expand(ctx context.Context, tx store.Tx, req int, lines []ReserveLine, cache map[string][]Component) ([]item, error) {
	if len(lines) == 0 {
		return nil, errs.WithField("lines", "at least one line is required")
	}
	seen := map[DocRef]bool{}
	var out []item
	for _, l := range lines {
		if err := validDoc(l.Doc, true); err != nil {
			return nil, err
		}
		if seen[l.Doc] {
			return nil, errs.E(errs.Invalid, "document line %s appears twice", l.Doc)
		}
		seen[l.Doc] = true
		if l.SKUID == "" {
			return nil, errs.WithField("sku_id", "is required")
		}
		if l.WarehouseID == "" {
			return nil, errs.WithField("warehouse_id", "is required")
		}
		if err := positive("qty", l.Qty); err != nil {
			return nil, err
		}
		cs, ok := cache[l.SKUID]
		if !ok {
			c, isBundle, err := s.opts.Bundles.ComponentsTx(ctx, tx, l.SKUID)
			if c := errs.CodeOf(err); c == errs.NotFound || c == errs.Invalid {
				return nil, err // this request's SKU is unknown: its own answer
			}
			if err != nil {
				return nil, errs.Wrap(err, errs.Internal, "resolve bundle %s", l.SKUID)
			}
			if isBundle && len(c) == 0 {
				return nil, errs.E(errs.Invalid, "bundle %s has no components", l.SKUID)
			}
			if !isBundle {
				c = []Component{{SKUID: l.SKUID, Qty: 1}}
			}
			cs = mergeComponents(c)
			cache[l.SKUID] = cs
		}
		for _, c := range cs {
			if c.Qty <= 0 {
				return nil, errs.E(errs.Invalid, "bundle %s has a component %s with quantity %d", l.SKUID, c.SKUID, c.Qty)
			}
			out = append(out, item{req: req, key: resKey{l.Doc.Type, l.Doc.ID, l.Doc.Line, c.SKUID}, bal: balKey{l.WarehouseID, c.SKUID},
				lineSKU: l.SKUID, perUnit: c.Qty, qty: l.Qty * c.Qty, doc: l.Doc})
		}
	}
	return out, nil
}

// mergeComponents sums repeated components so that one line has one row per SKU.
func mergeComponents(cs []Component) []Component {
	idx := map[string]int{}
	var out []Component
	for _, c := range cs {
		if i, ok := idx[c.SKUID]; ok {
			out[i].Qty += c.Qty
			continue
		}
		idx[c.SKUID] = len(out)
		out = append(out, c)
	}
	return out
}

// checkRepeats makes a repeated document line answer like the first time it
// was reserved when it asks for the same thing, and refuses it (conflict)
// when it asks for something else under the same line.
func (s *Service) checkRepeats(ctx context.Context, tx store.Tx, items []item, results []error) error {
	for i := range items {
		it := &items[i]
		if it.fresh || results[it.req] != nil {
			continue
		}
		var qty int64
		var wh, lineSKU string
		err := tx.QueryRow(ctx, `SELECT qty, warehouse_id, line_sku_id FROM inv_reservations WHERE doc_id = $1 AND doc_type = $2 AND doc_line = $3 AND sku_id = $4`,
			it.key.docID, it.key.docType, int64(it.key.line), it.key.sku).Scan(&qty, &wh, &lineSKU)
		if isNoRows(err) {
			results[it.req] = errs.E(errs.Conflict, "document line %s is being reserved concurrently", it.doc)
			continue
		}
		if err != nil {
			return errs.Wrap(err, errs.Internal, "read reservation")
		}
		if qty != it.qty || wh != it.bal.wh || lineSKU != it.lineSKU {
			e := errs.E(errs.Conflict, "document line %s is already reserved as %d of %s in %s", it.doc, qty/max(1, it.perUnit), lineSKU, wh)
			e.Fields = map[string]string{"sku_id": it.lineSKU}
			results[it.req] = e
		}
	}
	return nil
}

// guardedReserve is the oversell guard: reserved grows by q only while
// on_hand - reserved >= q holds on the row as it is now (on PostgreSQL the
// update waits for a concurrent writer and re-checks the condition on the
// row it committed). ok is false when the stock does not suffice.
func guardedReserve(ctx context.Context, tx store.Tx, k balKey, q int64, now time.Time) (Buckets, bool, error) {
	var got Buckets
	err := tx.QueryRow(ctx, `UPDATE inv_balances SET reserved = reserved + $1, updated_at = $2
		WHERE warehouse_id = $3 AND sku_id = $4 AND on_hand - reserved >= $1
		RETURNING on_hand, reserved, in_transit, defective`, q, now, k.wh, k.sku).
		Scan(&got.OnHand, &got.Reserved, &got.InTransit, &got.Defective)
	if isNoRows(err) {
		return got, false, nil
	}
	if err != nil {
		return got, false, errs.Wrap(err, errs.Internal, "reserve stock")
	}
	return got, true, nil
}

// lockBalances reads (and on PostgreSQL locks, in key order) the balances
// of the keys in one statement; keys without a row are absent.
func lockBalances(ctx context.Context, tx store.Tx, keys []balKey) (map[balKey]Buckets, error) {
	out := make(map[balKey]Buckets, len(keys))
	if len(keys) == 1 {
		b, ok, err := balanceTx(ctx, tx, keys[0].wh, keys[0].sku)
		if ok {
			out[keys[0]] = b
		}
		return out, err
	}
	whs, skus := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		whs[i], skus[i] = k.wh, k.sku
	}
	var rows store.Rows
	var err error
	if tx.Engine() == store.Postgres {
		rows, err = tx.Query(ctx, `SELECT b.warehouse_id, b.sku_id, b.on_hand, b.reserved, b.in_transit, b.defective
			FROM inv_balances b JOIN unnest($1::text[], $2::text[]) AS v(w, s) ON b.warehouse_id = v.w AND b.sku_id = v.s
			ORDER BY b.warehouse_id, b.sku_id FOR UPDATE OF b`, whs, skus)
	} else {
		rows, err = tx.Query(ctx, `SELECT warehouse_id, sku_id, on_hand, reserved, in_transit, defective FROM inv_balances
			WHERE (warehouse_id, sku_id) IN (SELECT value->>0, value->>1 FROM json_each(?))`, pairsJSON(keys, nil))
	}
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "lock balances")
	}
	defer rows.Close()
	for rows.Next() {
		var k balKey
		var b Buckets
		if err := rows.Scan(&k.wh, &k.sku, &b.OnHand, &b.Reserved, &b.InTransit, &b.Defective); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan balance")
		}
		out[k] = b
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "lock balances")
}

// guardedReserveMany is guardedReserve for several balances in one
// statement; a key missing from the result was refused by its guard.
func guardedReserveMany(ctx context.Context, tx store.Tx, moves map[balKey]int64, now time.Time) (map[balKey]Buckets, error) {
	if len(moves) == 1 {
		for k, q := range moves {
			b, ok, err := guardedReserve(ctx, tx, k, q, now)
			out := map[balKey]Buckets{}
			if ok {
				out[k] = b
			}
			return out, err
		}
	}
	keys := make([]balKey, 0, len(moves))
	for k := range moves {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].wh != keys[j].wh {
			return keys[i].wh < keys[j].wh
		}
		return keys[i].sku < keys[j].sku
	})
	var rows store.Rows
	var err error
	if tx.Engine() == store.Postgres {
		whs, skus, qs := make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
		for i, k := range keys {
			whs[i], skus[i], qs[i] = k.wh, k.sku, moves[k]
		}
		rows, err = tx.Query(ctx, `UPDATE inv_balances b SET reserved = b.reserved + v.q, updated_at = $4
			FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(w, s, q)
			WHERE b.warehouse_id = v.w AND b.sku_id = v.s AND b.on_hand - b.reserved >= v.q
			RETURNING b.warehouse_id, b.sku_id, b.on_hand, b.reserved, b.in_transit, b.defective`, whs, skus, qs, now)
	} else {
		rows, err = tx.Query(ctx, `UPDATE inv_balances SET reserved = reserved + v.q, updated_at = ?1
			FROM (SELECT value->>0 AS w, value->>1 AS s, value->>2 AS q FROM json_each(?2)) AS v
			WHERE inv_balances.warehouse_id = v.w AND inv_balances.sku_id = v.s AND inv_balances.on_hand - inv_balances.reserved >= v.q
			RETURNING warehouse_id, sku_id, on_hand, reserved, in_transit, defective`, now, pairsJSON(keys, moves))
	}
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "reserve stock")
	}
	defer rows.Close()
	out := make(map[balKey]Buckets, len(keys))
	for rows.Next() {
		var k balKey
		var b Buckets
		if err := rows.Scan(&k.wh, &k.sku, &b.OnHand, &b.Reserved, &b.InTransit, &b.Defective); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan balance")
		}
		out[k] = b
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "reserve stock")
}

// pairsJSON encodes keys as [[warehouse, sku(, qty)], …] for json_each.
func pairsJSON(keys []balKey, qty map[balKey]int64) string {
	b := []byte{'['}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendJSONString(b, k.wh)
		b = append(b, ',')
		b = appendJSONString(b, k.sku)
		if qty != nil {
			b = append(b, ',')
			b = strconv.AppendInt(b, qty[k], 10)
		}
		b = append(b, ']')
	}
	return string(append(b, ']'))
}
