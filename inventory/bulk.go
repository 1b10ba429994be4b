package inventory

import (
	"context"
	"strconv"
	"time"
	"unicode/utf8"

	"omnihub/errs"
	"omnihub/store"
)

// Bulk writes of ledger rows and reservations, the hot path of group commit.
// Each engine gets the statement it prepares and binds cheapest: on
// PostgreSQL one array parameter per column, unnested; on SQLite one JSON
// array of rows, read with json_each. Both keep the statement text and the
// number of bound parameters constant whatever the batch size.

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

// insertLedgerSQLite appends the rows in one statement, in order (seq
// follows json_each's order, so each SKU's running figures stay in sequence).
func insertLedgerSQLite(ctx context.Context, tx store.Tx, at time.Time, rows []ledgerRow) error {
	b := make([]byte, 0, 128*len(rows)+2)
	b = append(b, '[')
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for _, s := range [...]string{r.m.WarehouseID, r.m.SKUID, r.m.Reason, r.m.Doc.Type, r.m.Doc.ID} {
			b = appendJSONString(b, s)
			b = append(b, ',')
		}
		for j, v := range [...]int64{int64(r.m.Doc.Line), r.m.Delta.OnHand, r.m.Delta.Reserved, r.m.Delta.InTransit, r.m.Delta.Defective,
			r.res.OnHand, r.res.Reserved, r.res.InTransit, r.res.Defective} {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, v, 10)
		}
		b = append(b, ']')
	}
	b = append(b, ']')
	_, err := tx.Exec(ctx, `INSERT INTO inv_ledger (at, warehouse_id, sku_id, reason, doc_type, doc_id, doc_line,
			d_on_hand, d_reserved, d_in_transit, d_defective, on_hand, reserved, in_transit, defective)
		SELECT ?1, value->>0, value->>1, value->>2, value->>3, value->>4, value->>5,
			value->>6, value->>7, value->>8, value->>9, value->>10, value->>11, value->>12, value->>13
		FROM jsonb_each(?2) ORDER BY key`, at, string(b))
	return err
}

// insertReservations claims the items' document lines; it returns the keys
// it inserted (a key already present is a repeat).
func (s *Service) insertReservations(ctx context.Context, tx store.Tx, its []*item) (map[resKey]bool, error) {
	inserted := make(map[resKey]bool, len(its))
	now := s.now()
	for len(its) > 0 {
		n := min(len(its), bulkChunk)
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

// insertReservationsSQLite inserts the rows in one statement: the rows go in
// as one JSON array (SQLite resolves numbered parameters by a linear search,
// so a long VALUES list costs more in the parser than in the B-tree, and a
// statement per SKU costs a prepare each).
func insertReservationsSQLite(ctx context.Context, tx store.Tx, now time.Time, its []*item) (store.Rows, error) {
	b := make([]byte, 0, 96*len(its)+2)
	b = append(b, '[')
	for i, it := range its {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = appendJSONString(b, it.key.docID)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(it.key.line), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, it.qty, 10)
		b = append(b, ',')
		b = appendJSONString(b, it.key.docType)
		b = append(b, ',')
		b = appendJSONString(b, it.key.sku)
		b = append(b, ',')
		b = appendJSONString(b, it.bal.wh)
		b = append(b, ',')
		b = appendJSONString(b, it.lineSKU)
		b = append(b, ',')
		b = strconv.AppendInt(b, it.perUnit, 10)
		b = append(b, ']')
	}
	b = append(b, ']')
	// "WHERE true" keeps SQLite from reading ON CONFLICT as a join constraint.
	return tx.Query(ctx, `INSERT INTO inv_reservations (doc_id, doc_type, doc_line, sku_id, warehouse_id, line_sku_id, per_unit, qty, open_qty, status, created_at, updated_at)
		SELECT value->>0, value->>3, value->>1, value->>4, value->>5, value->>6, value->>7, value->>2, value->>2, 'open', ?1, ?1
		FROM jsonb_each(?2) WHERE true
		ON CONFLICT DO NOTHING RETURNING doc_id, doc_type, doc_line, sku_id`,
		now, string(b))
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
