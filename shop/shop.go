// Package shop owns shops: one seller account on one platform, with its
// settings and its credentials. Credentials are sealed with secrets.Box (bound
// to the shop id) before they reach the database and are only opened to build
// a channel.Session for a connector call.
//
// Every change to a shop (create, update, pause, resume, credential rotation
// and token refresh) is recorded in the audit log with auth.AuditTx, in the
// transaction that makes it, with the acting user of the context. The audit
// rows never hold a secret: credentials appear as the app key, the token's
// expiry and the names of the fields given or changed.
package shop

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"omnihub/auth"
	"omnihub/channel"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/secrets"
	"omnihub/store"
)

// Status of a shop.
type Status string

// JSONSchema describes Status for the OpenAPI document.
func (Status) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "enum": []any{string(Active), string(Paused)},
		"description": "active, or paused: no pulls or pushes (kept for history)"}
}

const (
	Active Status = "active"
	Paused Status = "paused" // no pulls or pushes; kept for history
)

// Settings tune how OmniHub syncs one shop. In JSON (the API and the
// settings_json column) durations are Go duration strings such as "90s" or
// "1m30s"; an integer is still read as nanoseconds (see UnmarshalJSON).
type Settings struct {
	// PullInterval between incremental order pulls (default 1 minute).
	PullInterval time.Duration `json:"pull_interval,omitempty"`
	// PullOverlap re-reads this much of the previous window so that late
	// platform writes are not missed (default 2 minutes).
	PullOverlap time.Duration `json:"pull_overlap,omitempty"`
	// PushStock enables stock propagation to this shop.
	PushStock bool `json:"push_stock"`
	// StockRate caps stock API calls per second for this shop (0: platform default).
	StockRate float64 `json:"stock_rate,omitempty"`
}

// WithDefaults fills zero values.
func (s Settings) WithDefaults() Settings {
	if s.PullInterval <= 0 {
		s.PullInterval = time.Minute
	}
	if s.PullOverlap <= 0 {
		s.PullOverlap = 2 * time.Minute
	}
	return s
}

