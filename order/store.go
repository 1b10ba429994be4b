package order

import (
	"context"
	"fmt"
	"strings"
	"time"

	"omnihub/errs"
	"omnihub/store"
)

const orderCols = `id, shop_id, platform_order_id, platform_status, channel_status, platform_modified_at, payload_hash, status, hold_reasons,
buyer_id, buyer_nick, receiver_name, receiver_phone, receiver_province, receiver_city, receiver_district, receiver_town, receiver_detail, receiver_zip,
division_code, phone_key, address_key, currency, goods_amount, discount_amount, shipping_amount, paid_amount, platform_subsidy,
buyer_note, seller_note, tags, presale, warehouse_id, courier, merge_group, platform_created_at, paid_at, created_at, updated_at, refund_from`

var orderColList = func() []string {
	var out []string
	for _, c := range strings.Split(orderCols, ",") {
		out = append(out, strings.TrimSpace(c))
	}
	return out
}()

func orderArgs(o *Order) []any {
	r := o.Receiver
	a := o.Amounts
	return []any{o.ID, o.ShopID, o.PlatformOrderID, o.PlatformStatus, o.ChannelStatus, o.PlatformModifiedAt, o.payloadHash, string(o.Status), joinList(o.HoldReasons),
		o.BuyerID, o.BuyerNick, r.Name, r.Phone, r.Province, r.City, r.District, r.Town, r.Detail, r.Zip,
		o.DivisionCode, o.phoneKey, o.addressKey, a.Currency, a.Goods, a.Discount, a.Shipping, a.Paid, a.PlatformSubsidy,
		o.BuyerNote, o.SellerNote, joinList(o.Tags), o.Presale, o.WarehouseID, o.Courier, o.MergeGroup, o.PlatformCreatedAt, o.PaidAt, o.CreatedAt, o.UpdatedAt, string(o.RefundFrom)}
}

func scanOrder(sc interface{ Scan(...any) error }) (*Order, error) {
	var o Order
	var st, holds, tags, refundFrom string
	r := &o.Receiver
	a := &o.Amounts
	err := sc.Scan(&o.ID, &o.ShopID, &o.PlatformOrderID, &o.PlatformStatus, &o.ChannelStatus, &o.PlatformModifiedAt, &o.payloadHash, &st, &holds,
		&o.BuyerID, &o.BuyerNick, &r.Name, &r.Phone, &r.Province, &r.City, &r.District, &r.Town, &r.Detail, &r.Zip,
		&o.DivisionCode, &o.phoneKey, &o.addressKey, &a.Currency, &a.Goods, &a.Discount, &a.Shipping, &a.Paid, &a.PlatformSubsidy,
		&o.BuyerNote, &o.SellerNote, &tags, &o.Presale, &o.WarehouseID, &o.Courier, &o.MergeGroup, &o.PlatformCreatedAt, &o.PaidAt, &o.CreatedAt, &o.UpdatedAt, &refundFrom)
	if err != nil {
		return nil, err
	}
	o.Status, o.HoldReasons, o.Tags, o.RefundFrom = Status(st), splitList(holds), splitList(tags), Status(refundFrom)
	return &o, nil
}

// multiInsert runs INSERT … VALUES (…),(…) in chunks; suffix is appended
// (ON CONFLICT …).
func multiInsert(ctx context.Context, tx store.Tx, table string, cols []string, rows [][]any, suffix string) error {
	per := len(cols)
	chunk := max(1, min(chunkRows, 30000/per))
	for start := 0; start < len(rows); start += chunk {
		part := rows[start:min(start+chunk, len(rows))]
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, len(part)*per)
		for i, r := range part {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('(')
			b.WriteString(bulkPlaceholders(tx.Engine(), len(args)+1, per))
			b.WriteByte(')')
			args = append(args, r...)
		}
		b.WriteString(suffix)
		if _, err := tx.Exec(ctx, b.String(), args...); err != nil {
			return errs.Wrap(err, errs.Internal, "write %s", table)
		}
	}
	return nil
}

var upsertOrders = func() string {
	var sets []string
	for _, c := range orderColList[1:] {
		if c == "created_at" || c == "shop_id" || c == "platform_order_id" {
			continue
		}
		sets = append(sets, c+" = excluded."+c)
	}
	return " ON CONFLICT (id) DO UPDATE SET " + strings.Join(sets, ", ")
}()

var lineCols = []string{"order_id", "line_no", "platform_line_id", "platform_item_id", "platform_sku_id", "outer_code", "title", "spec_name", "sku_id", "quantity", "price", "discount", "paid", "refund_status", "part"}

