package app

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"omnihub/aftersales"
	"omnihub/catalog"
	"omnihub/channel"
	"omnihub/channel/douyin/douyinsim"
	"omnihub/channel/taobao/taobaosim"
	"omnihub/config"
	"omnihub/errs"
	"omnihub/inventory"
	"omnihub/order"
	"omnihub/shop"
	"omnihub/store"
	"omnihub/store/storetest"
	syncer "omnihub/sync"
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

// refundWorld is a serving OmniHub with a Taobao and a Douyin shop, each a
// simulator behind the real connector, the sync engine ticking, and one
// warehouse holding a T-shirt (sold on Taobao) and a cap (sold on both).
type refundWorld struct {
	t   *testing.T
	ctx context.Context
	a   *App
	wh  string
	sku map[string]string // code → SKU id

	tb     *taobaosim.Sim
	tbShop shop.Shop
	tbItem taobaosim.Item // SKUs: 0 TS-M, 1 CAP

	dy     *douyinsim.Sim
	dyShop shop.Shop
	dyCap  int64 // Douyin SKU id of CAP
	buyers int   // Taobao buyers so far (each gets a phone of their own)
}

// worldOptions vary a refund world: the configuration, and the Taobao
// shop's credentials extras and settings.
type worldOptions struct {
	cfg        func(*config.Config)
	tbExtra    map[string]string
	tbSettings shop.Settings
}

func newRefundWorld(t *testing.T, engine string) *refundWorld {
	return newRefundWorldWith(t, engine, worldOptions{})
}

func newRefundWorldWith(t *testing.T, engine string, wo worldOptions) *refundWorld {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Jobs.BackoffBase, cfg.Jobs.BackoffMax = 50*time.Millisecond, time.Second
	if engine == "postgres" {
		cfg.DB = storetest.FreshPostgresURL(t)
	}
	if wo.cfg != nil {
		wo.cfg(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := New(ctx, cfg, NewLogger(cfg.Log, io.Discard), Options{RunWorkers: true, Migrate: true, SyncTick: 100 * time.Millisecond})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- a.Serve(ctx, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	w := &refundWorld{t: t, ctx: context.Background(), a: a, sku: map[string]string{}}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("stop: %v", err)
		}
		a.Close()
	})

	wh, err := a.Inventory.CreateWarehouse(w.ctx, "HZ", "杭州仓")
	if err != nil {
		t.Fatal(err)
	}
	w.wh = wh.ID
	a.Orders.SetDefaultWarehouse(wh.ID)
	for i, code := range []string{"TS-M", "CAP"} {
		p, err := a.Catalog.CreateProduct(w.ctx, catalog.ProductInput{Code: "P-" + code, Name: code})
		if err != nil {
			t.Fatal(err)
		}
		k, err := a.Catalog.CreateSKU(w.ctx, catalog.SKUInput{ProductID: p.ID, Code: code, Name: code, PriceFen: 5900})
		if err != nil {
			t.Fatal(err)
		}
		w.sku[code] = k.ID
		if err := a.Inventory.Receive(w.ctx, inventory.DocRef{Type: "opening", ID: "OPEN", Line: i + 1}, wh.ID, k.ID, 20); err != nil {
			t.Fatal(err)
		}
	}

	w.tb = taobaosim.New(taobaosim.Options{RateLimit: -1}).Start()
	t.Cleanup(w.tb.Close)
	w.tbItem = w.tb.AddItem(taobaosim.ItemSpec{Title: "T恤和帽子", Price: 5900, OuterID: "P-TS", SKUs: []taobaosim.SKUSpec{
		{Properties: "款式:T恤M", Price: 5900, Quantity: 100, OuterID: "TS-M"}, {Properties: "款式:帽子", Price: 3900, Quantity: 100, OuterID: "CAP"}}})
	tc := w.tb.Credentials()
	if w.tbShop, err = a.Shops.Create(w.ctx, shop.New{Platform: channel.Taobao, Name: "淘宝店", PlatformShopID: strconv.FormatInt(tc.SellerID, 10),
		BaseURL: w.tb.GatewayURL(), Settings: wo.tbSettings, Credentials: channel.Credentials{AppKey: tc.AppKey, AppSecret: tc.AppSecret, AccessToken: tc.Session,
			RefreshToken: tc.RefreshToken, ExpiresAt: tc.ExpiresAt, Extra: wo.tbExtra}}); err != nil {
		t.Fatal(err)
	}

	w.dy = douyinsim.New(douyinsim.Options{WebhookURL: "http://" + addr + "/api/v1/push/douyin", PushBackoff: 50 * time.Millisecond})
	w.dy.Start()
	t.Cleanup(w.dy.Close)
	w.dyCap = w.dy.AddProduct(douyinsim.Product{Title: "帽子", SKUs: []douyinsim.SKU{{Code: "CAP", Spec: "颜色:黑", Price: 3900, Stock: 100}}}).SKUs[0].SkuID
	dc := w.dy.Credentials()
	if w.dyShop, err = a.Shops.Create(w.ctx, shop.New{Platform: channel.Douyin, Name: "抖店", PlatformShopID: strconv.FormatInt(dc.ShopID, 10),
		BaseURL: w.dy.URL(), Credentials: channel.Credentials{AppKey: dc.AppKey, AppSecret: dc.AppSecret, AccessToken: dc.AccessToken,
			RefreshToken: dc.RefreshToken, ExpiresAt: dc.ExpiresAt}}); err != nil {
		t.Fatal(err)
	}
	return w
}

