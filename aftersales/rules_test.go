package aftersales_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"omnihub/aftersales"
	"omnihub/channel"
	"omnihub/errs"
	"omnihub/jobs"
	"omnihub/store"
	"omnihub/store/storetest"
)

const smallRefunds = `type == "refund_only" && amount < 5000 && !shipped`

func TestAutoApprovalRule(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		_, err := e.svc.CreateRule(ctx, aftersales.RuleInput{Name: "bad", Expr: `amount < "x"`, Enabled: true})
		wantCode(t, err, errs.Invalid)
		_, err = e.svc.CreateRule(ctx, aftersales.RuleInput{Name: "bad", Expr: `amount + 1`, Enabled: true})
		wantCode(t, err, errs.Invalid) // not a condition
		_, err = e.svc.CreateRule(ctx, aftersales.RuleInput{Name: "bad", Expr: `price < 1`, Enabled: true})
		wantCode(t, err, errs.Invalid) // unknown name
		_, err = e.svc.CreateRule(ctx, aftersales.RuleInput{Name: "", Expr: smallRefunds, Enabled: true})
		wantCode(t, err, errs.Invalid)

		r, err := e.svc.CreateRule(ctx, aftersales.RuleInput{Name: "small-unshipped", Expr: smallRefunds, Priority: 10, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.CreateRule(ctx, aftersales.RuleInput{Name: "small-unshipped", Expr: "true"})
		wantCode(t, err, errs.Conflict)
		// A disabled catch-all never fires.
		if _, err := e.svc.CreateRule(ctx, aftersales.RuleInput{Name: "everything", Expr: "true", Priority: 1}); err != nil {
			t.Fatal(err)
		}

		e.orders.add("A1", false, aftersales.OrderLineRef{SKUID: "SKU-A", Qty: 1, Paid: 3000})
		e.orders.add("A2", false, aftersales.OrderLineRef{SKUID: "SKU-A", Qty: 1, Paid: 8000})
		e.orders.add("A3", true, aftersales.OrderLineRef{SKUID: "SKU-A", Qty: 1, Paid: 3000})

		c := mc(t)(e.svc.Apply(ctx, shop, refund("RA1", "A1", channel.RefundOnly, channel.RefundRequested, 3000, t0)))
		wantState(t, c, aftersales.Approved)
		got := mc(t)(e.svc.Get(ctx, c.ID))
		if a := actions(got); !slices.Equal(a, []string{"create@platform:requested", "approve@rule:small-unshipped:approved"}) {
			t.Fatalf("history = %q", a)
		}
		jobs := respondJobs(t, db)
		if len(jobs) != 1 || jobs[0].Decision.Action != channel.RefundAgree {
			t.Fatalf("rule approval must answer the platform: %+v", jobs)
		}
		c = mc(t)(e.svc.Apply(ctx, shop, refund("RA2", "A2", channel.RefundOnly, channel.RefundRequested, 8000, t0)))
		wantState(t, c, aftersales.Requested)
		c = mc(t)(e.svc.Apply(ctx, shop, refund("RA3", "A3", channel.RefundOnly, channel.RefundRequested, 3000, t0)))
		wantState(t, c, aftersales.Requested) // shipped per the order module

		// Dry runs: a stored case, and a sample.
		dr, err := e.svc.DryRunCase(ctx, smallRefunds, c.ID)
		if err != nil || dr.Matched || !dr.Env.Shipped {
			t.Fatalf("dry run on shipped case = %+v, %v", dr, err)
		}
		dr, err = e.svc.DryRun(smallRefunds, aftersales.Case{Type: aftersales.RefundOnly, RefundAmount: 100}, false)
		if err != nil || !dr.Matched {
			t.Fatalf("dry run on sample = %+v, %v", dr, err)
		}
		_, err = e.svc.DryRun(`nope(`, aftersales.Case{}, false)
		wantCode(t, err, errs.Invalid)

		// CRUD.
		r, err = e.svc.UpdateRule(ctx, r.ID, aftersales.RuleInput{Name: "small-unshipped", Expr: smallRefunds, Priority: 10})
		if err != nil || r.Enabled {
			t.Fatalf("update = %+v, %v", r, err)
		}
		list, err := e.svc.Rules(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "everything" {
			t.Fatalf("rules = %+v, %v", list, err)
		}
		c = mc(t)(e.svc.Apply(ctx, shop, refund("RA4", "A1", channel.RefundOnly, channel.RefundRequested, 10, t0)))
		wantState(t, c, aftersales.Requested) // rule disabled
		if err := e.svc.DeleteRule(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, e.svc.DeleteRule(ctx, r.ID), errs.NotFound)
		_, err = e.svc.UpdateRule(ctx, r.ID, aftersales.RuleInput{Name: "x", Expr: "true"})
		wantCode(t, err, errs.NotFound)
	})
}

func TestQueries(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		now := time.Now().UTC()
		clock := now
		aged := aftersales.NewService(db, aftersales.Options{Stock: e.stock, Orders: e.orders, DefaultWarehouseID: "WH1",
			Now: func() time.Time { return clock }})
		e.orders.add("Q1", true, aftersales.OrderLineRef{SKUID: "SKU-Q", Qty: 2, Paid: 2000})
		e.orders.add("Q2", true, aftersales.OrderLineRef{SKUID: "SKU-R", Qty: 1, Paid: 1000})

		clock = now.Add(-5 * 24 * time.Hour)
		old := mc(t)(aged.Apply(ctx, shop, refund("Q-old", "Q1", channel.ReturnRefund, channel.RefundRequested, 2000, t0)))
		clock = now.Add(-48 * time.Hour)
		mid := mc(t)(aged.Apply(ctx, shop, refund("Q-mid", "Q2", channel.ReturnRefund, channel.RefundRequested, 1000, t0)))
		clock = now
		r := refund("Q-new", "Q2", channel.RefundOnly, channel.RefundRequested, 500, t0)
		r.Reason = "质量问题"
		mc(t)(aged.Apply(ctx, shop, r))
		mc(t)(aged.Apply(ctx, "S2", refund("Q-other", "Q2", channel.RefundOnly, channel.RefundRequested, 1, t0)))

		// The old one goes through QC: one good, one defective unit of SKU-Q.
		mc(t)(aged.Approve(ctx, old.ID, "alice", ""))
		mc(t)(aged.Receive(ctx, old.ID, "wh", ""))
		mc(t)(aged.QC(ctx, old.ID, "wh", []aftersales.QCInput{{Line: 1, Result: aftersales.Good}, {Line: 1, Result: aftersales.Defective}}))
		mc(t)(aged.Refuse(ctx, mid.ID, "alice", "no"))

		open, err := e.svc.OpenByStatus(ctx, shop)
		if err != nil {
			t.Fatal(err)
		}
		if len(open) != 2 || open[0].State != aftersales.Requested || open[0].Count != 1 || open[0].Under24h != 1 ||
			open[1].State != aftersales.QCDone || open[1].Count != 1 || open[1].Over3d != 1 {
			t.Fatalf("open by status = %+v", open)
		}
		all, err := e.svc.OpenByStatus(ctx, "")
		if err != nil || all[0].Count != 2 {
			t.Fatalf("open in all shops = %+v, %v", all, err)
		}

		reasons, err := e.svc.ReturnReasons(ctx, shop, now.Add(-7*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(reasons) != 2 || reasons[0].Reason != "不想要了" || reasons[0].Type != aftersales.ReturnRefund ||
			reasons[0].Count != 2 || reasons[0].Amount != 3000 || reasons[1].Reason != "质量问题" {
			t.Fatalf("reasons = %+v", reasons)
		}
		recent, _ := e.svc.ReturnReasons(ctx, shop, now.Add(-time.Hour))
		if len(recent) != 1 {
			t.Fatalf("recent reasons = %+v", recent)
		}

		defects, err := e.svc.DefectRates(ctx, now.Add(-30*24*time.Hour))
		if err != nil || len(defects) != 1 || defects[0] != (aftersales.DefectRate{SKUID: "SKU-Q", Inspected: 2, Defective: 1, PerMille: 500}) {
			t.Fatalf("defects = %+v, %v", defects, err)
		}

		// Listing and paging.
		page1, next, err := e.svc.List(ctx, aftersales.Filter{ShopID: shop, Limit: 2})
		if err != nil || len(page1) != 2 || next == "" {
			t.Fatalf("page 1 = %d %q %v", len(page1), next, err)
		}
		page2, next2, err := e.svc.List(ctx, aftersales.Filter{ShopID: shop, Limit: 2, After: next})
		if err != nil || len(page2) != 1 || next2 != "" || page2[0].ID != old.ID {
			t.Fatalf("page 2 = %+v %q %v", page2, next2, err)
		}
		openOld, _, _ := e.svc.List(ctx, aftersales.Filter{OpenOnly: true, CreatedBefore: now.Add(-24 * time.Hour)})
		if len(openOld) != 1 || openOld[0].ID != old.ID {
			t.Fatalf("open older than a day = %+v", openOld)
		}
		refused, _, _ := e.svc.List(ctx, aftersales.Filter{States: []aftersales.State{aftersales.Refused}, Type: aftersales.ReturnRefund})
		if len(refused) != 1 || refused[0].ID != mid.ID {
			t.Fatalf("refused = %+v", refused)
		}
	})
}

// flakyResponder fails a number of times, then accepts.
type flakyResponder struct {
	mu    sync.Mutex
	fails int
	err   error
	got   []channel.RefundDecision
}

func (f *flakyResponder) Respond(_ context.Context, shopID string, d channel.RefundDecision) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, d)
	if len(f.got) <= f.fails {
		return f.err
	}
	return nil
}

