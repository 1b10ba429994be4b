package order

import (
	"context"
	"strings"
	"testing"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
	"omnihub/store/storetest"
)

// A routing rule's target must be a known warehouse: an id is kept, a code
// is stored as the id, anything else is refused before anything is stored.
func TestRouteRuleTargetIsChecked(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		e := newEnv(t, db)
		ctx := context.Background()
		byCode := map[string]string{"GZ": "WH-GZ", "SH": "WH-SH"}
		var looked []string
		e.svc.SetWarehouseLookup(func(_ context.Context, idOrCode string) (string, error) {
			looked = append(looked, idOrCode)
			if idOrCode == "WH-BROKEN" {
				return "", errs.E(errs.Unavailable, "database down")
			}
			for code, id := range byCode {
				if idOrCode == id || idOrCode == code {
					return id, nil
				}
			}
			return "", errs.E(errs.NotFound, "no warehouse %q", idOrCode)
		})
		count := func() (rules, audits int) {
			t.Helper()
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM order_rules WHERE kind = 'route'`).Scan(&rules); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE resource = 'order_rule'`).Scan(&audits); err != nil {
				t.Fatal(err)
			}
			return rules, audits
		}

		byID, err := e.svc.SaveRule(ctx, Rule{Kind: KindRoute, Name: "main", Expression: "true", Target: "WH-SH", Priority: 20, Enabled: true}, "admin")
		if err != nil || byID.Target != "WH-SH" {
			t.Fatalf("by id: %+v %v", byID, err)
		}
		byCodeRule, err := e.svc.SaveRule(ctx, Rule{Kind: KindRoute, Name: "south", Expression: `Province == "广东省"`, Target: " GZ ", Priority: 10, Enabled: true}, "admin")
		if err != nil || byCodeRule.Target != "WH-GZ" {
			t.Fatalf("by code: %+v %v", byCodeRule, err)
		}
		var stored string
		if err := db.QueryRow(ctx, `SELECT target FROM order_rules WHERE id = $1`, byCodeRule.ID).Scan(&stored); err != nil || stored != "WH-GZ" {
			t.Fatalf("stored target = %q %v", stored, err)
		}
		rules0, audits0 := count()

		// Unknown: invalid, naming the warehouse, nothing stored or audited.
		_, err = e.svc.SaveRule(ctx, Rule{Kind: KindRoute, Name: "north", Expression: "true", Target: "BJ", Enabled: true}, "admin")
		if !errs.Is(err, errs.Invalid) || !strings.Contains(errs.FieldsOf(err)["target"], `"BJ"`) || !strings.Contains(errs.MessageOf(err), `"BJ"`) {
			t.Fatalf("unknown warehouse: %v (fields %v)", err, errs.FieldsOf(err))
		}
		// Editing an existing rule to an unknown warehouse leaves it as it was.
		edit := byID
		edit.Target = "WH-GONE"
		if _, err := e.svc.SaveRule(ctx, edit, "admin"); !errs.Is(err, errs.Invalid) {
			t.Fatalf("edit to unknown warehouse: %v", err)
		}
		if err := db.QueryRow(ctx, `SELECT target FROM order_rules WHERE id = $1`, byID.ID).Scan(&stored); err != nil || stored != "WH-SH" {
			t.Fatalf("after refused edit target = %q %v", stored, err)
		}
		// A failing lookup is not an invalid rule: its code goes through.
		if _, err := e.svc.SaveRule(ctx, Rule{Kind: KindRoute, Name: "x", Expression: "true", Target: "WH-BROKEN", Enabled: true}, "admin"); !errs.Is(err, errs.Unavailable) {
			t.Fatalf("lookup down: %v", err)
		}
		if r, a := count(); r != rules0 || a != audits0 {
			t.Fatalf("refused saves changed rules %d → %d, audit rows %d → %d", rules0, r, audits0, a)
		}

		// Courier targets are courier codes, not warehouses: not looked up.
		n := len(looked)
		if _, err := e.svc.SaveRule(ctx, Rule{Kind: KindCourier, Name: "sf", Expression: "true", Target: "SF", Enabled: true}, "admin"); err != nil {
			t.Fatal(err)
		}
		if len(looked) != n {
			t.Fatalf("courier rule looked up %v", looked[n:])
		}

		// The code-saved rule routes to the id.
		e.stock.set("WH-GZ", "SKU-A", 10)
		r := e.ingest(t, "shop", mk("GD1", t0, func(o *channel.Order) {
			o.Receiver.Province, o.Receiver.City, o.Receiver.District = "广东省", "广州市", "天河区"
		}))
		if o := e.order(t, r.OrderID); o.Status != Approved || o.WarehouseID != "WH-GZ" {
			t.Fatalf("routed by code rule: %s %q %v", o.Status, o.WarehouseID, o.HoldReasons)
		}
	})
}