// eventually polls cond until it holds; the message says what was awaited
// and what was last seen.
func (w *refundWorld) eventually(what string, cond func() (bool, string)) {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: still %s", what, seen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// order waits until the platform order is in OmniHub with status st.
func (w *refundWorld) order(shopID string, pid any, st order.Status) *order.Order {
	w.t.Helper()
	var o *order.Order
	w.eventually(fmt.Sprintf("order %v %s", pid, st), func() (bool, string) {
		var err error
		if o, err = w.a.Orders.FindByPlatformID(w.ctx, shopID, fmt.Sprint(pid)); err != nil {
			return false, err.Error()
		}
		return o.Status == st, string(o.Status)
	})
	return o
}

// caseOf waits until the platform refund has a case in state st.
func (w *refundWorld) caseOf(shopID string, refundID int64, st aftersales.State) aftersales.Case {
	w.t.Helper()
	var c aftersales.Case
	w.eventually(fmt.Sprintf("case of refund %d %s", refundID, st), func() (bool, string) {
		var id string
		if err := w.a.DB.QueryRow(w.ctx, `SELECT id FROM aftersales_cases WHERE shop_id = $1 AND platform_refund_id = $2`,
			shopID, strconv.FormatInt(refundID, 10)).Scan(&id); err != nil {
			return false, err.Error()
		}
		var err error
		if c, err = w.a.Aftersales.Get(w.ctx, id); err != nil {
			return false, err.Error()
		}
		return c.State == st, string(c.State)
	})
	return c
}

func (w *refundWorld) balance(code string) inventory.Balance {
	w.t.Helper()
	b, err := w.a.Inventory.Balance(w.ctx, w.wh, w.sku[code])
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

func (w *refundWorld) wantBalance(code string, onHand, reserved int64) {
	w.t.Helper()
	if b := w.balance(code); b.OnHand != onHand || b.Reserved != reserved {
		w.t.Fatalf("%s: on hand %d reserved %d, want %d and %d", code, b.OnHand, b.Reserved, onHand, reserved)
	}
}

// releases sums what was released of an order's reservation, in ledger rows
// and units.
func (w *refundWorld) releases(orderID string) (rows, units int64) {
	w.t.Helper()
	if err := w.a.DB.QueryRow(w.ctx, `SELECT COUNT(*), COALESCE(SUM(-d_reserved), 0) FROM inv_ledger
		WHERE doc_type = 'order' AND doc_id = $1 AND reason = 'release'`, orderID).Scan(&rows, &units); err != nil {
		w.t.Fatal(err)
	}
	return rows, units
}

// history says whether the order's history has a transition to st taken by actor.
func (w *refundWorld) history(orderID string, st order.Status, actor string) bool {
	w.t.Helper()
	d, err := w.a.Orders.Get(w.ctx, orderID)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, e := range d.Events {
		if e.To == st && e.Actor == actor && strings.Contains(e.Detail, "after-sales case") {
			return true
		}
	}
	return false
}

func (w *refundWorld) taobaoTrade(lines ...taobaosim.LineSpec) (int64, taobaosim.TradeInfo) {
	w.t.Helper()
	w.buyers++
	tid, err := w.tb.CreateTrade(taobaosim.TradeSpec{Lines: lines, PostFee: 1000,
		Receiver: &taobaosim.Receiver{Name: "韩梅梅", Mobile: fmt.Sprintf("139%08d", w.buyers), State: "浙江省", City: "杭州市",
			District: "西湖区", Address: "文三路 100 号", Zip: "310013"}})
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.tb.PayTrade(tid); err != nil {
		w.t.Fatal(err)
	}
	ti, _ := w.tb.Trade(tid)
	return tid, ti
}

func (w *refundWorld) checksClean() {
	w.t.Helper()
	rep, err := w.a.Inventory.Check(w.ctx)
	if err != nil || !rep.OK() {
		w.t.Fatalf("inventory check: %+v %v", rep, err)
	}
	v, err := w.a.Aftersales.Check(w.ctx)
	if err != nil || len(v) != 0 {
		w.t.Fatalf("after-sales check: %+v %v", v, err)
	}
}

// TestPlatformRefundsReachAftersales follows platform refunds through the
// whole process: simulator → connector → sync engine (TMC for Taobao, pushes
// for Douyin) → after-sales cases → order effects and stock, and the
// decisions back through the connectors. Afterwards every order is where its
// refunds leave it, each reservation was released once, and the stock and
// after-sales checks are clean.
func TestPlatformRefundsReachAftersales(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			w := newRefundWorld(t, engine)
			ts, capSKU := w.tbItem.SKUs[0].SkuID, w.tbItem.SKUs[1].SkuID
			tbLine := func(sku, n int64) taobaosim.LineSpec {
				return taobaosim.LineSpec{NumIID: w.tbItem.NumIID, SkuID: sku, Num: n}
			}

			// Taobao 1: a refund in full before shipment (the postage stays
			// with the seller) cancels the order and releases its stock once.
			tid1, t1 := w.taobaoTrade(tbLine(ts, 2))
			o1 := w.order(w.tbShop.ID, tid1, order.Approved)
			w.wantBalance("TS-M", 20, 2)
			r1, err := w.tb.RequestRefund(tid1, t1.Lines[0].Oid, taobaosim.RefundSpec{Reason: "拍错了"})
			if err != nil {
				t.Fatal(err)
			}
			c1 := w.caseOf(w.tbShop.ID, r1, aftersales.Requested)
			if c1.OrderID != o1.ID || c1.Type != aftersales.RefundOnly || c1.GoodsShipped {
				t.Fatalf("case 1 = %+v", c1)
			}
			if o := w.order(w.tbShop.ID, tid1, order.Refunding); o.RefundFrom != order.Approved {
				t.Fatalf("order 1 refunding from %q", o.RefundFrom)
			}
			w.wantBalance("TS-M", 20, 2) // kept while the refund is open
			if _, err := w.a.Aftersales.Approve(w.ctx, c1.ID, "alice", "同意"); err != nil {
				t.Fatal(err)
			}
			w.caseOf(w.tbShop.ID, r1, aftersales.Refunded)
			w.order(w.tbShop.ID, tid1, order.Cancelled)
			w.wantBalance("TS-M", 20, 0)
			if rows, units := w.releases(o1.ID); rows != 1 || units != 2 {
				t.Fatalf("order 1 released in %d ledger rows, %d units; want 1 row of 2", rows, units)
			}
			if !w.history(o1.ID, order.Refunding, "platform") {
				t.Fatal("order 1's history does not name the case that made it refunding")
			}

			// Taobao 2: one line of two refunded before shipment; the rest
			// stays reserved, then ships on the platform.
			tid2, t2 := w.taobaoTrade(tbLine(ts, 1), tbLine(capSKU, 1))
			o2 := w.order(w.tbShop.ID, tid2, order.Approved)
			w.wantBalance("CAP", 20, 1)
			r2, err := w.tb.RequestRefund(tid2, t2.Lines[1].Oid, taobaosim.RefundSpec{Reason: "不想要帽子了"})
			if err != nil {
				t.Fatal(err)
			}
			c2 := w.caseOf(w.tbShop.ID, r2, aftersales.Requested)
			if len(c2.Lines) != 1 || c2.Lines[0].OrderLine != 2 {
				t.Fatalf("case 2 lines %+v", c2.Lines)
			}
			if _, err := w.a.Aftersales.Approve(w.ctx, c2.ID, "alice", ""); err != nil {
				t.Fatal(err)
			}
			w.caseOf(w.tbShop.ID, r2, aftersales.Refunded)
			w.order(w.tbShop.ID, tid2, order.PartiallyRefunded)
			w.wantBalance("CAP", 20, 0)
			w.wantBalance("TS-M", 20, 1)
			if err := w.tb.ShipTrade(tid2, "ZTO", "ZT2001"); err != nil {
				t.Fatal(err)
			}
			w.eventually("order 2 shipped on the platform", func() (bool, string) {
				o, err := w.a.Orders.FindByPlatformID(w.ctx, w.tbShop.ID, strconv.FormatInt(tid2, 10))
				if err != nil {
					return false, err.Error()
				}
				return o.Status == order.PartiallyRefunded && o.RefundFrom == order.Shipped, string(o.Status) + " from " + string(o.RefundFrom)
			})
			w.wantBalance("TS-M", 19, 0)
			if rows, units := w.releases(o2.ID); rows != 1 || units != 1 {
				t.Fatalf("order 2 released %d rows, %d units; want the cap only", rows, units)
			}

			// Taobao 3: a refused refund puts the order back, still reserved.
			tid3, t3 := w.taobaoTrade(tbLine(ts, 1))
			w.order(w.tbShop.ID, tid3, order.Approved)
			r3, err := w.tb.RequestRefund(tid3, t3.Lines[0].Oid, taobaosim.RefundSpec{Reason: "不想要了"})
			if err != nil {
				t.Fatal(err)
			}
			c3 := w.caseOf(w.tbShop.ID, r3, aftersales.Requested)
			w.order(w.tbShop.ID, tid3, order.Refunding)
			if _, err := w.a.Aftersales.Refuse(w.ctx, c3.ID, "alice", "已与买家协商发货"); err != nil {
				t.Fatal(err)
			}
			w.eventually("refusal delivered to Taobao", func() (bool, string) {
				r, _ := w.tb.Refund(r3)
				return r.Status == "SELLER_REFUSE_BUYER", r.Status
			})
			w.caseOf(w.tbShop.ID, r3, aftersales.Refused)
			o3 := w.order(w.tbShop.ID, tid3, order.Approved)
			if !w.history(o3.ID, order.Approved, "alice") {
				t.Fatal("order 3's return to approved is not attributed to alice's refusal")
			}
			w.wantBalance("TS-M", 19, 1)

			// Douyin 1: an unshipped refund through pushes; the platform
			// cancels the order too.
			d1, err := w.dy.CreateOrder(douyinsim.NewOrder{Lines: []douyinsim.NewLine{{SkuID: w.dyCap, Qty: 2}}, Pay: true, BuyerWords: "谢谢",
				Name: "李雷", Phone: "13700000001", Province: "广东省", City: "广州市", District: "天河区", Detail: "天河路 1 号"})
			if err != nil {
				t.Fatal(err)
			}
			od1 := w.order(w.dyShop.ID, d1, order.Approved)
			w.wantBalance("CAP", 20, 2)
			as1, err := w.dy.RequestRefund(d1, 0, douyinsim.ASTypeRefundUnshipped, "拍多了")
			if err != nil {
				t.Fatal(err)
			}
			cd1 := w.caseOf(w.dyShop.ID, as1, aftersales.Requested)
			w.order(w.dyShop.ID, d1, order.Refunding)
			if _, err := w.a.Aftersales.Approve(w.ctx, cd1.ID, "bob", ""); err != nil {
				t.Fatal(err)
			}
			w.caseOf(w.dyShop.ID, as1, aftersales.Refunded)
			w.order(w.dyShop.ID, d1, order.Cancelled)
			w.wantBalance("CAP", 20, 0)
			if rows, units := w.releases(od1.ID); rows != 1 || units != 2 {
				t.Fatalf("Douyin order 1 released in %d rows, %d units; want 1 row of 2", rows, units)
			}

			// Douyin 2: shipped from OmniHub's warehouse, returned and
			// refunded in full: the order is refunded, the cap back on the shelf.
			d2, err := w.dy.CreateOrder(douyinsim.NewOrder{Lines: []douyinsim.NewLine{{SkuID: w.dyCap, Qty: 1}}, Pay: true, BuyerWords: "谢谢",
				Name: "王芳", Phone: "13700000002", Province: "广东省", City: "深圳市", District: "南山区", Detail: "科技园 2 号"})
			if err != nil {
				t.Fatal(err)
			}
			od2 := w.order(w.dyShop.ID, d2, order.Approved)
			if _, err := w.a.Orders.Transition(w.ctx, od2.ID, order.Allocated, "wh", "wave 1"); err != nil {
				t.Fatal(err)
			}
			if err := w.a.DB.InTx(w.ctx, func(ctx context.Context, tx store.Tx) error {
				if _, err := w.a.Orders.ShipTx(ctx, tx, od2.ID, "wh"); err != nil {
					return err
				}
				return syncer.EnqueueShipmentTx(ctx, tx, w.dyShop.ID, channel.Shipment{PlatformOrderID: strconv.FormatInt(d2, 10), CarrierCode: "ZTO", TrackingNo: "ZT9002"})
			}); err != nil {
				t.Fatal(err)
			}
			w.eventually("Douyin order 2 shipped on the platform", func() (bool, string) {
				v, _ := w.dy.Order(d2)
				return v.Status == douyinsim.StatusShipped, strconv.Itoa(v.Status)
			})
			w.wantBalance("CAP", 19, 0)
			as2, err := w.dy.RequestRefund(d2, 0, douyinsim.ASTypeReturn, "尺码不合适")
			if err != nil {
				t.Fatal(err)
			}
			cd2 := w.caseOf(w.dyShop.ID, as2, aftersales.Requested)
			if !cd2.GoodsShipped || cd2.Type != aftersales.ReturnRefund {
				t.Fatalf("Douyin case 2 = %+v", cd2)
			}
			if o := w.order(w.dyShop.ID, d2, order.Refunding); o.RefundFrom != order.Shipped {
				t.Fatalf("Douyin order 2 refunding from %q", o.RefundFrom)
			}
			if _, err := w.a.Aftersales.Approve(w.ctx, cd2.ID, "bob", ""); err != nil {
				t.Fatal(err)
			}
			w.caseOf(w.dyShop.ID, as2, aftersales.AwaitingReturn)
			w.eventually("agreement delivered to Douyin", func() (bool, string) {
				st := w.dy.AfterSaleStatus(as2)
				return st == douyinsim.ASWaitBuyerReturn, strconv.Itoa(st)
			})
			if err := w.dy.BuyerReturn(as2, "中通快递", "ZT9902"); err != nil {
				t.Fatal(err)
			}
			w.caseOf(w.dyShop.ID, as2, aftersales.ReturnInTransit)
			for i, step := range []func() (aftersales.Case, error){
				func() (aftersales.Case, error) { return w.a.Aftersales.Receive(w.ctx, cd2.ID, "wh", "") },
				func() (aftersales.Case, error) {
					return w.a.Aftersales.QC(w.ctx, cd2.ID, "wh", []aftersales.QCInput{{Line: 1, Result: aftersales.Good}})
				},
				func() (aftersales.Case, error) { return w.a.Aftersales.Restock(w.ctx, cd2.ID, "wh") },
				func() (aftersales.Case, error) { return w.a.Aftersales.Refund(w.ctx, cd2.ID, "bob", "") },
			} {
				if _, err := step(); err != nil {
					t.Fatalf("return step %d: %v", i, err)
				}
			}
			w.eventually("receipt confirmed to Douyin", func() (bool, string) {
				st := w.dy.AfterSaleStatus(as2)
				return st == douyinsim.ASSucceeded, strconv.Itoa(st)
			})
			w.caseOf(w.dyShop.ID, as2, aftersales.Refunded)
			if o := w.order(w.dyShop.ID, d2, order.Refunded); !w.history(o.ID, order.Refunded, "bob") {
				t.Fatal("Douyin order 2's refund is not attributed to bob")
			}
			w.wantBalance("CAP", 20, 0)

			// Nothing dead-lettered, and the books balance.
			w.checksClean()
			var dead int64
			if err := w.a.DB.QueryRow(w.ctx, `SELECT COUNT(*) FROM river_job WHERE state = 'discarded'`).Scan(&dead); err != nil {
				t.Fatal(err)
			}
			if dead != 0 {
				t.Fatalf("%d jobs discarded", dead)
			}
		})
	}
}