func (s *Service) writeOrders(ctx context.Context, tx store.Tx, os []*Order, fresh map[string]bool) error {
	if len(os) == 0 {
		return nil
	}
	rows := make([][]any, 0, len(os))
	var old []any
	var lines, parts [][]any
	for _, o := range os {
		rows = append(rows, orderArgs(o))
		if !fresh[o.ID] {
			old = append(old, o.ID)
		}
		for _, l := range o.Lines {
			lines = append(lines, []any{o.ID, l.LineNo, l.PlatformLineID, l.PlatformItemID, l.PlatformSKUID, l.OuterCode, l.Title, l.SpecName, l.SKUID, l.Quantity, l.Price, l.Discount, l.Paid, l.RefundStatus, l.Part})
		}
		for _, p := range o.Parts {
			parts = append(parts, []any{o.ID, p.Part, p.WarehouseID, p.Courier, p.Presale})
		}
	}
	if err := multiInsert(ctx, tx, "orders", orderColList, rows, upsertOrders); err != nil {
		return err
	}
	for start := 0; start < len(old); start += chunkRows {
		chunk := old[start:min(start+chunkRows, len(old))]
		for _, t := range []string{"order_lines", "order_parts"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE order_id IN (`+bulkPlaceholders(tx.Engine(), 1, len(chunk))+`)`, chunk...); err != nil {
				return errs.Wrap(err, errs.Internal, "rewrite %s", t)
			}
		}
	}
	if err := multiInsert(ctx, tx, "order_lines", lineCols, lines, ""); err != nil {
		return err
	}
	return multiInsert(ctx, tx, "order_parts", []string{"order_id", "part", "warehouse_id", "courier", "presale"}, parts, "")
}

type versionRow struct {
	orderID  string
	hash     string
	modified time.Time
	status   string
	applied  bool
	raw      string
}

func writeVersions(ctx context.Context, tx store.Tx, vs []versionRow, now time.Time) error {
	rows := make([][]any, 0, len(vs))
	for _, v := range vs {
		rows = append(rows, []any{v.orderID, v.hash, v.modified, v.status, v.applied, now, v.raw})
	}
	return multiInsert(ctx, tx, "order_versions", []string{"order_id", "payload_hash", "platform_modified_at", "platform_status", "applied", "received_at", "raw"}, rows, " ON CONFLICT (order_id, payload_hash) DO NOTHING")
}

func writeEvents(ctx context.Context, tx store.Tx, es []eventRow) error {
	rows := make([][]any, 0, len(es))
	for _, e := range es {
		rows = append(rows, []any{e.ID, e.orderID, e.At, e.Kind, string(e.From), string(e.To), e.Actor, clip(e.Reason, 500), clip(e.Detail, 4000)})
	}
	return multiInsert(ctx, tx, "order_events", []string{"id", "order_id", "at", "kind", "from_status", "to_status", "actor", "reason", "detail"}, rows, "")
}

// getOrder loads an order with its lines and parts.
func getOrder(ctx context.Context, q store.Querier, id string) (*Order, error) {
	return loadOrder(ctx, q, id, "")
}

// lockOrder is getOrder for a read-modify-write in tx: on PostgreSQL the
// order row stays locked until tx ends, so that a concurrent ingest or
// after-sales step cannot write back a stale copy over this one (SQLite has
// one writer).
func lockOrder(ctx context.Context, tx store.Tx, id string) (*Order, error) {
	return loadOrder(ctx, tx, id, forUpdate(tx))
}

func forUpdate(tx store.Tx) string {
	if tx.Engine() == store.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

func loadOrder(ctx context.Context, q store.Querier, id, suffix string) (*Order, error) {
	o, err := scanOrder(q.QueryRow(ctx, `SELECT `+orderCols+` FROM orders WHERE id = $1`+suffix, id))
	if err != nil {
		return nil, store.NotFoundIfNoRows(err, "order %s not found", id)
	}
	if err := loadLines(ctx, q, []*Order{o}); err != nil {
		return nil, err
	}
	return o, nil
}

func loadLines(ctx context.Context, q store.Querier, os []*Order) error {
	if len(os) == 0 {
		return nil
	}
	byID := map[string]*Order{}
	args := make([]any, 0, len(os))
	for _, o := range os {
		byID[o.ID] = o
		args = append(args, o.ID)
	}
	in := placeholders(1, len(args))
	rows, err := q.Query(ctx, `SELECT `+strings.Join(lineCols, ", ")+` FROM order_lines WHERE order_id IN (`+in+`) ORDER BY order_id, line_no`, args...)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "load order lines")
	}
	for rows.Next() {
		var l Line
		var oid string
		if err := rows.Scan(&oid, &l.LineNo, &l.PlatformLineID, &l.PlatformItemID, &l.PlatformSKUID, &l.OuterCode, &l.Title, &l.SpecName, &l.SKUID, &l.Quantity, &l.Price, &l.Discount, &l.Paid, &l.RefundStatus, &l.Part); err != nil {
			rows.Close()
			return errs.Wrap(err, errs.Internal, "load order lines")
		}
		byID[oid].Lines = append(byID[oid].Lines, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return errs.Wrap(err, errs.Internal, "load order lines")
	}
	rows, err = q.Query(ctx, `SELECT order_id, part, warehouse_id, courier, presale FROM order_parts WHERE order_id IN (`+in+`) ORDER BY order_id, part`, args...)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "load order parts")
	}
	defer rows.Close()
	for rows.Next() {
		var p Part
		var oid string
		if err := rows.Scan(&oid, &p.Part, &p.WarehouseID, &p.Courier, &p.Presale); err != nil {
			return errs.Wrap(err, errs.Internal, "load order parts")
		}
		byID[oid].Parts = append(byID[oid].Parts, p)
	}
	return rows.Err()
}

// saveOrder writes one order changed outside ingest.
func (s *Service) saveOrder(ctx context.Context, tx store.Tx, o *Order) error {
	return s.writeOrders(ctx, tx, []*Order{o}, nil)
}

func fmtReasons(rs []string) string { return fmt.Sprint(rs) }