// Shop is a seller account on a platform. Credentials are never part of it:
// use Service.Session.
type Shop struct {
	ID             string           `json:"id"`
	Platform       channel.Platform `json:"platform"`
	Name           string           `json:"name"`
	PlatformShopID string           `json:"platform_shop_id"`
	Status         Status           `json:"status"`
	// BaseURL overrides the platform gateway (a simulator, a sandbox).
	BaseURL        string     `json:"base_url,omitempty"`
	Settings       Settings   `json:"settings"`
	TokenExpiresAt *time.Time `json:"token_expires_at,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// New is what it takes to connect a shop.
type New struct {
	Platform       channel.Platform    `json:"platform"`
	Name           string              `json:"name"`
	PlatformShopID string              `json:"platform_shop_id"`
	BaseURL        string              `json:"base_url,omitempty"`
	Settings       Settings            `json:"settings"`
	Credentials    channel.Credentials `json:"credentials"`
}

// Validate checks a new shop.
func (n New) Validate(known func(channel.Platform) bool) error {
	var bad []string
	if known != nil && !known(n.Platform) {
		bad = append(bad, "platform")
	}
	if strings.TrimSpace(n.Name) == "" {
		bad = append(bad, "name")
	}
	if strings.TrimSpace(n.PlatformShopID) == "" {
		bad = append(bad, "platform_shop_id")
	}
	if n.Credentials.AppKey == "" {
		bad = append(bad, "credentials.app_key")
	}
	if n.Credentials.AppSecret == "" {
		bad = append(bad, "credentials.app_secret")
	}
	if len(bad) > 0 {
		return errs.E(errs.Invalid, "shop: missing or unknown %s", strings.Join(bad, ", ")).WithField("fields", strings.Join(bad, ","))
	}
	return nil
}

// Service stores shops.
type Service struct {
	db       store.DB
	box      *secrets.Box
	known    func(channel.Platform) bool
	now      func() time.Time
	onResume func(ctx context.Context, tx store.Tx, shopID string) error
}

// Options configure a Service.
type Options struct {
	// KnownPlatform reports whether a connector exists (nil: any).
	KnownPlatform func(channel.Platform) bool
	Now           func() time.Time
	// OnResumeTx is called in the transaction that makes a paused shop
	// active again (internal/app schedules a reconciliation there, which
	// pushes the stock that changed while the shop was paused). Optional.
	OnResumeTx func(ctx context.Context, tx store.Tx, shopID string) error
}

// NewService returns a shop service sealing credentials with box.
func NewService(db store.DB, box *secrets.Box, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{db: db, box: box, known: opts.KnownPlatform, now: opts.Now, onResume: opts.OnResumeTx}
}

// Resource is the audit log's name for shops.
const Resource = "shop"

// shopAudit is a shop as the audit log records it: the shop (which holds no
// secret) and, when credentials are given, what the log may know of them.
type shopAudit struct {
	Shop
	Credentials *credentialAudit `json:"credentials,omitempty"`
}

// credentialAudit is what the audit log keeps of a shop's credentials: the
// app key (it names the platform app and is stored in clear for webhook
// routing), the token's expiry, and the names of the fields that were given
// (create) or changed (rotation, refresh). Never a secret's value.
type credentialAudit struct {
	AppKey         string     `json:"app_key"`
	TokenExpiresAt *time.Time `json:"token_expires_at,omitempty"`
	Fields         []string   `json:"fields,omitempty"`
}

// credentialFields names the fields of c that differ from those of old (a
// zero old: the fields c sets), in a fixed order; extras as extra.<key>.
func credentialFields(old, c channel.Credentials) []string {
	var out []string
	for _, f := range []struct {
		name     string
		old, new string
	}{
		{"app_key", old.AppKey, c.AppKey},
		{"app_secret", old.AppSecret, c.AppSecret},
		{"access_token", old.AccessToken, c.AccessToken},
		{"refresh_token", old.RefreshToken, c.RefreshToken},
	} {
		if f.old != f.new {
			out = append(out, f.name)
		}
	}
	if !old.ExpiresAt.Equal(c.ExpiresAt) {
		out = append(out, "expires_at")
	}
	var extra []string
	for k, v := range c.Extra {
		if ov, ok := old.Extra[k]; !ok || ov != v {
			extra = append(extra, "extra."+k)
		}
	}
	for k := range old.Extra {
		if _, ok := c.Extra[k]; !ok {
			extra = append(extra, "extra."+k)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// expiry is a credential's token expiry as stored (nil: none).
func expiry(c channel.Credentials) *time.Time {
	if c.ExpiresAt.IsZero() {
		return nil
	}
	t := store.UTC(c.ExpiresAt)
	return &t
}

// forUpdate locks the row read on PostgreSQL (SQLite serialises writers).
func forUpdate(tx store.Tx) string {
	if tx.Engine() == store.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// Create connects a shop.
func (s *Service) Create(ctx context.Context, n New) (Shop, error) {
	if err := n.Validate(s.known); err != nil {
		return Shop{}, err
	}
	now := store.UTC(s.now())
	sh := Shop{
		ID: ids.New(), Platform: n.Platform, Name: strings.TrimSpace(n.Name),
		PlatformShopID: strings.TrimSpace(n.PlatformShopID), Status: Active,
		BaseURL: n.BaseURL, Settings: n.Settings.WithDefaults(), CreatedAt: now, UpdatedAt: now,
	}
	sealed, err := s.seal(sh.ID, n.Credentials)
	if err != nil {
		return Shop{}, err
	}
	sh.TokenExpiresAt = expiry(n.Credentials)
	settings, err := json.Marshal(sh.Settings)
	if err != nil {
		return Shop{}, errs.Wrap(err, errs.Internal, "encode shop settings")
	}
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO shops (id, platform, name, platform_shop_id, app_key, status, base_url, settings_json, credentials, token_expires_at, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
			sh.ID, string(sh.Platform), sh.Name, sh.PlatformShopID, n.Credentials.AppKey, string(sh.Status), sh.BaseURL, string(settings), sealed, sh.TokenExpiresAt, now, now)
		if err != nil {
			return err
		}
		return auth.AuditTx(ctx, tx, auth.Entry{Action: "create", Resource: Resource, ResourceID: sh.ID,
			After: shopAudit{Shop: sh, Credentials: &credentialAudit{AppKey: n.Credentials.AppKey, TokenExpiresAt: sh.TokenExpiresAt,
				Fields: credentialFields(channel.Credentials{}, n.Credentials)}}})
	})
	if store.IsUniqueViolation(err) {
		return Shop{}, errs.E(errs.Conflict, "shop %s/%s is already connected", n.Platform, n.PlatformShopID)
	}
	if err != nil {
		return Shop{}, errs.Wrap(err, errs.CodeOf(err), "create shop")
	}
	return sh, nil
}

const shopCols = `id, platform, name, platform_shop_id, status, base_url, settings_json, token_expires_at, created_at, updated_at`

func scanShop(r interface{ Scan(...any) error }) (Shop, error) {
	var (
		sh       Shop
		platform string
		status   string
		settings string
	)
	if err := r.Scan(&sh.ID, &platform, &sh.Name, &sh.PlatformShopID, &status, &sh.BaseURL, &settings, &sh.TokenExpiresAt, &sh.CreatedAt, &sh.UpdatedAt); err != nil {
		return sh, err
	}
	sh.Platform, sh.Status = channel.Platform(platform), Status(status)
	if err := json.Unmarshal([]byte(settings), &sh.Settings); err != nil {
		return sh, errs.Wrap(err, errs.Internal, "shop %s settings", sh.ID)
	}
	sh.Settings = sh.Settings.WithDefaults()
	return sh, nil
}

// Get returns one shop.
func (s *Service) Get(ctx context.Context, id string) (Shop, error) {
	sh, err := scanShop(s.db.QueryRow(ctx, `SELECT `+shopCols+` FROM shops WHERE id = $1`, id))
	return sh, store.NotFoundIfNoRows(err, "shop %s", id)
}

// List returns every shop, oldest first.
func (s *Service) List(ctx context.Context) ([]Shop, error) {
	rows, err := s.db.Query(ctx, `SELECT `+shopCols+` FROM shops ORDER BY created_at, id`)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list shops")
	}
	defer rows.Close()
	var out []Shop
	for rows.Next() {
		sh, err := scanShop(rows)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan shop")
		}
		out = append(out, sh)
	}
	return out, rows.Err()
}

// SetStatus pauses or resumes a shop (Update with only the status).
func (s *Service) SetStatus(ctx context.Context, id string, st Status) error {
	_, err := s.Update(ctx, id, Change{Status: &st})
	return err
}

// Update changes a shop's name, status or settings (those c gives) and
// records it in the audit log with the shop before and after: action
// "pause" or "resume" when c changes only the status, "update" otherwise.
// Making a paused shop active calls Options.OnResumeTx in the same
// transaction.
func (s *Service) Update(ctx context.Context, id string, c Change) (Shop, error) {
	if err := c.Validate(); err != nil {
		return Shop{}, err
	}
	var out Shop
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		before, err := scanShop(tx.QueryRow(ctx, `SELECT `+shopCols+` FROM shops WHERE id = $1`+forUpdate(tx), id))
		if err != nil {
			return store.NotFoundIfNoRows(err, "shop %s", id)
		}
		after := before
		if c.Name != nil {
			after.Name = strings.TrimSpace(*c.Name)
		}
		if c.Status != nil {
			after.Status = *c.Status
		}
		if c.Settings != nil {
			after.Settings = c.Settings.Apply(after.Settings)
		}
		after.UpdatedAt = store.UTC(s.now())
		settings, err := json.Marshal(after.Settings)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "encode shop settings")
		}
		if _, err := tx.Exec(ctx, `UPDATE shops SET name = $1, status = $2, settings_json = $3, updated_at = $4 WHERE id = $5`,
			after.Name, string(after.Status), string(settings), after.UpdatedAt, id); err != nil {
			return errs.Wrap(err, errs.Internal, "update shop %s", id)
		}
		if before.Status == Paused && after.Status == Active && s.onResume != nil {
			if err := s.onResume(ctx, tx, id); err != nil {
				return errs.Wrap(err, errs.CodeOf(err), "resume shop %s", id)
			}
		}
		action := "update"
		if c.Name == nil && c.Settings == nil {
			action = "resume"
			if after.Status == Paused {
				action = "pause"
			}
		}
		out = after
		return auth.AuditTx(ctx, tx, auth.Entry{Action: action, Resource: Resource, ResourceID: id, Before: before, After: after})
	})
	return out, err
}

// Session opens the shop's credentials for one connector call.
func (s *Service) Session(ctx context.Context, id string) (channel.Session, Shop, error) {
	var sealed string
	row := s.db.QueryRow(ctx, `SELECT `+shopCols+`, credentials FROM shops WHERE id = $1`, id)
	var (
		sh       Shop
		platform string
		status   string
		settings string
	)
	err := row.Scan(&sh.ID, &platform, &sh.Name, &sh.PlatformShopID, &status, &sh.BaseURL, &settings, &sh.TokenExpiresAt, &sh.CreatedAt, &sh.UpdatedAt, &sealed)
	if err != nil {
		return channel.Session{}, sh, store.NotFoundIfNoRows(err, "shop %s", id)
	}
	sh.Platform, sh.Status = channel.Platform(platform), Status(status)
	if err := json.Unmarshal([]byte(settings), &sh.Settings); err != nil {
		return channel.Session{}, sh, errs.Wrap(err, errs.Internal, "shop %s settings", sh.ID)
	}
	sh.Settings = sh.Settings.WithDefaults()
	creds, err := s.open(id, sealed)
	if err != nil {
		return channel.Session{}, sh, err
	}
	return channel.Session{ShopID: id, PlatformShopID: sh.PlatformShopID, Credentials: creds}, sh, nil
}

// UpdateCredentials stores refreshed tokens. It only replaces the token if
// the stored one is older (expires earlier), so that two processes
// refreshing at once cannot roll a token back. A stored refresh is audited
// as "refresh_token" (by "system" when the sync engine refreshes).
func (s *Service) UpdateCredentials(ctx context.Context, id string, c channel.Credentials) error {
	sealed, err := s.seal(id, c)
	if err != nil {
		return err
	}
	exp := expiry(c)
	return s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		old, err := s.credentialsTx(ctx, tx, id)
		if err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `UPDATE shops SET credentials = $1, token_expires_at = $2, updated_at = $3
			WHERE id = $4 AND (token_expires_at IS NULL OR $5 OR token_expires_at <= $2)`,
			sealed, exp, store.UTC(s.now()), id, exp == nil)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "update shop %s credentials", id)
		}
		if n == 0 {
			return nil // a newer token is stored already
		}
		return s.auditCredentials(ctx, tx, "refresh_token", id, old, c)
	})
}

// RotateCredentials replaces every credential of a shop with c, as a person
// does after rotating the app secret or having the seller authorise the app
// again: unlike UpdateCredentials (a token refresh) the new set wins whatever
// its expiry. The app key and app secret are required. Audited as
// "rotate_credentials" with the names of the fields that changed.
func (s *Service) RotateCredentials(ctx context.Context, id string, c channel.Credentials) (Shop, error) {
	var bad []string
	if strings.TrimSpace(c.AppKey) == "" {
		bad = append(bad, "credentials.app_key")
	}
	if c.AppSecret == "" {
		bad = append(bad, "credentials.app_secret")
	}
	if len(bad) > 0 {
		e := errs.E(errs.Invalid, "shop credentials: missing %s", strings.Join(bad, ", "))
		for _, f := range bad {
			e.WithField(f, "is required")
		}
		return Shop{}, e
	}
	c.AppKey = strings.TrimSpace(c.AppKey)
	sealed, err := s.seal(id, c)
	if err != nil {
		return Shop{}, err
	}
	var out Shop
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		old, err := s.credentialsTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE shops SET app_key = $1, credentials = $2, token_expires_at = $3, updated_at = $4 WHERE id = $5`,
			c.AppKey, sealed, expiry(c), store.UTC(s.now()), id); err != nil {
			return errs.Wrap(err, errs.Internal, "rotate shop %s credentials", id)
		}
		if err := s.auditCredentials(ctx, tx, "rotate_credentials", id, old, c); err != nil {
			return err
		}
		out, err = scanShop(tx.QueryRow(ctx, `SELECT `+shopCols+` FROM shops WHERE id = $1`, id))
		return store.NotFoundIfNoRows(err, "shop %s", id)
	})
	return out, err
}

