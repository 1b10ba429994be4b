package inventory

import (
	"context"
	"strconv"

	"omnihub/errs"
)

// Balance returns one balance (zeros when the SKU was never stocked there).
func (s *Service) Balance(ctx context.Context, warehouseID, skuID string) (Balance, error) {
	b := Balance{WarehouseID: warehouseID, SKUID: skuID}
	err := s.db.QueryRow(ctx, `SELECT on_hand, reserved, in_transit, defective, updated_at FROM inv_balances WHERE warehouse_id = $1 AND sku_id = $2`,
		warehouseID, skuID).Scan(&b.OnHand, &b.Reserved, &b.InTransit, &b.Defective, &b.UpdatedAt)
	if isNoRows(err) {
		return b, nil
	}
	b.Available = b.OnHand - b.Reserved
	return b, errs.Wrap(err, errs.Internal, "read balance")
}

// BalanceQuery filters Balances; Cursor continues a previous page.
type BalanceQuery struct {
	WarehouseID string
	SKUID       string
	Cursor      string
	Limit       int
}

// Balances lists balances by (warehouse, SKU), a page at a time.
func (s *Service) Balances(ctx context.Context, q BalanceQuery) ([]Balance, string, error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	query := `SELECT warehouse_id, sku_id, on_hand, reserved, in_transit, defective, updated_at FROM inv_balances WHERE 1 = 1`
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if q.WarehouseID != "" {
		query += ` AND warehouse_id = ` + arg(q.WarehouseID)
	}
	if q.SKUID != "" {
		query += ` AND sku_id = ` + arg(q.SKUID)
	}
	if q.Cursor != "" {
		wh, sku, ok := cutCursor(q.Cursor)
		if !ok {
			return nil, "", errs.WithField("cursor", "malformed")
		}
		query += ` AND (warehouse_id > ` + arg(wh) + ` OR (warehouse_id = ` + arg(wh) + ` AND sku_id > ` + arg(sku) + `))`
	}
	query += ` ORDER BY warehouse_id, sku_id LIMIT ` + arg(q.Limit)
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, "", errs.Wrap(err, errs.Internal, "list balances")
	}
	defer rows.Close()
	var out []Balance
	for rows.Next() {
		var b Balance
		if err := rows.Scan(&b.WarehouseID, &b.SKUID, &b.OnHand, &b.Reserved, &b.InTransit, &b.Defective, &b.UpdatedAt); err != nil {
			return nil, "", errs.Wrap(err, errs.Internal, "scan balance")
		}
		b.Available = b.OnHand - b.Reserved
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, "", errs.Wrap(err, errs.Internal, "list balances")
	}
	next := ""
	if len(out) == q.Limit {
		last := out[len(out)-1]
		next = last.WarehouseID + "|" + last.SKUID
	}
	return out, next, nil
}

func cutCursor(c string) (string, string, bool) {
	for i := 0; i < len(c); i++ {
		if c[i] == '|' {
			return c[:i], c[i+1:], true
		}
	}
	return "", "", false
}

// LedgerQuery filters the ledger; Cursor is the last seq seen.
type LedgerQuery struct {
	WarehouseID string
	SKUID       string
	DocType     string
	DocID       string
	Cursor      string
	Limit       int
}

// Ledger lists ledger rows in seq order, a page at a time; next is the
// cursor of the following page ("" at the end).
func (s *Service) Ledger(ctx context.Context, q LedgerQuery) (entries []LedgerEntry, next string, err error) {
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	query, args, err := ledgerQuery(q)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, "", errs.Wrap(err, errs.Internal, "read ledger")
	}
	defer rows.Close()
	for rows.Next() {
		var e LedgerEntry
		var line int64
		if err := rows.Scan(&e.Seq, &e.At, &e.WarehouseID, &e.SKUID, &e.Reason, &e.Doc.Type, &e.Doc.ID, &line,
			&e.Delta.OnHand, &e.Delta.Reserved, &e.Delta.InTransit, &e.Delta.Defective,
			&e.Result.OnHand, &e.Result.Reserved, &e.Result.InTransit, &e.Result.Defective); err != nil {
			return nil, "", errs.Wrap(err, errs.Internal, "scan ledger")
		}
		e.Doc.Line = int(line)
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", errs.Wrap(err, errs.Internal, "read ledger")
	}
	if len(entries) == q.Limit {
		next = strconv.FormatInt(entries[len(entries)-1].Seq, 10)
	}
	return entries, next, nil
}

// Reservations lists a document's reservations, open or not.
func (s *Service) Reservations(ctx context.Context, docType, docID string) ([]Reservation, error) {
	rows, err := s.db.Query(ctx, `SELECT doc_type, doc_id, doc_line, sku_id, warehouse_id, line_sku_id, per_unit, qty, open_qty, status, created_at, updated_at
		FROM inv_reservations WHERE doc_id = $1 AND doc_type = $2 ORDER BY doc_line, sku_id`, docID, docType)
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

// ledgerQuery builds Ledger's statement. A page by SKU searches
// inv_ledger_sku (sku_id, seq), by document inv_ledger_doc (doc_id,
// doc_type): neither reads more than the page (TestLedgerQueriesProbe).
func ledgerQuery(q LedgerQuery) (string, []any, error) {
	query := `SELECT seq, at, warehouse_id, sku_id, reason, doc_type, doc_id, doc_line, d_on_hand, d_reserved, d_in_transit, d_defective,
		on_hand, reserved, in_transit, defective FROM inv_ledger WHERE 1 = 1`
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if q.SKUID != "" {
		query += ` AND sku_id = ` + arg(q.SKUID)
	}
	if q.WarehouseID != "" {
		query += ` AND warehouse_id = ` + arg(q.WarehouseID)
	}
	if q.DocType != "" {
		query += ` AND doc_type = ` + arg(q.DocType)
	}
	if q.DocID != "" {
		query += ` AND doc_id = ` + arg(q.DocID)
	}
	if q.Cursor != "" {
		after, err := strconv.ParseInt(q.Cursor, 10, 64)
		if err != nil {
			return "", nil, errs.WithField("cursor", "malformed")
		}
		query += ` AND seq > ` + arg(after)
	}
	query += ` ORDER BY seq LIMIT ` + arg(q.Limit)
	return query, args, nil
}
