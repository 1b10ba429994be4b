package app

import (
	"fmt"
	"testing"

	"github.com/riverqueue/river/rivertype"

	"omnihub/aftersales"
	"omnihub/channel/douyin/douyinsim"
	"omnihub/channel/taobao/taobaosim"
	"omnihub/inventory"
	"omnihub/order"
	syncer "omnihub/sync"
)

// TestLostRefundMessagesAreRecovered loses every refund message of a
// Taobao and a Douyin shop (TMC messages dropped at publication, webhook
// pushes never sent) and follows the refunds to their after-sales cases
// through the real connectors, simulators and after-sales service:
// reconciliation creates the missing cases and reports them, the refund pull
// picks up later ones — bringing in an order whose own message was lost too
// — and reading the same refunds again creates no case and no case event.
func TestLostRefundMessagesAreRecovered(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			w := newRefundWorld(t, engine)
			for _, sh := range []string{w.tbShop.ID, w.dyShop.ID} {
				// Reconciliation compares channel stock with the policy.
				if _, err := w.a.Inventory.SetPolicy(w.ctx, inventory.Policy{ShopID: sh, RatioPct: 100}); err != nil {
					t.Fatal(err)
				}
			}
			line := taobaosim.LineSpec{NumIID: w.tbItem.NumIID, SkuID: w.tbItem.SKUs[0].SkuID, Num: 1}
			newDouyinOrder := func(name string) int64 {
				id, err := w.dy.CreateOrder(douyinsim.NewOrder{Lines: []douyinsim.NewLine{{SkuID: w.dyCap, Qty: 1}}, Pay: true,
					Name: name, Phone: "13700000009", Province: "广东省", City: "广州市", District: "天河区", Detail: "天河路 9 号"})
				if err != nil {
					t.Fatal(err)
				}
				return id
			}

			// Orders arrive through their messages.
			tid1, t1 := w.taobaoTrade(line)
			w.order(w.tbShop.ID, tid1, order.Approved)
			d1 := newDouyinOrder("李雷")
			w.order(w.dyShop.ID, d1, order.Approved)

			// From here on every message is lost.
			w.tb.SetFaults(taobaosim.Faults{DropRatio: 1})
			w.dy.SetFaults(douyinsim.Faults{DropPushRatio: 1})
			tid2, t2 := w.taobaoTrade(line) // its order message is lost as well
			r1 := w.refund(tid1, t1)
			r2 := w.refund(tid2, t2)
			as1, err := w.dy.RequestRefund(d1, 0, douyinsim.ASTypeRefundUnshipped, "拍多了")
			if err != nil {
				t.Fatal(err)
			}

			// Reconciliation finds the three refunds without a case.
			tbRep, err := w.a.Sync.Reconcile(w.ctx, w.tbShop.ID)
			if err != nil || tbRep.RefundsRepaired != 2 || tbRep.RefundsSeen < 2 || len(tbRep.Errors) != 0 {
				t.Fatalf("Taobao reconciliation: %+v %v", tbRep, err)
			}
			dyRep, err := w.a.Sync.Reconcile(w.ctx, w.dyShop.ID)
			if err != nil || dyRep.RefundsRepaired != 1 || len(dyRep.Errors) != 0 {
				t.Fatalf("Douyin reconciliation: %+v %v", dyRep, err)
			}
			w.caseOf(w.tbShop.ID, r1, aftersales.Requested)
			w.caseOf(w.tbShop.ID, r2, aftersales.Requested)
			w.caseOf(w.dyShop.ID, as1, aftersales.Requested)
			w.order(w.tbShop.ID, tid2, order.Refunding)
			w.order(w.dyShop.ID, d1, order.Refunding)

			// Later refunds come through the refund pull; the order of r3
			// is only known to it (the order pull is a minute away).
			tid3, t3 := w.taobaoTrade(line)
			r3 := w.refund(tid3, t3)
			d2 := newDouyinOrder("韩梅梅") // its push is lost too
			as2, err := w.dy.RequestRefund(d2, 0, douyinsim.ASTypeRefundUnshipped, "")
			if err != nil {
				t.Fatal(err)
			}
			w.pullRefunds(w.tbShop.ID)
			w.pullRefunds(w.dyShop.ID)
			w.caseOf(w.tbShop.ID, r3, aftersales.Requested)
			w.caseOf(w.dyShop.ID, as2, aftersales.Requested)
			w.order(w.tbShop.ID, tid3, order.Refunding)
			w.order(w.dyShop.ID, d2, order.Refunding)

			// The same refunds again, by pull and by reconciliation: the
			// cases and their histories stay as they are.
			cases, events := w.caseCounts()
			if cases != 5 {
				t.Fatalf("%d cases, want 5", cases)
			}
			w.pullRefunds(w.tbShop.ID)
			w.pullRefunds(w.dyShop.ID)
			for _, sh := range []string{w.tbShop.ID, w.dyShop.ID} {
				rep, err := w.a.Sync.Reconcile(w.ctx, sh)
				if err != nil || rep.RefundsRepaired != 0 || len(rep.Errors) != 0 {
					t.Fatalf("second reconciliation of %s: %+v %v", sh, rep, err)
				}
			}
			if c, e := w.caseCounts(); c != cases || e != events {
				t.Fatalf("re-reading made %d cases and %d events of %d and %d", c, e, cases, events)
			}
			w.checksClean()
		})
	}
}

// refund has the buyer of a Taobao trade ask for a refund of its first line.
func (w *refundWorld) refund(tid int64, tr taobaosim.TradeInfo) int64 {
	w.t.Helper()
	id, err := w.tb.RequestRefund(tid, tr.Lines[0].Oid, taobaosim.RefundSpec{Reason: "不想要了"})
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

// pullRefunds runs a refund pull of a shop now and waits for it to succeed.
func (w *refundWorld) pullRefunds(shopID string) {
	w.t.Helper()
	id, err := w.a.DB.Jobs().Insert(w.ctx, syncer.PullRefundsArgs{ShopID: shopID}, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	w.eventually(fmt.Sprintf("refund pull %d", id), func() (bool, string) {
		j, err := w.a.DB.Jobs().Get(w.ctx, id)
		if err != nil {
			return false, err.Error()
		}
		if j.State == rivertype.JobStateRetryable || j.State == rivertype.JobStateDiscarded {
			w.t.Fatalf("refund pull failed: %+v", j.Errors)
		}
		return j.State == rivertype.JobStateCompleted, string(j.State)
	})
}

// caseCounts counts after-sales cases and case events.
func (w *refundWorld) caseCounts() (cases, events int64) {
	w.t.Helper()
	if err := w.a.DB.QueryRow(w.ctx, `SELECT COUNT(*) FROM aftersales_cases`).Scan(&cases); err != nil {
		w.t.Fatal(err)
	}
	if err := w.a.DB.QueryRow(w.ctx, `SELECT COUNT(*) FROM aftersales_case_events`).Scan(&events); err != nil {
		w.t.Fatal(err)
	}
	return cases, events
}
