package aftersales_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"omnihub/aftersales"
	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
	"omnihub/store/storetest"
)

const shop = "S1"

var t0 = time.Date(2026, 11, 11, 0, 5, 0, 0, time.UTC)

func actions(c aftersales.Case) []string {
	var out []string
	for _, e := range c.History {
		out = append(out, string(e.Action)+"@"+e.Actor+":"+string(e.To))
	}
	return out
}

func TestRefundOnlyBeforeShipment(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.orders.add("T1", false, aftersales.OrderLineRef{SKUID: "SKU-A", Qty: 2, Paid: 3000})

		c := mc(t)(e.svc.Apply(ctx, shop, refund("R1", "T1", channel.RefundOnly, channel.RefundRequested, 3000, t0)))
		wantState(t, c, aftersales.Requested)
		if c.OrderID != "O-T1" || len(c.Lines) != 1 || c.Lines[0].SKUID != "SKU-A" || c.Lines[0].Qty != 2 || c.Lines[0].Amount != 3000 {
			t.Fatalf("case not linked to its order: %+v", c)
		}
		wantCalls(t, "order", e.orders.Calls(), "refunding O-T1")

		c = mc(t)(e.svc.Approve(ctx, c.ID, "alice", "small amount"))
		wantState(t, c, aftersales.Approved)
		jobs := respondJobs(t, db)
		if len(jobs) != 1 || jobs[0].Decision.Action != channel.RefundAgree || jobs[0].Decision.PlatformRefundID != "R1" ||
			jobs[0].ShopID != shop || jobs[0].CaseID != c.ID || jobs[0].Decision.ReturnAddress != nil {
			t.Fatalf("respond jobs = %+v", jobs)
		}

		c = mc(t)(e.svc.Apply(ctx, shop, refund("R1", "T1", channel.RefundOnly, channel.RefundSucceeded, 3000, t0.Add(time.Minute))))
		wantState(t, c, aftersales.Refunded)
		wantCalls(t, "stock", e.stock.Calls(), "release order:O-T1")
		wantCalls(t, "order", e.orders.Calls(), "refunding O-T1", "cancel O-T1")

		mc(t)(e.svc.Close(ctx, c.ID, "bob", "done"))
		got := mc(t)(e.svc.Get(ctx, c.ID))
		wantState(t, got, aftersales.Closed)
		if got.RefundedAmount != 3000 {
			t.Fatalf("refunded amount = %d", got.RefundedAmount)
		}
		want := []string{"create@platform:requested", "approve@alice:approved", "refund@platform:refunded", "close@bob:closed"}
		if !slices.Equal(actions(got), want) {
			t.Fatalf("history = %q, want %q", actions(got), want)
		}
		for _, st := range []aftersales.State{aftersales.Requested, aftersales.Approved, aftersales.Refunded, aftersales.Closed} {
			if got.Steps[st].IsZero() {
				t.Fatalf("no timestamp for step %s: %+v", st, got.Steps)
			}
		}
		if len(respondJobs(t, db)) != 1 {
			t.Fatal("platform-driven steps must not answer the platform")
		}
	})
}

