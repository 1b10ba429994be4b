package e2e_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"omnihub/aftersales"
	"omnihub/channel"
	"omnihub/channel/douyin"
	"omnihub/channel/douyin/douyinsim"
	"omnihub/store"
	"omnihub/store/storetest"
)

// douyinWorld runs a Douyin simulator and connector for the test.
func douyinWorld(t *testing.T, db store.DB) (*world, *douyinsim.Sim) {
	sim := douyinsim.New(douyinsim.Options{})
	sim.Start()
	t.Cleanup(sim.Close)
	cr := sim.Credentials()
	sess := channel.Session{ShopID: shopID, PlatformShopID: strconv.FormatInt(cr.ShopID, 10),
		Credentials: channel.Credentials{AppKey: cr.AppKey, AppSecret: cr.AppSecret, AccessToken: cr.AccessToken, RefreshToken: cr.RefreshToken}}
	return newWorld(t, db, douyin.New(douyin.Options{BaseURL: sim.URL()}), sess), sim
}

func TestDouyinRefundOnlyBeforeShipment(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngineWithJobs(t, jobCfg, func(t *testing.T, db store.DB) {
		w, sim := douyinWorld(t, db)
		p := sim.SeedCatalog(1, 50)[0].SKUs[0].SkuID
		w.stockUp(10, p)
		oid, err := sim.CreateOrder(douyinsim.NewOrder{Lines: []douyinsim.NewLine{{SkuID: p, Qty: 2}}, Pay: true})
		if err != nil {
			t.Fatal(err)
		}
		ref := w.ingest(oid)
		want(t, "available after the order", w.balance(p).Available, int64(8))

		as, err := sim.RequestRefund(oid, 0, douyinsim.ASTypeRefundUnshipped, "拍错了")
		if err != nil {
			t.Fatal(err)
		}
		c := w.sync(as)
		want(t, "state", c.State, aftersales.Requested)
		want(t, "order", w.orders.get(ref.ID), "refunding")
		if _, err := w.svc.Approve(w.ctx, c.ID, "alice", "拍错了，同意"); err != nil {
			t.Fatal(err)
		}
		w.answered(c.ID, 1)
		want(t, "platform status", sim.AfterSaleStatus(as), 12)
		c = w.sync(as)
		want(t, "state", c.State, aftersales.Refunded)
		want(t, "order", w.orders.get(ref.ID), "cancelled")
		b := w.balance(p)
		want(t, "available after the refund", b.Available, int64(10))
		want(t, "reserved after the refund", b.Reserved, int64(0))
		if _, err := w.svc.Close(w.ctx, c.ID, "alice", ""); err != nil {
			t.Fatal(err)
		}
		w.checkClean()
	})
}

