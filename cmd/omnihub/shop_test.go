package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"omnihub/auth"
	"omnihub/channel"
	"omnihub/config"
	"omnihub/errs"
	"omnihub/internal/app"
	"omnihub/shop"
)

// openTestApp opens the application on a CLI test's data directory.
func openTestApp(t *testing.T, dir string) *app.App {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dir
	a, err := app.New(context.Background(), cfg, app.NewLogger(cfg.Log, io.Discard), app.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// omnihub shop list|pause|resume|set|credentials change a shop after it is
// connected, each change audited as the CLI user and without secrets.
func TestShopCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	a := openTestApp(t, dir)
	sh, err := a.Shops.Create(auth.WithActor(context.Background(), "setup"), shop.New{Platform: channel.Douyin, Name: "抖店", PlatformShopID: "d1",
		Settings: shop.Settings{PushStock: true}, Credentials: channel.Credentials{AppKey: "key-1", AppSecret: "secret-1", AccessToken: "token-1"}})
	a.Close()
	if err != nil {
		t.Fatal(err)
	}

	out, err := runCLI(t, dir, "", "shop", "list")
	if err != nil || !strings.Contains(out, sh.ID) || !strings.Contains(out, "active") || !strings.Contains(out, "1m") || strings.Contains(out, "secret-1") {
		t.Fatalf("list = %q %v", out, err)
	}
	if out, err := runCLI(t, dir, "", "shop", "pause", sh.ID); err != nil || !strings.Contains(out, "is paused") {
		t.Fatalf("pause = %q %v", out, err)
	}
	out, err = runCLI(t, dir, "", "shop", "set", sh.ID, "--name", "抖音旗舰店", "--pull-interval", "45s", "--push-stock=false")
	if err != nil || !strings.Contains(out, `"name": "抖音旗舰店"`) || !strings.Contains(out, `"pull_interval": "45s"`) ||
		!strings.Contains(out, `"push_stock": false`) || !strings.Contains(out, `"status": "paused"`) {
		t.Fatalf("set = %q %v", out, err)
	}
	if _, err := runCLI(t, dir, "", "shop", "set", sh.ID); !errs.Is(err, errs.Invalid) {
		t.Fatalf("set without flags = %v", err)
	}
	if _, err := runCLI(t, dir, "", "shop", "set", sh.ID, "--pull-interval", "soon"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("set with a bad duration = %v", err)
	}
	if _, err := runCLI(t, dir, "", "shop", "pause", "nope"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("pause of a missing shop = %v", err)
	}
	if out, err := runCLI(t, dir, "", "shop", "resume", sh.ID); err != nil || !strings.Contains(out, "is active") {
		t.Fatalf("resume = %q %v", out, err)
	}
	out, err = runCLI(t, dir, `{"app_key":"key-2","app_secret":"secret-2","access_token":"token-2"}`, "shop", "credentials", sh.ID)
	if err != nil || !strings.Contains(out, "credentials replaced") || strings.Contains(out, "secret-2") {
		t.Fatalf("credentials = %q %v", out, err)
	}
	if _, err := runCLI(t, dir, `{"app_key":"key-3"}`, "shop", "credentials", sh.ID); !errs.Is(err, errs.Invalid) {
		t.Fatalf("credentials without a secret = %v", err)
	}
	if _, err := runCLI(t, dir, `app_secret=x`, "shop", "credentials", sh.ID); !errs.Is(err, errs.Invalid) {
		t.Fatalf("credentials not JSON = %v", err)
	}

	a = openTestApp(t, dir)
	defer a.Close()
	ctx := context.Background()
	got, err := a.Shops.Get(ctx, sh.ID)
	if err != nil || got.Name != "抖音旗舰店" || got.Status != shop.Active || got.Settings.PushStock || got.Settings.PullInterval.String() != "45s" {
		t.Fatalf("shop = %+v %v", got, err)
	}
	if sess, _, err := a.Shops.Session(ctx, sh.ID); err != nil || sess.Credentials.AppSecret != "secret-2" {
		t.Fatalf("credentials = %+v %v", sess.Credentials, err)
	}
	rows, _, err := auth.ListAudit(ctx, a.DB, auth.AuditFilter{Resource: shop.Resource, Oldest: true})
	if err != nil {
		t.Fatal(err)
	}
	var got2 []string
	for _, r := range rows {
		got2 = append(got2, r.Action)
		if r.Action != "create" && !strings.HasPrefix(r.Actor, "cli:") {
			t.Errorf("%s: actor %q, want the CLI user", r.Action, r.Actor)
		}
		if strings.Contains(string(r.Before)+string(r.After), "secret-") || strings.Contains(string(r.Before)+string(r.After), "token-") {
			t.Errorf("%s row holds a secret: %s %s", r.Action, r.Before, r.After)
		}
	}
	if strings.Join(got2, " ") != "create pause update resume rotate_credentials" {
		t.Fatalf("audit actions = %v", got2)
	}
}