func TestReturnRefundAfterShipment(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.orders.add("T2", true,
			aftersales.OrderLineRef{SKUID: "SKU-B", Qty: 2, Paid: 10000},
			aftersales.OrderLineRef{SKUID: "SKU-C", Qty: 1, Paid: 5000})
		r := refund("R2", "T2", channel.ReturnRefund, channel.RefundRequested, 10000, t0)
		r.PlatformLineID, r.Quantity, r.GoodsShipped = "T2-1", 2, true
		c := mc(t)(e.svc.Apply(ctx, shop, r))
		if len(c.Lines) != 1 || c.Lines[0].OrderLine != 1 || c.Lines[0].SKUID != "SKU-B" || c.Lines[0].Qty != 2 {
			t.Fatalf("lines = %+v", c.Lines)
		}

		c = mc(t)(e.svc.Approve(ctx, c.ID, "alice", ""))
		wantState(t, c, aftersales.AwaitingReturn)
		jobs := respondJobs(t, db)
		if len(jobs) != 1 || jobs[0].Decision.Action != channel.RefundAgree || jobs[0].Decision.ReturnAddress == nil {
			t.Fatalf("agreeing to a return must carry the return address: %+v", jobs)
		}

		r2 := r
		r2.Status, r2.PlatformStatus, r2.ModifiedAt = channel.RefundBuyerReturned, "WAIT_SELLER_CONFIRM_GOODS", t0.Add(time.Hour)
		r2.ReturnCarrier, r2.ReturnTrackingNo = "ZTO", "ZT123"
		c = mc(t)(e.svc.Apply(ctx, shop, r2))
		wantState(t, c, aftersales.ReturnInTransit)
		if c.ReturnTrackingNo != "ZT123" || c.ReturnCarrier != "ZTO" {
			t.Fatalf("return tracking = %s %s", c.ReturnCarrier, c.ReturnTrackingNo)
		}

		c = mc(t)(e.svc.Receive(ctx, c.ID, "wh-bob", "parcel intact"))
		wantState(t, c, aftersales.Received)
		_, err := e.svc.QC(ctx, c.ID, "wh-bob", []aftersales.QCInput{{Line: 1, Result: aftersales.Good}})
		wantCode(t, err, errs.Invalid) // two units, one result
		_, err = e.svc.QC(ctx, c.ID, "wh-bob", []aftersales.QCInput{{Line: 1, Result: "meh"}, {Line: 1, Result: aftersales.Good}})
		wantCode(t, err, errs.Invalid)
		c = mc(t)(e.svc.QC(ctx, c.ID, "wh-bob", []aftersales.QCInput{
			{Line: 1, Result: aftersales.Good}, {Line: 1, Result: aftersales.Defective, Note: "scratched"}}))
		wantState(t, c, aftersales.QCDone)
		if len(c.QC) != 2 || c.QC[1].Result != aftersales.Defective || c.QC[1].Actor != "wh-bob" || c.QC[1].Unit != 2 {
			t.Fatalf("qc = %+v", c.QC)
		}
		wantCalls(t, "stock", e.stock.Calls())

		c = mc(t)(e.svc.Restock(ctx, c.ID, "wh-bob"))
		wantState(t, c, aftersales.Restocked)
		wantCalls(t, "stock", e.stock.Calls(),
			"restock aftersales:"+c.ID+":11 WH1 SKU-B qty=1 good",
			"restock aftersales:"+c.ID+":12 WH1 SKU-B qty=1 defective")

		c = mc(t)(e.svc.Refund(ctx, c.ID, "alice", ""))
		wantState(t, c, aftersales.Refunded)
		wantCalls(t, "order", e.orders.Calls(), "refunding O-T2", "refunded O-T2 full=false")
		jobs = respondJobs(t, db)
		if len(jobs) != 2 || jobs[1].Decision.Action != channel.RefundConfirmReceipt {
			t.Fatalf("refunding a return must confirm receipt on the platform: %+v", jobs)
		}

		// The platform then reports success: nothing more happens.
		r3 := r2
		r3.Status, r3.PlatformStatus, r3.ModifiedAt = channel.RefundSucceeded, "SUCCESS", t0.Add(2*time.Hour)
		c = mc(t)(e.svc.Apply(ctx, shop, r3))
		wantState(t, c, aftersales.Refunded)
		wantCalls(t, "order", e.orders.Calls(), "refunding O-T2", "refunded O-T2 full=false")
		c = mc(t)(e.svc.Close(ctx, c.ID, "alice", ""))
		wantState(t, c, aftersales.Closed)
	})
}

