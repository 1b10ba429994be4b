package auth

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"omnihub/errs"
	"omnihub/ids"
	"omnihub/store"
)

// Options tune a Service; zero values take the defaults noted.
type Options struct {
	Hash HashParams // DefaultHashParams
	// SessionTTL is a console session's absolute lifetime (12h).
	SessionTTL time.Duration
	// TokenRate and TokenBurst limit requests per API token or session
	// (20/s, burst 40). Negative TokenRate disables the limit.
	TokenRate  float64
	TokenBurst int
	// LoginRate limits login attempts per client address and per user
	// name (one every 3 s, burst 10).
	LoginEvery time.Duration
	LoginBurst int
	Logger     *slog.Logger
	Now        func() time.Time
}

// Service manages users, tokens and sessions.
type Service struct {
	db    store.DB
	opts  Options
	rate  *limiters
	login *limiters
	log   *slog.Logger

	dummyOnce sync.Once
	dummyHash string
	// hashSlots bounds concurrent argon2id runs: each takes Hash.Memory, so
	// a burst of logins cannot exhaust the machine's memory.
	hashSlots chan struct{}
}

// withHashSlot runs fn holding one of the argon2id slots.
func (s *Service) withHashSlot(ctx context.Context, fn func()) error {
	select {
	case s.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return errs.Wrap(ctx.Err(), errs.Unavailable, "busy checking passwords")
	}
	defer func() { <-s.hashSlots }()
	fn()
	return nil
}

func (s *Service) hash(ctx context.Context, pw string) (h string, err error) {
	if serr := s.withHashSlot(ctx, func() { h, err = HashPassword(pw, s.opts.Hash) }); serr != nil {
		return "", serr
	}
	return h, err
}

func (s *Service) verify(ctx context.Context, pw, encoded string) (ok bool, err error) {
	if serr := s.withHashSlot(ctx, func() { ok, err = VerifyPassword(pw, encoded) }); serr != nil {
		return false, serr
	}
	return ok, err
}

// NewService returns a Service over db.
func NewService(db store.DB, opts Options) *Service {
	if opts.Hash.Memory == 0 {
		opts.Hash = DefaultHashParams
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.TokenRate == 0 {
		opts.TokenRate = 20
	}
	if opts.TokenBurst <= 0 {
		opts.TokenBurst = 40
	}
	if opts.LoginEvery <= 0 {
		opts.LoginEvery = 3 * time.Second
	}
	if opts.LoginBurst <= 0 {
		opts.LoginBurst = 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	lim := rate.Limit(opts.TokenRate)
	if opts.TokenRate < 0 {
		lim = rate.Inf
	}
	return &Service{
		db: db, opts: opts, log: opts.Logger, hashSlots: make(chan struct{}, 4),
		rate:  newLimiters(lim, opts.TokenBurst),
		login: newLimiters(rate.Every(opts.LoginEvery), opts.LoginBurst),
	}
}

func (s *Service) now() time.Time { return store.UTC(s.opts.Now()) }

// User is an account.
type User struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      Role      `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Token is an API token's metadata; the secret itself is never stored.
type Token struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	User       string     `json:"user"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

func validUserName(n string) error {
	if n == "" || len(n) > 64 {
		return errs.WithField("name", "must be 1 to 64 characters")
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._@-", c)) {
			return errs.WithField("name", "may contain only letters, digits and . _ @ -")
		}
	}
	return nil
}

const userCols = `id, name, role, disabled_at, created_at, updated_at`

func scanUser(r store.Row) (User, error) {
	var u User
	var disabled *time.Time
	var role string
	if err := r.Scan(&u.ID, &u.Name, &role, &disabled, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return u, err
	}
	u.Role, u.Disabled = Role(role), disabled != nil
	return u, nil
}

// CreateUser adds a user. An empty password is replaced by a generated one,
// which is returned (the only time it is visible).
func (s *Service) CreateUser(ctx context.Context, name string, role Role, password string) (User, string, error) {
	if err := validUserName(name); err != nil {
		return User{}, "", err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, "", err
	}
	generated := ""
	if password == "" {
		password = GeneratePassword()
		generated = password
	} else if err := checkPasswordPolicy(password); err != nil {
		return User{}, "", err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, "", err
	}
	now := s.now()
	u := User{ID: ids.New(), Name: name, Role: role, CreatedAt: now, UpdatedAt: now}
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, name, role, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			u.ID, u.Name, string(u.Role), hash, now, now); err != nil {
			if store.IsUniqueViolation(err) {
				return errs.E(errs.Conflict, "user %q already exists", name).WithField("name", "already exists")
			}
			return errs.Wrap(err, errs.Internal, "create user")
		}
		return AuditTx(ctx, tx, Entry{Action: "create", Resource: "user", ResourceID: u.ID, After: u})
	})
	if err != nil {
		return User{}, "", err
	}
	return u, generated, nil
}

