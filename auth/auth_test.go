package auth

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"omnihub/api"
	"omnihub/errs"
	"omnihub/jobs"
	"omnihub/store"
	"omnihub/store/storetest"
)

var testHash = HashParams{Memory: 1024, Time: 1, Threads: 1}

func TestRoleMatrix(t *testing.T) {
	cases := []struct {
		role Role
		yes  []string
		no   []string
	}{
		{RoleAdmin, []string{"admin", "orders.pii", "audit.read", "anything.write"}, nil},
		{RoleOperator, []string{"catalog.write", "inventory.write", "orders.write", "orders.pii", "aftersales.write", "channels.write", "jobs.write"},
			[]string{"admin", "audit.read", "finance.read", "fulfillment.write"}},
		{RoleWarehouse, []string{"inventory.read", "inventory.write", "orders.read", "fulfillment.write", "catalog.read"},
			[]string{"orders.write", "orders.pii", "catalog.write", "admin", "audit.read", "finance.read"}},
		{RoleFinance, []string{"orders.read", "aftersales.read", "finance.read", "orders.pii"},
			[]string{"orders.write", "finance.write", "inventory.read", "admin", "audit.read"}},
		{RoleAuditor, []string{"orders.read", "audit.read", "finance.read", "purchasing.read", "jobs.read"},
			[]string{"orders.pii", "orders.write", "admin", "jobs.write"}},
	}
	for _, c := range cases {
		for _, p := range c.yes {
			if !c.role.Has(p) {
				t.Errorf("%s lacks %s", c.role, p)
			}
		}
		for _, p := range c.no {
			if c.role.Has(p) {
				t.Errorf("%s has %s", c.role, p)
			}
		}
	}
	if _, err := ParseRole("root"); !errs.Is(err, errs.Invalid) {
		t.Errorf("ParseRole(root) = %v", err)
	}
}

