package shop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"omnihub/auth"
	"omnihub/channel"
	"omnihub/errs"
	"omnihub/secrets"
	"omnihub/shop"
	"omnihub/store"
	"omnihub/store/storetest"
)

// secretValues are the credential values no audit row may contain.
var secretValues = []string{"app-secret-1", "tok-1", "refresh-1", "app-secret-2", "tok-2", "refresh-2", "tok-3", "addr-77"}

// shopAudit reads the shop audit rows, oldest first.
func shopAudit(t *testing.T, db store.DB) []auth.AuditRecord {
	t.Helper()
	rows, _, err := auth.ListAudit(context.Background(), db, auth.AuditFilter{Resource: shop.Resource, Oldest: true})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// field decodes one key of an audit row's JSON.
func field(t *testing.T, raw json.RawMessage, key string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("audit JSON %s: %v", raw, err)
	}
	return m[key]
}

// Every change to a shop is audited in its transaction with the acting
// user — create, update, pause, resume, credential rotation, token refresh —
// and no row holds a secret. Resuming calls OnResumeTx; pausing does not.
func TestShopChangesAreAudited(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := auth.WithActor(context.Background(), "alice")
		box, _ := secrets.New(bytes.Repeat([]byte{5}, secrets.KeySize))
		var resumed []string
		svc := shop.NewService(db, box, shop.Options{OnResumeTx: func(ctx context.Context, tx store.Tx, id string) error {
			resumed = append(resumed, id)
			return nil
		}})
		exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		sh, err := svc.Create(ctx, shop.New{Platform: channel.Taobao, Name: "旗舰店", PlatformShopID: "s1",
			Settings: shop.Settings{PushStock: true},
			Credentials: channel.Credentials{AppKey: "key-1", AppSecret: "app-secret-1", AccessToken: "tok-1", RefreshToken: "refresh-1",
				ExpiresAt: exp, Extra: map[string]string{"seller_address_id": "addr-77"}}})
		if err != nil {
			t.Fatal(err)
		}

		// Update: only what is given changes.
		name, rate, interval := " 旗舰店二 ", 5.0, 30*time.Second
		got, err := svc.Update(ctx, sh.ID, shop.Change{Name: &name, Settings: &shop.SettingsChange{PullInterval: &interval, StockRate: &rate}})
		if err != nil {
			t.Fatal(err)
		}
		want := shop.Settings{PullInterval: 30 * time.Second, PullOverlap: 2 * time.Minute, PushStock: true, StockRate: 5}
		if got.Name != "旗舰店二" || got.Settings != want || got.Status != shop.Active {
			t.Fatalf("updated = %+v", got)
		}
		if stored, _ := svc.Get(ctx, sh.ID); stored.Name != "旗舰店二" || stored.Settings != want {
			t.Fatalf("stored = %+v", stored)
		}
		for _, st := range []shop.Status{shop.Paused, shop.Paused, shop.Active} {
			if err := svc.SetStatus(ctx, sh.ID, st); err != nil {
				t.Fatal(err)
			}
		}
		if len(resumed) != 1 || resumed[0] != sh.ID {
			t.Fatalf("OnResumeTx calls = %v, want one, for the resume", resumed)
		}

		// Rotation replaces everything, even with an earlier expiry, and
		// moves the app key webhooks are routed by.
		rotated, err := svc.RotateCredentials(ctx, sh.ID, channel.Credentials{AppKey: "key-2", AppSecret: "app-secret-2",
			AccessToken: "tok-2", RefreshToken: "refresh-1", ExpiresAt: exp.Add(-30 * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if rotated.TokenExpiresAt == nil || !rotated.TokenExpiresAt.Equal(exp.Add(-30*time.Minute)) {
			t.Fatalf("rotated expiry = %v", rotated.TokenExpiresAt)
		}
		sess, _, err := svc.Session(ctx, sh.ID)
		if err != nil || sess.Credentials.AppSecret != "app-secret-2" || sess.Credentials.AccessToken != "tok-2" || sess.Credentials.Extra != nil {
			t.Fatalf("session after rotation = %+v %v", sess.Credentials, err)
		}
		if ids, _ := svc.ByAppKey(ctx, channel.Taobao, "key-2"); len(ids) != 1 {
			t.Fatalf("by new app key = %v", ids)
		}
		if ids, _ := svc.ByAppKey(ctx, channel.Taobao, "key-1"); len(ids) != 0 {
			t.Fatalf("by old app key = %v", ids)
		}

		// A refresh by the sync engine (no principal) is audited as system;
		// one that loses to a newer token is not stored, nor audited.
		refreshed := sess.Credentials
		refreshed.AccessToken, refreshed.ExpiresAt = "tok-3", exp.Add(time.Hour)
		if err := svc.UpdateCredentials(context.Background(), sh.ID, refreshed); err != nil {
			t.Fatal(err)
		}
		stale := refreshed
		stale.AccessToken, stale.ExpiresAt = "tok-stale", exp
		if err := svc.UpdateCredentials(context.Background(), sh.ID, stale); err != nil {
			t.Fatal(err)
		}

		rows := shopAudit(t, db)
		var actions []string
		for _, r := range rows {
			actions = append(actions, r.Actor+" "+r.Action)
			if r.ResourceID != sh.ID {
				t.Errorf("%s: resource id %s", r.Action, r.ResourceID)
			}
			for _, s := range secretValues {
				if strings.Contains(string(r.Before)+string(r.After), s) {
					t.Errorf("%s row holds the secret %q: before %s after %s", r.Action, s, r.Before, r.After)
				}
			}
		}
		if got, want := strings.Join(actions, ", "), "alice create, alice update, alice pause, alice pause, alice resume, alice rotate_credentials, system refresh_token"; got != want {
			t.Fatalf("audit rows = %s\nwant %s", got, want)
		}
		creds := field(t, rows[0].After, "credentials").(map[string]any)
		if creds["app_key"] != "key-1" || !sameStrings(creds["fields"], "app_key", "app_secret", "access_token", "refresh_token", "expires_at", "extra.seller_address_id") {
			t.Errorf("create row credentials = %v", creds)
		}
		if field(t, rows[0].After, "name") != "旗舰店" || field(t, rows[0].After, "status") != "active" {
			t.Errorf("create row = %s", rows[0].After)
		}
		if field(t, rows[1].Before, "name") != "旗舰店" || field(t, rows[1].After, "name") != "旗舰店二" ||
			field(t, rows[1].After, "settings").(map[string]any)["pull_interval"] != "30s" {
			t.Errorf("update row: before %s after %s", rows[1].Before, rows[1].After)
		}
		if field(t, rows[2].Before, "status") != "active" || field(t, rows[2].After, "status") != "paused" || field(t, rows[4].After, "status") != "active" {
			t.Errorf("status rows: %s → %s; resume → %s", rows[2].Before, rows[2].After, rows[4].After)
		}
		rot := rows[5]
		if field(t, rot.Before, "app_key") != "key-1" || field(t, rot.After, "app_key") != "key-2" ||
			!sameStrings(field(t, rot.After, "fields"), "app_key", "app_secret", "access_token", "expires_at", "extra.seller_address_id") {
			t.Errorf("rotation row: before %s after %s (refresh_token did not change)", rot.Before, rot.After)
		}
		if !sameStrings(field(t, rows[6].After, "fields"), "access_token", "expires_at") {
			t.Errorf("refresh row: %s", rows[6].After)
		}
	})
}

func sameStrings(v any, want ...string) bool {
	l, ok := v.([]any)
	if !ok || len(l) != len(want) {
		return false
	}
	for i := range l {
		if l[i] != want[i] {
			return false
		}
	}
	return true
}

// Bad changes are errs.Invalid naming the field, a missing shop NotFound,
// and neither changes nor audits anything.
func TestShopChangeValidation(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := auth.WithActor(context.Background(), "alice")
		box, _ := secrets.New(bytes.Repeat([]byte{6}, secrets.KeySize))
		svc := shop.NewService(db, box, shop.Options{})
		sh, err := svc.Create(ctx, shop.New{Platform: channel.Douyin, Name: "抖店", PlatformShopID: "d1",
			Credentials: channel.Credentials{AppKey: "k", AppSecret: "s"}})
		if err != nil {
			t.Fatal(err)
		}
		empty, closed, neg, negD := "  ", shop.Status("closed"), -1.0, -time.Second
		for name, c := range map[string]struct {
			change shop.Change
			field  string
		}{
			"nothing":        {shop.Change{Settings: &shop.SettingsChange{}}, ""},
			"empty name":     {shop.Change{Name: &empty}, "name"},
			"unknown status": {shop.Change{Status: &closed}, "status"},
			"negative rate":  {shop.Change{Settings: &shop.SettingsChange{StockRate: &neg}}, "settings.stock_rate"},
			"negative pull":  {shop.Change{Settings: &shop.SettingsChange{PullInterval: &negD}}, "settings.pull_interval"},
		} {
			_, err := svc.Update(ctx, sh.ID, c.change)
			if !errs.Is(err, errs.Invalid) || (c.field != "" && errs.FieldsOf(err)[c.field] == "") {
				t.Errorf("%s: %v (fields %v), want invalid naming %q", name, err, errs.FieldsOf(err), c.field)
			}
		}
		active := shop.Active
		if _, err := svc.Update(ctx, "nope", shop.Change{Status: &active}); !errs.Is(err, errs.NotFound) {
			t.Errorf("update of a missing shop: %v", err)
		}
		if _, err := svc.RotateCredentials(ctx, sh.ID, channel.Credentials{AppKey: "k2"}); !errs.Is(err, errs.Invalid) || errs.FieldsOf(err)["credentials.app_secret"] == "" {
			t.Errorf("rotation without a secret: %v", err)
		}
		if _, err := svc.RotateCredentials(ctx, "nope", channel.Credentials{AppKey: "k2", AppSecret: "s2"}); !errs.Is(err, errs.NotFound) {
			t.Errorf("rotation of a missing shop: %v", err)
		}
		if got, _ := svc.Get(ctx, sh.ID); got.Name != "抖店" || got.Status != shop.Active {
			t.Errorf("shop after refused changes = %+v", got)
		}
		if rows := shopAudit(t, db); len(rows) != 1 || rows[0].Action != "create" {
			t.Errorf("audit rows after refused changes = %+v", rows)
		}
	})
}