func TestDouyinReturnAfterShipment(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngineWithJobs(t, jobCfg, func(t *testing.T, db store.DB) {
		w, sim := douyinWorld(t, db)
		p := sim.SeedCatalog(1, 50)[0].SKUs[0].SkuID
		w.stockUp(10, p)
		oid, err := sim.CreateOrder(douyinsim.NewOrder{Lines: []douyinsim.NewLine{{SkuID: p, Qty: 2}}, Pay: true})
		if err != nil {
			t.Fatal(err)
		}
		ref := w.ingest(oid)
		w.ship(ref, oid, "ZT100")
		want(t, "on hand after shipping", w.balance(p).OnHand, int64(8))

		as, err := sim.RequestRefund(oid, 0, douyinsim.ASTypeReturn, "质量问题")
		if err != nil {
			t.Fatal(err)
		}
		c := w.sync(as)
		want(t, "state", c.State, aftersales.Requested)
		if _, err := w.svc.Approve(w.ctx, c.ID, "alice", ""); err != nil {
			t.Fatal(err)
		}
		w.answered(c.ID, 1)
		want(t, "platform status", sim.AfterSaleStatus(as), 7)
		c = w.sync(as)
		want(t, "state", c.State, aftersales.AwaitingReturn)

		if err := sim.BuyerReturn(as, "中通快递", "ZT900"); err != nil {
			t.Fatal(err)
		}
		c = w.sync(as)
		want(t, "state", c.State, aftersales.ReturnInTransit)
		want(t, "return tracking", c.ReturnTrackingNo, "ZT900")

		steps := []func() (aftersales.Case, error){
			func() (aftersales.Case, error) { return w.svc.Receive(w.ctx, c.ID, "wh-bob", "") },
			func() (aftersales.Case, error) {
				return w.svc.QC(w.ctx, c.ID, "wh-bob", []aftersales.QCInput{{Line: 1, Result: aftersales.Good}, {Line: 1, Result: aftersales.Defective}})
			},
			func() (aftersales.Case, error) { return w.svc.Restock(w.ctx, c.ID, "wh-bob") },
			func() (aftersales.Case, error) { return w.svc.Refund(w.ctx, c.ID, "alice", "") },
		}
		for i, s := range steps {
			if c, err = s(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		want(t, "state", c.State, aftersales.Refunded)
		w.answered(c.ID, 2) // confirm_receipt
		want(t, "platform status", sim.AfterSaleStatus(as), 12)
		c = w.sync(as)
		want(t, "state", c.State, aftersales.Refunded)
		want(t, "order", w.orders.get(ref.ID), "refunded")
		b := w.balance(p)
		want(t, "on hand after the return", b.OnHand, int64(9))
		want(t, "defective after the return", b.Defective, int64(1))
		if _, err := w.svc.Close(w.ctx, c.ID, "alice", ""); err != nil {
			t.Fatal(err)
		}
		got, err := w.svc.Get(w.ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got.History {
			if e.Actor == "" || e.At.IsZero() {
				t.Fatalf("unattributed step %+v", e)
			}
		}
		w.checkClean()
	})
}

func TestDouyinRefusal(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngineWithJobs(t, jobCfg, func(t *testing.T, db store.DB) {
		w, sim := douyinWorld(t, db)
		p := sim.SeedCatalog(1, 50)[0].SKUs[0].SkuID
		w.stockUp(10, p)
		oid, err := sim.CreateOrder(douyinsim.NewOrder{Lines: []douyinsim.NewLine{{SkuID: p, Qty: 1}}, Pay: true})
		if err != nil {
			t.Fatal(err)
		}
		ref := w.ingest(oid)
		as, err := sim.RequestRefund(oid, 0, douyinsim.ASTypeRefundUnshipped, "不想要了")
		if err != nil {
			t.Fatal(err)
		}
		c := w.sync(as)
		if _, err := w.svc.Refuse(w.ctx, c.ID, "alice", "已与买家协商发货"); err != nil {
			t.Fatal(err)
		}
		w.answered(c.ID, 1)
		want(t, "platform status", sim.AfterSaleStatus(as), 27)
		c = w.sync(as)
		want(t, "state", c.State, aftersales.Refused)
		want(t, "order", w.orders.get(ref.ID), "normal")
		want(t, "still reserved", w.balance(p).Reserved, int64(1))
		w.checkClean()
	})
}

// TestDouyinRefundsDuringFlashSale asks for refunds while a flash sale runs
// and settles them all: afterwards every refunded order's reservation is
// gone, every other paid order still holds its units, and the books balance.
func TestDouyinRefundsDuringFlashSale(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngineWithJobs(t, jobCfg, func(t *testing.T, db store.DB) {
		w, sim := douyinWorld(t, db)
		p := sim.SeedCatalog(1, 40)[0].SKUs[0].SkuID
		w.stockUp(40, p)
		start := time.Now().Add(-time.Minute)
		var mu sync.Mutex
		var paid []douyinsim.FlashOrder
		res, err := sim.FlashSale(w.ctx, douyinsim.FlashSaleOptions{SKUs: []int64{p}, OrdersPerSecond: 200, Duration: 300 * time.Millisecond,
			RefundRatio: 0.3, Workers: 4, OnOrder: func(o douyinsim.FlashOrder) {
				if o.Paid {
					mu.Lock()
					paid = append(paid, o)
					mu.Unlock()
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		if res.RefundRequested == 0 || len(paid) == 0 {
			t.Skipf("the sale produced no refunds to settle (%+v)", res)
		}
		var units int64
		for _, o := range paid {
			w.ingest(o.OrderID)
			units += o.Qty
		}
		want(t, "reserved by the sale", w.balance(p).Reserved, units)

		// Pull every after-sale of the window, as the sync engine does.
		pull := func() []channel.Refund {
			var out []channel.Refund
			q := channel.RefundQuery{Start: start, End: time.Now().Add(time.Minute), PageSize: 100}
			for {
				pg, err := w.conn.PullRefunds(w.ctx, w.sess, q)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, pg.Refunds...)
				if pg.NextCursor == "" {
					return out
				}
				q.Cursor = pg.NextCursor
			}
		}
		refunds := pull()
		want(t, "refunds pulled", int64(len(refunds)), res.RefundRequested)
		var cases []aftersales.Case
		for _, r := range refunds {
			c, err := w.svc.Apply(w.ctx, shopID, r)
			if err != nil {
				t.Fatal(err)
			}
			if c, err = w.svc.Approve(w.ctx, c.ID, "alice", "flash sale"); err != nil {
				t.Fatal(err)
			}
			cases = append(cases, c)
		}
		for _, c := range cases {
			w.answered(c.ID, 1)
		}
		var refundedUnits int64
		for _, r := range pull() { // the platform's new versions
			c, err := w.svc.Apply(w.ctx, shopID, r)
			if err != nil {
				t.Fatal(err)
			}
			want(t, fmt.Sprintf("case %s", c.ID), c.State, aftersales.Refunded)
			want(t, "order of "+c.ID, w.orders.get(c.OrderID), "cancelled")
			refundedUnits += c.Lines[0].Qty
		}
		b := w.balance(p)
		want(t, "reserved after the refunds", b.Reserved, units-refundedUnits)
		want(t, "available after the refunds", b.Available, 40-(units-refundedUnits))
		w.checkClean()
	})
}
