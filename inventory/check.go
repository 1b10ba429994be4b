package inventory

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"omnihub/errs"
	"omnihub/store"
)

// Violation is one broken stock invariant.
type Violation struct {
	// Kind: ledger_mismatch, ledger_result_mismatch, reserved_mismatch,
	// negative, ledger_without_balance.
	Kind        string `json:"kind"`
	WarehouseID string `json:"warehouse_id"`
	SKUID       string `json:"sku_id"`
	Bucket      string `json:"bucket,omitempty"`
	Want        int64  `json:"want"`
	Got         int64  `json:"got"`
	Message     string `json:"message"`
}

// Report is the outcome of Check.
type Report struct {
	Balances     int         `json:"balances"`
	LedgerRows   int64       `json:"ledger_rows"`
	Reservations int64       `json:"open_reservations"`
	Violations   []Violation `json:"violations"`
}

// OK reports whether every invariant holds.
func (r Report) OK() bool { return len(r.Violations) == 0 }

// Err is nil for a clean report and a conflict listing the violations otherwise.
func (r Report) Err() error {
	if r.OK() {
		return nil
	}
	msgs := make([]string, len(r.Violations))
	for i, v := range r.Violations {
		msgs[i] = v.Message
	}
	return errs.E(errs.Conflict, "stock check found %d violation(s): %s", len(r.Violations), strings.Join(msgs, "; "))
}

