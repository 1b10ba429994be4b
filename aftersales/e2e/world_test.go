package e2e_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"omnihub/aftersales"
	"omnihub/channel"
	"omnihub/inventory"
	"omnihub/jobs"
	"omnihub/store"
)

const shopID = "S1"

// orders stands in for the order module: orders as the connector reads
// them, their reservations in the real inventory, and the effects
// after-sales asks for.
type orders struct {
	mu      sync.Mutex
	byPID   map[string]aftersales.OrderRef
	shipped map[string]bool
	status  map[string]string
}

func newOrders() *orders {
	return &orders{byPID: map[string]aftersales.OrderRef{}, shipped: map[string]bool{}, status: map[string]string{}}
}

func (f *orders) FindByPlatformIDTx(_ context.Context, _ store.Tx, _, pid string) (aftersales.OrderRef, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.byPID[pid]
	return o, ok, nil
}
func (f *orders) IsShippedTx(_ context.Context, _ store.Tx, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.shipped[id], nil
}
func (f *orders) set(id, st string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[id] = st
	return nil
}
func (f *orders) get(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status[id]
}
func (f *orders) MarkRefundingTx(_ context.Context, _ store.Tx, id string) error {
	return f.set(id, "refunding")
}
func (f *orders) ClearRefundingTx(_ context.Context, _ store.Tx, id string) error {
	return f.set(id, "normal")
}
func (f *orders) MarkRefundedTx(_ context.Context, _ store.Tx, id string, full bool) error {
	return f.set(id, map[bool]string{true: "refunded", false: "partially_refunded"}[full])
}
func (f *orders) CancelTx(_ context.Context, _ store.Tx, id, _ string) error {
	return f.set(id, "cancelled")
}

// stock adapts inventory to aftersales.StockEffects (as internal/app does).
type stock struct{ inv *inventory.Service }

func doc(d aftersales.DocRef) inventory.DocRef {
	return inventory.DocRef{Type: d.Type, ID: d.ID, Line: d.Line}
}
func (s stock) ReleaseTx(ctx context.Context, tx store.Tx, t, id string) error {
	return s.inv.ReleaseTx(ctx, tx, t, id)
}
func (s stock) ReleaseLineTx(ctx context.Context, tx store.Tx, d aftersales.DocRef, q int64) error {
	return s.inv.ReleaseLineTx(ctx, tx, doc(d), q)
}
func (s stock) RestockTx(ctx context.Context, tx store.Tx, d aftersales.DocRef, wh, sku string, q int64, bad bool) error {
	return s.inv.RestockTx(ctx, tx, doc(d), wh, sku, q, bad)
}
func (s stock) ReserveTx(ctx context.Context, tx store.Tx, ls []aftersales.ReserveLine) error {
	out := make([]inventory.ReserveLine, len(ls))
	for i, l := range ls {
		out[i] = inventory.ReserveLine{Doc: doc(l.Doc), WarehouseID: l.WarehouseID, SKUID: l.SKUID, Qty: l.Qty}
	}
	return s.inv.ReserveTx(ctx, tx, out)
}
func (s stock) ShipTx(ctx context.Context, tx store.Tx, t, id string) error {
	return s.inv.ShipTx(ctx, tx, t, id)
}

// responder answers through the connector, as the app's does.
type responder struct {
	conn connector
	sess channel.Session
}

func (r responder) Respond(ctx context.Context, _ string, d channel.RefundDecision) error {
	return r.conn.AnswerRefund(ctx, r.sess, d)
}

// connector is what the tests need of a platform connector.
type connector interface {
	channel.OrderPuller
	channel.RefundPuller
	channel.RefundResponder
	channel.ShipmentUploader
}

type world struct {
	t      *testing.T
	ctx    context.Context
	db     store.DB
	conn   connector
	sess   channel.Session
	inv    *inventory.Service
	wh     string
	orders *orders
	svc    *aftersales.Service
}

func newWorld(t *testing.T, db store.DB, conn connector, sess channel.Session) *world {
	ctx := context.Background()
	w := &world{t: t, ctx: ctx, db: db, orders: newOrders(), conn: conn, sess: sess}
	w.inv = inventory.New(db, inventory.Options{})
	wh, err := w.inv.CreateWarehouse(ctx, "WH1", "Main")
	if err != nil {
		t.Fatal(err)
	}
	w.wh = wh.ID
	w.svc = aftersales.NewService(db, aftersales.Options{Stock: stock{w.inv}, Orders: w.orders, DefaultWarehouseID: w.wh,
		ReturnAddress: &channel.Address{Name: "退货仓", Phone: "13800000000", Province: "浙江省", City: "杭州市", District: "余杭区", Detail: "仓前街道 1 号"}})
	aftersales.RegisterWorkers(db.Jobs().Workers(), aftersales.WorkerDeps{DB: db, Responder: responder{w.conn, w.sess}})
	if err := db.Jobs().Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = db.Jobs().Stop(stop)
	})
	return w
}