// A settings change in JSON: only the keys given; durations as in
// Settings; null puts a duration back to its default; unknown keys and bad
// durations are refused naming the field.
func TestSettingsChangeJSON(t *testing.T) {
	var c shop.Change
	if err := json.Unmarshal([]byte(`{"settings":{"pull_interval":"45s","push_stock":false,"pull_overlap":null}}`), &c); err != nil {
		t.Fatal(err)
	}
	s := c.Settings
	if s == nil || s.PullInterval == nil || *s.PullInterval != 45*time.Second || s.PushStock == nil || *s.PushStock ||
		s.PullOverlap == nil || *s.PullOverlap != 0 || s.StockRate != nil || c.Name != nil || c.Status != nil {
		t.Fatalf("change = %+v / %+v", c, s)
	}
	before := shop.Settings{PullInterval: time.Minute, PullOverlap: 5 * time.Minute, PushStock: true, StockRate: 3}
	if got, want := s.Apply(before), (shop.Settings{PullInterval: 45 * time.Second, PullOverlap: 2 * time.Minute, StockRate: 3}); got != want {
		t.Fatalf("apply = %+v, want %+v", got, want)
	}
	if b, _ := json.Marshal(s); string(b) != `{"pull_interval":"45s","pull_overlap":"0s","push_stock":false}` {
		t.Fatalf("marshal = %s", b)
	}
	var bad shop.SettingsChange
	if err := json.Unmarshal([]byte(`{"pull_interval":"soon"}`), &bad); !errs.Is(err, errs.Invalid) || errs.FieldsOf(err)["settings.pull_interval"] == "" {
		t.Fatalf("bad duration: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"pull_intervall":"1m"}`), &bad); err == nil || !strings.Contains(err.Error(), "pull_intervall") {
		t.Fatalf("unknown key: %v", err)
	}
}
