package inventory

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"time"

	"omnihub/errs"
	"omnihub/ids"
	"omnihub/store"
)

// move is one ledger row to write together with its balance change.
type move struct {
	WarehouseID string
	SKUID       string
	Reason      string
	Doc         DocRef
	Delta       Buckets
}

// forUpdate is the row-lock clause: PostgreSQL locks the rows read; SQLite
// has one writer, so the transaction already excludes every other writer.
func forUpdate(tx store.Tx) string {
	if tx.Engine() == store.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// applyMoves writes each move as a guarded balance update plus its ledger
// row, then re-marks sellable numbers of the SKUs touched. A move that would
// break an invariant (negative bucket, reserved above on hand) fails with a
// conflict naming the SKU, and the caller's transaction is rolled back.
func (s *Service) applyMoves(ctx context.Context, tx store.Tx, moves []move) error {
	touched, err := s.writeMoves(ctx, tx, moves)
	if err != nil {
		return err
	}
	return s.markTx(ctx, tx, touched)
}

// writeMoves is applyMoves without the re-marking: it returns the SKUs
// touched, for a caller that marks once for many moves (the move group).
func (s *Service) writeMoves(ctx context.Context, tx store.Tx, moves []move) ([]string, error) {
	if len(moves) == 0 {
		return nil, nil
	}
	now := s.now()
	touched := map[string]bool{}
	for _, m := range moves {
		if m.Delta.OnHand > 0 || m.Delta.InTransit > 0 || m.Delta.Defective > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO inv_balances (warehouse_id, sku_id, updated_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
				m.WarehouseID, m.SKUID, now); err != nil {
				return nil, errs.Wrap(err, errs.Internal, "create balance")
			}
		}
		var res Buckets
		err := tx.QueryRow(ctx, `UPDATE inv_balances SET on_hand = on_hand + $1, reserved = reserved + $2,
				in_transit = in_transit + $3, defective = defective + $4, updated_at = $5
			WHERE warehouse_id = $6 AND sku_id = $7
				AND on_hand + $1 >= 0 AND reserved + $2 >= 0 AND in_transit + $3 >= 0 AND defective + $4 >= 0
				AND (on_hand + $1) - (reserved + $2) >= 0
			RETURNING on_hand, reserved, in_transit, defective`,
			m.Delta.OnHand, m.Delta.Reserved, m.Delta.InTransit, m.Delta.Defective, now, m.WarehouseID, m.SKUID,
		).Scan(&res.OnHand, &res.Reserved, &res.InTransit, &res.Defective)
		if isNoRows(err) {
			return nil, s.moveRefused(ctx, tx, m)
		}
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "update balance")
		}
		if err := insertLedger(ctx, tx, now, []ledgerRow{{m, res}}); err != nil {
			return nil, err
		}
		touched[m.SKUID] = true
	}
	return keys(touched), nil
}

// moveRefused explains why a guarded update matched no row.
func (s *Service) moveRefused(ctx context.Context, tx store.Tx, m move) error {
	cur, ok, err := balanceTx(ctx, tx, m.WarehouseID, m.SKUID)
	if err != nil {
		return err
	}
	after := cur.add(m.Delta)
	var e *errs.Error
	switch {
	case !ok && m.Delta.Reserved > 0:
		return shortage(m.SKUID, m.WarehouseID, m.Delta.Reserved, 0)
	case !ok:
		e = errs.E(errs.Conflict, "no stock of SKU %s in warehouse %s for %s", m.SKUID, m.WarehouseID, m.Reason)
	case m.Delta.Reserved > 0 && after.OnHand-after.Reserved < 0:
		return shortage(m.SKUID, m.WarehouseID, m.Delta.Reserved, cur.OnHand-cur.Reserved)
	case after.OnHand-after.Reserved < 0 && after.OnHand >= 0:
		e = errs.E(errs.Conflict, "%s of SKU %s in warehouse %s would leave on hand %d below reserved %d; release reservations first",
			m.Reason, m.SKUID, m.WarehouseID, after.OnHand, after.Reserved)
	default:
		e = errs.E(errs.Conflict, "%s of SKU %s in warehouse %s would make a balance negative (on hand %d, reserved %d, in transit %d, defective %d)",
			m.Reason, m.SKUID, m.WarehouseID, after.OnHand, after.Reserved, after.InTransit, after.Defective)
	}
	e.Fields = map[string]string{"sku_id": m.SKUID, "warehouse_id": m.WarehouseID}
	return e
}

