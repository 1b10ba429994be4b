package app

import (
	"context"
	"testing"
	"time"

	"omnihub/aftersales"
	"omnihub/channel"
	"omnihub/inventory"
	"omnihub/store"
	"omnihub/store/storetest"
)

// asOrders is a minimal OrderEffects: fixed orders, recorded effects.
type asOrders struct {
	orders  map[string]aftersales.OrderRef
	shipped map[string]bool
	status  map[string]string
}

func (f *asOrders) FindByPlatformIDTx(_ context.Context, _ store.Tx, _, pid string) (aftersales.OrderRef, bool, error) {
	o, ok := f.orders[pid]
	return o, ok, nil
}
func (f *asOrders) IsShippedTx(_ context.Context, _ store.Tx, id string) (bool, error) {
	return f.shipped[id], nil
}
func (f *asOrders) MarkRefundingTx(_ context.Context, _ store.Tx, id string) error {
	f.status[id] = "refunding"
	return nil
}
func (f *asOrders) ClearRefundingTx(_ context.Context, _ store.Tx, id string) error {
	f.status[id] = "normal"
	return nil
}
func (f *asOrders) MarkRefundedTx(_ context.Context, _ store.Tx, id string, full bool) error {
	f.status[id] = map[bool]string{true: "refunded", false: "partially_refunded"}[full]
	return nil
}
func (f *asOrders) CancelTx(_ context.Context, _ store.Tx, id, _ string) error {
	f.status[id] = "cancelled"
	return nil
}