// GetUser finds a user by id or name.
func (s *Service) GetUser(ctx context.Context, idOrName string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1 OR name = $1`, idOrName))
	return u, store.NotFoundIfNoRows(err, "user %q not found", idOrName)
}

// ListUsers returns every user, by name.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list users")
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "list users")
		}
		out = append(out, u)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "list users")
}

// UserChange is a partial update of a user; nil fields stay as they are.
type UserChange struct {
	Role     *Role   `json:"role,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
	Password *string `json:"password,omitempty"`
}

// UpdateUser changes a user's role, status or password. Disabling a user or
// changing the password ends the user's console sessions.
func (s *Service) UpdateUser(ctx context.Context, idOrName string, c UserChange) (User, error) {
	var hash string
	if c.Role != nil {
		if _, err := ParseRole(string(*c.Role)); err != nil {
			return User{}, err
		}
	}
	if c.Password != nil {
		if err := checkPasswordPolicy(*c.Password); err != nil {
			return User{}, err
		}
		var err error
		if hash, err = s.hash(ctx, *c.Password); err != nil {
			return User{}, err
		}
	}
	now := s.now()
	var after User
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		before, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1 OR name = $1`, idOrName))
		if err != nil {
			return store.NotFoundIfNoRows(err, "user %q not found", idOrName)
		}
		after = before
		after.UpdatedAt = now
		if c.Role != nil {
			after.Role = *c.Role
		}
		if c.Disabled != nil {
			after.Disabled = *c.Disabled
		}
		var disabledAt *time.Time
		if after.Disabled {
			disabledAt = &now
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET role = $2, disabled_at = $3, updated_at = $4 WHERE id = $1`,
			before.ID, string(after.Role), disabledAt, now); err != nil {
			return errs.Wrap(err, errs.Internal, "update user")
		}
		if hash != "" {
			if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, before.ID, hash); err != nil {
				return errs.Wrap(err, errs.Internal, "update user")
			}
		}
		if hash != "" || after.Disabled {
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, before.ID); err != nil {
				return errs.Wrap(err, errs.Internal, "end sessions")
			}
		}
		action := "update"
		if hash != "" && c.Role == nil && c.Disabled == nil {
			action = "set_password"
		}
		return AuditTx(ctx, tx, Entry{Action: action, Resource: "user", ResourceID: before.ID, Before: before, After: after})
	})
	return after, err
}

// CreateToken issues an API token for a user. The returned secret is shown
// once; only its hash is kept. ttl 0 means no expiry.
func (s *Service) CreateToken(ctx context.Context, user, name string, scopes []string, ttl time.Duration) (Token, string, error) {
	u, err := s.GetUser(ctx, user)
	if err != nil {
		return Token{}, "", err
	}
	if u.Disabled {
		return Token{}, "", errs.E(errs.Conflict, "user %q is disabled", u.Name)
	}
	if len(name) > 100 {
		return Token{}, "", errs.WithField("name", "must be at most 100 characters")
	}
	if ttl < 0 {
		return Token{}, "", errs.WithField("expires", "must not be negative")
	}
	sc, err := NormalizeScopes(u.Role, scopes)
	if err != nil {
		return Token{}, "", err
	}
	secret, prefix := newToken()
	now := s.now()
	t := Token{ID: ids.New(), UserID: u.ID, User: u.Name, Name: name, Prefix: prefix, Scopes: sc, CreatedAt: now}
	if ttl > 0 {
		exp := store.UTC(now.Add(ttl))
		t.ExpiresAt = &exp
	}
	err = s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO api_tokens (id, user_id, name, prefix, secret_hash, scopes, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			t.ID, t.UserID, t.Name, t.Prefix, hashSecret(secret), strings.Join(sc, " "), now, t.ExpiresAt); err != nil {
			return errs.Wrap(err, errs.Internal, "create token")
		}
		return AuditTx(ctx, tx, Entry{Action: "create", Resource: "api_token", ResourceID: t.ID, After: t})
	})
	if err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

