package order

import (
	"context"
	"testing"

	"omnihub/api"
	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
	"omnihub/store/storetest"
)

// With Options.AuditTx the service records its user actions through the
// hook — in the action's transaction, with the actor it was given and the
// same action, resource, before and after it writes itself otherwise — and
// writes no audit_log row of its own; a failing hook undoes the action.
func TestAuditHookRecordsUserActions(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		var got []api.AuditEntry
		var fail error
		e.svc.opts.AuditTx = func(ctx context.Context, tx store.Tx, en api.AuditEntry) error {
			if tx == nil {
				t.Error("audit hook called outside a transaction")
			}
			got = append(got, en)
			return fail
		}
		r := e.ingest(t, "shop", mk("H1", t0, func(o *channel.Order) { o.BuyerNote = "改地址" }))
		if r.Status != Held {
			t.Fatalf("%+v", r)
		}
		if _, err := e.svc.Replay(ctx, r.OrderID, "ops"); err != nil {
			t.Fatal(err)
		}
		rule, err := e.svc.SaveRule(ctx, Rule{Kind: KindAudit, Name: "big", Expression: "PaidAmount > 100000", Action: ActionHold, Reason: "big_order", Enabled: true}, "ops")
		if err != nil {
			t.Fatal(err)
		}
		bl, err := e.svc.AddBlacklist(ctx, BlacklistEntry{Kind: BlacklistPhone, Value: "13900000000"}, "ops")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("hook calls = %+v, want 3", got)
		}
		replay, save, add := got[0], got[1], got[2]
		if replay.Actor != "ops" || replay.Action != "order.replay" || replay.Resource != "order" || replay.ResourceID != r.OrderID {
			t.Errorf("replay entry = %+v", replay)
		}
		if b, ok := replay.Before.(Order); !ok || b.Status != Held || b.Receiver.Phone == mk("H1", t0).Receiver.Phone {
			t.Errorf("replay before = %#v, want the masked order as it was", replay.Before)
		}
		if save.Action != "order_rule.save" || save.Resource != "order_rule" || save.ResourceID != rule.ID || save.Before != nil {
			t.Errorf("rule entry = %+v", save)
		}
		if add.Action != "order_blacklist.add" || add.ResourceID != bl.ID || add.After.(map[string]string)["kind"] != BlacklistPhone {
			t.Errorf("blacklist entry = %+v", add)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("audit_log rows written by the service itself = %d %v, want 0", n, err)
		}

		// The audit row and the change commit together or not at all.
		fail = errs.E(errs.Unavailable, "audit log down")
		if _, err := e.svc.Reject(ctx, r.OrderID, "ops", "fraud"); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("reject with a failing audit = %v", err)
		}
		if o, err := e.svc.FindByPlatformID(ctx, "shop", "H1"); err != nil || o.Status != Held {
			t.Fatalf("order after a rejected action whose audit failed: %+v %v, want still held", o, err)
		}
		if err := e.svc.RemoveBlacklist(ctx, bl.ID, "ops"); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("unblacklist with a failing audit = %v", err)
		}
		if l, _ := e.svc.Blacklist(ctx); len(l) != 1 {
			t.Fatalf("blacklist after a removal whose audit failed = %+v", l)
		}
	})
}