// requireStockable refuses stock of a bundle, which has none of its own
// (its components do); an SKU the catalog does not know is refused by the
// resolver with not found.
func (s *Service) requireStockable(ctx context.Context, tx store.Tx, skuID string) error {
	if skuID == "" {
		return errs.WithField("sku_id", "is required")
	}
	_, isBundle, err := s.opts.Bundles.ComponentsTx(ctx, tx, skuID)
	if err != nil {
		return err
	}
	if isBundle {
		e := errs.E(errs.Invalid, "%s is a bundle: it has no stock of its own; stock its components", skuID)
		e.Fields = map[string]string{"sku_id": "is a bundle"}
		return e
	}
	return nil
}

func balanceTx(ctx context.Context, tx store.Tx, warehouseID, skuID string) (Buckets, bool, error) {
	var b Buckets
	err := tx.QueryRow(ctx, `SELECT on_hand, reserved, in_transit, defective FROM inv_balances WHERE warehouse_id = $1 AND sku_id = $2`+forUpdate(tx),
		warehouseID, skuID).Scan(&b.OnHand, &b.Reserved, &b.InTransit, &b.Defective)
	if isNoRows(err) {
		return b, false, nil
	}
	if err != nil {
		return b, false, errs.Wrap(err, errs.Internal, "read balance")
	}
	return b, true, nil
}

type ledgerRow struct {
	m   move
	res Buckets
}

// placeholders writes "($k+1, …, $k+n)". On SQLite it writes anonymous "?"
// parameters instead: SQLite treats $N as a named parameter and resolves
// names by a linear search, which makes a statement with thousands of them
// cost quadratic time to prepare; "?" binds the same arguments by position.
func placeholders(sb *strings.Builder, e store.Engine, k, n int) {
	sb.WriteByte('(')
	for j := 1; j <= n; j++ {
		if j > 1 {
			sb.WriteByte(',')
		}
		if e == store.SQLite {
			sb.WriteByte('?')
			continue
		}
		sb.WriteByte('$')
		sb.WriteString(itoa(k + j))
	}
	sb.WriteByte(')')
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	var b [20]byte
	p := len(b)
	for i > 0 {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
	}
	return string(b[p:])
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isNoRows(err error) bool { return errors.Is(err, store.ErrNoRows) }

func positive(name string, q int64) error {
	if q <= 0 {
		return errs.WithField(name, "must be a positive quantity")
	}
	return nil
}

// ---- Warehouses and bins ----

// Warehouse is a place stock is kept. Priority and Provinces steer the
// routing of orders no rule routes (see WarehouseRoute).
type Warehouse struct {
	ID     string `json:"id"`
	Code   string `json:"code"`
	Name   string `json:"name"`
	Active bool   `json:"active"`
	// Priority orders warehouses for routing: lower is preferred
	// (DefaultWarehousePriority unless set; never negative).
	Priority int `json:"priority"`
	// Provinces are the GB/T 2260 province-level codes (2 digits, sorted)
	// of the provinces the warehouse serves; empty: none in particular.
	Provinces []string  `json:"provinces"`
	CreatedAt time.Time `json:"created_at"`
}

// Bin is a location inside a warehouse.
type Bin struct {
	ID          string    `json:"id"`
	WarehouseID string    `json:"warehouse_id"`
	Code        string    `json:"code"`
	CreatedAt   time.Time `json:"created_at"`
}

// CreateWarehouse adds a warehouse with the default priority and no
// provinces; codes are unique.
func (s *Service) CreateWarehouse(ctx context.Context, code, name string) (Warehouse, error) {
	return s.CreateWarehouseFrom(ctx, WarehouseInput{Code: code, Name: name})
}

// CreateWarehouseFrom adds a warehouse; codes are unique. Priority defaults
// to DefaultWarehousePriority and must not be negative; provinces are names
// (浙江省, 浙江) or GB/T 2260 codes (33, 330000) and are stored as 2-digit
// codes (an unknown one is errs.Invalid on field provinces).
func (s *Service) CreateWarehouseFrom(ctx context.Context, in WarehouseInput) (Warehouse, error) {
	code, name := strings.TrimSpace(in.Code), strings.TrimSpace(in.Name)
	if code == "" {
		return Warehouse{}, errs.WithField("code", "is required")
	}
	if name == "" {
		name = code
	}
	w := Warehouse{ID: ids.New(), Code: code, Name: name, Active: true, Priority: DefaultWarehousePriority, CreatedAt: s.now()}
	if in.Priority != nil {
		w.Priority = *in.Priority
	}
	if err := checkPriority(w.Priority); err != nil {
		return Warehouse{}, err
	}
	provinces, err := provinceCodes(in.Provinces)
	if err != nil {
		return Warehouse{}, err
	}
	w.Provinces = provinces
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO inv_warehouses (id, code, name, active, priority, provinces, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			w.ID, w.Code, w.Name, w.Active, w.Priority, joinProvinces(w.Provinces), w.CreatedAt)
		return err
	})
	if store.IsUniqueViolation(err) {
		return Warehouse{}, errs.E(errs.Conflict, "warehouse code %q already exists", code)
	}
	if err != nil {
		return Warehouse{}, errs.Wrap(err, errs.Internal, "create warehouse")
	}
	return w, nil
}

