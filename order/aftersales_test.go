package order

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"omnihub/aftersales"
	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
	"omnihub/store/storetest"
)

// effects runs one OrderEffects call in its own transaction, as an
// after-sales step of case caseID taken by actor.
func (e *env) effects(t *testing.T, caseID, actor string, fn func(ctx context.Context, tx store.Tx) error) error {
	t.Helper()
	ctx := aftersales.WithCause(context.Background(), aftersales.Cause{CaseID: caseID, Actor: actor, Action: aftersales.ActApprove})
	return e.db.InTx(ctx, fn)
}

func (e *env) mustEffect(t *testing.T, caseID, actor string, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	if err := e.effects(t, caseID, actor, fn); err != nil {
		t.Fatal(err)
	}
}

func (e *env) status(t *testing.T, id string) (Status, Status) {
	t.Helper()
	o := e.order(t, id)
	return o.Status, o.RefundFrom
}

func (e *env) shipped(t *testing.T, id string) bool {
	t.Helper()
	var got bool
	if err := e.db.InTx(context.Background(), func(ctx context.Context, tx store.Tx) (err error) {
		got, err = e.svc.IsShippedTx(ctx, tx, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// lastEvent is the newest entry of the order's history.
func (e *env) lastEvent(t *testing.T, id string) Event {
	t.Helper()
	d, err := e.svc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d.Events[len(d.Events)-1]
}

func wantStatus(t *testing.T, e *env, id string, status, from Status) {
	t.Helper()
	if st, rf := e.status(t, id); st != status || rf != from {
		t.Fatalf("order %s is %s (refund from %q), want %s (from %q)", id, st, rf, status, from)
	}
}

func TestFindByPlatformIDTx(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		r := e.ingest(t, "shop1", mk("F1", t0, func(o *channel.Order) {
			o.Lines = append(o.Lines, channel.OrderLine{PlatformLineID: "F1-2", PlatformItemID: "PI-B", PlatformSKUID: "PS-B", OuterSKUID: "SKU-B",
				Title: "裤子", Quantity: 2, Price: 5000, Paid: 9000})
			o.ShippingAmount, o.PaidAmount = 1000, 9900+9000+1000
		}))
		var ref aftersales.OrderRef
		var ok, okOther bool
		e.mustEffect(t, "C0", "alice", func(ctx context.Context, tx store.Tx) (err error) {
			if ref, ok, err = e.svc.FindByPlatformIDTx(ctx, tx, "shop1", "F1"); err != nil {
				return err
			}
			_, okOther, err = e.svc.FindByPlatformIDTx(ctx, tx, "shop2", "F1")
			return err
		})
		if !ok || okOther {
			t.Fatalf("found in shop1 %v, in shop2 %v", ok, okOther)
		}
		// Paid is the goods (postage aside), so refunding both lines is a full refund.
		if ref.ID != r.OrderID || ref.Paid != 9900+9000 || len(ref.Lines) != 2 {
			t.Fatalf("ref = %+v", ref)
		}
		l := ref.Lines[1]
		if l.Line != 2 || l.PlatformLineID != "F1-2" || l.SKUID != "SKU-B" || l.Qty != 2 || l.Paid != 9000 || l.WarehouseID != "WH1" {
			t.Fatalf("line 2 = %+v", l)
		}
	})
}

// A refund in full before shipment: the order is refunding (its stock still
// reserved, out of the warehouse's reach), then cancelled without the order
// releasing anything — after-sales released it in the same transaction.
func TestRefundInFullBeforeShipmentCancels(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		id := e.ingest(t, "shop1", mk("R1", t0)).OrderID
		wantStatus(t, e, id, Approved, "")

		e.mustEffect(t, "C1", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundingTx(ctx, tx, id) })
		wantStatus(t, e, id, Refunding, Approved)
		if len(e.stock.reservedOf(id)) != 1 || e.stock.releaseCalls(id) != 0 {
			t.Fatalf("refunding released the reservation: %v, %d release calls", e.stock.reservedOf(id), e.stock.releaseCalls(id))
		}
		ev := e.lastEvent(t, id)
		if ev.From != Approved || ev.To != Refunding || ev.Actor != "platform" || !strings.Contains(ev.Detail, "C1") {
			t.Fatalf("history: %+v", ev)
		}
		// Marked twice (a second case, a redelivery): nothing more happens.
		e.mustEffect(t, "C1", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundingTx(ctx, tx, id) })
		if got := e.lastEvent(t, id); got.ID != ev.ID {
			t.Fatalf("second mark wrote %+v", got)
		}
		// Not to the warehouse while refunding.
		if _, err := e.svc.Transition(ctx, id, Allocated, "wh", "wave"); !errs.Is(err, errs.Conflict) {
			t.Fatalf("allocate a refunding order: %v", err)
		}
		if e.shipped(t, id) {
			t.Fatal("refunding order reported shipped")
		}

		// After-sales releases the reservation, then cancels.
		e.mustEffect(t, "C1", "alice", func(ctx context.Context, tx store.Tx) error {
			if err := e.stock.ReleaseTx(ctx, tx, id); err != nil {
				return err
			}
			return e.svc.CancelTx(ctx, tx, id, "refunded in full before shipment (after-sales case C1)")
		})
		wantStatus(t, e, id, Cancelled, Approved)
		if n := e.stock.releaseCalls(id); n != 1 {
			t.Fatalf("%d release calls, want 1 (after-sales only)", n)
		}
		ev = e.lastEvent(t, id)
		if ev.From != Refunding || ev.To != Cancelled || ev.Actor != "alice" || !strings.Contains(ev.Reason, "C1") {
			t.Fatalf("history: %+v", ev)
		}
		// Cancelled again, or the case's mark arriving late: noted, unchanged.
		e.mustEffect(t, "C1", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.CancelTx(ctx, tx, id, "") })
		e.mustEffect(t, "C2", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundingTx(ctx, tx, id) })
		e.mustEffect(t, "C2", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.ClearRefundingTx(ctx, tx, id) })
		wantStatus(t, e, id, Cancelled, Approved)
		if ev := e.lastEvent(t, id); ev.Kind != "refund" || !strings.Contains(ev.Detail, "C2") {
			t.Fatalf("late mark not noted: %+v", ev)
		}
		if n := e.stock.releaseCalls(id); n != 1 {
			t.Fatalf("%d release calls after the repeats, want 1", n)
		}
	})
}

