package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"omnihub/auth"
)

// apiClient calls the full application's handler with one user's token.
type apiClient struct {
	t     *testing.T
	h     http.Handler
	token string
}

// newAPIClient creates a user of the role with a token (cheap password
// hashing, no rate limit) and returns a client acting as that user.
func newAPIClient(t *testing.T, a *App, user string, role auth.Role) *apiClient {
	t.Helper()
	svc := auth.NewService(a.DB, auth.Options{Hash: auth.HashParams{Memory: 1024, Time: 1, Threads: 1}, TokenRate: -1})
	a.API.Authenticate = svc.Middleware
	ctx := auth.WithActor(context.Background(), "test")
	if _, _, err := svc.CreateUser(ctx, user, role, ""); err != nil {
		t.Fatal(err)
	}
	_, token, err := svc.CreateToken(ctx, user, "test", nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &apiClient{t: t, h: a.API.Handler(), token: token}
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (c *apiClient) do(method, path, body string, out any) (int, string) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	if out != nil && rec.Code < 300 {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
		}
	}
	return rec.Code, rec.Body.String()
}

// Shop settings durations are strings in the API ("1m30s"); numbers are
// still read as nanoseconds; a bad duration is a 400 naming the field.
func TestShopSettingsDurationsOverAPI(t *testing.T) {
	a := newTestApp(t)
	c := newAPIClient(t, a, "ops", auth.RoleOperator)
	const creds = `"credentials":{"app_key":"k","app_secret":"s","access_token":"t"}`
	type settingsOut struct {
		PullInterval any  `json:"pull_interval"`
		PullOverlap  any  `json:"pull_overlap"`
		PushStock    bool `json:"push_stock"`
	}
	var created struct {
		ID       string      `json:"id"`
		Settings settingsOut `json:"settings"`
	}
	code, body := c.do("POST", "/api/v1/shops", `{"platform":"taobao","name":"店","platform_shop_id":"s1",
		"settings":{"pull_interval":"1m30s","pull_overlap":120000000000,"push_stock":true},`+creds+`}`, &created)
	if code != http.StatusCreated {
		t.Fatalf("create = %d %s", code, body)
	}
	want := settingsOut{PullInterval: "1m30s", PullOverlap: "2m", PushStock: true}
	if created.Settings != want {
		t.Fatalf("created settings = %+v, want %+v", created.Settings, want)
	}
	var got struct {
		Settings settingsOut `json:"settings"`
	}
	if code, body := c.do("GET", "/api/v1/shops/"+created.ID, "", &got); code != 200 || got.Settings != want {
		t.Fatalf("get = %d %+v %s", code, got.Settings, body)
	}
	// Defaults are written as strings too.
	code, body = c.do("POST", "/api/v1/shops", `{"platform":"taobao","name":"店2","platform_shop_id":"s2","settings":{"push_stock":false},`+creds+`}`, &created)
	if code != http.StatusCreated || created.Settings != (settingsOut{PullInterval: "1m", PullOverlap: "2m"}) {
		t.Fatalf("defaults = %d %+v %s", code, created.Settings, body)
	}

	for in, field := range map[string]string{
		`"settings":{"pull_interval":"soon"}`: "settings.pull_interval",
		`"settings":{"pull_overlap":"-1m"}`:   "settings.pull_overlap",
		`"settings":{"pull_intervall":"1m"}`:  "pull_intervall",
	} {
		code, body := c.do("POST", "/api/v1/shops", `{"platform":"taobao","name":"x","platform_shop_id":"s3",`+in+`,`+creds+`}`, nil)
		var p struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		}
		_ = json.Unmarshal([]byte(body), &p)
		if code != http.StatusBadRequest || p.Code != "invalid" || p.Fields[field] == "" {
			t.Errorf("%s = %d %s, want 400 naming %s", in, code, body, field)
		}
	}

	// The OpenAPI document describes the string form.
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Type any `json:"type"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if code, body := c.do("GET", "/api/openapi.json", "", &doc); code != 200 {
		t.Fatalf("openapi = %d %s", code, body)
	}
	typ, _ := json.Marshal(doc.Components.Schemas["shop.Settings"].Properties["pull_interval"].Type)
	if string(typ) != `["string","integer"]` {
		t.Fatalf("shop.Settings pull_interval type = %s", typ)
	}
}

// Retrying and skipping a dead letter through the API are in the audit log
// with the acting user (and token), like the CLI's; a failed action is not.
func TestDeadLetterActionsAreAudited(t *testing.T) {
	a := newTestApp(t)
	ctx := context.Background()
	_, err := a.DB.Exec(ctx, `INSERT INTO river_job (id, args, attempt, kind, max_attempts, state, finalized_at, errors)
		VALUES (41, '{"shop_id":"s1"}', 3, 'sync_push_stock', 3, 'discarded', CURRENT_TIMESTAMP,
		'[{"at":"2026-11-23T10:00:00Z","attempt":3,"error":"boom"}]'),
		(42, '{"shop_id":"s2"}', 3, 'sync_upload_shipment', 3, 'discarded', CURRENT_TIMESTAMP, '[{"at":"2026-11-23T10:00:00Z","attempt":3,"error":"boom"}]')`)
	if err != nil {
		t.Fatal(err)
	}
	c := newAPIClient(t, a, "ops", auth.RoleOperator)
	if code, body := c.do("POST", "/api/v1/dead-letters/41/retry", "", nil); code != http.StatusNoContent {
		t.Fatalf("retry = %d %s", code, body)
	}
	if code, body := c.do("POST", "/api/v1/dead-letters/42/skip", "", nil); code != http.StatusNoContent {
		t.Fatalf("skip = %d %s", code, body)
	}
	if code, body := c.do("POST", "/api/v1/dead-letters/99/retry", "", nil); code != http.StatusNotFound {
		t.Fatalf("retry of a missing job = %d %s", code, body)
	}
	if code, body := c.do("POST", "/api/v1/dead-letters/41/skip", "", nil); code != http.StatusConflict {
		t.Fatalf("skip of a retried job = %d %s", code, body)
	}

	rows, err := a.DB.Query(ctx, `SELECT actor, action, resource, resource_id, before_json FROM audit_log
		WHERE resource = 'dead_letter' OR resource LIKE 'route:%dead-letters%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var actor, action, resource, id string
		var before *string
		if err := rows.Scan(&actor, &action, &resource, &id, &before); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(actor, "ops (token omh_") {
			t.Errorf("%s %s: actor %q, want the user and token", action, id, actor)
		}
		b := ""
		if before != nil {
			var m map[string]any
			_ = json.Unmarshal([]byte(*before), &m)
			b = m["kind"].(string) + "/" + m["state"].(string)
		}
		got = append(got, action+" "+resource+" "+id+" "+b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{"retry dead_letter 41 sync_push_stock/discarded", "skip dead_letter 42 sync_upload_shipment/discarded"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