func (f *flakyResponder) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasEvent(c aftersales.Case, a aftersales.Action) bool {
	for _, e := range c.History {
		if e.Action == a {
			return true
		}
	}
	return false
}

func TestRespondJobRetriedThenSucceeds(t *testing.T) {
	t.Parallel()
	storetest.ForEachEngineWithJobs(t, jobs.Config{RunWorkers: true, MaxAttempts: 5}, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		transient := &channel.APIError{Platform: channel.Taobao, Code: "isp.top-remote-connection-timeout", Class: channel.ClassTransient}
		resp := &flakyResponder{fails: 2, err: transient}
		aftersales.RegisterWorkers(db.Jobs().Workers(), aftersales.WorkerDeps{DB: db, Responder: resp})
		if err := db.Jobs().Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = db.Jobs().Stop(stop)
		})
		e.orders.add("J1", false, aftersales.OrderLineRef{SKUID: "SKU-A", Qty: 1, Paid: 100})
		c := mc(t)(e.svc.Apply(ctx, shop, refund("RJ1", "J1", channel.RefundOnly, channel.RefundRequested, 100, t0)))
		mc(t)(e.svc.Approve(ctx, c.ID, "alice", ""))
		waitFor(t, "the decision to be delivered", func() bool {
			got, err := e.svc.Get(ctx, c.ID)
			return err == nil && hasEvent(got, aftersales.ActResponded)
		})
		if n := resp.calls(); n != 3 {
			t.Fatalf("responder called %d times, want 3 (two failures, then success)", n)
		}
		resp.mu.Lock()
		d := resp.got[2]
		resp.mu.Unlock()
		if d.Action != channel.RefundAgree || d.PlatformRefundID != "RJ1" {
			t.Fatalf("decision = %+v", d)
		}
		dead, err := db.Jobs().DeadLetters(ctx, 0, 10)
		if err != nil || len(dead) != 0 {
			t.Fatalf("dead letters = %+v, %v", dead, err)
		}

		// A permanent refusal by the platform is recorded, not retried.
		resp.mu.Lock()
		resp.got, resp.fails = nil, 99
		resp.err = &channel.APIError{Platform: channel.Taobao, Code: "isv.refund-status-error", Class: channel.ClassPermanent}
		resp.mu.Unlock()
		c2 := mc(t)(e.svc.Apply(ctx, shop, refund("RJ2", "J1", channel.RefundOnly, channel.RefundRequested, 100, t0)))
		mc(t)(e.svc.Refuse(ctx, c2.ID, "alice", "duplicate request"))
		waitFor(t, "the rejection to be recorded", func() bool {
			got, err := e.svc.Get(ctx, c2.ID)
			return err == nil && hasEvent(got, aftersales.ActRespondFailed)
		})
		if n := resp.calls(); n != 1 {
			t.Fatalf("permanent error retried: %d calls", n)
		}
	})
}

func TestRespondWorkerWithoutResponderFails(t *testing.T) {
	w := &aftersales.RespondWorker{}
	err := w.Work(context.Background(), &river.Job[aftersales.RespondArgs]{})
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("unwired worker: %v", err)
	}
}
