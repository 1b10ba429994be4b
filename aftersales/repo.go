package aftersales

import (
	"context"
	"errors"
	"time"

	"omnihub/errs"
	"omnihub/ids"
	"omnihub/store"
)

// errCaseExists marks a platform case created concurrently by another process.
var errCaseExists = errors.New("aftersales: case exists")

const caseColumns = `id, shop_id, COALESCE(platform_refund_id, ''), order_id, platform_order_id, type, state,
	reason, evidence, refund_amount, refunded_amount, currency, goods_shipped, warehouse_id,
	return_carrier, return_tracking_no, ship_carrier, ship_tracking_no, refuse_reason,
	platform_status, platform_modified_at, created_at, updated_at, state_since`

type scanner interface{ Scan(...any) error }

func scanCase(r scanner) (Case, error) {
	var c Case
	var shipped int64
	err := r.Scan(&c.ID, &c.ShopID, &c.PlatformRefundID, &c.OrderID, &c.PlatformOrderID, &c.Type, &c.State,
		&c.Reason, &c.Evidence, &c.RefundAmount, &c.RefundedAmount, &c.Currency, &shipped, &c.WarehouseID,
		&c.ReturnCarrier, &c.ReturnTrackingNo, &c.ShipCarrier, &c.ShipTrackingNo, &c.RefuseReason,
		&c.PlatformStatus, &c.PlatformModified, &c.CreatedAt, &c.UpdatedAt, &c.StateSince)
	c.GoodsShipped = shipped != 0
	return c, err
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// forUpdate locks the case row on PostgreSQL (SQLite has one writer).
func forUpdate(tx store.Tx) string {
	if tx.Engine() == store.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// loadTx reads a case with its lines and QC results, locking it for the
// rest of the transaction.
func loadTx(ctx context.Context, tx store.Tx, id string) (Case, error) {
	c, err := scanCase(tx.QueryRow(ctx, `SELECT `+caseColumns+` FROM aftersales_cases WHERE id = $1`+forUpdate(tx), id))
	if err != nil {
		return c, store.NotFoundIfNoRows(err, "after-sales case %s not found", id)
	}
	return c, loadChildren(ctx, tx, &c)
}

// loadByPlatformTx finds a platform case; ok=false when there is none.
func loadByPlatformTx(ctx context.Context, tx store.Tx, shopID, platformRefundID string) (Case, bool, error) {
	c, err := scanCase(tx.QueryRow(ctx, `SELECT `+caseColumns+` FROM aftersales_cases
		WHERE shop_id = $1 AND platform_refund_id = $2`+forUpdate(tx), shopID, platformRefundID))
	if errors.Is(err, store.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, errs.Wrap(err, errs.Internal, "load after-sales case")
	}
	return c, true, loadChildren(ctx, tx, &c)
}

func loadChildren(ctx context.Context, q store.Querier, c *Case) error {
	rows, err := q.Query(ctx, `SELECT line_no, order_line, platform_line_id, sku_id, new_sku_id, qty, amount
		FROM aftersales_lines WHERE case_id = $1 ORDER BY line_no`, c.ID)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "load case lines")
	}
	c.Lines = []Line{}
	for rows.Next() {
		var l Line
		if err := rows.Scan(&l.No, &l.OrderLine, &l.PlatformLineID, &l.SKUID, &l.NewSKUID, &l.Qty, &l.Amount); err != nil {
			rows.Close()
			return errs.Wrap(err, errs.Internal, "scan case line")
		}
		c.Lines = append(c.Lines, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return errs.Wrap(err, errs.Internal, "load case lines")
	}
	rows, err = q.Query(ctx, `SELECT line_no, unit_no, sku_id, result, note, actor, at
		FROM aftersales_qc WHERE case_id = $1 ORDER BY line_no, unit_no`, c.ID)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "load case QC")
	}
	c.QC = nil
	for rows.Next() {
		var u QCUnit
		if err := rows.Scan(&u.Line, &u.Unit, &u.SKUID, &u.Result, &u.Note, &u.Actor, &u.At); err != nil {
			rows.Close()
			return errs.Wrap(err, errs.Internal, "scan case QC")
		}
		c.QC = append(c.QC, u)
	}
	rows.Close()
	return errs.Wrap(rows.Err(), errs.Internal, "load case QC")
}

func loadHistory(ctx context.Context, q store.Querier, c *Case) error {
	rows, err := q.Query(ctx, `SELECT seq, at, actor, action, from_state, to_state, note
		FROM aftersales_case_events WHERE case_id = $1 ORDER BY seq`, c.ID)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "load case history")
	}
	defer rows.Close()
	c.History = []Event{}
	c.Steps = map[State]time.Time{}
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.From, &e.To, &e.Note); err != nil {
			return errs.Wrap(err, errs.Internal, "scan case event")
		}
		c.History = append(c.History, e)
		if e.To != "" && e.To != e.From || e.Action == ActCreate {
			c.Steps[e.To] = e.At
		}
	}
	return errs.Wrap(rows.Err(), errs.Internal, "load case history")
}