// Warehouses lists every warehouse by code.
func (s *Service) Warehouses(ctx context.Context) ([]Warehouse, error) {
	rows, err := s.db.Query(ctx, `SELECT `+warehouseCols+` FROM inv_warehouses ORDER BY code`)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list warehouses")
	}
	defer rows.Close()
	var out []Warehouse
	for rows.Next() {
		w, err := scanWarehouse(rows)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan warehouse")
		}
		out = append(out, w)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "list warehouses")
}

// Warehouse finds a warehouse by id or code.
func (s *Service) Warehouse(ctx context.Context, idOrCode string) (Warehouse, error) {
	return warehouseQ(ctx, s.db, idOrCode)
}

func warehouseQ(ctx context.Context, q store.Querier, idOrCode string) (Warehouse, error) {
	w, err := scanWarehouse(q.QueryRow(ctx, `SELECT `+warehouseCols+` FROM inv_warehouses WHERE id = $1 OR code = $1`, idOrCode))
	return w, store.NotFoundIfNoRows(err, "no warehouse %q", idOrCode)
}

// requireWarehouse returns the id of an existing warehouse given by id or code.
func requireWarehouse(ctx context.Context, tx store.Tx, idOrCode string) (string, error) {
	if idOrCode == "" {
		return "", errs.WithField("warehouse_id", "is required")
	}
	w, err := warehouseQ(ctx, tx, idOrCode)
	if err != nil {
		return "", err
	}
	return w.ID, nil
}

// AddBin adds a bin location to a warehouse.
func (s *Service) AddBin(ctx context.Context, warehouse, code string) (Bin, error) {
	code = strings.TrimSpace(code)
	if code == "" {
		return Bin{}, errs.WithField("code", "is required")
	}
	b := Bin{ID: ids.New(), Code: code, CreatedAt: s.now()}
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		wid, err := requireWarehouse(ctx, tx, warehouse)
		if err != nil {
			return err
		}
		b.WarehouseID = wid
		_, err = tx.Exec(ctx, `INSERT INTO inv_bins (id, warehouse_id, code, created_at) VALUES ($1, $2, $3, $4)`, b.ID, b.WarehouseID, b.Code, b.CreatedAt)
		if store.IsUniqueViolation(err) {
			return errs.E(errs.Conflict, "bin %q already exists in warehouse %s", code, warehouse)
		}
		return err
	})
	return b, err
}