// TestAftersalesWithRealInventory runs each stock-touching case type against
// the inventory module through the adapter and checks balances and the
// ledger invariants afterwards.
func TestAftersalesWithRealInventory(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		inv := inventory.New(db, inventory.Options{})
		wh, err := inv.CreateWarehouse(ctx, "WH1", "Main")
		if err != nil {
			t.Fatal(err)
		}
		for sku, n := range map[string]int64{"SKU-A": 10, "SKU-B": 5} {
			if err := inv.Receive(ctx, inventory.DocRef{Type: "receipt", ID: "PO1-" + sku, Line: 1}, wh.ID, sku, n); err != nil {
				t.Fatal(err)
			}
		}
		reserve := func(orderID, sku string, qty int64) {
			t.Helper()
			if err := inv.Reserve(ctx, []inventory.ReserveLine{{Doc: inventory.DocRef{Type: "order", ID: orderID, Line: 1}, WarehouseID: wh.ID, SKUID: sku, Qty: qty}}); err != nil {
				t.Fatal(err)
			}
		}
		ship := func(orderID string) {
			t.Helper()
			if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return inv.ShipTx(ctx, tx, "order", orderID) }); err != nil {
				t.Fatal(err)
			}
		}
		bal := func(sku string) inventory.Balance {
			t.Helper()
			b, err := inv.Balance(ctx, wh.ID, sku)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		ord := &asOrders{orders: map[string]aftersales.OrderRef{}, shipped: map[string]bool{}, status: map[string]string{}}
		addOrder := func(pid, sku string, qty, paid int64, shipped bool) {
			id := "O-" + pid
			ord.orders[pid] = aftersales.OrderRef{ID: id, Paid: paid, Lines: []aftersales.OrderLineRef{
				{Line: 1, PlatformLineID: pid + "-1", SKUID: sku, Qty: qty, Paid: paid, WarehouseID: wh.ID}}}
			reserve(id, sku, qty)
			if shipped {
				ship(id)
				ord.shipped[id] = true
			}
		}
		svc := aftersales.NewService(db, aftersales.Options{Stock: AftersalesStock(inv), Orders: ord, DefaultWarehouseID: wh.ID})
		refund := func(id, pid string, kind channel.RefundKind, st channel.RefundStatus, amount int64) channel.Refund {
			return channel.Refund{PlatformRefundID: id, PlatformOrderID: pid, Kind: kind, Status: st, PlatformStatus: string(st),
				Reason: "test", Amount: amount, ModifiedAt: time.Now()}
		}
		must := func(c aftersales.Case, err error) aftersales.Case {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			return c
		}

		// 1. Refund before shipment releases the order's reservation.
		addOrder("T1", "SKU-A", 2, 3000, false)
		if b := bal("SKU-A"); b.Available != 8 || b.Reserved != 2 {
			t.Fatalf("before refund: %+v", b)
		}
		c := must(svc.Apply(ctx, "S1", refund("R1", "T1", channel.RefundOnly, channel.RefundSucceeded, 3000)))
		if c.State != aftersales.Refunded || ord.status["O-T1"] != "cancelled" {
			t.Fatalf("refund before shipment: case %s, order %s", c.State, ord.status["O-T1"])
		}
		if b := bal("SKU-A"); b.Available != 10 || b.Reserved != 0 || b.OnHand != 10 {
			t.Fatalf("after refund before shipment: %+v", b)
		}

		// 2. A return after shipment restocks good units and books defective ones.
		addOrder("T2", "SKU-B", 2, 10000, true)
		if b := bal("SKU-B"); b.OnHand != 3 {
			t.Fatalf("after shipping: %+v", b)
		}
		c = must(svc.Apply(ctx, "S1", refund("R2", "T2", channel.ReturnRefund, channel.RefundRequested, 10000)))
		must(svc.Approve(ctx, c.ID, "alice", ""))
		must(svc.Receive(ctx, c.ID, "wh", ""))
		must(svc.QC(ctx, c.ID, "wh", []aftersales.QCInput{{Line: 1, Result: aftersales.Good}, {Line: 1, Result: aftersales.Defective}}))
		must(svc.Restock(ctx, c.ID, "wh"))
		c = must(svc.Refund(ctx, c.ID, "alice", ""))
		if b := bal("SKU-B"); b.OnHand != 4 || b.Defective != 1 || b.Available != 4 {
			t.Fatalf("after return: %+v", b)
		}
		if ord.status["O-T2"] != "refunded" {
			t.Fatalf("order after full return: %s", ord.status["O-T2"])
		}

		// 3. An exchange reserves the new SKU and ships it.
		addOrder("T3", "SKU-A", 1, 5000, true)
		c = must(svc.Create(ctx, aftersales.NewCase{ShopID: "S1", PlatformOrderID: "T3", Type: aftersales.Exchange, Reason: "size",
			Lines: []aftersales.Line{{OrderLine: 1, Qty: 1, NewSKUID: "SKU-B"}}}, "carol"))
		must(svc.Approve(ctx, c.ID, "carol", ""))
		if b := bal("SKU-B"); b.Reserved != 1 || b.Available != 3 {
			t.Fatalf("exchange reservation: %+v", b)
		}
		must(svc.Receive(ctx, c.ID, "wh", ""))
		must(svc.QC(ctx, c.ID, "wh", []aftersales.QCInput{{Line: 1, Result: aftersales.Good}}))
		must(svc.Restock(ctx, c.ID, "wh"))
		must(svc.Ship(ctx, c.ID, "wh", "SF", "SF1"))
		if b := bal("SKU-B"); b.Reserved != 0 || b.OnHand != 3 {
			t.Fatalf("after exchange shipped: %+v", b)
		}
		if b := bal("SKU-A"); b.OnHand != 10 { // 10 − 1 shipped + 1 returned
			t.Fatalf("SKU-A after exchange: %+v", b)
		}

		// 4. A cancelled reship releases its reservation.
		c = must(svc.Create(ctx, aftersales.NewCase{ShopID: "S1", PlatformOrderID: "T3", Type: aftersales.Reship, Reason: "lost"}, "carol"))
		must(svc.Approve(ctx, c.ID, "carol", ""))
		if b := bal("SKU-A"); b.Reserved != 1 {
			t.Fatalf("reship reservation: %+v", b)
		}
		must(svc.Cancel(ctx, c.ID, "carol", "parcel found"))
		if b := bal("SKU-A"); b.Reserved != 0 || b.Available != 10 {
			t.Fatalf("after cancelled reship: %+v", b)
		}

		rep, err := inv.Check(ctx)
		if err != nil || !rep.OK() {
			t.Fatalf("inventory check: %+v, %v", rep, err)
		}
	})
}
