package order

import (
	"context"
	"sync"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
)

type fakeStock struct {
	mu       sync.Mutex
	avail    map[string]int64 // warehouse|sku
	reserved map[string][]StockLine
	shipped  map[string]bool
	releases map[string]int   // ReleaseTx calls per order
	whs      []WarehouseRoute // active warehouses, most preferred first (WarehouseSource)
	reserves int              // ReserveTx calls
}

func newFakeStock() *fakeStock {
	return &fakeStock{avail: map[string]int64{}, reserved: map[string][]StockLine{}, shipped: map[string]bool{}, releases: map[string]int{}}
}

func (f *fakeStock) releaseCalls(orderID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.releases[orderID]
}

func (f *fakeStock) wasShipped(orderID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.shipped[orderID]
}

func (f *fakeStock) set(wh, sku string, n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.avail[wh+"|"+sku] = n
}

func (f *fakeStock) ReserveTx(_ context.Context, _ store.Tx, lines []StockLine) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reserves++
	need := map[string]int64{}
	byOrder := map[string][]StockLine{}
	for _, l := range lines {
		if len(f.reserved[l.OrderID]) > 0 {
			continue // idempotent per order
		}
		need[l.WarehouseID+"|"+l.SKUID] += l.Qty
		byOrder[l.OrderID] = append(byOrder[l.OrderID], l)
	}
	for k, n := range need {
		if f.avail[k] < n {
			return errs.E(errs.Conflict, "short").WithField("sku_id", k)
		}
	}
	for k, n := range need {
		f.avail[k] -= n
	}
	for id, ls := range byOrder {
		f.reserved[id] = ls
	}
	return nil
}

func (f *fakeStock) ReleaseTx(_ context.Context, _ store.Tx, orderID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.releases[orderID]++
	for _, l := range f.reserved[orderID] {
		f.avail[l.WarehouseID+"|"+l.SKUID] += l.Qty
	}
	delete(f.reserved, orderID)
	return nil
}

func (f *fakeStock) ShipTx(_ context.Context, _ store.Tx, orderID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.reserved, orderID)
	f.shipped[orderID] = true
	return nil
}

func (f *fakeStock) Available(_ context.Context, wh, sku string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.avail[wh+"|"+sku], nil
}

func (f *fakeStock) ActiveWarehousesTx(context.Context, store.Tx) ([]WarehouseRoute, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]WarehouseRoute(nil), f.whs...), nil
}

// setWarehouses makes ids the active warehouses, in that order, all of one
// priority and serving no province in particular.
func (f *fakeStock) setWarehouses(ids ...string) {
	ws := make([]WarehouseRoute, len(ids))
	for i, id := range ids {
		ws[i] = WarehouseRoute{ID: id, Priority: 100}
	}
	f.setRoutes(ws...)
}

func (f *fakeStock) setRoutes(ws ...WarehouseRoute) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.whs = ws
}

func (f *fakeStock) AvailableTx(_ context.Context, _ store.Tx, whs, skus []string) (map[string]map[string]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[string]int64{}
	for _, w := range whs {
		out[w] = map[string]int64{}
		for _, k := range skus {
			out[w][k] = f.avail[w+"|"+k]
		}
	}
	return out, nil
}

func (f *fakeStock) reserveCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reserves
}

func (f *fakeStock) reservedOf(orderID string) []StockLine {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reserved[orderID]
}

type fakeResolver struct {
	mu       sync.Mutex
	bindings map[string]string // platform sku → sku
	autoCode bool              // outer code binds when true
}

func (f *fakeResolver) ResolveTx(_ context.Context, _ store.Tx, shopID, item, psku, outer string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.bindings[psku]; ok {
		return id, true, nil
	}
	if f.autoCode && outer != "" {
		return outer, true, nil
	}
	return "", false, nil
}

func (f *fakeResolver) bind(psku, sku string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bindings[psku] = sku
}

var t0 = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

type env struct {
	svc   *Service
	db    store.DB
	stock *fakeStock
	res   *fakeResolver
	now   time.Time
}

func newEnv(t *testing.T, db store.DB) *env {
	t.Helper()
	e := &env{db: db, stock: newFakeStock(), res: &fakeResolver{bindings: map[string]string{}, autoCode: true}, now: t0}
	e.svc = New(db, Options{Stock: e.stock, Resolver: e.res, DefaultWarehouse: "WH1", Now: func() time.Time { return e.now }})
	for i := 0; i < 10; i++ {
		e.stock.set("WH1", "SKU-"+string(rune('A'+i)), 1000)
	}
	return e
}

// mk builds a paid order to a valid address with one line of SKU-A.
func mk(pid string, mod time.Time, mut ...func(*channel.Order)) channel.Order {
	paid := mod
	o := channel.Order{
		PlatformOrderID: pid, PlatformStatus: "WAIT_SELLER_SEND_GOODS", Status: channel.OrderPaid,
		CreatedAt: mod.Add(-time.Minute), PaidAt: &paid, ModifiedAt: mod,
		BuyerID: "b-" + pid, BuyerNick: "nick", Currency: "CNY",
		Receiver:    channel.Address{Name: "李雷", Phone: "138" + pad8(pid), Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "文三路1号"},
		Lines:       []channel.OrderLine{{PlatformLineID: pid + "-1", PlatformItemID: "PI-A", PlatformSKUID: "PS-A", OuterSKUID: "SKU-A", Title: "T恤", Quantity: 1, Price: 9900, Paid: 9900}},
		GoodsAmount: 9900, PaidAmount: 9900,
	}
	for _, m := range mut {
		m(&o)
	}
	return o
}

func pad8(s string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	out := make([]byte, 8)
	for i := range out {
		out[i] = byte('0' + h%10)
		h /= 10
	}
	return string(out)
}

func (e *env) ingest(t *testing.T, shop string, o channel.Order) IngestResult {
	t.Helper()
	r, err := e.svc.Ingest(context.Background(), shop, o)
	if err != nil {
		t.Fatalf("ingest %s: %v", o.PlatformOrderID, err)
	}
	return r
}

func (e *env) order(t *testing.T, id string) *Order {
	t.Helper()
	d, err := e.svc.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return &d.Order
}

func hasReason(o *Order, r string) bool {
	for _, x := range o.HoldReasons {
		if x == r {
			return true
		}
	}
	return false
}