// Bins lists a warehouse's bins.
func (s *Service) Bins(ctx context.Context, warehouse string) ([]Bin, error) {
	w, err := s.Warehouse(ctx, warehouse)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT id, warehouse_id, code, created_at FROM inv_bins WHERE warehouse_id = $1 ORDER BY code`, w.ID)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list bins")
	}
	defer rows.Close()
	var out []Bin
	for rows.Next() {
		var b Bin
		if err := rows.Scan(&b.ID, &b.WarehouseID, &b.Code, &b.CreatedAt); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan bin")
		}
		out = append(out, b)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "list bins")
}

// ---- Receive, adjust, stocktake ----

// ReceiveTx puts qty units of skuID on hand in a warehouse (given by id or code).
func (s *Service) ReceiveTx(ctx context.Context, tx store.Tx, doc DocRef, warehouse, skuID string, qty int64) error {
	touched, err := s.receive(ctx, tx, doc, warehouse, skuID, qty)
	if err != nil {
		return err
	}
	return s.markTx(ctx, tx, touched)
}

func (s *Service) receive(ctx context.Context, tx store.Tx, doc DocRef, warehouse, skuID string, qty int64) ([]string, error) {
	if err := positive("qty", qty); err != nil {
		return nil, err
	}
	if err := s.requireStockable(ctx, tx, skuID); err != nil {
		return nil, err
	}
	wid, err := requireWarehouse(ctx, tx, warehouse)
	if err != nil {
		return nil, err
	}
	return s.writeMoves(ctx, tx, []move{{WarehouseID: wid, SKUID: skuID, Reason: ReasonReceive, Doc: doc, Delta: Buckets{OnHand: qty}}})
}

// Receive is ReceiveTx in a transaction shared with concurrent single moves
// (see markMoved).
func (s *Service) Receive(ctx context.Context, doc DocRef, warehouse, skuID string, qty int64) error {
	return s.moves.Do(ctx, func(ctx context.Context, tx store.Tx) ([]string, error) {
		return s.receive(ctx, tx, doc, warehouse, skuID, qty)
	})
}

// Adjustment changes on-hand stock either by a delta (reason adjust) or to a
// counted quantity (reason stocktake). Exactly one of Delta and Counted is set.
type Adjustment struct {
	Doc         DocRef `json:"doc"`
	WarehouseID string `json:"warehouse_id"`
	SKUID       string `json:"sku_id"`
	Delta       *int64 `json:"delta,omitempty"`
	Counted     *int64 `json:"counted,omitempty"`
}

// AdjustTx applies an adjustment. A stocktake that finds fewer units than are
// reserved is refused: release or reallocate those reservations first, so
// that available never goes negative.
func (s *Service) AdjustTx(ctx context.Context, tx store.Tx, a Adjustment) error {
	touched, err := s.adjust(ctx, tx, a)
	if err != nil {
		return err
	}
	return s.markTx(ctx, tx, touched)
}

func (s *Service) adjust(ctx context.Context, tx store.Tx, a Adjustment) ([]string, error) {
	if a.SKUID == "" {
		return nil, errs.WithField("sku_id", "is required")
	}
	if (a.Delta == nil) == (a.Counted == nil) {
		return nil, errs.E(errs.Invalid, "give either delta or counted")
	}
	if err := s.requireStockable(ctx, tx, a.SKUID); err != nil {
		return nil, err
	}
	wid, err := requireWarehouse(ctx, tx, a.WarehouseID)
	if err != nil {
		return nil, err
	}
	m := move{WarehouseID: wid, SKUID: a.SKUID, Doc: a.Doc}
	if a.Delta != nil {
		if *a.Delta == 0 {
			return nil, errs.WithField("delta", "must not be zero")
		}
		m.Reason, m.Delta.OnHand = ReasonAdjust, *a.Delta
	} else {
		if *a.Counted < 0 {
			return nil, errs.WithField("counted", "must not be negative")
		}
		cur, _, err := balanceTx(ctx, tx, wid, a.SKUID)
		if err != nil {
			return nil, err
		}
		m.Reason, m.Delta.OnHand = ReasonStocktake, *a.Counted-cur.OnHand
		if m.Delta.OnHand == 0 {
			// The count agrees: record it anyway, so the ledger shows when
			// stock was last counted.
			if _, err := tx.Exec(ctx, `INSERT INTO inv_balances (warehouse_id, sku_id, updated_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
				wid, a.SKUID, s.now()); err != nil {
				return nil, errs.Wrap(err, errs.Internal, "create balance")
			}
			return nil, insertLedger(ctx, tx, s.now(), []ledgerRow{{m, cur}})
		}
	}
	return s.writeMoves(ctx, tx, []move{m})
}

// Adjust is AdjustTx in a transaction shared with concurrent single moves
// (see markMoved).
func (s *Service) Adjust(ctx context.Context, a Adjustment) error {
	return s.moves.Do(ctx, func(ctx context.Context, tx store.Tx) ([]string, error) {
		return s.adjust(ctx, tx, a)
	})
}

// ---- Release, ship, restock ----

