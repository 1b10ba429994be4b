// Package config loads OmniHub's configuration from, in rising order of
// precedence: built-in defaults, a YAML file, OMNIHUB_* environment variables
// and command-line flags (applied by the caller after Load).
//
// With no configuration at all OmniHub runs on embedded SQLite in ./data and
// listens on 127.0.0.1:8080.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"omnihub/errs"
)

// Config is the whole configuration.
type Config struct {
	// DataDir holds the SQLite database and generated files.
	DataDir string `yaml:"data_dir"`
	// DB is empty or "sqlite" for embedded SQLite in DataDir, a path ending
	// in .db for SQLite elsewhere, or a postgres:// URL.
	DB   string `yaml:"db"`
	HTTP HTTP   `yaml:"http"`
	Log  Log    `yaml:"log"`
	Jobs Jobs   `yaml:"jobs"`
	// SecretKeyFile holds the 32-byte key that encrypts shop credentials at
	// rest (OMNIHUB_SECRET_KEY, base64, takes precedence). Generated in
	// DataDir on first start when neither is given.
	SecretKeyFile string `yaml:"secret_key_file"`
	// Alerts says where sync alerts go.
	Alerts Alerts `yaml:"alerts"`
	// Sync sets the sync engine's schedule.
	Sync Sync `yaml:"sync"`
	// Aftersales configures after-sales (returns, exchanges).
	Aftersales Aftersales `yaml:"aftersales"`
	// SecretKey is the base64 key itself, from OMNIHUB_SECRET_KEY only (never
	// from a file that might be committed).
	SecretKey string `yaml:"-"`
}

// SecretKeyPath is where the secret key file lives.
func (c Config) SecretKeyPath() string {
	if c.SecretKeyFile != "" {
		return c.SecretKeyFile
	}
	return filepath.Join(c.DataDir, "secret.key")
}

// Alerts configures alert delivery.
type Alerts struct {
	Webhooks []AlertWebhook `yaml:"webhooks"`
}

// AlertWebhook is one destination: kind generic, wecom, dingtalk or feishu.
type AlertWebhook struct {
	Kind   string `yaml:"kind"`
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"` // DingTalk / Feishu signing secret
}

// Sync sets how often the sync engine's periodic jobs run. They run once per
// period across all processes sharing a database (the elected leader
// enqueues them); zero takes the engine's defaults.
type Sync struct {
	// Tick schedules per-shop pulls, message polls, token refreshes and
	// alert checks (default 5s).
	Tick time.Duration `yaml:"tick"`
	// ReconcileEvery reconciles every shop's orders and channel stock
	// (default 1h).
	ReconcileEvery time.Duration `yaml:"reconcile_every"`
	// PlatformRate caps API calls per second per platform app and API
	// family (default 50). Raise it to the quota the platform granted the app.
	PlatformRate float64 `yaml:"platform_rate"`
	// Retention is how long the engine keeps processed messages, the
	// stock push log, and alerts and reconciliation reports (defaults 30,
	// 14 and 180 days; negative: for ever).
	Retention Retention `yaml:"retention"`
}

// Retention: how long the sync engine's records are kept.
type Retention struct {
	Messages time.Duration `yaml:"messages"`
	PushLog  time.Duration `yaml:"push_log"`
	Reports  time.Duration `yaml:"reports"`
}

// Aftersales configures after-sales.
type Aftersales struct {
	// ReturnAddress is where buyers send returns and exchanges back: it
	// goes with every agreement to a return or an exchange (Taobao's
	// taobao.rp.returngoods.agree and tmall.exchange.agree need one, unless
	// the shop has a seller_address_id; Douyin takes it as the return
	// address). Empty: no address is sent.
	ReturnAddress Address `yaml:"return_address"`
}

// Address is a postal address.
type Address struct {
	Name     string `yaml:"name"`
	Phone    string `yaml:"phone"`
	Province string `yaml:"province"`
	City     string `yaml:"city"`
	District string `yaml:"district"`
	Town     string `yaml:"town"`
	Detail   string `yaml:"detail"`
	Zip      string `yaml:"zip"`
}

// IsZero reports whether no field is set.
func (a Address) IsZero() bool { return a == Address{} }

// validate checks that a set address is complete enough to post a parcel to.
func (a Address) validate(field string) error {
	if a.IsZero() {
		return nil
	}
	for _, f := range []struct{ name, v string }{{"name", a.Name}, {"phone", a.Phone}, {"province", a.Province},
		{"city", a.City}, {"detail", a.Detail}} {
		if strings.TrimSpace(f.v) == "" {
			return errs.WithField(field+"."+f.name, "required when the address is set")
		}
	}
	return nil
}