const tokenCols = `t.id, t.user_id, u.name, t.name, t.prefix, t.scopes, t.created_at, t.expires_at, t.revoked_at, t.last_used_at`

func scanToken(r store.Row) (Token, error) {
	var t Token
	var scopes string
	err := r.Scan(&t.ID, &t.UserID, &t.User, &t.Name, &t.Prefix, &scopes, &t.CreatedAt, &t.ExpiresAt, &t.RevokedAt, &t.LastUsedAt)
	t.Scopes = strings.Fields(scopes)
	return t, err
}

// ListTokens returns the tokens of a user (all users when user is empty),
// newest first.
func (s *Service) ListTokens(ctx context.Context, user string) ([]Token, error) {
	q := `SELECT ` + tokenCols + ` FROM api_tokens t JOIN users u ON u.id = t.user_id`
	var args []any
	if user != "" {
		q += ` WHERE u.id = $1 OR u.name = $1`
		args = append(args, user)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY t.id DESC`, args...)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list tokens")
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, errs.Wrap(err, errs.Internal, "list tokens")
		}
		out = append(out, t)
	}
	return out, errs.Wrap(rows.Err(), errs.Internal, "list tokens")
}

// RevokeToken revokes a token by id or prefix. Revoking twice is harmless.
func (s *Service) RevokeToken(ctx context.Context, idOrPrefix string) (Token, error) {
	now := s.now()
	var t Token
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens t JOIN users u ON u.id = t.user_id
			WHERE t.id = $1 OR t.prefix = $1`, idOrPrefix))
		if err != nil {
			return store.NotFoundIfNoRows(err, "token %q not found", idOrPrefix)
		}
		if t.RevokedAt != nil {
			return nil
		}
		before := t
		t.RevokedAt = &now
		if _, err := tx.Exec(ctx, `UPDATE api_tokens SET revoked_at = $2 WHERE id = $1`, t.ID, now); err != nil {
			return errs.Wrap(err, errs.Internal, "revoke token")
		}
		return AuditTx(ctx, tx, Entry{Action: "revoke", Resource: "api_token", ResourceID: t.ID, Before: before, After: t})
	})
	return t, err
}

// lastUsedEvery throttles last_used_at writes: at most one per token per
// minute, so authenticated reads do not each cost a write.
const lastUsedEvery = time.Minute

