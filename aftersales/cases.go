package aftersales

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/riverqueue/river"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
)

// ActorPlatform attributes steps taken because the platform said so.
const ActorPlatform = "platform"

// ActorRulePrefix attributes steps taken by an auto-approval rule ("rule:<name>").
const ActorRulePrefix = "rule:"

func (s *Service) stock() (StockEffects, error) {
	if s.opts.Stock == nil {
		return nil, errs.E(errs.Unavailable, "after-sales is not wired to inventory")
	}
	return s.opts.Stock, nil
}

func (s *Service) orders() (OrderEffects, error) {
	if s.opts.Orders == nil {
		return nil, errs.E(errs.Unavailable, "after-sales is not wired to orders")
	}
	return s.opts.Orders, nil
}

// step takes one transition: checks it against the machine, applies its
// effects, records the attributed event and, for a person's decision on a
// platform case, enqueues the answer to the platform. The caller saves c.
func (s *Service) step(ctx context.Context, tx store.Tx, c *Case, a Action, actor, note string, byPlatform bool) error {
	to, err := Next(c.Type, c.State, a, byPlatform)
	if err != nil {
		return err
	}
	if err := s.effects(WithCause(ctx, Cause{CaseID: c.ID, Actor: actor, Action: a}), tx, c, a, to); err != nil {
		return err
	}
	now := s.now()
	from := c.State
	c.State, c.StateSince, c.UpdatedAt = to, now, now
	if err := addEventTx(ctx, tx, c.ID, Event{At: now, Actor: actor, Action: a, From: from, To: to, Note: note}); err != nil {
		return err
	}
	if byPlatform || c.Manual() {
		return nil
	}
	act, ok := DecisionFor(c.Type, a)
	if !ok {
		return nil
	}
	d := channel.RefundDecision{PlatformRefundID: c.PlatformRefundID, Action: act}
	if act == channel.RefundRefuse {
		d.Reason = c.RefuseReason
	}
	if act == channel.RefundAgree && c.Type.Returns() {
		d.ReturnAddress = s.opts.ReturnAddress
	}
	if act == channel.RefundShipReplacement {
		d.CarrierCode, d.TrackingNo = c.ShipCarrier, c.ShipTrackingNo
	}
	return tx.InsertJob(ctx, RespondArgs{CaseID: c.ID, ShopID: c.ShopID, Decision: d}, &river.InsertOpts{})
}

// effects applies what a transition does to orders and stock, in tx.
func (s *Service) effects(ctx context.Context, tx store.Tx, c *Case, a Action, to State) error {
	replacement := c.Type == Exchange || c.Type == Reship
	switch a {
	case ActApprove:
		if replacement {
			return s.reserveReplacement(ctx, tx, c)
		}
	case ActRefuse:
		return s.clearRefunding(ctx, tx, c)
	case ActReopen:
		return s.markRefunding(ctx, tx, c)
	case ActCancel:
		if replacement && c.State != Requested {
			st, err := s.stock()
			if err != nil {
				return err
			}
			if err := st.ReleaseTx(ctx, tx, DocType, c.ID); err != nil {
				return err
			}
		}
		return s.clearRefunding(ctx, tx, c)
	case ActRestock:
		return s.restock(ctx, tx, c)
	case ActRefund:
		return s.refund(ctx, tx, c)
	case ActShipExchange, ActReship:
		st, err := s.stock()
		if err != nil {
			return err
		}
		if err := st.ShipTx(ctx, tx, DocType, c.ID); err != nil {
			return err
		}
		return s.clearRefunding(ctx, tx, c)
	}
	return nil
}

// markRefunding flags the order when its first open case appears, and
// clearRefunding unflags it when its last open case ends, so the order
// module sees one refunding period however many cases overlap.
func (s *Service) markRefunding(ctx context.Context, tx store.Tx, c *Case) error {
	if c.OrderID == "" {
		return nil
	}
	o, err := s.orders()
	if err != nil {
		return err
	}
	if n, err := otherOpenCases(ctx, tx, c); err != nil || n > 0 {
		return err
	}
	return o.MarkRefundingTx(ctx, tx, c.OrderID)
}

func (s *Service) clearRefunding(ctx context.Context, tx store.Tx, c *Case) error {
	if c.OrderID == "" {
		return nil
	}
	o, err := s.orders()
	if err != nil {
		return err
	}
	if n, err := otherOpenCases(ctx, tx, c); err != nil || n > 0 {
		return err
	}
	return o.ClearRefundingTx(ctx, tx, c.OrderID)
}

