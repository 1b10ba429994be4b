package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"omnihub/auth"
)

// A shop is changed after creation through the API — settings, name,
// status, credentials — each request audited once with the acting user and
// no secret; a paused shop refuses pulls and reconciliations on request,
// and resuming it schedules a reconciliation. The OpenAPI document
// describes the new routes.
func TestShopChangesOverAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine string) {
		a := newEngineApp(t, engine, Options{})
		c := newAPIClient(t, a, "ops", auth.RoleOperator)
		type shopOut struct {
			ID       string         `json:"id"`
			Name     string         `json:"name"`
			Status   string         `json:"status"`
			Settings map[string]any `json:"settings"`
		}
		var sh shopOut
		code, body := c.do("POST", "/api/v1/shops", `{"platform":"taobao","name":"店","platform_shop_id":"s1","settings":{"push_stock":true},
			"credentials":{"app_key":"key-1","app_secret":"secret-1","access_token":"token-1","refresh_token":"refresh-1"}}`, &sh)
		if code != http.StatusCreated {
			t.Fatalf("create = %d %s", code, body)
		}
		patch := func(in string, want int) (shopOut, string) {
			t.Helper()
			var out shopOut
			code, body := c.do("PATCH", "/api/v1/shops/"+sh.ID, in, &out)
			if code != want {
				t.Fatalf("PATCH %s = %d %s, want %d", in, code, body, want)
			}
			return out, body
		}

		got, _ := patch(`{"name":"旗舰店","settings":{"pull_interval":"30s","stock_rate":5}}`, 200)
		if got.Name != "旗舰店" || got.Status != "active" || got.Settings["pull_interval"] != "30s" || got.Settings["pull_overlap"] != "2m" ||
			got.Settings["push_stock"] != true || got.Settings["stock_rate"] != 5.0 {
			t.Fatalf("after PATCH settings: %+v", got)
		}
		for in, field := range map[string]string{
			`{"status":"closed"}`:                     "status",
			`{"name":" "}`:                            "name",
			`{"settings":{"pull_interval":"soon"}}`:   "settings.pull_interval",
			`{"settings":{"stock_rate":-1}}`:          "settings.stock_rate",
			`{"settings":{"pull_intervall":"1m"}}`:    "pull_intervall",
			`{"nmae":"x"}`:                            "nmae",
			`{}`:                                      "",
			`{"settings":{}}`:                         "",
			`{"credentials":{"app_secret":"nope-1"}}`: "credentials",
		} {
			_, body := patch(in, http.StatusBadRequest)
			var p struct {
				Fields map[string]string `json:"fields"`
			}
			_ = json.Unmarshal([]byte(body), &p)
			if field != "" && p.Fields[field] == "" {
				t.Errorf("PATCH %s = %s, want the field %s named", in, body, field)
			}
		}
		if code, body := c.do("PATCH", "/api/v1/shops/nope", `{"status":"paused"}`, nil); code != http.StatusNotFound {
			t.Fatalf("PATCH of a missing shop = %d %s", code, body)
		}

		if got, _ := patch(`{"status":"paused"}`, 200); got.Status != "paused" || got.Name != "旗舰店" || got.Settings["pull_interval"] != "30s" {
			t.Fatalf("after pause: %+v", got)
		}
		for _, p := range []string{"pull", "reconcile"} {
			if code, body := c.do("POST", "/api/v1/shops/"+sh.ID+"/"+p, "", nil); code != http.StatusConflict || !strings.Contains(body, "paused") {
				t.Fatalf("%s of a paused shop = %d %s, want 409", p, code, body)
			}
		}
		var reconciles int
		countReconciles := func() int {
			t.Helper()
			var n int
			if err := a.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM river_job WHERE kind = 'sync_reconcile'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if reconciles = countReconciles(); reconciles != 0 {
			t.Fatalf("%d reconciliations queued for a paused shop", reconciles)
		}
		if got, _ := patch(`{"status":"active"}`, 200); got.Status != "active" {
			t.Fatalf("after resume: %+v", got)
		}
		if n := countReconciles(); n != 1 {
			t.Fatalf("reconciliations queued by the resume = %d, want 1", n)
		}

		var rotated map[string]any
		code, body = c.do("PUT", "/api/v1/shops/"+sh.ID+"/credentials",
			`{"app_key":"key-2","app_secret":"secret-2","access_token":"token-2","expires_at":"2030-01-01T00:00:00Z"}`, &rotated)
		if code != 200 || rotated["token_expires_at"] != "2030-01-01T00:00:00Z" || strings.Contains(body, "secret-2") || strings.Contains(body, "token-2") {
			t.Fatalf("rotate = %d %s", code, body)
		}
		if code, body := c.do("PUT", "/api/v1/shops/"+sh.ID+"/credentials", `{"app_key":"key-3"}`, nil); code != http.StatusBadRequest {
			t.Fatalf("rotate without a secret = %d %s", code, body)
		}
		sess, _, err := a.Shops.Session(context.Background(), sh.ID)
		if err != nil || sess.Credentials.AppSecret != "secret-2" || sess.Credentials.RefreshToken != "" {
			t.Fatalf("credentials after rotation = %+v %v", sess.Credentials, err)
		}

		rows := auditOf(t, a, "shop")
		if got, want := summary(rows), strings.Join([]string{"create shop " + sh.ID, "update shop " + sh.ID, "pause shop " + sh.ID,
			"resume shop " + sh.ID, "rotate_credentials shop " + sh.ID}, "\n"); got != want {
			t.Fatalf("audit rows:\n%s\nwant one per change, none from the middleware:\n%s", got, want)
		}
		for _, r := range rows {
			if !strings.HasPrefix(r.Actor, "ops (token omh_") {
				t.Errorf("%s: actor %q", r.Action, r.Actor)
			}
			for _, s := range []string{"secret-1", "token-1", "refresh-1", "secret-2", "token-2"} {
				if strings.Contains(r.Before+r.After, s) {
					t.Errorf("%s row holds %q: %s %s", r.Action, s, r.Before, r.After)
				}
			}
		}

		var doc struct {
			Paths map[string]map[string]struct {
				RequestBody struct {
					Content map[string]struct {
						Schema map[string]any `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
				Permission string `json:"x-permission"`
			} `json:"paths"`
			Components struct {
				Schemas map[string]map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if code, body := c.do("GET", "/api/openapi.json", "", &doc); code != 200 {
			t.Fatalf("openapi = %d %s", code, body)
		}
		p := doc.Paths["/api/v1/shops/{id}"]["patch"]
		if p.Permission != "channels.write" || p.RequestBody.Content["application/json"].Schema["$ref"] != "#/components/schemas/shop.Change" {
			t.Fatalf("PATCH /api/v1/shops/{id} in the document: %+v", p)
		}
		if p := doc.Paths["/api/v1/shops/{id}/credentials"]["put"]; p.Permission != "channels.write" ||
			p.RequestBody.Content["application/json"].Schema["$ref"] != "#/components/schemas/channel.Credentials" {
			t.Fatalf("PUT /api/v1/shops/{id}/credentials in the document: %+v", p)
		}
		if st, _ := json.Marshal(doc.Components.Schemas["shop.Status"]["enum"]); string(st) != `["active","paused"]` {
			t.Fatalf("shop.Status enum = %s", st)
		}
		if props, _ := doc.Components.Schemas["shop.SettingsChange"]["properties"].(map[string]any); props["pull_interval"] == nil {
			t.Fatalf("shop.SettingsChange = %v", doc.Components.Schemas["shop.SettingsChange"])
		}
	})
}