// AuthenticateToken resolves an API token to its principal.
func (s *Service) AuthenticateToken(ctx context.Context, raw string) (*Principal, error) {
	prefix, err := ParseToken(raw)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT t.id, t.secret_hash, t.scopes, t.expires_at, t.revoked_at, t.last_used_at,
			u.id, u.name, u.role, u.disabled_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.prefix = $1`, prefix)
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "look up token")
	}
	defer rows.Close()
	want := hashSecret(raw)
	for rows.Next() {
		var (
			id, hash, scopes, userID, user, role string
			expires, revoked, lastUsed, disabled *time.Time
		)
		if err := rows.Scan(&id, &hash, &scopes, &expires, &revoked, &lastUsed, &userID, &user, &role, &disabled); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "look up token")
		}
		if !equalSecret(hash, want) {
			continue
		}
		now := s.now()
		switch {
		case revoked != nil:
			return nil, errs.E(errs.Unauthorized, "token revoked")
		case expires != nil && !now.Before(*expires):
			return nil, errs.E(errs.Unauthorized, "token expired")
		case disabled != nil:
			return nil, errs.E(errs.Unauthorized, "user disabled")
		}
		rows.Close()
		if lastUsed == nil || now.Sub(*lastUsed) >= lastUsedEvery {
			if _, err := s.db.Exec(ctx, `UPDATE api_tokens SET last_used_at = $2 WHERE id = $1`, id, now); err != nil {
				s.log.WarnContext(ctx, "token last_used_at not recorded", "token", prefix, "err", err)
			}
		}
		p := &Principal{UserID: userID, User: user, Role: Role(role), Via: "token", TokenID: id, TokenPrefix: prefix,
			Scopes: strings.Fields(scopes)}
		if len(p.Scopes) == 1 && p.Scopes[0] == "*" {
			p.Scopes = nil
		}
		return p, nil
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "look up token")
	}
	return nil, errBadCredentials
}

// Session is a started console session.
type Session struct {
	Cookie    string // the cookie value, never stored
	CSRFToken string // echo in X-CSRF-Token on unsafe requests
	ExpiresAt time.Time
	Principal *Principal
}

// Login checks a user's password and starts a console session.
func (s *Service) Login(ctx context.Context, name, password string) (Session, error) {
	var (
		id, role, hash string
		disabled       *time.Time
	)
	err := s.db.QueryRow(ctx, `SELECT id, role, password_hash, disabled_at FROM users WHERE name = $1`, name).
		Scan(&id, &role, &hash, &disabled)
	if err != nil && err != store.ErrNoRows {
		return Session{}, errs.Wrap(err, errs.Unavailable, "look up user")
	}
	if err == store.ErrNoRows {
		// Spend the same work as a real check, so response time does not
		// reveal which user names exist.
		s.dummyOnce.Do(func() { s.dummyHash, _ = HashPassword("not a password", s.opts.Hash) })
		_, _ = s.verify(ctx, password, s.dummyHash)
		return Session{}, errBadCredentials
	}
	ok, err := s.verify(ctx, password, hash)
	if err != nil {
		return Session{}, err
	}
	if !ok || disabled != nil {
		return Session{}, errBadCredentials
	}
	now := s.now()
	sess := Session{
		Cookie: randomSecret(), CSRFToken: randomSecret(), ExpiresAt: store.UTC(now.Add(s.opts.SessionTTL)),
		Principal: &Principal{UserID: id, User: name, Role: Role(role), Via: "session"},
	}
	sess.Principal.SessionHash = hashSecret(sess.Cookie)
	sess.Principal.CSRFToken = sess.CSRFToken
	actx := WithPrincipal(ctx, sess.Principal)
	err = s.db.InTx(actx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now); err != nil {
			return errs.Wrap(err, errs.Internal, "expire sessions")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, last_seen_at)
			VALUES ($1, $2, $3, $4, $5, $4)`, sess.Principal.SessionHash, id, sess.CSRFToken, now, sess.ExpiresAt); err != nil {
			return errs.Wrap(err, errs.Internal, "start session")
		}
		return AuditTx(ctx, tx, Entry{Action: "login", Resource: "user", ResourceID: id,
			After: map[string]any{"expires_at": sess.ExpiresAt}})
	})
	if err != nil {
		return Session{}, err
	}
	return sess, nil
}

// AuthenticateSession resolves a session cookie to its principal.
func (s *Service) AuthenticateSession(ctx context.Context, cookie string) (*Principal, error) {
	if err := ParseSessionCookie(cookie); err != nil {
		return nil, err
	}
	h := hashSecret(cookie)
	var (
		csrf, userID, user, role string
		expires, lastSeen        time.Time
		disabled                 *time.Time
	)
	err := s.db.QueryRow(ctx, `SELECT s.csrf_token, s.expires_at, s.last_seen_at, u.id, u.name, u.role, u.disabled_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1`, h).
		Scan(&csrf, &expires, &lastSeen, &userID, &user, &role, &disabled)
	if err == store.ErrNoRows {
		return nil, errs.E(errs.Unauthorized, "session unknown or ended; log in again")
	}
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "look up session")
	}
	now := s.now()
	if !now.Before(expires) {
		return nil, errs.E(errs.Unauthorized, "session expired; log in again")
	}
	if disabled != nil {
		return nil, errs.E(errs.Unauthorized, "user disabled")
	}
	if now.Sub(lastSeen) >= lastUsedEvery {
		if _, err := s.db.Exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1`, h, now); err != nil {
			s.log.WarnContext(ctx, "session last_seen_at not recorded", "err", err)
		}
	}
	return &Principal{UserID: userID, User: user, Role: Role(role), Via: "session", SessionHash: h, CSRFToken: csrf}, nil
}

// Logout ends the session of p (a no-op for token principals).
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	if p == nil || p.SessionHash == "" {
		return nil
	}
	return s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, p.SessionHash)
		if err != nil {
			return errs.Wrap(err, errs.Internal, "end session")
		}
		if n == 0 {
			return nil
		}
		return AuditTx(ctx, tx, Entry{Action: "logout", Resource: "user", ResourceID: p.UserID})
	})
}