func TestExchangeByHand(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.orders.add("T3", true, aftersales.OrderLineRef{SKUID: "SKU-D-M", Qty: 1, Paid: 8000, WarehouseID: "WH2"})
		c := mc(t)(e.svc.Create(ctx, aftersales.NewCase{ShopID: shop, PlatformOrderID: "T3", Type: aftersales.Exchange,
			Reason: "尺码不合适", Lines: []aftersales.Line{{OrderLine: 1, Qty: 1, NewSKUID: "SKU-D-L"}}}, "cs-carol"))
		wantState(t, c, aftersales.Requested)
		if !c.GoodsShipped || c.WarehouseID != "WH2" || c.Lines[0].SKUID != "SKU-D-M" || !c.Manual() {
			t.Fatalf("manual case = %+v", c)
		}
		c = mc(t)(e.svc.Approve(ctx, c.ID, "cs-carol", ""))
		wantState(t, c, aftersales.AwaitingReturn)
		wantCalls(t, "stock", e.stock.Calls(), "reserve aftersales:"+c.ID+":1 WH2 SKU-D-L qty=1")
		c = mc(t)(e.svc.ReturnShipped(ctx, c.ID, "cs-carol", "YTO", "YT9"))
		wantState(t, c, aftersales.ReturnInTransit)
		mc(t)(e.svc.Receive(ctx, c.ID, "wh-bob", ""))
		mc(t)(e.svc.QC(ctx, c.ID, "wh-bob", []aftersales.QCInput{{Line: 1, Result: aftersales.Good}}))
		mc(t)(e.svc.Restock(ctx, c.ID, "wh-bob"))
		c = mc(t)(e.svc.Ship(ctx, c.ID, "wh-bob", "SF", "SF100"))
		wantState(t, c, aftersales.ExchangeShipped)
		wantCalls(t, "stock", e.stock.Calls(),
			"reserve aftersales:"+c.ID+":1 WH2 SKU-D-L qty=1",
			"restock aftersales:"+c.ID+":11 WH2 SKU-D-M qty=1 good",
			"ship aftersales:"+c.ID)
		wantCalls(t, "order", e.orders.Calls(), "refunding O-T3", "clear_refunding O-T3")
		c = mc(t)(e.svc.Close(ctx, c.ID, "cs-carol", ""))
		wantState(t, c, aftersales.Closed)
		if n := len(respondJobs(t, db)); n != 0 {
			t.Fatalf("a manual case answered the platform %d times", n)
		}
	})
}

func TestReshipFromPlatform(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.orders.add("T4", true, aftersales.OrderLineRef{SKUID: "SKU-G", Qty: 1, Paid: 1200})
		c := mc(t)(e.svc.Apply(ctx, shop, refund("R4", "T4", channel.ReshipRequest, channel.RefundRequested, 0, t0)))
		c = mc(t)(e.svc.Approve(ctx, c.ID, "alice", "parcel lost"))
		wantState(t, c, aftersales.Approved)
		jobs := respondJobs(t, db)
		if len(jobs) != 1 || jobs[0].Decision.ReturnAddress != nil {
			t.Fatalf("jobs = %+v", jobs)
		}
		c = mc(t)(e.svc.Ship(ctx, c.ID, "wh-bob", "ZTO", "ZT555"))
		wantState(t, c, aftersales.Reshipped)
		if c.ShipTrackingNo != "ZT555" {
			t.Fatalf("ship tracking = %q", c.ShipTrackingNo)
		}
		wantCalls(t, "stock", e.stock.Calls(), "reserve aftersales:"+c.ID+":1 WH1 SKU-G qty=1", "ship aftersales:"+c.ID)
		mc(t)(e.svc.Close(ctx, c.ID, "alice", ""))
	})
}

func TestPartialRefundBeforeShipmentReleasesTheLine(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.orders.add("T5", false,
			aftersales.OrderLineRef{SKUID: "SKU-E", Qty: 1, Paid: 2000},
			aftersales.OrderLineRef{SKUID: "SKU-F", Qty: 3, Paid: 6000})
		r := refund("R5", "T5", channel.RefundOnly, channel.RefundSucceeded, 2000, t0)
		r.PlatformLineID, r.Quantity = "T5-2", 1
		c := mc(t)(e.svc.Apply(ctx, shop, r))
		wantState(t, c, aftersales.Refunded)
		wantCalls(t, "stock", e.stock.Calls(), "release_line order:O-T5:2 qty=1")
		wantCalls(t, "order", e.orders.Calls(), "refunding O-T5", "refunded O-T5 full=false")
		if n := len(respondJobs(t, db)); n != 0 {
			t.Fatalf("platform-settled case answered the platform %d times", n)
		}
		// A second refund of the rest makes the order fully refunded.
		r2 := refund("R5b", "T5", channel.RefundOnly, channel.RefundSucceeded, 6000, t0)
		r2.PlatformLineID = "T5-1"
		mc(t)(e.svc.Apply(ctx, shop, r2))
		wantCalls(t, "order", e.orders.Calls(), "refunding O-T5", "refunded O-T5 full=false", "refunding O-T5", "cancel O-T5")
		wantCalls(t, "stock", e.stock.Calls(), "release_line order:O-T5:2 qty=1", "release order:O-T5")
	})
}

