package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"omnihub/auth"
	"omnihub/catalog"
	"omnihub/channel"
	"omnihub/inventory"
	"omnihub/order"
)

// Every order, rule and blacklist action through the API leaves exactly one
// audit row — the order service's own, with the acting user and the same
// action, resource, before and after as before — and no fallback row from
// the authentication middleware. An actor given explicitly (a CLI command)
// is kept.
func TestOrderActionsAreAuditedOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newEngineApp(t, engine, Options{})
		ctx := context.Background()
		k, err := a.Catalog.CreateSKU(ctx, catalog.SKUInput{Code: "A", Name: "A", PriceFen: 1000})
		if err != nil {
			t.Fatal(err)
		}
		wh, err := a.Inventory.CreateWarehouse(ctx, "HZ", "杭州仓")
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Inventory.Receive(ctx, inventory.DocRef{Type: "receipt", ID: "R1", Line: 1}, wh.ID, k.ID, 10); err != nil {
			t.Fatal(err)
		}
		c := newAPIClient(t, a, "ops", auth.RoleOperator)
		call := func(method, path, body string, want int, out any) {
			t.Helper()
			if code, resp := c.do(method, path, body, out); code != want {
				t.Fatalf("%s %s = %d %s, want %d", method, path, code, resp, want)
			}
		}

		var rule order.Rule
		call("POST", "/api/v1/order-rules", `{"kind":"audit","name":"hold all","expression":"true","action":"hold","reason":"manual_check","enabled":true}`, 201, &rule)
		call("PUT", "/api/v1/order-rules/"+rule.ID, `{"kind":"audit","name":"hold everything","expression":"true","action":"hold","reason":"manual_check","enabled":true}`, 200, nil)
		var bl order.BlacklistEntry
		call("POST", "/api/v1/order-blacklist", `{"kind":"phone","value":"13900000000"}`, 201, &bl)
		call("DELETE", "/api/v1/order-blacklist/"+bl.ID, "", 204, nil)

		var held []string
		for i := 1; i <= 3; i++ {
			paid := time.Now().UTC().Add(-time.Minute)
			o := channel.Order{PlatformOrderID: fmt.Sprintf("T%d", i), PlatformStatus: "WAIT_SELLER_SEND_GOODS", Status: channel.OrderPaid,
				CreatedAt: paid, PaidAt: &paid, ModifiedAt: paid, BuyerID: fmt.Sprintf("b%d", i), Currency: "CNY", GoodsAmount: 1000, PaidAmount: 1000,
				Receiver: channel.Address{Name: "李雷", Phone: fmt.Sprintf("1380000000%d", i), Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "文三路1号"},
				Lines: []channel.OrderLine{{PlatformLineID: fmt.Sprintf("T%d-1", i), PlatformItemID: "I-A", PlatformSKUID: "P-A", OuterSKUID: "A",
					Title: "A", Quantity: 1, Price: 1000, Paid: 1000}}}
			if _, err := a.Orders.Ingest(ctx, "S1", o); err != nil {
				t.Fatal(err)
			}
			got, err := a.Orders.FindByPlatformID(ctx, "S1", o.PlatformOrderID)
			if err != nil || got.Status != order.Held {
				t.Fatalf("order %s: %+v %v, want held by the rule", o.PlatformOrderID, got, err)
			}
			held = append(held, got.ID)
		}
		o1, o2, o3 := held[0], held[1], held[2]
		call("POST", "/api/v1/order-exceptions/"+o1+"/fix", `{"receiver":{"name":"韩梅梅","phone":"13900000001","province":"浙江省","city":"杭州市","district":"西湖区","detail":"文三路2号"}}`, 200, nil)
		call("POST", "/api/v1/order-exceptions/"+o1+"/replay", "", 200, nil)
		call("POST", "/api/v1/order-exceptions/"+o1+"/approve", `{"reason":"checked by phone"}`, 200, nil)
		call("POST", "/api/v1/orders/"+o1+"/transition", `{"to":"held","reason":"customer asked to wait"}`, 200, nil)
		call("POST", "/api/v1/order-exceptions/"+o2+"/reject", `{"reason":"fraud"}`, 200, nil)
		call("POST", "/api/v1/orders/"+o3+"/cancel", `{"reason":"buyer asked"}`, 200, nil)
		call("DELETE", "/api/v1/order-rules/"+rule.ID, "", 204, nil)
		// A refused action changes nothing and leaves no row.
		call("POST", "/api/v1/orders/"+o3+"/cancel", `{"reason":"again"}`, 409, nil)
		// The CLI passes its user to the service; no principal in ctx.
		if _, err := a.Orders.Replay(ctx, o1, "cli:alice"); err != nil {
			t.Fatal(err)
		}

		rows := auditOf(t, a, "order", "order_rule", "order_blacklist")
		want := strings.Join([]string{
			"order_rule.save order_rule " + rule.ID,
			"order_rule.save order_rule " + rule.ID,
			"order_blacklist.add order_blacklist " + bl.ID,
			"order_blacklist.remove order_blacklist " + bl.ID,
			"order.fix order " + o1,
			"order.replay order " + o1,
			"order.approve order " + o1,
			"order.transition order " + o1,
			"order.reject order " + o2,
			"order.cancel order " + o3,
			"order_rule.delete order_rule " + rule.ID,
			"order.replay order " + o1,
		}, "\n")
		if got := summary(rows); got != want {
			t.Fatalf("audit rows:\n%s\nwant exactly one per action, none from the middleware:\n%s", got, want)
		}
		for i, r := range rows {
			wantActor := "ops (token omh_"
			if i == len(rows)-1 {
				wantActor = "cli:alice"
			}
			if !strings.HasPrefix(r.Actor, wantActor) {
				t.Errorf("%s %s: actor %q, want %s…", r.Action, r.ResourceID, r.Actor, wantActor)
			}
		}
		// What the rows record is unchanged: orders before and after
		// (masked), the saved rule, the blacklist kind only.
		var before, after struct {
			Status   string         `json:"status"`
			Receiver order.Receiver `json:"receiver"`
		}
		fix := rows[4]
		if err := json.Unmarshal([]byte(fix.Before), &before); err != nil {
			t.Fatalf("fix before %q: %v", fix.Before, err)
		}
		if err := json.Unmarshal([]byte(fix.After), &after); err != nil {
			t.Fatalf("fix after %q: %v", fix.After, err)
		}
		if before.Status != "held" || after.Receiver.Detail == "" || strings.Contains(fix.After, "13900000001") || strings.Contains(fix.After, "文三路2号") {
			t.Errorf("fix row: before %s after %s (want the masked order before and after)", fix.Before, fix.After)
		}
		if approve := rows[6]; jsonOf(t, approve.After)["status"] != "approved" {
			t.Errorf("approve row after = %s", approve.After)
		}
		if save := rows[1]; jsonOf(t, save.Before)["name"] != "hold all" || jsonOf(t, save.After)["name"] != "hold everything" {
			t.Errorf("rule update row: before %s after %s", save.Before, save.After)
		}
		if add := rows[2]; add.Before != "" || len(jsonOf(t, add.After)) != 1 || jsonOf(t, add.After)["kind"] != "phone" {
			t.Errorf("blacklist row: before %q after %q (the phone must not be recorded)", add.Before, add.After)
		}
	})
}
