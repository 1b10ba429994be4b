package inventory

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"omnihub/errs"
	"omnihub/store"
)

// Bulk writes of ledger rows and reservations, the hot path of group commit.
// Each engine gets the statements it prepares and binds cheapest: on
// PostgreSQL one array parameter per column, unnested; on SQLite multi-row
// VALUES in statements of 64, 32, … 1 rows. Either way the statement texts
// are few and fixed, so each is prepared once whatever the batch size.

const bulkChunk = 1000

// insertLedger appends rows to the ledger.
func insertLedger(ctx context.Context, tx store.Tx, at time.Time, rows []ledgerRow) error {
	for len(rows) > 0 {
		n := min(len(rows), bulkChunk)
		var err error
		if tx.Engine() == store.Postgres {
			err = insertLedgerPG(ctx, tx, at, rows[:n])
		} else {
			err = insertLedgerSQLite(ctx, tx, at, rows[:n])
		}
		if err != nil {
			return errs.Wrap(err, errs.Internal, "append ledger")
		}
		rows = rows[n:]
	}
	return nil
}

func insertLedgerPG(ctx context.Context, tx store.Tx, at time.Time, rows []ledgerRow) error {
	n := len(rows)
	wh, sku, reason, dt, did := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	nums := make([][]int64, 9)
	for i := range nums {
		nums[i] = make([]int64, n)
	}
	for i, r := range rows {
		wh[i], sku[i], reason[i], dt[i], did[i] = r.m.WarehouseID, r.m.SKUID, r.m.Reason, r.m.Doc.Type, r.m.Doc.ID
		for j, v := range [9]int64{int64(r.m.Doc.Line), r.m.Delta.OnHand, r.m.Delta.Reserved, r.m.Delta.InTransit, r.m.Delta.Defective,
			r.res.OnHand, r.res.Reserved, r.res.InTransit, r.res.Defective} {
			nums[j][i] = v
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO inv_ledger (at, warehouse_id, sku_id, reason, doc_type, doc_id, doc_line,
			d_on_hand, d_reserved, d_in_transit, d_defective, on_hand, reserved, in_transit, defective)
		SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
			$8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[])`,
		at, wh, sku, reason, dt, did, nums[0], nums[1], nums[2], nums[3], nums[4], nums[5], nums[6], nums[7], nums[8])
	return err
}

// insertLedgerSQLite appends the rows in order (seq follows the rows'
// order, so each SKU's running figures stay in sequence), in statements of
// a fixed number of rows so that each is prepared once (see sqliteChunks).
func insertLedgerSQLite(ctx context.Context, tx store.Tx, at time.Time, rows []ledgerRow) error {
	const cols = 15
	for _, n := range sqliteChunks(len(rows)) {
		args := make([]any, 0, n*cols)
		for _, r := range rows[:n] {
			args = append(args, at, r.m.WarehouseID, r.m.SKUID, r.m.Reason, r.m.Doc.Type, r.m.Doc.ID, r.m.Doc.Line,
				r.m.Delta.OnHand, r.m.Delta.Reserved, r.m.Delta.InTransit, r.m.Delta.Defective,
				r.res.OnHand, r.res.Reserved, r.res.InTransit, r.res.Defective)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO inv_ledger (at, warehouse_id, sku_id, reason, doc_type, doc_id, doc_line,
			d_on_hand, d_reserved, d_in_transit, d_defective, on_hand, reserved, in_transit, defective) VALUES `+valueRows(n, cols), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// sqliteChunks splits n rows into statements of 64, 32, 16, … rows: at most
// seven distinct statement texts per table, each prepared once and cached.
func sqliteChunks(n int) []int {
	var out []int
	for n > 0 {
		c := 64
		for c > n {
			c /= 2
		}
		out = append(out, c)
		n -= c
	}
	return out
}

// valueRows is "(?,?,…),(?,?,…)…": n rows of cols anonymous parameters.
func valueRows(n, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", n), ",")
}

// insertReservations claims the items' document lines; it returns the keys
// it inserted (a key already present is a repeat).
func (s *Service) insertReservations(ctx context.Context, tx store.Tx, its []*item) (map[resKey]bool, error) {
	inserted := make(map[resKey]bool, len(its))
	now := s.now()
	for len(its) > 0 {
		n := min(len(its), bulkChunk)
		if tx.Engine() == store.SQLite {
			n = sqliteChunks(len(its))[0]
		}
		var rows store.Rows
		var err error
		if tx.Engine() == store.Postgres {
			rows, err = insertReservationsPG(ctx, tx, now, its[:n])
		} else {
			rows, err = insertReservationsSQLite(ctx, tx, now, its[:n])
		}
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "insert reservations")
		}
		for rows.Next() {
			var k resKey
			var line int64
			if err := rows.Scan(&k.docID, &k.docType, &line, &k.sku); err != nil {
				rows.Close()
				return nil, errs.Wrap(err, errs.Internal, "scan reservation key")
			}
			k.line = int(line)
			inserted[k] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "insert reservations")
		}
		its = its[n:]
	}
	return inserted, nil
}