func TestScopes(t *testing.T) {
	sc, err := NormalizeScopes(RoleOperator, []string{"orders.read,inventory.*", "orders.read"})
	if err != nil || strings.Join(sc, " ") != "inventory.* orders.read" {
		t.Fatalf("scopes = %v, %v", sc, err)
	}
	if _, err := NormalizeScopes(RoleWarehouse, []string{"orders.write"}); !errs.Is(err, errs.Invalid) {
		t.Errorf("scope beyond role accepted: %v", err)
	}
	for _, bad := range []string{"orders", "ORDERS.read", "*.*", ".read", "orders.read;drop"} {
		if _, err := NormalizeScopes(RoleAdmin, []string{bad}); err == nil {
			t.Errorf("malformed scope %q accepted", bad)
		}
	}
	p := &Principal{Role: RoleOperator, Scopes: []string{"inventory.*", "orders.read"}}
	if !p.Can("inventory.write") || !p.Can("orders.read") || p.Can("orders.write") || p.Can("catalog.read") {
		t.Errorf("scoped principal permissions wrong: %v", p.Permissions())
	}
	// A scope cannot widen the role.
	w := &Principal{Role: RoleWarehouse, Scopes: []string{"*"}}
	if w.Can("orders.write") {
		t.Error("scope * widened the warehouse role")
	}
}

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery", testHash)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash format %s", h)
	}
	if ok, err := VerifyPassword("correct horse battery", h); !ok || err != nil {
		t.Fatalf("verify = %v %v", ok, err)
	}
	if ok, _ := VerifyPassword("correct horse batterz", h); ok {
		t.Fatal("wrong password verified")
	}
	h2, _ := HashPassword("correct horse battery", testHash)
	if h2 == h {
		t.Fatal("hashes are not salted")
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5"} {
		if _, err := VerifyPassword("x", bad); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

func TestParseCredentials(t *testing.T) {
	tok, prefix := newToken()
	if got, err := ParseToken(tok); err != nil || got != prefix || len(prefix) != 12 {
		t.Fatalf("ParseToken = %q %v", got, err)
	}
	for _, bad := range []string{"", "omh_", tok[:len(tok)-1], tok + "A", "xxx" + tok[3:], strings.Replace(tok, tok[10:11], "!", 1), "omh_' OR '1'='1"} {
		if _, err := ParseToken(bad); !errs.Is(err, errs.Unauthorized) {
			t.Errorf("ParseToken(%q) = %v", bad, err)
		}
	}
	if v, err := ParseBearer("bearer  " + tok); err != nil || v != tok {
		t.Errorf("ParseBearer = %q %v", v, err)
	}
	if _, err := ParseBearer("Basic dXNlcjpwYXNz"); !errs.Is(err, errs.Unauthorized) {
		t.Errorf("Basic accepted: %v", err)
	}
	if err := ParseSessionCookie(randomSecret()); err != nil {
		t.Error(err)
	}
}

// FuzzCredentials: token, bearer header and cookie parsing never panic and
// accept only well-formed secrets.
func FuzzCredentials(f *testing.F) {
	tok, _ := newToken()
	for _, s := range []string{tok, "Bearer " + tok, randomSecret(), "omh_", "Bearer", "' OR 1=1 --"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := ParseToken(s); err == nil && (len(s) != tokenLen || p != s[:tokenPrefixLen]) {
			t.Fatalf("accepted token %q", s)
		}
		if v, err := ParseBearer(s); err == nil && strings.ContainsAny(v, " \t") && strings.TrimSpace(v) != v {
			t.Fatalf("bearer value %q not trimmed", v)
		}
		if err := ParseSessionCookie(s); err == nil && len(s) != secretChars {
			t.Fatalf("accepted cookie %q", s)
		}
	})
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(db store.DB, c *clock) *Service {
	return NewService(db, Options{Hash: testHash, Now: c.now, TokenRate: -1})
}

func auditCount(t *testing.T, db store.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTokensAndSessions(t *testing.T) {
	storetest.ForEachEngine(t, func(t *testing.T, db store.DB) {
		ctx := WithActor(context.Background(), "cli:test")
		c := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
		s := newService(db, c)

		u, pw, err := s.CreateUser(ctx, "alice", RoleWarehouse, "")
		if err != nil || pw == "" || u.Role != RoleWarehouse {
			t.Fatalf("create user = %+v %q %v", u, pw, err)
		}
		if _, _, err := s.CreateUser(ctx, "alice", RoleAdmin, ""); !errs.Is(err, errs.Conflict) {
			t.Fatalf("duplicate user = %v", err)
		}
		if _, _, err := s.CreateUser(ctx, "bob", RoleAdmin, "short"); !errs.Is(err, errs.Invalid) {
			t.Fatalf("short password = %v", err)
		}
		// SQL-looking names are rejected by validation, SQL-looking
		// passwords are just passwords.
		if _, _, err := s.CreateUser(ctx, "x'; DROP TABLE users;--", RoleAdmin, ""); !errs.Is(err, errs.Invalid) {
			t.Fatalf("hostile name = %v", err)
		}
		if _, _, err := s.CreateUser(ctx, "carol", RoleFinance, "'; DROP TABLE users;--"); err != nil {
			t.Fatalf("hostile password = %v", err)
		}

		tk, secret, err := s.CreateToken(ctx, "alice", "scanner", []string{"inventory.read"}, 90*24*time.Hour)
		if err != nil || !strings.HasPrefix(secret, tk.Prefix) {
			t.Fatalf("create token = %+v %v", tk, err)
		}
		p, err := s.AuthenticateToken(ctx, secret)
		if err != nil || p.User != "alice" || !p.Can("inventory.read") || p.Can("inventory.write") {
			t.Fatalf("authenticate = %+v %v", p, err)
		}
		if got := p.Actor(); got != "alice (token "+tk.Prefix+")" {
			t.Errorf("actor = %q", got)
		}
		ts, _ := s.ListTokens(ctx, "alice")
		if len(ts) != 1 || ts[0].LastUsedAt == nil || !ts[0].LastUsedAt.Equal(c.t) {
			t.Fatalf("last_used_at not recorded: %+v", ts)
		}
		// A token with the right prefix and a wrong secret is refused.
		wrong := tk.Prefix + secret[len(tk.Prefix):len(secret)-2] + "AA"
		if wrong == secret {
			wrong = tk.Prefix + secret[len(tk.Prefix):len(secret)-2] + "BA"
		}
		if _, err := s.AuthenticateToken(ctx, wrong); !errs.Is(err, errs.Unauthorized) {
			t.Fatalf("wrong secret = %v", err)
		}

		c.t = c.t.Add(91 * 24 * time.Hour)
		if _, err := s.AuthenticateToken(ctx, secret); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("expired token = %v", err)
		}
		c.t = c.t.Add(-91 * 24 * time.Hour)
		if _, err := s.RevokeToken(ctx, tk.Prefix); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AuthenticateToken(ctx, secret); err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("revoked token = %v", err)
		}

		// Sessions.
		if _, err := s.Login(ctx, "alice", "not the password"); !errs.Is(err, errs.Unauthorized) {
			t.Fatalf("bad password = %v", err)
		}
		if _, err := s.Login(ctx, "nobody", pw); !errs.Is(err, errs.Unauthorized) {
			t.Fatalf("unknown user = %v", err)
		}
		sess, err := s.Login(ctx, "alice", pw)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := s.AuthenticateSession(ctx, sess.Cookie)
		if err != nil || sp.User != "alice" || sp.CSRFToken != sess.CSRFToken {
			t.Fatalf("session = %+v %v", sp, err)
		}
		c.t = c.t.Add(13 * time.Hour)
		if _, err := s.AuthenticateSession(ctx, sess.Cookie); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("expired session = %v", err)
		}
		sess, _ = s.Login(ctx, "alice", pw)
		if _, err := s.UpdateUser(ctx, "alice", UserChange{Disabled: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AuthenticateSession(ctx, sess.Cookie); !errs.Is(err, errs.Unauthorized) {
			t.Fatalf("disabled user's session = %v", err)
		}

		// Audit: every change is there with its actor; pages chain.
		all, _, err := ListAudit(ctx, db, AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, r := range all {
			actions = append(actions, r.Resource+"."+r.Action)
		}
		got := strings.Join(actions, ",")
		want := "user.update,user.login,user.login,api_token.revoke,api_token.create,user.create,user.create"
		if got != want {
			t.Fatalf("audit actions = %s, want %s", got, want)
		}
		if all[0].Actor != "cli:test" || all[1].Actor != "alice" {
			t.Errorf("actors = %q %q", all[0].Actor, all[1].Actor)
		}
		var before User
		if err := json.Unmarshal(all[0].Before, &before); err != nil || before.Disabled || before.Name != "alice" {
			t.Errorf("before = %s %v", all[0].Before, err)
		}
		for _, r := range all {
			if strings.Contains(string(r.After), "argon2") || strings.Contains(string(r.After), secret) {
				t.Fatalf("secret material in audit log: %s", r.After)
			}
		}
		page1, next, err := ListAudit(ctx, db, AuditFilter{Limit: 4})
		if err != nil || len(page1) != 4 || next == "" {
			t.Fatalf("page1 = %d %q %v", len(page1), next, err)
		}
		page2, next2, _ := ListAudit(ctx, db, AuditFilter{Limit: 4, Cursor: next})
		if len(page2) != 3 || next2 != "" || page2[0].ID != all[4].ID {
			t.Fatalf("page2 = %d %q", len(page2), next2)
		}
		asc, _, _ := ListAudit(ctx, db, AuditFilter{Limit: 2, Oldest: true, Cursor: all[len(all)-2].ID})
		if len(asc) != 2 || asc[0].ID != all[len(all)-3].ID {
			t.Fatalf("oldest-first page = %+v", asc)
		}
		tokRows, _, _ := ListAudit(ctx, db, AuditFilter{Resource: "api_token", ResourceID: tk.ID})
		if len(tokRows) != 2 {
			t.Fatalf("filter by resource = %d rows", len(tokRows))
		}
		if r, _, _ := ListAudit(ctx, db, AuditFilter{Actor: "alice"}); len(r) != 2 {
			t.Fatalf("actor filter = %d rows, want alice's 2 logins", len(r))
		}
		if r, _, _ := ListAudit(ctx, db, AuditFilter{Actor: "' OR 1=1 --"}); len(r) != 0 {
			t.Fatalf("SQL-looking actor filter matched %d rows", len(r))
		}
	})
}

func ptr[T any](v T) *T { return &v }

// testServer is an api.Server with auth routes and one probe route per
// permission kind.
func testServer(t *testing.T, db store.DB, s *Service) http.Handler {
	srv := api.New(api.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: prometheus.NewRegistry(), DB: db, MaxBodyBytes: 1 << 10})
	srv.Authenticate = s.Middleware
	s.Register(srv)
	srv.Handle("POST /probe/orders", "orders.write", func(w http.ResponseWriter, r *http.Request) error {
		var body struct {
			Note string `json:"note"`
		}
		if err := api.DecodeJSON(r, &body); err != nil {
			return err
		}
		return db.InTx(r.Context(), func(ctx context.Context, tx store.Tx) error {
			if err := AuditTx(ctx, tx, Entry{Action: "probe", Resource: "probe", ResourceID: "1", After: body}); err != nil {
				return err
			}
			return api.WriteJSON(w, 200, map[string]any{"actor": ActorFrom(ctx), "pii": CanSeePII(ctx), "note": body.Note})
		})
	})
	srv.Handle("POST /probe/unaudited/{id}", "orders.write", func(w http.ResponseWriter, r *http.Request) error {
		w.WriteHeader(http.StatusAccepted)
		return nil
	})
	return srv.Handler()
}

type call struct {
	method, path, body string
	header             map[string]string
	cookie             *http.Cookie
}

func do(h http.Handler, c call) *httptest.ResponseRecorder {
	req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestMiddlewareAndHostileInput(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	ctx := WithActor(context.Background(), "cli:test")
	c := &clock{t: time.Now().UTC()}
	s := newService(db, c)
	h := testServer(t, db, s)
	_, opPW, _ := s.CreateUser(ctx, "olga", RoleOperator, "")
	s.CreateUser(ctx, "wes", RoleWarehouse, "")
	_, opTok, _ := s.CreateToken(ctx, "olga", "", nil, 0)
	_, whTok, _ := s.CreateToken(ctx, "wes", "", nil, 0)
	revoked, revTok, _ := s.CreateToken(ctx, "olga", "", nil, 0)
	s.RevokeToken(ctx, revoked.ID)
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	before := auditCount(t, db)

	expect := func(name string, rec *httptest.ResponseRecorder, status int, detail string) {
		t.Helper()
		if rec.Code != status || !strings.Contains(rec.Body.String(), detail) {
			t.Errorf("%s: %d %s, want %d containing %q", name, rec.Code, rec.Body, status, detail)
		}
		if status >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: content type %q", name, rec.Header().Get("Content-Type"))
		}
	}
	probe := `{"note":"x"}`
	expect("no credentials", do(h, call{method: "POST", path: "/probe/orders", body: probe}), 401, "authentication required")
	expect("wrong token", do(h, call{method: "POST", path: "/probe/orders", body: probe, header: bearer("omh_" + randomSecret())}), 401, "invalid credentials")
	expect("garbage token", do(h, call{method: "POST", path: "/probe/orders", body: probe, header: bearer("' OR 1=1 --")}), 401, "invalid credentials")
	expect("basic auth", do(h, call{method: "POST", path: "/probe/orders", body: probe, header: map[string]string{"Authorization": "Basic YTpi"}}), 401, "Bearer")
	expect("revoked token", do(h, call{method: "POST", path: "/probe/orders", body: probe, header: bearer(revTok)}), 401, "revoked")
	expect("missing permission", do(h, call{method: "POST", path: "/probe/orders", body: probe, header: bearer(whTok)}), 403, "orders.write")
	expect("non-admin users list", do(h, call{method: "GET", path: "/api/v1/users", header: bearer(opTok)}), 403, "admin")
	expect("oversized", do(h, call{method: "POST", path: "/probe/orders", body: `{"note":"` + strings.Repeat("a", 2000) + `"}`, header: bearer(opTok)}), 413, "too large")
	expect("malformed", do(h, call{method: "POST", path: "/probe/orders", body: `{"note":`, header: bearer(opTok)}), 400, "malformed JSON")
	expect("unknown field", do(h, call{method: "POST", path: "/probe/orders", body: `{"note":"x","admin":true}`, header: bearer(opTok)}), 400, "unknown field")
	expect("bad login", do(h, call{method: "POST", path: "/api/v1/auth/login", body: `{"name":"olga","password":"' OR '1'='1"}`}), 401, "invalid credentials")
	if n := auditCount(t, db); n != before {
		t.Fatalf("hostile requests changed the audit log: %d → %d rows", before, n)
	}

	hostile := `x'); DELETE FROM audit_log; --`
	rec := do(h, call{method: "POST", path: "/probe/orders", body: `{"note":"` + hostile + `"}`, header: bearer(opTok)})
	expect("operator probe", rec, 200, `"pii":true`)
	rows, _, _ := ListAudit(ctx, db, AuditFilter{Resource: "probe"})
	if len(rows) != 1 || !strings.Contains(string(rows[0].After), "DELETE FROM audit_log") || rows[0].RequestID == "" {
		t.Fatalf("SQL-looking input not stored verbatim: %+v", rows)
	}
	if n := auditCount(t, db); n != before+1 {
		t.Fatalf("audit rows %d, want %d", n, before+1)
	}

	// The auditor reads the log over HTTP; SQL-looking filters are just values.
	s.CreateUser(ctx, "ann", RoleAuditor, "")
	_, audTok, _ := s.CreateToken(ctx, "ann", "", nil, 0)
	expect("audit list", do(h, call{method: "GET", path: "/api/v1/audit?resource=probe&order=asc", header: bearer(audTok)}), 200, "DELETE FROM audit_log")
	expect("audit filter injection", do(h, call{method: "GET", path: "/api/v1/audit?actor=%27%20OR%201%3D1%20--", header: bearer(audTok)}), 200, `"items":[]`)
	expect("audit bad order", do(h, call{method: "GET", path: "/api/v1/audit?order=sideways", header: bearer(audTok)}), 400, "order")
	expect("operator reads audit", do(h, call{method: "GET", path: "/api/v1/audit", header: bearer(opTok)}), 403, "audit.read")

	// A change whose handler wrote no audit entry is still recorded.
	expect("unaudited change", do(h, call{method: "POST", path: "/probe/unaudited/42", header: bearer(opTok)}), 202, "")
	expect("unaudited failure", do(h, call{method: "POST", path: "/probe/unaudited/43", header: bearer(whTok)}), 403, "")
	rows, _, _ = ListAudit(ctx, db, AuditFilter{Resource: "route:POST /probe/unaudited/{id}"})
	if len(rows) != 1 || rows[0].ResourceID != "/probe/unaudited/42" || rows[0].Actor != "olga (token "+opTok[:12]+")" {
		t.Fatalf("fallback audit rows = %+v", rows)
	}
	if byUser, _, _ := ListAudit(ctx, db, AuditFilter{Actor: "olga"}); len(byUser) != 2 {
		t.Fatalf("actor=olga finds %d rows, want her 2 token actions", len(byUser))
	}
	if byWild, _, _ := ListAudit(ctx, db, AuditFilter{Actor: "ol_a"}); len(byWild) != 0 {
		t.Fatalf("actor filter treats _ as a wildcard: %d rows", len(byWild))
	}

	// Console session: cookie + CSRF header for unsafe methods.
	rec = do(h, call{method: "POST", path: "/api/v1/auth/login", body: `{"name":"olga","password":"` + opPW + `"}`})
	expect("login", rec, 200, "csrf_token")
	var me Me
	json.Unmarshal(rec.Body.Bytes(), &me)
	cookie := rec.Result().Cookies()[0]
	if cookie.Name != SessionCookie || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure {
		t.Fatalf("cookie = %+v", cookie)
	}
	expect("me via cookie", do(h, call{method: "GET", path: "/api/v1/auth/me", cookie: cookie}), 200, `"via":"session"`)
	expect("cookie without csrf", do(h, call{method: "POST", path: "/probe/orders", body: probe, cookie: cookie}), 403, "X-CSRF-Token")
	expect("cookie wrong csrf", do(h, call{method: "POST", path: "/probe/orders", body: probe, cookie: cookie, header: map[string]string{CSRFHeader: randomSecret()}}), 403, "X-CSRF-Token")
	expect("cookie with csrf", do(h, call{method: "POST", path: "/probe/orders", body: probe, cookie: cookie, header: map[string]string{CSRFHeader: me.CSRFToken}}), 200, `"actor":"olga"`)
	expect("logout", do(h, call{method: "POST", path: "/api/v1/auth/logout", cookie: cookie, header: map[string]string{CSRFHeader: me.CSRFToken}}), 204, "")
	expect("after logout", do(h, call{method: "GET", path: "/api/v1/auth/me", cookie: cookie}), 401, "log in again")
	// Expired session: nothing is served, nothing changes.
	rec = do(h, call{method: "POST", path: "/api/v1/auth/login", body: `{"name":"olga","password":"` + opPW + `"}`})
	cookie = rec.Result().Cookies()[0]
	json.Unmarshal(rec.Body.Bytes(), &me)
	c.t = c.t.Add(12*time.Hour + time.Second)
	n := auditCount(t, db)
	expect("expired session", do(h, call{method: "POST", path: "/probe/orders", body: probe, cookie: cookie, header: map[string]string{CSRFHeader: me.CSRFToken}}), 401, "expired")
	if auditCount(t, db) != n {
		t.Fatal("a request with an expired session changed the audit log")
	}
	// Over TLS the cookie is Secure.
	req := httptest.NewRequest("POST", "https://omnihub.example/api/v1/auth/login", strings.NewReader(`{"name":"olga","password":"`+opPW+`"}`))
	req.Header.Set("Content-Type", "application/json")
	tlsRec := httptest.NewRecorder()
	h.ServeHTTP(tlsRec, req)
	if cs := tlsRec.Result().Cookies(); tlsRec.Code != 200 || len(cs) != 1 || !cs[0].Secure {
		t.Fatalf("login over TLS = %d, cookies %+v", tlsRec.Code, cs)
	}
	expect("forged cookie", do(h, call{method: "GET", path: "/api/v1/auth/me", cookie: &http.Cookie{Name: SessionCookie, Value: "../../etc/passwd"}}), 401, "invalid credentials")
}

func TestRateLimits(t *testing.T) {
	db := storetest.OpenSQLite(t, jobs.Config{})
	ctx := WithActor(context.Background(), "cli:test")
	s := NewService(db, Options{Hash: testHash, TokenRate: 1, TokenBurst: 3, LoginEvery: time.Hour, LoginBurst: 2})
	h := testServer(t, db, s)
	s.CreateUser(ctx, "ann", RoleAuditor, "")
	_, tok, _ := s.CreateToken(ctx, "ann", "", nil, 0)
	_, tok2, _ := s.CreateToken(ctx, "ann", "", nil, 0)
	get := func(tok string) *httptest.ResponseRecorder {
		return do(h, call{method: "GET", path: "/api/v1/auth/me", header: map[string]string{"Authorization": "Bearer " + tok}})
	}
	for i := 0; i < 3; i++ {
		if rec := get(tok); rec.Code != 200 {
			t.Fatalf("request %d = %d", i, rec.Code)
		}
	}
	rec := get(tok)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" ||
		rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("over the limit = %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if rec := get(tok2); rec.Code != 200 {
		t.Fatalf("another token shares the bucket: %d", rec.Code)
	}
	for i := 0; i < 3; i++ {
		rec = do(h, call{method: "POST", path: "/api/v1/auth/login", body: `{"name":"ann","password":"wrong password!"}`})
	}
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("login brute force not limited: %d %s", rec.Code, rec.Body)
	}
}