// A refused refund returns the order where it was, reservation intact, and
// the warehouse may take it again.
func TestRefusedRefundReturnsOrder(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		id := e.ingest(t, "shop1", mk("R2", t0)).OrderID
		if _, err := e.svc.Transition(ctx, id, Allocated, "wh", "wave 1"); err != nil {
			t.Fatal(err)
		}
		e.mustEffect(t, "C1", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundingTx(ctx, tx, id) })
		wantStatus(t, e, id, Refunding, Allocated)
		// A person cannot move it anywhere but back.
		for _, to := range []Status{Approved, Paid, Delivered} {
			if _, err := e.svc.Transition(ctx, id, to, "bob", "try"); !errs.Is(err, errs.Conflict) {
				t.Fatalf("refunding → %s: %v", to, err)
			}
		}
		e.mustEffect(t, "C1", "alice", func(ctx context.Context, tx store.Tx) error { return e.svc.ClearRefundingTx(ctx, tx, id) })
		wantStatus(t, e, id, Allocated, Allocated)
		if len(e.stock.reservedOf(id)) != 1 || e.stock.releaseCalls(id) != 0 {
			t.Fatal("a refused refund lost the reservation")
		}
		if ev := e.lastEvent(t, id); ev.From != Refunding || ev.To != Allocated || ev.Actor != "alice" {
			t.Fatalf("history: %+v", ev)
		}
		// Cleared again: nothing to do.
		e.mustEffect(t, "C1", "alice", func(ctx context.Context, tx store.Tx) error { return e.svc.ClearRefundingTx(ctx, tx, id) })
		wantStatus(t, e, id, Allocated, Allocated)
		if _, err := e.svc.Transition(ctx, id, Picking, "wh", "pick"); err != nil {
			t.Fatalf("warehouse after a refused refund: %v", err)
		}
	})
}