// storedCredentials is a shop's credentials as read for a change: the app
// key and expiry as stored, and the credentials themselves (zero when they
// cannot be opened, e.g. sealed under another key).
type storedCredentials struct {
	appKey string
	exp    *time.Time
	creds  channel.Credentials
}

// credentialsTx reads (and on PostgreSQL locks) a shop's credentials in tx.
func (s *Service) credentialsTx(ctx context.Context, tx store.Tx, id string) (storedCredentials, error) {
	var (
		st     storedCredentials
		sealed string
	)
	err := tx.QueryRow(ctx, `SELECT app_key, credentials, token_expires_at FROM shops WHERE id = $1`+forUpdate(tx), id).Scan(&st.appKey, &sealed, &st.exp)
	if err != nil {
		return st, store.NotFoundIfNoRows(err, "shop %s", id)
	}
	if c, err := s.open(id, sealed); err == nil {
		st.creds = c
	}
	return st, nil
}

// auditCredentials records a credential change: app key and expiry before
// and after, and the names of the fields that changed; no secret.
func (s *Service) auditCredentials(ctx context.Context, tx store.Tx, action, id string, old storedCredentials, c channel.Credentials) error {
	return auth.AuditTx(ctx, tx, auth.Entry{Action: action, Resource: Resource, ResourceID: id,
		Before: credentialAudit{AppKey: old.appKey, TokenExpiresAt: old.exp},
		After:  credentialAudit{AppKey: c.AppKey, TokenExpiresAt: expiry(c), Fields: credentialFields(old.creds, c)}})
}