// otherOpenCases counts the order's open cases besides c.
func otherOpenCases(ctx context.Context, tx store.Tx, c *Case) (int64, error) {
	args := []any{c.OrderID, c.ID}
	var ph []string
	for _, st := range States {
		if st.Open() {
			args = append(args, string(st))
			ph = append(ph, "$"+strconv.Itoa(len(args)))
		}
	}
	var n int64
	err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM aftersales_cases WHERE order_id = $1 AND id <> $2 AND state IN (`+
		strings.Join(ph, ",")+`)`, args...).Scan(&n)
	return n, errs.Wrap(err, errs.Internal, "count open cases of order")
}

func (s *Service) warehouseFor(c *Case) (string, error) {
	if c.WarehouseID != "" {
		return c.WarehouseID, nil
	}
	if s.opts.DefaultWarehouseID != "" {
		c.WarehouseID = s.opts.DefaultWarehouseID
		return c.WarehouseID, nil
	}
	return "", errs.E(errs.Invalid, "case %s names no warehouse and there is no default", c.ID).WithField("warehouse_id", "required")
}

func (s *Service) reserveReplacement(ctx context.Context, tx store.Tx, c *Case) error {
	st, err := s.stock()
	if err != nil {
		return err
	}
	wh, err := s.warehouseFor(c)
	if err != nil {
		return err
	}
	var lines []ReserveLine
	for _, l := range c.Lines {
		sku := l.NewSKUID
		if sku == "" {
			sku = l.SKUID
		}
		if sku == "" || l.Qty <= 0 {
			return errs.E(errs.Invalid, "line %d has no SKU or quantity to send", l.No).WithField("lines", "incomplete")
		}
		lines = append(lines, ReserveLine{Doc: DocRef{Type: DocType, ID: c.ID, Line: int(l.No)}, WarehouseID: wh, SKUID: sku, Qty: l.Qty})
	}
	if len(lines) == 0 {
		return errs.E(errs.Invalid, "case %s has no lines to send", c.ID).WithField("lines", "required")
	}
	return st.ReserveTx(ctx, tx, lines)
}

// RestockDoc is the stock document line of a case line's good (line×10+1)
// or defective (line×10+2) units. Inventory restocks each document line once
// (a repeated call is a no-op), so the two results need lines of their own.
func RestockDoc(caseID string, line int64, defective bool) DocRef {
	n := int(line)*10 + 1
	if defective {
		n++
	}
	return DocRef{Type: DocType, ID: caseID, Line: n}
}

func (s *Service) restock(ctx context.Context, tx store.Tx, c *Case) error {
	st, err := s.stock()
	if err != nil {
		return err
	}
	wh, err := s.warehouseFor(c)
	if err != nil {
		return err
	}
	for _, l := range c.Lines {
		var good, bad int64
		for _, u := range c.QC {
			if u.Line != l.No {
				continue
			}
			if u.Result == Good {
				good++
			} else {
				bad++
			}
		}
		if good > 0 {
			if err := st.RestockTx(ctx, tx, RestockDoc(c.ID, l.No, false), wh, l.SKUID, good, false); err != nil {
				return err
			}
		}
		if bad > 0 {
			if err := st.RestockTx(ctx, tx, RestockDoc(c.ID, l.No, true), wh, l.SKUID, bad, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// refund books money returned: before shipment it releases the order's
// reservation (the whole order, cancelled, when everything was refunded;
// otherwise the refunded lines); after shipment it only marks the order.
func (s *Service) refund(ctx context.Context, tx store.Tx, c *Case) error {
	c.RefundedAmount = c.RefundAmount
	if c.OrderID == "" {
		return nil
	}
	oe, err := s.orders()
	if err != nil {
		return err
	}
	o, ok, err := oe.FindByPlatformIDTx(ctx, tx, c.ShopID, c.PlatformOrderID)
	if err != nil {
		return err
	}
	if !ok {
		return errs.E(errs.Conflict, "order %s of case %s no longer found", c.PlatformOrderID, c.ID)
	}
	var before int64
	if err := tx.QueryRow(ctx, `SELECT COALESCE(SUM(refunded_amount), 0) FROM aftersales_cases
		WHERE order_id = $1 AND id <> $2`, c.OrderID, c.ID).Scan(&before); err != nil {
		return errs.Wrap(err, errs.Internal, "sum refunds of order")
	}
	full := before+c.RefundedAmount >= o.Paid
	shipped, err := oe.IsShippedTx(ctx, tx, c.OrderID)
	if err != nil {
		return err
	}
	if shipped {
		return oe.MarkRefundedTx(ctx, tx, c.OrderID, full)
	}
	st, err := s.stock()
	if err != nil {
		return err
	}
	if full {
		if err := st.ReleaseTx(ctx, tx, OrderDocType, c.OrderID); err != nil {
			return err
		}
		return oe.CancelTx(ctx, tx, c.OrderID, "refunded in full before shipment (after-sales case "+c.ID+")")
	}
	for _, l := range c.Lines {
		if l.OrderLine <= 0 {
			continue
		}
		if err := st.ReleaseLineTx(ctx, tx, DocRef{Type: OrderDocType, ID: c.OrderID, Line: int(l.OrderLine)}, l.Qty); err != nil {
			return err
		}
	}
	return oe.MarkRefundedTx(ctx, tx, c.OrderID, false)
}

// exchangeSKU sets the replacement SKU of a platform exchange's lines from
// the platform SKU the buyer asked for, resolved through the catalog
// (Options.SKUs). It returns a note for the case's history when the SKU
// cannot be resolved: the case keeps no replacement, and whoever approves
// it names one (Approval.Replacements); otherwise the same SKU goes out.
func (s *Service) exchangeSKU(ctx context.Context, tx store.Tx, c *Case, r channel.Refund) (string, error) {
	if c.Type != Exchange || r.Exchange == nil || r.Exchange.PlatformSKUID == "" {
		return "", nil
	}
	w := r.Exchange
	unresolved := fmt.Sprintf("; buyer asks for platform SKU %s, not bound to a catalog SKU: name the replacement when approving", w.PlatformSKUID)
	if s.opts.SKUs == nil {
		return unresolved, nil
	}
	sku, ok, err := s.opts.SKUs.ResolveTx(ctx, tx, c.ShopID, w.PlatformItemID, w.PlatformSKUID, w.OuterSKUID)
	if err != nil {
		return "", err
	}
	if !ok {
		return unresolved, nil
	}
	for i := range c.Lines {
		c.Lines[i].NewSKUID = sku
	}
	return "; replacement SKU " + sku, nil
}

// linkOrder fills the case's order id and lines from the order module.
func (s *Service) linkOrder(ctx context.Context, tx store.Tx, c *Case, platformLineID string, qty int64) error {
	if c.PlatformOrderID == "" || c.OrderID != "" {
		return nil
	}
	oe, err := s.orders()
	if err != nil {
		return err
	}
	o, ok, err := oe.FindByPlatformIDTx(ctx, tx, c.ShopID, c.PlatformOrderID)
	if err != nil {
		return err
	}
	if !ok {
		// The order's own event is usually a moment behind; the caller
		// (sync engine job, or a person) retries.
		return errs.E(errs.Unavailable, "order %s of shop %s is not ingested yet", c.PlatformOrderID, c.ShopID).
			WithField("platform_order_id", "unknown order")
	}
	c.OrderID = o.ID
	if len(c.Lines) > 0 {
		// Lines given by hand: complete them from the order.
		for i := range c.Lines {
			l := &c.Lines[i]
			for _, ol := range o.Lines {
				if (l.OrderLine != 0 && int64(ol.Line) == l.OrderLine) || (l.OrderLine == 0 && l.PlatformLineID != "" && ol.PlatformLineID == l.PlatformLineID) {
					l.OrderLine, l.PlatformLineID = int64(ol.Line), ol.PlatformLineID
					if l.SKUID == "" {
						l.SKUID = ol.SKUID
					}
					if c.WarehouseID == "" {
						c.WarehouseID = ol.WarehouseID
					}
				}
			}
		}
		return nil
	}
	var total int64
	for _, ol := range o.Lines {
		if platformLineID != "" && ol.PlatformLineID != platformLineID {
			continue
		}
		q := ol.Qty
		if platformLineID != "" && qty > 0 && qty < q {
			q = qty
		}
		c.Lines = append(c.Lines, Line{OrderLine: int64(ol.Line), PlatformLineID: ol.PlatformLineID, SKUID: ol.SKUID, Qty: q, Amount: ol.Paid})
		total += ol.Paid
		if c.WarehouseID == "" {
			c.WarehouseID = ol.WarehouseID
		}
	}
	if len(c.Lines) == 0 {
		return errs.E(errs.Invalid, "order %s has no line %q", c.PlatformOrderID, platformLineID).WithField("platform_line_id", "unknown line")
	}
	// The platform's amount is authoritative; spread over lines only for display.
	if len(c.Lines) == 1 {
		c.Lines[0].Amount = c.RefundAmount
	} else if total > 0 && c.RefundAmount != total {
		var acc int64
		for i := range c.Lines {
			if i == len(c.Lines)-1 {
				c.Lines[i].Amount = c.RefundAmount - acc
				break
			}
			c.Lines[i].Amount = c.Lines[i].Amount * c.RefundAmount / total
			acc += c.Lines[i].Amount
		}
	}
	return nil
}

// shippedTx tells whether the goods had left (platform flag or order state).
func (s *Service) shippedTx(ctx context.Context, tx store.Tx, c *Case) (bool, error) {
	if c.GoodsShipped || c.OrderID == "" {
		return c.GoodsShipped, nil
	}
	oe, err := s.orders()
	if err != nil {
		return false, err
	}
	return oe.IsShippedTx(ctx, tx, c.OrderID)
}

func normActor(actor string) (string, error) {
	actor = strings.TrimSpace(actor)
	if actor == "" {
		return "", errs.WithField("actor", "required: every step is attributed")
	}
	return actor, nil
}

func describeRefund(r channel.Refund) string {
	return fmt.Sprintf("platform status %s (%s)", r.Status, r.PlatformStatus)
}