// After shipment: partially refunded, refunding again, back to partially
// refunded when that case is refused, then refunded in full. A shipped order
// cannot be cancelled.
func TestRefundsAfterShipment(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		id := e.ingest(t, "shop1", mk("R3", t0)).OrderID
		if _, err := e.svc.Transition(context.Background(), id, Allocated, "wh", "wave"); err != nil {
			t.Fatal(err)
		}
		e.mustEffect(t, "", "wh", func(ctx context.Context, tx store.Tx) error {
			_, err := e.svc.ShipTx(ctx, tx, id, "wh")
			return err
		})
		if !e.shipped(t, id) || !e.stock.wasShipped(id) {
			t.Fatal("not shipped")
		}
		mark := func(caseID string) {
			e.mustEffect(t, caseID, "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundingTx(ctx, tx, id) })
		}
		mark("C1")
		wantStatus(t, e, id, Refunding, Shipped)
		if !e.shipped(t, id) {
			t.Fatal("refunding shipped order reported unshipped")
		}
		e.mustEffect(t, "C1", "alice", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundedTx(ctx, tx, id, false) })
		wantStatus(t, e, id, PartiallyRefunded, Shipped)
		err := e.effects(t, "C1", "alice", func(ctx context.Context, tx store.Tx) error { return e.svc.CancelTx(ctx, tx, id, "") })
		if !errs.Is(err, errs.Conflict) {
			t.Fatalf("cancel a shipped order: %v", err)
		}
		mark("C2")
		wantStatus(t, e, id, Refunding, Shipped)
		e.mustEffect(t, "C2", "alice", func(ctx context.Context, tx store.Tx) error { return e.svc.ClearRefundingTx(ctx, tx, id) })
		wantStatus(t, e, id, PartiallyRefunded, Shipped)
		// A refund without a mark first (its case opened while another was
		// open) passes through refunding.
		e.mustEffect(t, "C3", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundedTx(ctx, tx, id, true) })
		wantStatus(t, e, id, Refunded, Shipped)
		d, err := e.svc.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var path []string
		for _, ev := range d.Events {
			if ev.Kind == "transition" {
				path = append(path, string(ev.To))
			}
		}
		want := "approved allocated shipped refunding partially_refunded refunding partially_refunded refunding refunded"
		if got := strings.Join(path[1:], " "); got != want {
			t.Fatalf("history %s, want %s", got, want)
		}
		// Refunded is final: a late refund is noted only.
		e.mustEffect(t, "C4", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundedTx(ctx, tx, id, false) })
		wantStatus(t, e, id, Refunded, Shipped)
		if !e.shipped(t, id) {
			t.Fatal("refunded order lost its shipment")
		}
	})
}

// A partial refund before shipment keeps the rest reserved; when the
// platform ships the order the refund stays recorded and the rest is consumed.
func TestPartialRefundBeforeShipmentThenShipped(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		v := mk("R4", t0)
		id := e.ingest(t, "shop1", v).OrderID
		e.mustEffect(t, "C1", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundingTx(ctx, tx, id) })
		e.mustEffect(t, "C1", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundedTx(ctx, tx, id, false) })
		wantStatus(t, e, id, PartiallyRefunded, Approved)
		if e.stock.releaseCalls(id) != 0 || len(e.stock.reservedOf(id)) != 1 || e.shipped(t, id) {
			t.Fatal("partial refund before shipment released the order or shipped it")
		}
		shipped := v
		shipped.ModifiedAt, shipped.Status, shipped.PlatformStatus = t0.Add(time.Hour), channel.OrderShipped, "WAIT_BUYER_CONFIRM_GOODS"
		e.ingest(t, "shop1", shipped)
		wantStatus(t, e, id, PartiallyRefunded, Shipped)
		if !e.stock.wasShipped(id) || !e.shipped(t, id) {
			t.Fatal("platform shipment not recorded")
		}
		if ev := e.lastEvent(t, id); ev.Kind != "refund" || ev.Actor != "platform" {
			t.Fatalf("history: %+v", ev)
		}
		// Now shipped, the platform closing the trade (all refunded) cannot cancel it.
		closed := shipped
		closed.ModifiedAt, closed.Status, closed.PlatformStatus = t0.Add(2*time.Hour), channel.OrderCancelled, "TRADE_CLOSED"
		e.ingest(t, "shop1", closed)
		wantStatus(t, e, id, PartiallyRefunded, Shipped)
	})
}

// The platform cancelling a refunding order before shipment (a refund in
// full closes the trade, sometimes before the refund itself is read)
// releases its stock once; the refund then finds it cancelled.
func TestPlatformCancelsRefundingOrder(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		v := mk("R5", t0)
		id := e.ingest(t, "shop1", v).OrderID
		e.mustEffect(t, "C1", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundingTx(ctx, tx, id) })
		closed := v
		closed.ModifiedAt, closed.Status, closed.PlatformStatus = t0.Add(time.Hour), channel.OrderCancelled, "TRADE_CLOSED"
		e.ingest(t, "shop1", closed)
		wantStatus(t, e, id, Cancelled, Approved)
		if e.stock.releaseCalls(id) != 1 || len(e.stock.reservedOf(id)) != 0 {
			t.Fatalf("platform cancel: %d release calls, %v reserved", e.stock.releaseCalls(id), e.stock.reservedOf(id))
		}
		e.mustEffect(t, "C1", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.CancelTx(ctx, tx, id, "") })
		wantStatus(t, e, id, Cancelled, Approved)
	})
}

func TestRefundingOrderShippedOnPlatformThenRefused(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		v := mk("R6", t0)
		id := e.ingest(t, "shop1", v).OrderID
		e.mustEffect(t, "C1", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundingTx(ctx, tx, id) })
		shipped := v
		shipped.ModifiedAt, shipped.Status = t0.Add(time.Hour), channel.OrderShipped
		e.ingest(t, "shop1", shipped)
		wantStatus(t, e, id, Refunding, Shipped)
		if !e.stock.wasShipped(id) {
			t.Fatal("stock not consumed")
		}
		e.mustEffect(t, "C1", "alice", func(ctx context.Context, tx store.Tx) error { return e.svc.ClearRefundingTx(ctx, tx, id) })
		wantStatus(t, e, id, Shipped, Shipped)
		if err := e.effects(t, "C1", "alice", func(ctx context.Context, tx store.Tx) error { return e.svc.CancelTx(ctx, tx, id, "") }); !errs.Is(err, errs.Conflict) {
			t.Fatalf("cancel after the platform shipped: %v", err)
		}
	})
}

