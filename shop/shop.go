// Package shop owns shops: one seller account on one platform, with its
// settings and its credentials. Credentials are sealed with secrets.Box (bound
// to the shop id) before they reach the database and are only opened to build
// a channel.Session for a connector call.
package shop

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/ids"
	"omnihub/secrets"
	"omnihub/store"
)

// Status of a shop.
type Status string

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
	db    store.DB
	box   *secrets.Box
	known func(channel.Platform) bool
	now   func() time.Time
}

// Options configure a Service.
type Options struct {
	// KnownPlatform reports whether a connector exists (nil: any).
	KnownPlatform func(channel.Platform) bool
	Now           func() time.Time
}

// NewService returns a shop service sealing credentials with box.
func NewService(db store.DB, box *secrets.Box, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{db: db, box: box, known: opts.KnownPlatform, now: opts.Now}
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
	if !n.Credentials.ExpiresAt.IsZero() {
		t := store.UTC(n.Credentials.ExpiresAt)
		sh.TokenExpiresAt = &t
	}
	settings, err := json.Marshal(sh.Settings)
	if err != nil {
		return Shop{}, errs.Wrap(err, errs.Internal, "encode shop settings")
	}
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO shops (id, platform, name, platform_shop_id, app_key, status, base_url, settings_json, credentials, token_expires_at, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)`,
			sh.ID, string(sh.Platform), sh.Name, sh.PlatformShopID, n.Credentials.AppKey, string(sh.Status), sh.BaseURL, string(settings), sealed, sh.TokenExpiresAt, now, now)
		return err
	})
	if store.IsUniqueViolation(err) {
		return Shop{}, errs.E(errs.Conflict, "shop %s/%s is already connected", n.Platform, n.PlatformShopID)
	}
	if err != nil {
		return Shop{}, errs.Wrap(err, errs.Internal, "create shop")
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

// SetStatus pauses or resumes a shop.
func (s *Service) SetStatus(ctx context.Context, id string, st Status) error {
	if st != Active && st != Paused {
		return errs.E(errs.Invalid, "shop status must be active or paused")
	}
	return s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.Exec(ctx, `UPDATE shops SET status = $1, updated_at = $2 WHERE id = $3`, string(st), store.UTC(s.now()), id)
		if err == nil && n == 0 {
			return errs.E(errs.NotFound, "shop %s", id)
		}
		return err
	})
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
// refreshing at once cannot roll a token back.
func (s *Service) UpdateCredentials(ctx context.Context, id string, c channel.Credentials) error {
	sealed, err := s.seal(id, c)
	if err != nil {
		return err
	}
	var exp *time.Time
	if !c.ExpiresAt.IsZero() {
		t := store.UTC(c.ExpiresAt)
		exp = &t
	}
	return s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.Exec(ctx, `UPDATE shops SET credentials = $1, token_expires_at = $2, updated_at = $3
			WHERE id = $4 AND (token_expires_at IS NULL OR $5 OR token_expires_at <= $2)`,
			sealed, exp, store.UTC(s.now()), id, exp == nil)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "update shop %s credentials", id)
		}
		if n == 0 {
			var one int
			if err := tx.QueryRow(ctx, `SELECT 1 FROM shops WHERE id = $1`, id).Scan(&one); err != nil {
				return store.NotFoundIfNoRows(err, "shop %s", id)
			}
		}
		return nil
	})
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
