package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"omnihub/errs"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsRunEmbedded(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:8080" || cfg.IsPostgres() || cfg.SQLitePath() != filepath.Join("data", "omnihub.db") {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestPrecedenceFileThenEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "omnihub.yaml")
	os.WriteFile(path, []byte("db: postgres://file@h/db\nhttp:\n  addr: 0.0.0.0:9000\njobs:\n  backoff_base: 2s\n"), 0o600)
	cfg, err := Load(path, env(map[string]string{"OMNIHUB_HTTP_ADDR": "127.0.0.1:7000"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DB != "postgres://file@h/db" || !cfg.IsPostgres() {
		t.Fatalf("file value lost: %q", cfg.DB)
	}
	if cfg.HTTP.Addr != "127.0.0.1:7000" {
		t.Fatalf("env must override file: %q", cfg.HTTP.Addr)
	}
	if cfg.Jobs.BackoffBase != 2*time.Second {
		t.Fatalf("duration from file: %v", cfg.Jobs.BackoffBase)
	}
}

func TestBadInputIsInvalid(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("htp:\n  addr: x\n"), 0o600)
	if _, err := Load(path, env(nil)); !errs.Is(err, errs.Invalid) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), env(nil)); !errs.Is(err, errs.Invalid) {
		t.Fatalf("missing explicit file: %v", err)
	}
	t.Chdir(dir)
	if _, err := Load("", env(map[string]string{"OMNIHUB_JOB_WORKERS": "many"})); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad number: %v", err)
	}
	if _, err := Load("", env(map[string]string{"OMNIHUB_LOG_LEVEL": "loud"})); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad level: %v", err)
	}
}

func TestSyncSchedule(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := Load("", env(map[string]string{"OMNIHUB_SYNC_TICK": "300ms", "OMNIHUB_SYNC_RECONCILE_EVERY": "10m"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sync.Tick != 300*time.Millisecond || cfg.Sync.ReconcileEvery != 10*time.Minute {
		t.Fatalf("sync schedule: %+v", cfg.Sync)
	}
	if _, err := Load("", env(map[string]string{"OMNIHUB_SYNC_TICK": "-1s"})); !errs.Is(err, errs.Invalid) {
		t.Fatalf("negative tick: %v", err)
	}
	if err := os.WriteFile("omnihub.yaml", []byte("sync:\n  platform_rate: 400\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err := Load("", env(nil)); err != nil || cfg.Sync.PlatformRate != 400 {
		t.Fatalf("platform_rate from YAML: %+v %v", cfg.Sync, err)
	}
	if err := os.WriteFile("omnihub.yaml", []byte("sync:\n  platform_rate: -1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load("", env(nil)); !errs.Is(err, errs.Invalid) {
		t.Fatalf("negative platform_rate: %v", err)
	}
	if err := os.WriteFile("omnihub.yaml", []byte("sync:\n  retention:\n    messages: 168h\n    push_log: -1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err := Load("", env(nil)); err != nil || cfg.Sync.Retention.Messages != 7*24*time.Hour || cfg.Sync.Retention.PushLog >= 0 || cfg.Sync.Retention.Reports != 0 {
		t.Fatalf("retention from YAML: %+v %v", cfg.Sync.Retention, err)
	}
}

func TestAftersalesReturnAddress(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "omnihub.yaml")
	os.WriteFile(path, []byte("aftersales:\n  return_address:\n    name: 退货组\n    phone: \"13800000000\"\n    province: 浙江省\n    city: 杭州市\n    district: 余杭区\n    detail: 仓前街道 1 号\n    zip: \"311121\"\n"), 0o600)
	cfg, err := Load(path, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Aftersales.ReturnAddress
	if a.IsZero() || a.Name != "退货组" || a.Phone != "13800000000" || a.District != "余杭区" || a.Zip != "311121" {
		t.Fatalf("return address: %+v", a)
	}
	// An address without a phone cannot be posted to.
	os.WriteFile(path, []byte("aftersales:\n  return_address:\n    name: 退货组\n    province: 浙江省\n    city: 杭州市\n    detail: 仓前街道 1 号\n"), 0o600)
	_, err = Load(path, env(nil))
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "aftersales.return_address.phone") {
		t.Fatalf("incomplete address: %v", err)
	}
	if !Default().Aftersales.ReturnAddress.IsZero() {
		t.Fatal("no return address by default")
	}
}
