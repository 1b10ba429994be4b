package shop_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
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

func TestSettingsJSONWritesDurationStrings(t *testing.T) {
	s := shop.Settings{PullInterval: time.Minute, PullOverlap: 90 * time.Second, PushStock: true, StockRate: 2.5}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"pull_interval":"1m","pull_overlap":"1m30s","push_stock":true,"stock_rate":2.5}`; string(b) != want {
		t.Fatalf("marshal = %s, want %s", b, want)
	}
	// Zero durations are left out, as with omitempty before.
	if b, _ := json.Marshal(shop.Settings{}); string(b) != `{"push_stock":false}` {
		t.Fatalf("zero settings = %s", b)
	}
	// Embedded in a shop, the custom encoding is used too.
	b, _ = json.Marshal(shop.Shop{Settings: s})
	if !strings.Contains(string(b), `"settings":{"pull_interval":"1m","pull_overlap":"1m30s"`) {
		t.Fatalf("shop = %s", b)
	}
}

func TestFormatDurationReadsBack(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Second:                      "10s",
		time.Minute:                           "1m",
		90 * time.Second:                      "1m30s",
		2 * time.Hour:                         "2h",
		time.Hour + 30*time.Minute:            "1h30m",
		time.Hour + 30*time.Second:            "1h0m30s",
		1500 * time.Millisecond:               "1.5s",
		250 * time.Millisecond:                "250ms",
		48*time.Hour + time.Nanosecond:        "48h0m0.000000001s",
		10*time.Minute + 500*time.Microsecond: "10m0.0005s",
	} {
		got := shop.FormatDuration(d)
		if got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", d, got, want)
		}
		back, err := time.ParseDuration(got)
		if err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v %v, want %v", got, back, err, d)
		}
	}
}

func TestSettingsJSONReadsStringsAndNanoseconds(t *testing.T) {
	for in, want := range map[string]shop.Settings{
		`{"pull_interval":"10s","pull_overlap":"1m30s","push_stock":true}`:            {PullInterval: 10 * time.Second, PullOverlap: 90 * time.Second, PushStock: true},
		`{"pull_interval":" 2h ","pull_overlap":"0s"}`:                                {PullInterval: 2 * time.Hour},
		`{"pull_interval":60000000000,"pull_overlap":120000000000,"push_stock":true}`: {PullInterval: time.Minute, PullOverlap: 2 * time.Minute, PushStock: true},
		`{"pull_interval":"1m","pull_overlap":30000000000,"stock_rate":3}`:            {PullInterval: time.Minute, PullOverlap: 30 * time.Second, StockRate: 3},
		`{"pull_interval":null,"push_stock":true}`:                                    {PushStock: true},
		`{}`:   {},
		`null`: {},
	} {
		var got shop.Settings
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("%s = %+v, want %+v", in, got, want)
		}
	}
}

func TestSettingsJSONRejectsBadDurations(t *testing.T) {
	for in, field := range map[string]string{
		`{"pull_interval":"10"}`:           "settings.pull_interval",
		`{"pull_interval":"soon"}`:         "settings.pull_interval",
		`{"pull_overlap":"-1m"}`:           "settings.pull_overlap",
		`{"pull_overlap":-5}`:              "settings.pull_overlap",
		`{"pull_interval":1.5}`:            "settings.pull_interval",
		`{"pull_interval":6e10}`:           "settings.pull_interval",
		`{"pull_interval":true}`:           "settings.pull_interval",
		`{"pull_interval":{"s":1}}`:        "settings.pull_interval",
		`{"pull_interval":"99999999999h"}`: "settings.pull_interval",
	} {
		var s shop.Settings
		err := json.Unmarshal([]byte(in), &s)
		if !errs.Is(err, errs.Invalid) || errs.FieldsOf(err)[field] == "" {
			t.Errorf("%s: err = %v (fields %v), want invalid %s", in, err, errs.FieldsOf(err), field)
		}
	}
	// Unknown keys stay errors, as they were for a request body before
	// Settings had its own decoder.
	var s shop.Settings
	if err := json.Unmarshal([]byte(`{"pull_intervall":"1m"}`), &s); err == nil || !strings.Contains(err.Error(), `unknown field "pull_intervall"`) {
		t.Fatalf("unknown key: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"push_stock":"yes"}`), &s); err == nil {
		t.Fatal("push_stock as a string accepted")
	}
}

// The schema the OpenAPI document shows must list exactly the keys the
// encoding writes.
func TestSettingsSchemaMatchesEncoding(t *testing.T) {
	b, _ := json.Marshal(shop.Settings{PullInterval: 1, PullOverlap: 1, PushStock: true, StockRate: 1})
	var enc map[string]any
	if err := json.Unmarshal(b, &enc); err != nil {
		t.Fatal(err)
	}
	props := shop.Settings{}.JSONSchema()["properties"].(map[string]any)
	var encKeys, schemaKeys []string
	for k := range enc {
		encKeys = append(encKeys, k)
	}
	for k := range props {
		schemaKeys = append(schemaKeys, k)
	}
	slices.Sort(encKeys)
	slices.Sort(schemaKeys)
	if !slices.Equal(encKeys, schemaKeys) {
		t.Fatalf("encoded keys %v, schema properties %v", encKeys, schemaKeys)
	}
}

// Rows written before durations were strings (nanoseconds) still read; new
// rows store the string form.
func TestStoredSettingsOldAndNew(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := context.Background()
		box, _ := secrets.New(bytes.Repeat([]byte{5}, secrets.KeySize))
		svc := shop.NewService(db, box, shop.Options{})
		sh, err := svc.Create(ctx, shop.New{Platform: channel.Taobao, Name: "店", PlatformShopID: "s1",
			Settings:    shop.Settings{PullInterval: 10 * time.Second, PullOverlap: 90 * time.Second, PushStock: true},
			Credentials: channel.Credentials{AppKey: "k", AppSecret: "s"}})
		if err != nil {
			t.Fatal(err)
		}
		var raw string
		if err := db.QueryRow(ctx, `SELECT settings_json FROM shops WHERE id = $1`, sh.ID).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(raw, `"pull_interval":"10s"`) || !strings.Contains(raw, `"pull_overlap":"1m30s"`) {
			t.Fatalf("stored settings = %s", raw)
		}
		if _, err := db.Exec(ctx, `UPDATE shops SET settings_json = $1 WHERE id = $2`,
			`{"pull_interval":30000000000,"pull_overlap":300000000000,"push_stock":true}`, sh.ID); err != nil {
			t.Fatal(err)
		}
		got, err := svc.Get(ctx, sh.ID)
		if err != nil || got.Settings.PullInterval != 30*time.Second || got.Settings.PullOverlap != 5*time.Minute || !got.Settings.PushStock {
			t.Fatalf("old row: %+v %v", got.Settings, err)
		}
		if _, got, err := svc.Session(ctx, sh.ID); err != nil || got.Settings.PullOverlap != 5*time.Minute {
			t.Fatalf("old row through Session: %+v %v", got.Settings, err)
		}
		// A row that cannot be read is an error, in Session as in Get.
		if _, err := db.Exec(ctx, `UPDATE shops SET settings_json = $1 WHERE id = $2`, `{"pull_interval":"often"}`, sh.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Get(ctx, sh.ID); !errs.Is(err, errs.Internal) {
			t.Fatalf("bad row through Get: %v", err)
		}
		if _, _, err := svc.Session(ctx, sh.ID); !errs.Is(err, errs.Internal) {
			t.Fatalf("bad row through Session: %v", err)
		}
	})
}
