package e2e_test

import (
	"strconv"
	"testing"

	"omnihub/aftersales"
	"omnihub/channel"
	"omnihub/channel/taobao"
	"omnihub/channel/taobao/taobaosim"
	"omnihub/store"
	"omnihub/store/storetest"
)

// taobaoWorld runs a Taobao simulator and connector for the test, with one
// T-shirt SKU on sale.
func taobaoWorld(t *testing.T, db store.DB) (*world, *taobaosim.Sim, taobaosim.Item) {
	sim := taobaosim.New(taobaosim.Options{RateLimit: -1}).Start()
	t.Cleanup(sim.Close)
	cr := sim.Credentials()
	sess := channel.Session{ShopID: shopID, PlatformShopID: strconv.FormatInt(cr.SellerID, 10), Credentials: channel.Credentials{
		AppKey: cr.AppKey, AppSecret: cr.AppSecret, AccessToken: cr.Session, RefreshToken: cr.RefreshToken, ExpiresAt: cr.ExpiresAt}}
	conn := taobao.New(taobao.Options{BaseURL: sim.GatewayURL(), TokenURL: sim.TokenURL()})
	item := sim.AddItem(taobaosim.ItemSpec{Title: "纯棉T恤", Price: 5900, OuterID: "TS", SKUs: []taobaosim.SKUSpec{
		{Properties: "尺码:M", Price: 5900, Quantity: 100, OuterID: "TS-M"}}})
	return newWorld(t, db, conn, sess), sim, item
}

// trade places and pays a trade of qty units and ingests it.
func taobaoTrade(t *testing.T, w *world, sim *taobaosim.Sim, item taobaosim.Item, qty int64) (int64, int64, aftersales.OrderRef) {
	t.Helper()
	tid, err := sim.CreateTrade(taobaosim.TradeSpec{Lines: []taobaosim.LineSpec{{NumIID: item.NumIID, SkuID: item.SKUs[0].SkuID, Num: qty}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.PayTrade(tid); err != nil {
		t.Fatal(err)
	}
	ti, _ := sim.Trade(tid)
	return tid, ti.Lines[0].Oid, w.ingest(tid)
}

func TestTaobaoRefundOnlyBeforeShipment(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngineWithJobs(t, jobCfg, func(t *testing.T, db store.DB) {
		w, sim, item := taobaoWorld(t, db)
		p := item.SKUs[0].SkuID
		w.stockUp(10, p)
		tid, oid, ref := taobaoTrade(t, w, sim, item, 1)
		rid, err := sim.RequestRefund(tid, oid, taobaosim.RefundSpec{Reason: "拍错了"})
		if err != nil {
			t.Fatal(err)
		}
		c := w.sync(rid)
		want(t, "state", c.State, aftersales.Requested)
		if _, err := w.svc.Approve(w.ctx, c.ID, "alice", ""); err != nil {
			t.Fatal(err)
		}
		w.answered(c.ID, 1)
		r, _ := sim.Refund(rid)
		want(t, "platform status", r.Status, "SUCCESS")
		c = w.sync(rid)
		want(t, "state", c.State, aftersales.Refunded)
		want(t, "order", w.orders.get(ref.ID), "cancelled")
		b := w.balance(p)
		want(t, "available", b.Available, int64(10))
		want(t, "reserved", b.Reserved, int64(0))
		w.checkClean()
	})
}

func TestTaobaoReturnThenBuyerWithdrawsAnother(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngineWithJobs(t, jobCfg, func(t *testing.T, db store.DB) {
		w, sim, item := taobaoWorld(t, db)
		p := item.SKUs[0].SkuID
		w.stockUp(10, p)
		tid, oid, ref := taobaoTrade(t, w, sim, item, 1)
		w.ship(ref, tid, "ZT200")
		rid, err := sim.RequestRefund(tid, oid, taobaosim.RefundSpec{GoodsReturn: true, Reason: "尺码不合适"})
		if err != nil {
			t.Fatal(err)
		}
		c := w.sync(rid)
		if !c.GoodsShipped || c.Type != aftersales.ReturnRefund {
			t.Fatalf("case = %+v", c)
		}
		if _, err := w.svc.Approve(w.ctx, c.ID, "alice", ""); err != nil {
			t.Fatal(err)
		}
		w.answered(c.ID, 1)
		r, _ := sim.Refund(rid)
		want(t, "platform status", r.Status, "WAIT_BUYER_RETURN_GOODS")
		if err := sim.BuyerReturnGoods(rid, "中通快递", "ZT777"); err != nil {
			t.Fatal(err)
		}
		c = w.sync(rid)
		want(t, "state", c.State, aftersales.ReturnInTransit)
		for _, step := range []func() (aftersales.Case, error){
			func() (aftersales.Case, error) { return w.svc.Receive(w.ctx, c.ID, "wh", "") },
			func() (aftersales.Case, error) {
				return w.svc.QC(w.ctx, c.ID, "wh", []aftersales.QCInput{{Line: 1, Result: aftersales.Good}})
			},
			func() (aftersales.Case, error) { return w.svc.Restock(w.ctx, c.ID, "wh") },
			func() (aftersales.Case, error) { return w.svc.Refund(w.ctx, c.ID, "alice", "") },
		} {
			if c, err = step(); err != nil {
				t.Fatal(err)
			}
		}
		w.answered(c.ID, 2)
		r, _ = sim.Refund(rid)
		want(t, "platform status", r.Status, "SUCCESS")
		c = w.sync(rid)
		want(t, "state", c.State, aftersales.Refunded)
		want(t, "order", w.orders.get(ref.ID), "refunded")
		want(t, "on hand", w.balance(p).OnHand, int64(10))

		// A second buyer asks for a return, then withdraws it.
		tid2, oid2, ref2 := taobaoTrade(t, w, sim, item, 1)
		w.ship(ref2, tid2, "ZT201")
		rid2, err := sim.RequestRefund(tid2, oid2, taobaosim.RefundSpec{GoodsReturn: true})
		if err != nil {
			t.Fatal(err)
		}
		c2 := w.sync(rid2)
		want(t, "order 2", w.orders.get(ref2.ID), "refunding")
		if err := sim.CloseRefund(rid2); err != nil {
			t.Fatal(err)
		}
		c2 = w.sync(rid2)
		want(t, "withdrawn", c2.State, aftersales.Cancelled)
		want(t, "order 2", w.orders.get(ref2.ID), "normal")
		w.checkClean()
	})
}
