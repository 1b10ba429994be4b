package shop_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/secrets"
	"omnihub/shop"
	"omnihub/store"
	"omnihub/store/storetest"
)

func TestShops(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		box, _ := secrets.New(bytes.Repeat([]byte{3}, secrets.KeySize))
		svc := shop.NewService(db, box, shop.Options{KnownPlatform: func(p channel.Platform) bool { return p == channel.Taobao }})

		if _, err := svc.Create(ctx, shop.New{Platform: "jd", Name: ""}); !errs.Is(err, errs.Invalid) {
			t.Fatalf("invalid shop: %v", err)
		}
		exp := time.Now().Add(time.Hour).UTC()
		sh, err := svc.Create(ctx, shop.New{Platform: channel.Taobao, Name: "旗舰店", PlatformShopID: "s1",
			Credentials: channel.Credentials{AppKey: "k", AppSecret: "very-secret", AccessToken: "tok1", ExpiresAt: exp}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Create(ctx, shop.New{Platform: channel.Taobao, Name: "x", PlatformShopID: "s1",
			Credentials: channel.Credentials{AppKey: "k", AppSecret: "s"}}); !errs.Is(err, errs.Conflict) {
			t.Fatalf("duplicate shop: %v", err)
		}
		// Credentials are sealed in the database.
		var raw string
		if err := db.QueryRow(ctx, `SELECT credentials FROM shops WHERE id = $1`, sh.ID).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(raw, "very-secret") || strings.Contains(raw, "tok1") {
			t.Fatal("credentials stored in clear")
		}
		sess, got, err := svc.Session(ctx, sh.ID)
		if err != nil || sess.Credentials.AppSecret != "very-secret" || got.Settings.PullInterval != time.Minute {
			t.Fatalf("session: %+v %+v %v", sess, got, err)
		}
		// A refresh with a later expiry wins; an older one cannot roll back.
		newer := sess.Credentials
		newer.AccessToken, newer.ExpiresAt = "tok2", exp.Add(time.Hour)
		if err := svc.UpdateCredentials(ctx, sh.ID, newer); err != nil {
			t.Fatal(err)
		}
		older := sess.Credentials
		older.AccessToken = "stale"
		if err := svc.UpdateCredentials(ctx, sh.ID, older); err != nil {
			t.Fatal(err)
		}
		sess, _, _ = svc.Session(ctx, sh.ID)
		if sess.Credentials.AccessToken != "tok2" {
			t.Fatalf("token = %s, want tok2", sess.Credentials.AccessToken)
		}
		exp2, err := svc.ExpiringBefore(ctx, exp.Add(3*time.Hour))
		if err != nil || len(exp2) != 1 {
			t.Fatalf("expiring: %v %v", exp2, err)
		}
		if err := svc.SetStatus(ctx, sh.ID, shop.Paused); err != nil {
			t.Fatal(err)
		}
		list, _ := svc.List(ctx)
		if len(list) != 1 || list[0].Status != shop.Paused {
			t.Fatalf("list: %+v", list)
		}
		if _, err := svc.Get(ctx, "nope"); !errs.Is(err, errs.NotFound) {
			t.Fatalf("get missing: %v", err)
		}
	})
}