func openReservations(ctx context.Context, tx store.Tx, docType, docID string, line int) ([]Reservation, error) {
	q := `SELECT doc_type, doc_id, doc_line, sku_id, warehouse_id, line_sku_id, per_unit, qty, open_qty, status, created_at, updated_at
		FROM inv_reservations WHERE doc_id = $1 AND doc_type = $2 AND open_qty > 0`
	args := []any{docID, docType}
	if line > 0 {
		q += ` AND doc_line = $3`
		args = append(args, int64(line))
	}
	q += ` ORDER BY doc_line, sku_id` + forUpdate(tx)
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "read reservations")
	}
	defer rows.Close()
	var out []Reservation
	for rows.Next() {
		r, err := scanReservation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "read reservations")
}

func scanReservation(rows store.Rows) (Reservation, error) {
	var r Reservation
	var line int64
	err := rows.Scan(&r.Doc.Type, &r.Doc.ID, &line, &r.SKUID, &r.WarehouseID, &r.LineSKUID, &r.PerUnit, &r.Qty, &r.OpenQty, &r.Status, &r.CreatedAt, &r.UpdatedAt)
	r.Doc.Line = int(line)
	return r, errs.Wrap(err, errs.Internal, "scan reservation")
}

// closeReservations takes qty units off each reservation's open quantity and
// moves the balances accordingly (release or ship).
func (s *Service) closeReservations(ctx context.Context, tx store.Tx, rs []Reservation, take []int64, reason string) error {
	now := s.now()
	var moves []move
	for i, r := range rs {
		q := take[i]
		if q <= 0 {
			continue
		}
		open := r.OpenQty - q
		status := StatusOpen
		if open == 0 {
			status = StatusReleased
			if reason == ReasonShip {
				status = StatusShipped
			}
		}
		n, err := tx.Exec(ctx, `UPDATE inv_reservations SET open_qty = $1, status = $2, updated_at = $3
			WHERE doc_id = $4 AND doc_type = $5 AND doc_line = $6 AND sku_id = $7 AND open_qty = $8`,
			open, status, now, r.Doc.ID, r.Doc.Type, int64(r.Doc.Line), r.SKUID, r.OpenQty)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "update reservation")
		}
		if n != 1 {
			return errs.E(errs.Conflict, "reservation %s of SKU %s changed concurrently", r.Doc, r.SKUID)
		}
		d := Buckets{Reserved: -q}
		if reason == ReasonShip {
			d.OnHand = -q
		}
		moves = append(moves, move{WarehouseID: r.WarehouseID, SKUID: r.SKUID, Reason: reason, Doc: r.Doc, Delta: d})
	}
	return s.applyMoves(ctx, tx, moves)
}

// ReleaseTx releases every open reservation of the document. Releasing a
// document with nothing open does nothing, so it is idempotent.
func (s *Service) ReleaseTx(ctx context.Context, tx store.Tx, docType, docID string) error {
	if err := validDoc(DocRef{Type: docType, ID: docID}, false); err != nil {
		return err
	}
	rs, err := openReservations(ctx, tx, docType, docID, 0)
	if err != nil {
		return err
	}
	take := make([]int64, len(rs))
	for i, r := range rs {
		take[i] = r.OpenQty
	}
	return s.closeReservations(ctx, tx, rs, take, ReasonRelease)
}

// ReleaseLineTx releases qty units (of the line's SKU; a bundle line releases
// qty × per-unit of each component) of one document line, at most what is
// still open.
func (s *Service) ReleaseLineTx(ctx context.Context, tx store.Tx, doc DocRef, qty int64) error {
	if err := validDoc(doc, true); err != nil {
		return err
	}
	if err := positive("qty", qty); err != nil {
		return err
	}
	rs, err := openReservations(ctx, tx, doc.Type, doc.ID, doc.Line)
	if err != nil {
		return err
	}
	take := make([]int64, len(rs))
	for i, r := range rs {
		take[i] = min(r.OpenQty, qty*r.PerUnit)
	}
	return s.closeReservations(ctx, tx, rs, take, ReasonRelease)
}

// ShipTx consumes the document's open reservations: on hand and reserved both
// go down by the reserved quantity. Idempotent like ReleaseTx.
func (s *Service) ShipTx(ctx context.Context, tx store.Tx, docType, docID string) error {
	if err := validDoc(DocRef{Type: docType, ID: docID}, false); err != nil {
		return err
	}
	rs, err := openReservations(ctx, tx, docType, docID, 0)
	if err != nil {
		return err
	}
	take := make([]int64, len(rs))
	for i, r := range rs {
		take[i] = r.OpenQty
	}
	return s.closeReservations(ctx, tx, rs, take, ReasonShip)
}