// TestRefundOfOrderNotIngestedIsRetried: the sync engine hands after-sales a
// refund whose order it has not ingested yet. Apply fails as Unavailable
// (the job retries) and leaves nothing behind; once the order is in, the
// same refund opens its case and marks the order.
func TestRefundOfOrderNotIngestedIsRetried(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		inv := inventory.New(db, inventory.Options{})
		wh, err := inv.CreateWarehouse(ctx, "WH1", "Main")
		if err != nil {
			t.Fatal(err)
		}
		if err := inv.Receive(ctx, inventory.DocRef{Type: "receipt", ID: "PO1", Line: 1}, wh.ID, "SKU-A", 5); err != nil {
			t.Fatal(err)
		}
		orders := order.New(db, order.Options{Stock: OrderStock(inv), DefaultWarehouse: wh.ID})
		a := &App{Orders: orders, Aftersales: aftersales.NewService(db, aftersales.Options{Stock: AftersalesStock(inv), Orders: orders})}
		sink := a.refundSink()
		if sink == nil {
			t.Fatal("no refund sink although orders are wired")
		}
		now := time.Now()
		rf := channel.Refund{PlatformRefundID: "R9", PlatformOrderID: "T9", Kind: channel.RefundOnly, Status: channel.RefundRequested,
			PlatformStatus: "WAIT_SELLER_AGREE", Reason: "拍错了", Amount: 5900, ModifiedAt: now}
		if err := sink.Apply(ctx, "S1", rf); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("refund before its order: %v, want unavailable", err)
		}
		var n int64
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM aftersales_cases`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d cases after the failed apply (%v)", n, err)
		}
		paid := now.Add(-time.Minute)
		r, err := orders.Ingest(ctx, "S1", channel.Order{PlatformOrderID: "T9", PlatformStatus: "WAIT_SELLER_SEND_GOODS", Status: channel.OrderPaid,
			CreatedAt: paid, PaidAt: &paid, ModifiedAt: paid, BuyerID: "b9", Currency: "CNY",
			Receiver: channel.Address{Name: "李雷", Phone: "13800000009", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "文三路1号"},
			Lines: []channel.OrderLine{{PlatformLineID: "T9-1", PlatformItemID: "I1", PlatformSKUID: "P1", OuterSKUID: "SKU-A", Title: "T恤",
				Quantity: 1, Price: 5900, Paid: 5900}}, GoodsAmount: 5900, PaidAmount: 5900})
		if err != nil || r.Status != order.Approved {
			t.Fatalf("ingest: %+v %v", r, err)
		}
		if err := sink.Apply(ctx, "S1", rf); err != nil {
			t.Fatalf("retried refund: %v", err)
		}
		o, err := orders.FindByPlatformID(ctx, "S1", "T9")
		if err != nil || o.Status != order.Refunding || o.RefundFrom != order.Approved {
			t.Fatalf("order after the retry: %+v %v", o, err)
		}
		if b, _ := inv.Balance(ctx, wh.ID, "SKU-A"); b.Reserved != 1 {
			t.Fatalf("reservation lost while refunding: %+v", b)
		}
	})
}