// HTTP configures the API server.
type HTTP struct {
	Addr            string        `yaml:"addr"`
	TLSCert         string        `yaml:"tls_cert"`
	TLSKey          string        `yaml:"tls_key"`
	MaxBodyBytes    int64         `yaml:"max_body_bytes"`
	ReadTimeout     time.Duration `yaml:"read_timeout"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

// Jobs configures the durable job queue.
type Jobs struct {
	Workers     int           `yaml:"workers"`
	MaxAttempts int           `yaml:"max_attempts"`
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
}

// Default returns the built-in defaults.
func Default() Config {
	return Config{
		DataDir: "data",
		HTTP: HTTP{
			Addr:            "127.0.0.1:8080",
			MaxBodyBytes:    4 << 20,
			ReadTimeout:     30 * time.Second,
			WriteTimeout:    60 * time.Second,
			ShutdownTimeout: 30 * time.Second,
		},
		Log:  Log{Level: "info", Format: "json"},
		Jobs: Jobs{Workers: 8, MaxAttempts: 10, BackoffBase: time.Second, BackoffMax: 10 * time.Minute},
	}
}

// Load builds the configuration from defaults, the YAML file at path (if
// path is empty, ./omnihub.yaml when it exists) and the environment.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	explicit := path != ""
	if path == "" {
		path = "omnihub.yaml"
	}
	body, err := os.ReadFile(path)
	switch {
	case err == nil:
		dec := yaml.NewDecoder(strings.NewReader(string(body)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && err.Error() != "EOF" {
			return cfg, errs.Wrap(err, errs.Invalid, "config file %s", path)
		}
	case os.IsNotExist(err) && !explicit:
	default:
		return cfg, errs.Wrap(err, errs.Invalid, "config file %s", path)
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func applyEnv(cfg *Config, getenv func(string) string) error {
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	var firstErr error
	num := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil && firstErr == nil {
				firstErr = errs.E(errs.Invalid, "%s: not a number: %q", name, v)
			}
			*dst = n
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil && firstErr == nil {
				firstErr = errs.E(errs.Invalid, "%s: not a duration: %q", name, v)
			}
			*dst = d
		}
	}
	str("OMNIHUB_DATA_DIR", &cfg.DataDir)
	str("OMNIHUB_DB", &cfg.DB)
	str("OMNIHUB_HTTP_ADDR", &cfg.HTTP.Addr)
	str("OMNIHUB_TLS_CERT", &cfg.HTTP.TLSCert)
	str("OMNIHUB_TLS_KEY", &cfg.HTTP.TLSKey)
	str("OMNIHUB_LOG_LEVEL", &cfg.Log.Level)
	str("OMNIHUB_LOG_FORMAT", &cfg.Log.Format)
	str("OMNIHUB_SECRET_KEY_FILE", &cfg.SecretKeyFile)
	str("OMNIHUB_SECRET_KEY", &cfg.SecretKey)
	num("OMNIHUB_JOB_WORKERS", &cfg.Jobs.Workers)
	num("OMNIHUB_JOB_MAX_ATTEMPTS", &cfg.Jobs.MaxAttempts)
	dur("OMNIHUB_JOB_BACKOFF_BASE", &cfg.Jobs.BackoffBase)
	dur("OMNIHUB_JOB_BACKOFF_MAX", &cfg.Jobs.BackoffMax)
	dur("OMNIHUB_SYNC_TICK", &cfg.Sync.Tick)
	dur("OMNIHUB_SYNC_RECONCILE_EVERY", &cfg.Sync.ReconcileEvery)
	return firstErr
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	if c.HTTP.Addr == "" {
		return errs.WithField("http.addr", "must not be empty")
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		return errs.WithField("http.tls_cert", "tls_cert and tls_key go together")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return errs.WithField("log.level", fmt.Sprintf("unknown level %q", c.Log.Level))
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		return errs.WithField("log.format", fmt.Sprintf("unknown format %q", c.Log.Format))
	}
	if c.Jobs.Workers < 1 || c.Jobs.MaxAttempts < 1 {
		return errs.WithField("jobs", "workers and max_attempts must be at least 1")
	}
	if c.Sync.Tick < 0 || c.Sync.ReconcileEvery < 0 || c.Sync.PlatformRate < 0 {
		return errs.WithField("sync", "tick, reconcile_every and platform_rate must not be negative")
	}
	if err := c.Aftersales.ReturnAddress.validate("aftersales.return_address"); err != nil {
		return err
	}
	for i, h := range c.Alerts.Webhooks {
		switch h.Kind {
		case "generic", "wecom", "dingtalk", "feishu":
		default:
			return errs.WithField(fmt.Sprintf("alerts.webhooks[%d].kind", i), fmt.Sprintf("unknown kind %q (generic, wecom, dingtalk, feishu)", h.Kind))
		}
		if !strings.HasPrefix(h.URL, "http://") && !strings.HasPrefix(h.URL, "https://") {
			return errs.WithField(fmt.Sprintf("alerts.webhooks[%d].url", i), "must be an http(s) URL")
		}
	}
	return nil
}

// IsPostgres reports whether DB selects PostgreSQL.
func (c Config) IsPostgres() bool {
	return strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://")
}

// SQLitePath is the SQLite database file for a non-PostgreSQL DB setting.
func (c Config) SQLitePath() string {
	if c.DB != "" && c.DB != "sqlite" {
		return strings.TrimPrefix(c.DB, "sqlite://")
	}
	return filepath.Join(c.DataDir, "omnihub.db")
}