// RestockTx puts returned goods back: good units on hand, defective ones in
// the defective bucket. A bundle is restocked as its components. Each
// document line is restocked once; repeating the call does nothing.
func (s *Service) RestockTx(ctx context.Context, tx store.Tx, doc DocRef, warehouseID, skuID string, qty int64, defective bool) error {
	if err := validDoc(doc, true); err != nil {
		return err
	}
	if err := positive("qty", qty); err != nil {
		return err
	}
	if skuID == "" {
		return errs.WithField("sku_id", "is required")
	}
	wid, err := requireWarehouse(ctx, tx, warehouseID)
	if err != nil {
		return err
	}
	var done int
	err = tx.QueryRow(ctx, `SELECT COUNT(*) FROM inv_ledger WHERE doc_type = $1 AND doc_id = $2 AND doc_line = $3
		AND reason IN ('restock_good', 'restock_defective')`, doc.Type, doc.ID, int64(doc.Line)).Scan(&done)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "check restock")
	}
	if done > 0 {
		return nil
	}
	comps, isBundle, err := s.opts.Bundles.ComponentsTx(ctx, tx, skuID)
	if err != nil {
		return err
	}
	if !isBundle {
		comps = []Component{{SKUID: skuID, Qty: 1}}
	}
	reason, moves := ReasonRestockGood, make([]move, 0, len(comps))
	if defective {
		reason = ReasonRestockDefective
	}
	for _, c := range comps {
		d := Buckets{OnHand: qty * c.Qty}
		if defective {
			d = Buckets{Defective: qty * c.Qty}
		}
		moves = append(moves, move{WarehouseID: wid, SKUID: c.SKUID, Reason: reason, Doc: doc, Delta: d})
	}
	return s.applyMoves(ctx, tx, moves)
}

// ---- Transfers ----

// TransferLine is one SKU moving between warehouses.
type TransferLine struct {
	SKUID string `json:"sku_id"`
	Qty   int64  `json:"qty"`
}

// Transfer moves stock between warehouses: out of the source at once, in
// transit at the destination until received.
type Transfer struct {
	ID              string         `json:"id"`
	FromWarehouseID string         `json:"from_warehouse_id"`
	ToWarehouseID   string         `json:"to_warehouse_id"`
	Status          string         `json:"status"`
	Note            string         `json:"note,omitempty"`
	Lines           []TransferLine `json:"lines"`
	CreatedAt       time.Time      `json:"created_at"`
	ReceivedAt      *time.Time     `json:"received_at,omitempty"`
}

// Transfer states.
const (
	TransferInTransit = "in_transit"
	TransferReceived  = "received"
)

// TransferOutTx ships a transfer out of its source warehouse.
func (s *Service) TransferOutTx(ctx context.Context, tx store.Tx, from, to string, lines []TransferLine, note string) (Transfer, error) {
	if len(lines) == 0 {
		return Transfer{}, errs.WithField("lines", "at least one line is required")
	}
	fid, err := requireWarehouse(ctx, tx, from)
	if err != nil {
		return Transfer{}, err
	}
	tid, err := requireWarehouse(ctx, tx, to)
	if err != nil {
		return Transfer{}, err
	}
	if fid == tid {
		return Transfer{}, errs.E(errs.Invalid, "a transfer needs two different warehouses")
	}
	t := Transfer{ID: ids.New(), FromWarehouseID: fid, ToWarehouseID: tid, Status: TransferInTransit, Note: note, Lines: lines, CreatedAt: s.now()}
	if _, err := tx.Exec(ctx, `INSERT INTO inv_transfers (id, from_warehouse_id, to_warehouse_id, status, note, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.ID, fid, tid, t.Status, note, t.CreatedAt); err != nil {
		return Transfer{}, errs.Wrap(err, errs.Internal, "create transfer")
	}
	var moves []move
	for i, l := range lines {
		if l.SKUID == "" {
			return Transfer{}, errs.WithField("lines", "every line needs a sku_id")
		}
		if err := s.requireStockable(ctx, tx, l.SKUID); err != nil {
			return Transfer{}, err
		}
		if err := positive("qty", l.Qty); err != nil {
			return Transfer{}, err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO inv_transfer_lines (transfer_id, line, sku_id, qty) VALUES ($1, $2, $3, $4)`, t.ID, int64(i+1), l.SKUID, l.Qty); err != nil {
			return Transfer{}, errs.Wrap(err, errs.Internal, "create transfer line")
		}
		doc := DocRef{Type: "transfer", ID: t.ID, Line: i + 1}
		moves = append(moves,
			move{WarehouseID: fid, SKUID: l.SKUID, Reason: ReasonTransferOut, Doc: doc, Delta: Buckets{OnHand: -l.Qty}},
			move{WarehouseID: tid, SKUID: l.SKUID, Reason: ReasonTransferOut, Doc: doc, Delta: Buckets{InTransit: l.Qty}})
	}
	return t, s.applyMoves(ctx, tx, moves)
}