func TestPlatformEventsIdempotentAndOrdered(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.orders.add("T6", true, aftersales.OrderLineRef{SKUID: "SKU-H", Qty: 1, Paid: 9900})
		v1 := refund("R6", "T6", channel.ReturnRefund, channel.RefundRequested, 9900, t0)
		v2 := v1
		v2.Status, v2.PlatformStatus, v2.ModifiedAt = channel.RefundWaitBuyerReturn, "WAIT_BUYER_RETURN_GOODS", t0.Add(2*time.Minute)
		v3 := v2
		v3.Status, v3.PlatformStatus, v3.ModifiedAt = channel.RefundBuyerReturned, "WAIT_SELLER_CONFIRM_GOODS", t0.Add(3*time.Minute)
		v3.ReturnCarrier, v3.ReturnTrackingNo = "YTO", "YT77"

		c := mc(t)(e.svc.Apply(ctx, shop, v2)) // newer version arrives first
		wantState(t, c, aftersales.AwaitingReturn)
		history := func() int { return len(mc(t)(e.svc.Get(ctx, c.ID)).History) }
		n := history()
		c = mc(t)(e.svc.Apply(ctx, shop, v1)) // the older one, late
		wantState(t, c, aftersales.AwaitingReturn)
		c = mc(t)(e.svc.Apply(ctx, shop, v2)) // a duplicate
		wantState(t, c, aftersales.AwaitingReturn)
		if history() != n {
			t.Fatalf("stale or duplicate versions wrote history: %d events, want %d", history(), n)
		}
		c = mc(t)(e.svc.Apply(ctx, shop, v3))
		wantState(t, c, aftersales.ReturnInTransit)
		c = mc(t)(e.svc.Apply(ctx, shop, v1))
		wantState(t, c, aftersales.ReturnInTransit)
		list, _, err := e.svc.List(ctx, aftersales.Filter{ShopID: shop})
		if err != nil || len(list) != 1 {
			t.Fatalf("cases = %d (%v), want 1", len(list), err)
		}
		if n := len(respondJobs(t, db)); n != 0 {
			t.Fatalf("platform-driven steps answered the platform %d times", n)
		}
		// Same platform refund id in another shop is another case.
		c2 := mc(t)(e.svc.Apply(ctx, "S2", v1))
		if c2.ID == c.ID {
			t.Fatal("refund ids are unique per shop, not globally")
		}
	})
}

func TestBuyerCancelsExchangeReleasesReplacement(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.orders.add("T8", true, aftersales.OrderLineRef{SKUID: "SKU-J", Qty: 1, Paid: 5000})
		c := mc(t)(e.svc.Apply(ctx, shop, refund("R8", "T8", channel.Exchange, channel.RefundRequested, 0, t0)))
		_, err := e.svc.ApproveWith(ctx, c.ID, "alice", aftersales.Approval{Replacements: []aftersales.Replacement{{Line: 2, NewSKUID: "X"}}})
		wantCode(t, err, errs.Invalid)
		c = mc(t)(e.svc.ApproveWith(ctx, c.ID, "alice", aftersales.Approval{WarehouseID: "WH9",
			Replacements: []aftersales.Replacement{{Line: 1, NewSKUID: "SKU-J-XL"}}}))
		wantState(t, c, aftersales.AwaitingReturn)
		if got := mc(t)(e.svc.Get(ctx, c.ID)); got.Lines[0].NewSKUID != "SKU-J-XL" || got.WarehouseID != "WH9" {
			t.Fatalf("replacement not stored: %+v", got)
		}
		c = mc(t)(e.svc.Apply(ctx, shop, refund("R8", "T8", channel.Exchange, channel.RefundClosed, 0, t0.Add(time.Hour))))
		wantState(t, c, aftersales.Cancelled)
		wantCalls(t, "stock", e.stock.Calls(), "reserve aftersales:"+c.ID+":1 WH9 SKU-J-XL qty=1", "release aftersales:"+c.ID)
		wantCalls(t, "order", e.orders.Calls(), "refunding O-T8", "clear_refunding O-T8")
		_, err = e.svc.Receive(ctx, c.ID, "wh-bob", "")
		wantCode(t, err, errs.Conflict)
	})
}