func insertReservationsPG(ctx context.Context, tx store.Tx, now time.Time, its []*item) (store.Rows, error) {
	n := len(its)
	did, dt, sku, wh, lsku := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	line, per, qty := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, it := range its {
		did[i], dt[i], sku[i], wh[i], lsku[i] = it.key.docID, it.key.docType, it.key.sku, it.bal.wh, it.lineSKU
		line[i], per[i], qty[i] = int64(it.key.line), it.perUnit, it.qty
	}
	return tx.Query(ctx, `INSERT INTO inv_reservations (doc_id, doc_type, doc_line, sku_id, warehouse_id, line_sku_id, per_unit, qty, open_qty, status, created_at, updated_at)
		SELECT d, t, l, s, w, ls, pu, q, q, 'open', $9, $9
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[]) AS x(d, t, l, s, w, ls, pu, q)
		ON CONFLICT DO NOTHING RETURNING doc_id, doc_type, doc_line, sku_id`,
		did, dt, line, sku, wh, lsku, per, qty, now)
}

// insertReservationsSQLite inserts the rows in one statement of a fixed
// number of rows (see sqliteChunks).
func insertReservationsSQLite(ctx context.Context, tx store.Tx, now time.Time, its []*item) (store.Rows, error) {
	const cols = 12
	args := make([]any, 0, len(its)*cols)
	for _, it := range its {
		args = append(args, it.key.docID, it.key.docType, it.key.line, it.key.sku, it.bal.wh, it.lineSKU, it.perUnit, it.qty, it.qty, "open", now, now)
	}
	return tx.Query(ctx, `INSERT INTO inv_reservations (doc_id, doc_type, doc_line, sku_id, warehouse_id, line_sku_id, per_unit, qty, open_qty, status, created_at, updated_at)
		VALUES `+valueRows(len(its), cols)+`
		ON CONFLICT DO NOTHING RETURNING doc_id, doc_type, doc_line, sku_id`, args...)
}

// multiRows reads several result sets one after the other.
type multiRows []store.Rows

func (m *multiRows) Next() bool {
	for len(*m) > 0 {
		if (*m)[0].Next() {
			return true
		}
		if (*m)[0].Err() != nil {
			return false
		}
		(*m)[0].Close()
		*m = (*m)[1:]
	}
	return false
}

func (m *multiRows) Scan(dest ...any) error { return (*m)[0].Scan(dest...) }

func (m *multiRows) Err() error {
	if len(*m) > 0 {
		return (*m)[0].Err()
	}
	return nil
}

func (m *multiRows) Close() error {
	for _, r := range *m {
		r.Close()
	}
	*m = nil
	return nil
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
