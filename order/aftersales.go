package order

import (
	"context"
	"errors"

	"omnihub/aftersales"
	"omnihub/errs"
	"omnihub/store"
)

// The order side of after-sales (aftersales.OrderEffects). Every method runs
// in the after-sales step's transaction, locks the order row (PostgreSQL),
// and moves the order only through the state machine, each move an
// order_events row naming the case and who took its step
// (aftersales.CauseFrom). Effects asked of an order that is already where
// they lead (a refunding order marked again, a cancelled order cancelled
// again) change nothing, because platforms deliver a refund and the order it
// closes in either order.
//
// Stock: an order keeps its reservation while it is refunding (the refund
// may be refused, and the goods must not be released meanwhile). A refund
// before shipment is released by after-sales itself (StockEffects), so
// CancelTx never releases; the order's own cancel path (Cancel, Reject, a
// platform cancellation) still does.

var _ aftersales.OrderEffects = (*Service)(nil)

// ActorAftersales attributes changes after-sales asks for when the context
// names no one.
const ActorAftersales = "aftersales"

// FindByPlatformIDTx returns the order of a shop's platform order as
// after-sales needs it; ok=false when it has not been ingested.
func (s *Service) FindByPlatformIDTx(ctx context.Context, tx store.Tx, shopID, platformOrderID string) (aftersales.OrderRef, bool, error) {
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM orders WHERE shop_id = $1 AND platform_order_id = $2`, shopID, platformOrderID).Scan(&id)
	if errors.Is(err, store.ErrNoRows) {
		return aftersales.OrderRef{}, false, nil
	}
	if err != nil {
		return aftersales.OrderRef{}, false, errs.Wrap(err, errs.Internal, "find order %s of shop %s", platformOrderID, shopID)
	}
	o, err := getOrder(ctx, tx, id)
	if err != nil {
		return aftersales.OrderRef{}, false, err
	}
	return refOf(o), true, nil
}

// refOf is an order as after-sales sees it. Paid is what the goods cost the
// buyer (Σ line paid; the order total when the platform gave no line
// amounts): refunding every line in full is a full refund even when the
// postage stays with the seller.
func refOf(o *Order) aftersales.OrderRef {
	wh := map[int]string{}
	for _, p := range o.Parts {
		wh[p.Part] = p.WarehouseID
	}
	ref := aftersales.OrderRef{ID: o.ID}
	for _, l := range o.Lines {
		w := wh[l.Part]
		if w == "" {
			w = o.WarehouseID
		}
		ref.Lines = append(ref.Lines, aftersales.OrderLineRef{Line: l.LineNo, PlatformLineID: l.PlatformLineID, SKUID: l.SKUID,
			Qty: l.Quantity, Paid: l.Paid, WarehouseID: w})
		ref.Paid += l.Paid
	}
	if ref.Paid == 0 {
		ref.Paid = o.Amounts.Paid
	}
	return ref
}

// IsShippedTx reports whether the order's goods have left the warehouse
// (for a refunding or refunded order: before its refund began, or since).
func (s *Service) IsShippedTx(ctx context.Context, tx store.Tx, orderID string) (bool, error) {
	o, err := getOrder(ctx, tx, orderID)
	if err != nil {
		return false, err
	}
	return o.Shipped(), nil
}

// MarkRefundingTx moves the order to refunding when an after-sales case
// opens, remembering where it stood (Order.RefundFrom); its reservation is
// kept and it cannot be released to the warehouse until the case ends. A
// case on a cancelled or refunded order is noted in its history and changes
// nothing else; on an unpaid order it is an illegal transition (errs.Conflict).
func (s *Service) MarkRefundingTx(ctx context.Context, tx store.Tx, orderID string) error {
	return s.refundEffect(ctx, tx, orderID, func(b *batch, o *Order, actor, detail string) error {
		switch o.Status {
		case Refunding:
			return nil
		case Cancelled, Refunded:
			b.event(o, "refund", "", "", actor, "after-sales case opened on a "+string(o.Status)+" order: status kept", detail)
			return nil
		}
		return s.move(ctx, tx, b, o, Refunding, actor, "after-sales case opened", detail, false)
	})
}

// ClearRefundingTx returns a refunding order to where it was when its
// refund began (partially refunded, or its fulfilment state) once its
// after-sales cases ended without money back. An order no longer refunding
// is left as it is.
func (s *Service) ClearRefundingTx(ctx context.Context, tx store.Tx, orderID string) error {
	return s.refundEffect(ctx, tx, orderID, func(b *batch, o *Order, actor, detail string) error {
		if o.Status != Refunding {
			return nil
		}
		to, err := returnStatus(ctx, tx, o)
		if err != nil {
			return err
		}
		return s.move(ctx, tx, b, o, to, actor, "after-sales case ended without a refund", detail, false)
	})
}

// returnStatus is where a refunding order goes back to: partially refunded
// when that is what it was, else its fulfilment position (which moved on if
// the platform shipped it meanwhile).
func returnStatus(ctx context.Context, tx store.Tx, o *Order) (Status, error) {
	var from string
	err := tx.QueryRow(ctx, `SELECT from_status FROM order_events WHERE order_id = $1 AND kind = 'transition' AND to_status = $2
		ORDER BY id DESC LIMIT 1`, o.ID, string(Refunding)).Scan(&from)
	if err != nil && !errors.Is(err, store.ErrNoRows) {
		return "", errs.Wrap(err, errs.Internal, "read history of order %s", o.ID)
	}
	switch {
	case Status(from) == PartiallyRefunded:
		return PartiallyRefunded, nil
	case o.RefundFrom != "":
		return o.RefundFrom, nil
	case from != "":
		return Status(from), nil
	}
	return "", errs.E(errs.Conflict, "order %s is refunding but its history does not say from where", o.ID).WithField("status", string(o.Status))
}

// MarkRefundedTx records money returned: refunded when full, else partially
// refunded (an unshipped one keeps the reservation of what was not
// refunded, and ships from there). The order passes through refunding when
// it was not there. A refund on a cancelled or refunded order is noted and
// changes nothing else.
func (s *Service) MarkRefundedTx(ctx context.Context, tx store.Tx, orderID string, full bool) error {
	return s.refundEffect(ctx, tx, orderID, func(b *batch, o *Order, actor, detail string) error {
		to, reason := PartiallyRefunded, "refunded in part"
		if full {
			to, reason = Refunded, "refunded in full"
		}
		switch o.Status {
		case Cancelled, Refunded:
			b.event(o, "refund", "", "", actor, reason+" on a "+string(o.Status)+" order: status kept", detail)
			return nil
		case Refunding:
		default:
			if err := s.move(ctx, tx, b, o, Refunding, actor, "refund recorded", detail, false); err != nil {
				return err
			}
		}
		return s.move(ctx, tx, b, o, to, actor, reason, detail, false)
	})
}

// CancelTx cancels an unshipped order refunded in full. Its reservation was
// released by after-sales in the same transaction (StockEffects.ReleaseTx),
// so the order does not release it again. A cancelled order stays as it is;
// a shipped one cannot be cancelled (errs.Conflict).
func (s *Service) CancelTx(ctx context.Context, tx store.Tx, orderID, reason string) error {
	if reason == "" {
		reason = "refunded in full before shipment"
	}
	return s.refundEffect(ctx, tx, orderID, func(b *batch, o *Order, actor, detail string) error {
		switch {
		case o.Status == Cancelled:
			b.event(o, "refund", "", "", actor, reason+": already cancelled", detail)
			return nil
		case o.Shipped():
			return errs.E(errs.Conflict, "order %s has shipped (%s): a refund after shipment marks it refunded, it cannot be cancelled",
				o.ID, o.Position()).WithField("status", string(o.Status))
		}
		return s.move(ctx, tx, b, o, Cancelled, actor, reason, detail, true)
	})
}

// refundEffect runs fn on the locked order and stores the order and its
// history when fn recorded anything.
func (s *Service) refundEffect(ctx context.Context, tx store.Tx, orderID string, fn func(b *batch, o *Order, actor, detail string) error) error {
	o, err := lockOrder(ctx, tx, orderID)
	if err != nil {
		return err
	}
	b := &batch{now: s.now(), phoneCounts: map[string]int{}, mergeable: map[string]*Order{}}
	actor, detail := ActorAftersales, ""
	if c, ok := aftersales.CauseFrom(ctx); ok {
		if c.Actor != "" {
			actor = c.Actor
		}
		detail = "after-sales case " + c.CaseID
		if c.Action != "" {
			detail += " (" + string(c.Action) + ")"
		}
	}
	if err := fn(b, o, actor, detail); err != nil {
		return err
	}
	if len(b.events) == 0 {
		return nil
	}
	o.UpdatedAt = b.now
	if err := s.saveOrder(ctx, tx, o); err != nil {
		return err
	}
	return writeEvents(ctx, tx, b.events)
}