func TestIllegalTransitions(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.orders.add("T7", false, aftersales.OrderLineRef{SKUID: "SKU-I", Qty: 1, Paid: 100})
		c := mc(t)(e.svc.Apply(ctx, shop, refund("R7", "T7", channel.RefundOnly, channel.RefundRequested, 100, t0)))
		for name, fn := range map[string]func() error{
			"receive": func() error { _, err := e.svc.Receive(ctx, c.ID, "x", ""); return err },
			"qc": func() error {
				_, err := e.svc.QC(ctx, c.ID, "x", []aftersales.QCInput{{Line: 1, Result: "good"}})
				return err
			},
			"restock": func() error { _, err := e.svc.Restock(ctx, c.ID, "x"); return err },
			"refund":  func() error { _, err := e.svc.Refund(ctx, c.ID, "x", ""); return err },
			"ship":    func() error { _, err := e.svc.Ship(ctx, c.ID, "x", "SF", "1"); return err },
			"close":   func() error { _, err := e.svc.Close(ctx, c.ID, "x", ""); return err },
			"return":  func() error { _, err := e.svc.ReturnShipped(ctx, c.ID, "x", "SF", "1"); return err },
		} {
			if err := fn(); !errs.Is(err, errs.Conflict) {
				t.Errorf("%s on a requested refund_only case: %v, want conflict", name, err)
			}
		}
		_, err := e.svc.Refuse(ctx, c.ID, "alice", " ")
		wantCode(t, err, errs.Invalid)
		_, err = e.svc.Approve(ctx, c.ID, "", "")
		wantCode(t, err, errs.Invalid) // unattributed
		c = mc(t)(e.svc.Refuse(ctx, c.ID, "alice", "商品已使用"))
		wantState(t, c, aftersales.Refused)
		jobs := respondJobs(t, db)
		if len(jobs) != 1 || jobs[0].Decision.Action != channel.RefundRefuse || jobs[0].Decision.Reason != "商品已使用" {
			t.Fatalf("jobs = %+v", jobs)
		}
		_, err = e.svc.Approve(ctx, c.ID, "alice", "")
		wantCode(t, err, errs.Conflict)
		// The buyer asks again on the platform: the case reopens.
		c = mc(t)(e.svc.Apply(ctx, shop, refund("R7", "T7", channel.RefundOnly, channel.RefundRequested, 100, t0.Add(time.Hour))))
		wantState(t, c, aftersales.Requested)
		wantCalls(t, "order", e.orders.Calls(), "refunding O-T7", "clear_refunding O-T7", "refunding O-T7")
		c = mc(t)(e.svc.Cancel(ctx, c.ID, "alice", "buyer withdrew by phone"))
		wantState(t, c, aftersales.Cancelled)
		_, err = e.svc.Cancel(ctx, c.ID, "alice", "")
		wantCode(t, err, errs.Conflict)
		_, err = e.svc.Approve(ctx, "nope", "alice", "")
		wantCode(t, err, errs.NotFound)
	})
}

func TestTransitionTable(t *testing.T) {
	// A person may never take a platform-only edge.
	if _, err := aftersales.Next(aftersales.ReturnRefund, aftersales.AwaitingReturn, aftersales.ActRefund, false); !errs.Is(err, errs.Conflict) {
		t.Fatalf("person refunding before the goods are back: %v", err)
	}
	if to, err := aftersales.Next(aftersales.ReturnRefund, aftersales.AwaitingReturn, aftersales.ActRefund, true); err != nil || to != aftersales.Refunded {
		t.Fatalf("platform refunding a return early: %s %v", to, err)
	}
	// Every state is reachable and every non-terminal state has a way out.
	for _, st := range aftersales.States {
		in, out := st == aftersales.Requested, st.Terminal()
		for _, tr := range aftersales.Transitions {
			in = in || tr.To == st
			out = out || tr.From == st
		}
		if !in || !out {
			t.Errorf("state %s: reachable=%v, has exit=%v", st, in, out)
		}
	}
	// Types only take their own edges.
	for _, typ := range aftersales.Types {
		_, err := aftersales.Next(typ, aftersales.Approved, aftersales.ActAwaitReturn, false)
		if typ.Returns() != (err == nil) {
			t.Errorf("%s await_return: %v", typ, err)
		}
	}
	if got := aftersales.Allowed(aftersales.RefundOnly, aftersales.Requested); !slices.Equal(got, []aftersales.Action{aftersales.ActApprove, aftersales.ActRefuse, aftersales.ActCancel}) {
		t.Fatalf("allowed = %v", got)
	}
}