// TransferOut is TransferOutTx in a transaction of its own.
func (s *Service) TransferOut(ctx context.Context, from, to string, lines []TransferLine, note string) (t Transfer, err error) {
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		t, err = s.TransferOutTx(ctx, tx, from, to, lines, note)
		return err
	})
	return t, err
}

// TransferInTx receives a transfer at its destination: in transit becomes on
// hand. Receiving twice is a conflict.
func (s *Service) TransferInTx(ctx context.Context, tx store.Tx, transferID string) error {
	t, err := transferQ(ctx, tx, transferID)
	if err != nil {
		return err
	}
	now := s.now()
	n, err := tx.Exec(ctx, `UPDATE inv_transfers SET status = $1, received_at = $2 WHERE id = $3 AND status = $4`, TransferReceived, now, t.ID, TransferInTransit)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "receive transfer")
	}
	if n == 0 {
		return errs.E(errs.Conflict, "transfer %s is already %s", t.ID, t.Status)
	}
	var moves []move
	for i, l := range t.Lines {
		moves = append(moves, move{WarehouseID: t.ToWarehouseID, SKUID: l.SKUID, Reason: ReasonTransferIn,
			Doc: DocRef{Type: "transfer", ID: t.ID, Line: i + 1}, Delta: Buckets{InTransit: -l.Qty, OnHand: l.Qty}})
	}
	return s.applyMoves(ctx, tx, moves)
}

// TransferIn is TransferInTx in a transaction of its own.
func (s *Service) TransferIn(ctx context.Context, transferID string) error {
	return s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return s.TransferInTx(ctx, tx, transferID) })
}

// GetTransfer reads a transfer with its lines.
func (s *Service) GetTransfer(ctx context.Context, id string) (Transfer, error) {
	return transferQ(ctx, s.db, id)
}

func transferQ(ctx context.Context, q store.Querier, id string) (Transfer, error) {
	var t Transfer
	err := q.QueryRow(ctx, `SELECT id, from_warehouse_id, to_warehouse_id, status, note, created_at, received_at FROM inv_transfers WHERE id = $1`, id).
		Scan(&t.ID, &t.FromWarehouseID, &t.ToWarehouseID, &t.Status, &t.Note, &t.CreatedAt, &t.ReceivedAt)
	if err != nil {
		return t, store.NotFoundIfNoRows(err, "no transfer %q", id)
	}
	rows, err := q.Query(ctx, `SELECT sku_id, qty FROM inv_transfer_lines WHERE transfer_id = $1 ORDER BY line`, id)
	if err != nil {
		return t, errs.Wrap(err, errs.Internal, "read transfer lines")
	}
	defer rows.Close()
	for rows.Next() {
		var l TransferLine
		if err := rows.Scan(&l.SKUID, &l.Qty); err != nil {
			return t, errs.Wrap(err, errs.Internal, "scan transfer line")
		}
		t.Lines = append(t.Lines, l)
	}
	return t, errs.Wrap(rows.Err(), errs.Internal, "read transfer lines")
}

// markMoved is the move group's Finish: the sellable numbers of every SKU
// the transaction's moves touched are recomputed and marked once, not once
// per move. Under a stream of receipts and adjustments (a warehouse
// scanning, a stock sheet, a live-stream sale's restocks) this is most of a
// move's cost: reading every shop's policy and the SKU's balances, and
// upserting one mark per shop.
func (s *Service) markMoved(ctx context.Context, tx store.Tx, touched [][]string) error {
	var all []string
	for _, t := range touched {
		all = append(all, t...)
	}
	slices.Sort(all)
	return s.markTx(ctx, tx, slices.Compact(all))
}