// Check proves the stock invariants on a consistent snapshot:
//   - every balance bucket equals the sum of its ledger deltas;
//   - every balance equals the resulting balance of its latest ledger row;
//   - reserved equals the sum of open reservations;
//   - no bucket is negative and on hand is never below reserved.
func (s *Service) Check(ctx context.Context) (Report, error) {
	var rep Report
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		rep = Report{}
		if tx.Engine() == store.Postgres {
			// One snapshot for every query below.
			if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`); err != nil {
				return errs.Wrap(err, errs.Internal, "check: set isolation")
			}
		}
		return s.check(ctx, tx, &rep)
	})
	return rep, err
}

type bkey = balKey

func (s *Service) check(ctx context.Context, tx store.Tx, rep *Report) error {
	bal := map[bkey]Buckets{}
	rows, err := tx.Query(ctx, `SELECT warehouse_id, sku_id, on_hand, reserved, in_transit, defective FROM inv_balances`)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "check: read balances")
	}
	for rows.Next() {
		var k bkey
		var b Buckets
		if err := rows.Scan(&k.wh, &k.sku, &b.OnHand, &b.Reserved, &b.InTransit, &b.Defective); err != nil {
			rows.Close()
			return errs.Wrap(err, errs.Internal, "check: scan balance")
		}
		bal[k] = b
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return errs.Wrap(err, errs.Internal, "check: read balances")
	}
	rep.Balances = len(bal)

	sums := map[bkey]Buckets{}
	rows, err = tx.Query(ctx, `SELECT warehouse_id, sku_id, COUNT(*), SUM(d_on_hand), SUM(d_reserved), SUM(d_in_transit), SUM(d_defective), MAX(seq)
		FROM inv_ledger GROUP BY warehouse_id, sku_id`)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "check: sum ledger")
	}
	lastSeq := map[bkey]int64{}
	for rows.Next() {
		var k bkey
		var b Buckets
		var n, seq int64
		if err := rows.Scan(&k.wh, &k.sku, &n, &b.OnHand, &b.Reserved, &b.InTransit, &b.Defective, &seq); err != nil {
			rows.Close()
			return errs.Wrap(err, errs.Internal, "check: scan ledger sum")
		}
		sums[k] = b
		lastSeq[k] = seq
		rep.LedgerRows += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return errs.Wrap(err, errs.Internal, "check: sum ledger")
	}

	open := map[bkey]int64{}
	rows, err = tx.Query(ctx, `SELECT warehouse_id, sku_id, COUNT(*), SUM(open_qty) FROM inv_reservations WHERE open_qty > 0 GROUP BY warehouse_id, sku_id`)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "check: sum reservations")
	}
	for rows.Next() {
		var k bkey
		var n, q int64
		if err := rows.Scan(&k.wh, &k.sku, &n, &q); err != nil {
			rows.Close()
			return errs.Wrap(err, errs.Internal, "check: scan reservations")
		}
		open[k] = q
		rep.Reservations += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return errs.Wrap(err, errs.Internal, "check: sum reservations")
	}

	add := func(v Violation) { rep.Violations = append(rep.Violations, v) }
	all := map[bkey]bool{}
	for k := range bal {
		all[k] = true
	}
	for k := range sums {
		all[k] = true
	}
	for k := range open {
		all[k] = true
	}
	ordered := make([]bkey, 0, len(all))
	for k := range all {
		ordered = append(ordered, k)
	}
	sort.Slice(ordered, func(i, j int) bool {
		if ordered[i].wh != ordered[j].wh {
			return ordered[i].wh < ordered[j].wh
		}
		return ordered[i].sku < ordered[j].sku
	})
	for _, k := range ordered {
		b, hasBal := bal[k]
		sum := sums[k]
		if !hasBal {
			if sum != (Buckets{}) {
				add(Violation{Kind: "ledger_without_balance", WarehouseID: k.wh, SKUID: k.sku,
					Message: fmt.Sprintf("warehouse %s SKU %s: ledger rows sum to %+v but there is no balance row", k.wh, k.sku, sum)})
			}
		}
		for _, c := range []struct {
			name      string
			got, want int64
		}{{"on_hand", b.OnHand, sum.OnHand}, {"reserved", b.Reserved, sum.Reserved}, {"in_transit", b.InTransit, sum.InTransit}, {"defective", b.Defective, sum.Defective}} {
			if hasBal && c.got != c.want {
				add(Violation{Kind: "ledger_mismatch", WarehouseID: k.wh, SKUID: k.sku, Bucket: c.name, Want: c.want, Got: c.got,
					Message: fmt.Sprintf("warehouse %s SKU %s: %s is %d but the ledger sums to %d (difference %+d)", k.wh, k.sku, c.name, c.got, c.want, c.got-c.want)})
			}
			if c.got < 0 {
				add(Violation{Kind: "negative", WarehouseID: k.wh, SKUID: k.sku, Bucket: c.name, Got: c.got,
					Message: fmt.Sprintf("warehouse %s SKU %s: %s is negative (%d)", k.wh, k.sku, c.name, c.got)})
			}
		}
		if b.OnHand-b.Reserved < 0 {
			add(Violation{Kind: "negative", WarehouseID: k.wh, SKUID: k.sku, Bucket: "available", Got: b.OnHand - b.Reserved,
				Message: fmt.Sprintf("warehouse %s SKU %s: available is negative (on hand %d, reserved %d): oversold by %d", k.wh, k.sku, b.OnHand, b.Reserved, b.Reserved-b.OnHand)})
		}
		if b.Reserved != open[k] {
			add(Violation{Kind: "reserved_mismatch", WarehouseID: k.wh, SKUID: k.sku, Bucket: "reserved", Want: open[k], Got: b.Reserved,
				Message: fmt.Sprintf("warehouse %s SKU %s: reserved is %d but open reservations sum to %d (difference %+d)", k.wh, k.sku, b.Reserved, open[k], b.Reserved-open[k])})
		}
		if seq, ok := lastSeq[k]; ok && hasBal {
			var last Buckets
			err := tx.QueryRow(ctx, `SELECT on_hand, reserved, in_transit, defective FROM inv_ledger WHERE seq = $1`, seq).
				Scan(&last.OnHand, &last.Reserved, &last.InTransit, &last.Defective)
			if err != nil {
				return errs.Wrap(err, errs.Internal, "check: read ledger row")
			}
			if last != b {
				add(Violation{Kind: "ledger_result_mismatch", WarehouseID: k.wh, SKUID: k.sku,
					Message: fmt.Sprintf("warehouse %s SKU %s: balance %+v differs from the resulting balance %+v of its latest ledger row %d", k.wh, k.sku, b, last, seq)})
			}
		}
	}
	return nil
}