// ByAppKey finds the shops of a platform that use an app key (a webhook names
// the app, and its secret verifies the signature).
func (s *Service) ByAppKey(ctx context.Context, p channel.Platform, appKey string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM shops WHERE platform = $1 AND app_key = $2 ORDER BY created_at`, string(p), appKey)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "find shops by app key")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// ByPlatformShopID finds a shop by its platform's seller id.
func (s *Service) ByPlatformShopID(ctx context.Context, p channel.Platform, platformShopID string) (Shop, error) {
	sh, err := scanShop(s.db.QueryRow(ctx, `SELECT `+shopCols+` FROM shops WHERE platform = $1 AND platform_shop_id = $2`, string(p), platformShopID))
	return sh, store.NotFoundIfNoRows(err, "shop %s/%s", p, platformShopID)
}

// ExpiringBefore lists active shops whose token expires before t.
func (s *Service) ExpiringBefore(ctx context.Context, t time.Time) ([]Shop, error) {
	rows, err := s.db.Query(ctx, `SELECT `+shopCols+` FROM shops WHERE status = 'active' AND token_expires_at IS NOT NULL AND token_expires_at < $1 ORDER BY token_expires_at`, store.UTC(t))
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list expiring shops")
	}
	defer rows.Close()
	var out []Shop
	for rows.Next() {
		sh, err := scanShop(rows)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "scan shop")
		}
		out = append(out, sh)
	}
	return out, rows.Err()
}

func (s *Service) seal(id string, c channel.Credentials) (string, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return "", errs.Wrap(err, errs.Internal, "encode credentials")
	}
	return s.box.Seal(raw, []byte("shop:"+id))
}

func (s *Service) open(id, sealed string) (channel.Credentials, error) {
	var c channel.Credentials
	if sealed == "" {
		return c, errs.E(errs.Unauthorized, "shop %s has no credentials", id)
	}
	raw, err := s.box.Open(sealed, []byte("shop:"+id))
	if err != nil {
		return c, errs.Wrap(err, errs.Unauthorized, "open shop %s credentials", id)
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, errs.Wrap(err, errs.Internal, "decode shop %s credentials", id)
	}
	return c, nil
}