func TestRefundOfUnpaidOrderIsIllegal(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		id := e.ingest(t, "shop1", mk("R7", t0, func(o *channel.Order) {
			o.Status, o.PaidAt, o.PlatformStatus = channel.OrderPendingPayment, nil, "WAIT_BUYER_PAY"
		})).OrderID
		for name, fn := range map[string]func(ctx context.Context, tx store.Tx) error{
			"mark":     func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundingTx(ctx, tx, id) },
			"refunded": func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundedTx(ctx, tx, id, true) },
		} {
			err := e.effects(t, "C1", "alice", fn)
			if !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "illegal order transition pending_payment → refunding") {
				t.Fatalf("%s on an unpaid order: %v", name, err)
			}
		}
		wantStatus(t, e, id, PendingPayment, "")
		err := e.effects(t, "C1", "alice", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundingTx(ctx, tx, "no-such-order") })
		if !errs.Is(err, errs.NotFound) {
			t.Fatalf("unknown order: %v", err)
		}
	})
}

// A platform update and an after-sales mark racing on one order: the mark
// is never lost (PostgreSQL locks the row; SQLite has one writer).
func TestRefundMarkSurvivesConcurrentIngest(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		const n = 12
		ids := make([]string, n)
		vs := make([]channel.Order, n)
		for i := range n {
			vs[i] = mk(fmt.Sprintf("RC%d", i), t0)
			ids[i] = e.ingest(t, "shop1", vs[i]).OrderID
		}
		var wg sync.WaitGroup
		errc := make(chan error, 2*n)
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				v := vs[i]
				v.ModifiedAt, v.SellerNote = t0.Add(time.Minute), "已备注"
				if _, err := e.svc.Ingest(context.Background(), "shop1", v); err != nil {
					errc <- err
				}
			}()
			go func() {
				defer wg.Done()
				errc <- e.effects(t, "C", "platform", func(ctx context.Context, tx store.Tx) error { return e.svc.MarkRefundingTx(ctx, tx, ids[i]) })
			}()
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatal(err)
			}
		}
		for i, id := range ids {
			o := e.order(t, id)
			if o.Status != Refunding || o.SellerNote != "已备注" {
				t.Fatalf("order %d: %s, note %q — an update was lost", i, o.Status, o.SellerNote)
			}
		}
	})
}

// An approved order shipped outside OmniHub's warehouse flow (the platform
// says so) is shipped and its reservation consumed; before, the update failed.
func TestPlatformShipsApprovedOrder(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		v := mk("S1", t0)
		id := e.ingest(t, "shop1", v).OrderID
		shipped := v
		shipped.ModifiedAt, shipped.Status = t0.Add(time.Hour), channel.OrderShipped
		if r := e.ingest(t, "shop1", shipped); r.Status != Shipped {
			t.Fatalf("after the platform shipped it: %+v", r)
		}
		if !e.stock.wasShipped(id) || e.stock.releaseCalls(id) != 0 {
			t.Fatal("reservation not consumed")
		}
	})
}

// Platforms give modification times to the second, so a refund and the
// shipment right after it can carry the same time. The version further
// along the order's life wins the tie, whatever the payload hashes say.
func TestSameSecondVersionsFollowTheLifecycle(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		// Find a pair whose hashes alone would keep the paid version.
		var paid, shipped channel.Order
		for i := 0; ; i++ {
			paid = mk("T1", t0, func(o *channel.Order) { o.SellerNote = fmt.Sprint("memo ", i) })
			shipped = paid
			shipped.Status, shipped.PlatformStatus = channel.OrderShipped, "WAIT_BUYER_CONFIRM_GOODS"
			p1, err1 := prepare(paid)
			p2, err2 := prepare(shipped)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if p2.hash < p1.hash {
				break
			}
		}
		id := e.ingest(t, "shop1", paid).OrderID
		if r := e.ingest(t, "shop1", shipped); r.Outcome != Updated || r.Status != Shipped {
			t.Fatalf("shipment in the same second: %+v", r)
		}
		if r := e.ingest(t, "shop1", paid); r.Outcome != Stale {
			t.Fatalf("paid again after the shipment: %+v", r)
		}
		wantStatus(t, e, id, Shipped, "")
		if !e.stock.wasShipped(id) {
			t.Fatal("reservation not consumed")
		}
	})
}