func TestPlatformMapping(t *testing.T) {
	for _, tc := range []struct {
		typ  aftersales.Type
		st   channel.RefundStatus
		want aftersales.State
	}{
		{aftersales.RefundOnly, channel.RefundRequested, aftersales.Requested},
		{aftersales.ReturnRefund, channel.RefundWaitBuyerReturn, aftersales.AwaitingReturn},
		{aftersales.ReturnRefund, channel.RefundBuyerReturned, aftersales.ReturnInTransit},
		{aftersales.RefundOnly, channel.RefundRefused, aftersales.Refused},
		{aftersales.ReturnRefund, channel.RefundSucceeded, aftersales.Refunded},
		{aftersales.Exchange, channel.RefundSucceeded, aftersales.ExchangeShipped},
		{aftersales.Reship, channel.RefundSucceeded, aftersales.Reshipped},
		{aftersales.RefundOnly, channel.RefundClosed, aftersales.Cancelled},
	} {
		got, err := aftersales.StateFromPlatform(tc.typ, tc.st)
		if err != nil || got != tc.want {
			t.Errorf("%s %s → %s %v, want %s", tc.typ, tc.st, got, err, tc.want)
		}
	}
	if _, err := aftersales.StateFromPlatform(aftersales.RefundOnly, "weird"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("unknown status: %v", err)
	}
	if _, err := aftersales.TypeFromPlatform(channel.RefundKindElse); !errs.Is(err, errs.Invalid) {
		t.Fatalf("unknown kind: %v", err)
	}
	for _, tc := range []struct {
		typ  aftersales.Type
		a    aftersales.Action
		want string
	}{
		{aftersales.RefundOnly, aftersales.ActApprove, channel.RefundAgree},
		{aftersales.ReturnRefund, aftersales.ActRefuse, channel.RefundRefuse},
		{aftersales.ReturnRefund, aftersales.ActRefund, channel.RefundConfirmReceipt},
		{aftersales.Exchange, aftersales.ActReceive, ""},
		{aftersales.RefundOnly, aftersales.ActRefund, ""},
		{aftersales.ReturnRefund, aftersales.ActQC, ""},
	} {
		got, _ := aftersales.DecisionFor(tc.typ, tc.a)
		if got != tc.want {
			t.Errorf("decision for %s %s = %q, want %q", tc.typ, tc.a, got, tc.want)
		}
	}
}

func TestUnknownOrderAndMissingWiring(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		_, err := e.svc.Apply(ctx, shop, refund("R9", "NOPE", channel.RefundOnly, channel.RefundRequested, 1, t0))
		wantCode(t, err, errs.Unavailable) // the sync engine retries once the order is in
		_, err = e.svc.Create(ctx, aftersales.NewCase{ShopID: shop, PlatformOrderID: "NOPE", Type: aftersales.RefundOnly, Reason: "x"}, "alice")
		wantCode(t, err, errs.NotFound)
		_, err = e.svc.Apply(ctx, shop, channel.Refund{PlatformRefundID: "R", PlatformOrderID: "T"})
		wantCode(t, err, errs.Invalid) // no modified time
		_, err = e.svc.Create(ctx, aftersales.NewCase{ShopID: shop, PlatformOrderID: "T", Type: "swap", Reason: "x"}, "alice")
		wantCode(t, err, errs.Invalid)

		bare := aftersales.NewService(db, aftersales.Options{})
		_, err = bare.Apply(ctx, shop, refund("R9", "T9", channel.RefundOnly, channel.RefundRequested, 1, t0))
		wantCode(t, err, errs.Unavailable)
	})
}