func insertCaseTx(ctx context.Context, tx store.Tx, c *Case) error {
	_, err := tx.Exec(ctx, `INSERT INTO aftersales_cases (id, shop_id, platform_refund_id, order_id, platform_order_id,
		type, state, reason, evidence, refund_amount, refunded_amount, currency, goods_shipped, warehouse_id,
		return_carrier, return_tracking_no, ship_carrier, ship_tracking_no, refuse_reason, platform_status,
		platform_modified_at, created_at, updated_at, state_since)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24)`,
		c.ID, c.ShopID, nullable(c.PlatformRefundID), c.OrderID, c.PlatformOrderID, string(c.Type), string(c.State),
		c.Reason, c.Evidence, c.RefundAmount, c.RefundedAmount, c.Currency, b2i(c.GoodsShipped), c.WarehouseID,
		c.ReturnCarrier, c.ReturnTrackingNo, c.ShipCarrier, c.ShipTrackingNo, c.RefuseReason, c.PlatformStatus,
		c.PlatformModified, c.CreatedAt, c.UpdatedAt, c.StateSince)
	if store.IsUniqueViolation(err) {
		return errs.Wrap(errCaseExists, errs.Conflict, "after-sales case for refund %s already exists", c.PlatformRefundID)
	}
	if err != nil {
		return errs.Wrap(err, errs.Internal, "insert after-sales case")
	}
	return replaceLinesTx(ctx, tx, c)
}

func replaceLinesTx(ctx context.Context, tx store.Tx, c *Case) error {
	if _, err := tx.Exec(ctx, `DELETE FROM aftersales_lines WHERE case_id = $1`, c.ID); err != nil {
		return errs.Wrap(err, errs.Internal, "replace case lines")
	}
	for i := range c.Lines {
		l := &c.Lines[i]
		l.No = int64(i + 1)
		if _, err := tx.Exec(ctx, `INSERT INTO aftersales_lines (case_id, line_no, order_line, platform_line_id,
			sku_id, new_sku_id, qty, amount) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
			c.ID, l.No, l.OrderLine, l.PlatformLineID, l.SKUID, l.NewSKUID, l.Qty, l.Amount); err != nil {
			return errs.Wrap(err, errs.Internal, "insert case line")
		}
	}
	return nil
}

func updateCaseTx(ctx context.Context, tx store.Tx, c *Case) error {
	_, err := tx.Exec(ctx, `UPDATE aftersales_cases SET order_id=$2, platform_order_id=$3, state=$4, reason=$5,
		evidence=$6, refund_amount=$7, refunded_amount=$8, goods_shipped=$9, warehouse_id=$10, return_carrier=$11,
		return_tracking_no=$12, ship_carrier=$13, ship_tracking_no=$14, refuse_reason=$15, platform_status=$16,
		platform_modified_at=$17, updated_at=$18, state_since=$19 WHERE id=$1`,
		c.ID, c.OrderID, c.PlatformOrderID, string(c.State), c.Reason, c.Evidence, c.RefundAmount, c.RefundedAmount,
		b2i(c.GoodsShipped), c.WarehouseID, c.ReturnCarrier, c.ReturnTrackingNo, c.ShipCarrier, c.ShipTrackingNo,
		c.RefuseReason, c.PlatformStatus, c.PlatformModified, c.UpdatedAt, c.StateSince)
	return errs.Wrap(err, errs.Internal, "update after-sales case")
}

func addEventTx(ctx context.Context, tx store.Tx, caseID string, e Event) error {
	_, err := tx.Exec(ctx, `INSERT INTO aftersales_case_events (id, case_id, seq, at, actor, action, from_state, to_state, note)
		VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM aftersales_case_events WHERE case_id = $2), $3, $4, $5, $6, $7, $8)`,
		ids.New(), caseID, e.At, e.Actor, string(e.Action), string(e.From), string(e.To), e.Note)
	return errs.Wrap(err, errs.Internal, "record case event")
}

func insertQCTx(ctx context.Context, tx store.Tx, caseID string, u QCUnit) error {
	_, err := tx.Exec(ctx, `INSERT INTO aftersales_qc (case_id, line_no, unit_no, sku_id, result, note, actor, at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`, caseID, u.Line, u.Unit, u.SKUID, string(u.Result), u.Note, u.Actor, u.At)
	if store.IsUniqueViolation(err) {
		return errs.E(errs.Conflict, "unit %d of line %d already inspected", u.Unit, u.Line)
	}
	return errs.Wrap(err, errs.Internal, "record QC result")
}