func skuOf(platformSKU string) string { return "SKU-" + platformSKU }

// stockUp receives qty units of each platform SKU's internal SKU.
func (w *world) stockUp(qty int64, platformSKUs ...int64) {
	for _, p := range platformSKUs {
		sku := skuOf(strconv.FormatInt(p, 10))
		if err := w.inv.Receive(w.ctx, inventory.DocRef{Type: "receipt", ID: "PO-" + sku, Line: 1}, w.wh, sku, qty); err != nil {
			w.t.Fatal(err)
		}
	}
}

// ingest reads a platform order through the connector and does what the
// order module would: remember it and reserve its lines.
func (w *world) ingest(platformOrderID int64) aftersales.OrderRef {
	w.t.Helper()
	pid := strconv.FormatInt(platformOrderID, 10)
	o, err := w.conn.GetOrder(w.ctx, w.sess, pid)
	if err != nil {
		w.t.Fatal(err)
	}
	ref := aftersales.OrderRef{ID: "O-" + pid}
	var rl []inventory.ReserveLine
	for i, l := range o.Lines {
		ol := aftersales.OrderLineRef{Line: i + 1, PlatformLineID: l.PlatformLineID, SKUID: skuOf(l.PlatformSKUID), Qty: l.Quantity, Paid: l.Paid, WarehouseID: w.wh}
		ref.Lines = append(ref.Lines, ol)
		ref.Paid += l.Paid
		rl = append(rl, inventory.ReserveLine{Doc: inventory.DocRef{Type: "order", ID: ref.ID, Line: ol.Line}, WarehouseID: w.wh, SKUID: ol.SKUID, Qty: ol.Qty})
	}
	if err := w.inv.Reserve(w.ctx, rl); err != nil {
		w.t.Fatal(err)
	}
	w.orders.mu.Lock()
	w.orders.byPID[pid] = ref
	w.orders.status[ref.ID] = "approved"
	w.orders.mu.Unlock()
	return ref
}

// ship ships an order on the platform and in the warehouse.
func (w *world) ship(ref aftersales.OrderRef, pid int64, trackingNo string) {
	w.t.Helper()
	if err := w.conn.UploadShipment(w.ctx, w.sess, channel.Shipment{PlatformOrderID: strconv.FormatInt(pid, 10), CarrierCode: "ZTO", TrackingNo: trackingNo}); err != nil {
		w.t.Fatal(err)
	}
	if err := w.db.InTx(w.ctx, func(ctx context.Context, tx store.Tx) error { return w.inv.ShipTx(ctx, tx, "order", ref.ID) }); err != nil {
		w.t.Fatal(err)
	}
	w.orders.mu.Lock()
	w.orders.shipped[ref.ID], w.orders.status[ref.ID] = true, "shipped"
	w.orders.mu.Unlock()
}

// sync reads an after-sale through the connector and applies it, as the
// sync engine does on a push or a pull.
func (w *world) sync(refundID int64) aftersales.Case {
	w.t.Helper()
	r, err := w.conn.GetRefund(w.ctx, w.sess, strconv.FormatInt(refundID, 10))
	if err != nil {
		w.t.Fatal(err)
	}
	c, err := w.svc.Apply(w.ctx, shopID, r)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// answered waits until the platform accepted n decisions on the case.
func (w *world) answered(caseID string, n int) {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := w.svc.Get(w.ctx, caseID)
		if err != nil {
			w.t.Fatal(err)
		}
		got := 0
		for _, e := range c.History {
			switch e.Action {
			case aftersales.ActResponded:
				got++
			case aftersales.ActRespondFailed:
				w.t.Fatalf("platform rejected a decision: %s", e.Note)
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("case %s: %d of %d decisions delivered", caseID, got, n)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func (w *world) balance(platformSKU int64) inventory.Balance {
	w.t.Helper()
	b, err := w.inv.Balance(w.ctx, w.wh, skuOf(strconv.FormatInt(platformSKU, 10)))
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

func (w *world) checkClean() {
	w.t.Helper()
	rep, err := w.inv.Check(w.ctx)
	if err != nil || !rep.OK() {
		w.t.Fatalf("inventory check: %+v %v", rep, err)
	}
	v, err := w.svc.Check(w.ctx)
	if err != nil || len(v) != 0 {
		w.t.Fatalf("after-sales check: %+v %v", v, err)
	}
}

func want[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

var jobCfg = jobs.Config{RunWorkers: true, MaxAttempts: 5}