func TestInsufficientStockForExchangeKeepsCaseRequested(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.orders.add("T10", true, aftersales.OrderLineRef{SKUID: "SKU-K", Qty: 1, Paid: 100})
		c := mc(t)(e.svc.Apply(ctx, shop, refund("R10", "T10", channel.Exchange, channel.RefundRequested, 0, t0)))
		e.stock.failReserve = true
		_, err := e.svc.Approve(ctx, c.ID, "alice", "")
		wantCode(t, err, errs.Conflict)
		if errs.FieldsOf(err)["sku_id"] != "SKU-K" {
			t.Fatalf("shortage should name the SKU: %v", errs.FieldsOf(err))
		}
		got := mc(t)(e.svc.Get(ctx, c.ID))
		wantState(t, got, aftersales.Requested)
		if n := len(respondJobs(t, db)); n != 0 {
			t.Fatalf("a rolled-back approval answered the platform (%d jobs)", n)
		}
	})
}

func TestConcurrentDeliveriesMakeOneCase(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.orders.add("T11", false, aftersales.OrderLineRef{SKUID: "SKU-L", Qty: 1, Paid: 100})
		r := refund("R11", "T11", channel.RefundOnly, channel.RefundRequested, 100, t0)
		const n = 4
		errc := make(chan error, n)
		for range n {
			go func() {
				_, err := e.svc.Apply(ctx, shop, r)
				errc <- err
			}()
		}
		for range n {
			if err := <-errc; err != nil {
				t.Fatalf("concurrent delivery: %v", err)
			}
		}
		list, _, err := e.svc.List(ctx, aftersales.Filter{PlatformOrderID: "T11"})
		if err != nil || len(list) != 1 {
			t.Fatalf("cases = %d, %v; want 1", len(list), err)
		}
		got := mc(t)(e.svc.Get(ctx, list[0].ID))
		if len(got.History) != 1 {
			t.Fatalf("history = %q, want one create", actions(got))
		}
	})
}

func TestOverlappingCasesFlagTheOrderOnce(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.orders.add("T12", true,
			aftersales.OrderLineRef{SKUID: "SKU-M", Qty: 1, Paid: 100},
			aftersales.OrderLineRef{SKUID: "SKU-N", Qty: 1, Paid: 100})
		a := refund("R12a", "T12", channel.ReturnRefund, channel.RefundRequested, 100, t0)
		a.PlatformLineID = "T12-1"
		b := refund("R12b", "T12", channel.ReturnRefund, channel.RefundRequested, 100, t0)
		b.PlatformLineID = "T12-2"
		ca := mc(t)(e.svc.Apply(ctx, shop, a))
		cb := mc(t)(e.svc.Apply(ctx, shop, b))
		wantCalls(t, "order", e.orders.Calls(), "refunding O-T12")
		mc(t)(e.svc.Refuse(ctx, ca.ID, "alice", "used"))
		wantCalls(t, "order", e.orders.Calls(), "refunding O-T12") // b still open
		mc(t)(e.svc.Cancel(ctx, cb.ID, "alice", "withdrawn"))
		wantCalls(t, "order", e.orders.Calls(), "refunding O-T12", "clear_refunding O-T12")
	})
}

func TestCheckFindsBrokenInvariants(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		e.orders.add("T13", true, aftersales.OrderLineRef{SKUID: "SKU-O", Qty: 2, Paid: 100})
		c := mc(t)(e.svc.Apply(ctx, shop, refund("R13", "T13", channel.ReturnRefund, channel.RefundRequested, 100, t0)))
		mc(t)(e.svc.Approve(ctx, c.ID, "alice", ""))
		mc(t)(e.svc.Receive(ctx, c.ID, "wh", ""))
		mc(t)(e.svc.QC(ctx, c.ID, "wh", []aftersales.QCInput{{Line: 1, Result: aftersales.Good}, {Line: 1, Result: aftersales.Good}}))
		if v, err := e.svc.Check(ctx); err != nil || len(v) != 0 {
			t.Fatalf("consistent data: %+v, %v", v, err)
		}
		for _, q := range []string{
			`UPDATE aftersales_cases SET state = 'restocked', refunded_amount = 5 WHERE id = $1`,
			`DELETE FROM aftersales_qc WHERE case_id = $1 AND unit_no = 2`,
		} {
			if _, err := db.Exec(ctx, q, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		v, err := e.svc.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rules := map[string]bool{}
		for _, x := range v {
			rules[x.Rule] = x.CaseID == c.ID
		}
		if len(v) != 3 || !rules["history"] || !rules["qc"] || !rules["refunded"] {
			t.Fatalf("violations = %+v", v)
		}
	})
}
