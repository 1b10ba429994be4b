package auth

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"omnihub/api"
	"omnihub/errs"
	"omnihub/store"
)

func itoa(n int) string { return strconv.Itoa(n) }

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// Middleware is the api.Server Authenticate hook: it resolves the caller
// (Bearer token, else session cookie) and answers 401 without valid
// credentials, 403 without the permission (or, for cookie-authenticated
// unsafe methods, without the session's CSRF token), and 429 over the
// caller's rate limit. The principal is in the request context afterwards.
func (s *Service) Middleware(perm string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principal(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="omnihub"`)
			api.WriteError(w, r, err)
			return
		}
		if p.Via == "session" && !safeMethod(r.Method) {
			if got := r.Header.Get(CSRFHeader); got == "" || !equalSecret(got, p.CSRFToken) {
				api.WriteError(w, r, errs.E(errs.Forbidden, "missing or wrong %s header for a cookie-authenticated request", CSRFHeader))
				return
			}
		}
		key := "t:" + p.TokenID
		if p.Via == "session" {
			key = "s:" + p.SessionHash
		}
		if ok, retry := s.rate.allow(key, time.Now()); !ok {
			writeTooMany(w, r, retry, "per-credential")
			return
		}
		if !p.Can(perm) {
			api.WriteError(w, r, errs.E(errs.Forbidden, "permission %q required", perm))
			return
		}
		ctx := WithPrincipal(r.Context(), p)
		if safeMethod(r.Method) {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		// Safety net for "every change is audited": a successful unsafe
		// request whose handler wrote no audit entry of its own still leaves
		// a row naming who called which route.
		mark := new(atomic.Bool)
		rec := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(ctx, auditMarkKey{}, mark))
		next.ServeHTTP(rec, r)
		if !mark.Load() && rec.status >= 200 && rec.status < 400 {
			s.auditRequest(r, rec.status)
		}
	})
}

func (s *Service) auditRequest(r *http.Request, status int) {
	ctx := context.WithoutCancel(r.Context())
	err := s.db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return AuditTx(ctx, tx, Entry{Action: "http", Resource: "route:" + r.Pattern, ResourceID: r.URL.Path,
			After: map[string]any{"status": status}})
	})
	if err != nil {
		s.log.ErrorContext(ctx, "request audit not recorded", "path", r.URL.Path, "err", err)
	}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (s *Service) principal(r *http.Request) (*Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, err := ParseBearer(h)
		if err != nil {
			return nil, err
		}
		return s.AuthenticateToken(r.Context(), tok)
	}
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		return s.AuthenticateSession(r.Context(), c.Value)
	}
	return nil, errs.E(errs.Unauthorized, "authentication required: send \"Authorization: Bearer <token>\" or log in")
}

// LoginRequest is the body of POST /api/v1/auth/login.
type LoginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// Me describes the caller.
type Me struct {
	User        string     `json:"user"`
	Role        Role       `json:"role"`
	Via         string     `json:"via"`
	Scopes      []string   `json:"scopes,omitempty"`
	Permissions []string   `json:"permissions"`
	CSRFToken   string     `json:"csrf_token,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

func meOf(p *Principal) Me {
	return Me{User: p.User, Role: p.Role, Via: p.Via, Scopes: p.Scopes, Permissions: p.Permissions(), CSRFToken: p.CSRFToken}
}

// NewUserRequest is the body of POST /api/v1/users.
type NewUserRequest struct {
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Password string `json:"password,omitempty"`
}

// NewUserResponse carries a generated password, shown this once.
type NewUserResponse struct {
	User     User   `json:"user"`
	Password string `json:"password,omitempty"`
}

// NewTokenRequest is the body of POST /api/v1/tokens.
type NewTokenRequest struct {
	User          string   `json:"user"`
	Name          string   `json:"name,omitempty"`
	Scopes        []string `json:"scopes,omitempty"`
	ExpiresInDays int      `json:"expires_in_days,omitempty"`
}

// NewTokenResponse carries the token secret, shown this once.
type NewTokenResponse struct {
	Token  Token  `json:"token"`
	Secret string `json:"secret"`
}

// RoleInfo is one row of the permission matrix.
type RoleInfo struct {
	Role        Role     `json:"role"`
	Grants      []string `json:"grants"`
	Permissions []string `json:"permissions"`
}

// Register adds the authentication, account and audit routes.
func (s *Service) Register(srv *api.Server) {
	srv.HandleOp(api.Op{Method: "POST", Path: "/api/v1/auth/login", Public: true, Tags: []string{"auth"},
		Summary:     "Log in to the console: sets the session cookie, returns the CSRF token",
		Description: "Rate limited per client address and per user name.",
		Request:     LoginRequest{}, Response: Me{}}, s.handleLogin)
	srv.HandleOp(api.Op{Method: "POST", Path: "/api/v1/auth/logout", Tags: []string{"auth"},
		Summary: "End the console session", Status: http.StatusNoContent}, s.handleLogout)
	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/auth/me", Tags: []string{"auth"},
		Summary: "Who am I: user, role, permissions (and the CSRF token for sessions)", Response: Me{}},
		func(w http.ResponseWriter, r *http.Request) error {
			p, _ := PrincipalFrom(r.Context())
			return api.WriteJSON(w, http.StatusOK, meOf(p))
		})
	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/roles", Tags: []string{"auth"},
		Summary: "The role permission matrix", Response: []RoleInfo{}},
		func(w http.ResponseWriter, r *http.Request) error {
			var out []RoleInfo
			for _, role := range Roles {
				p := &Principal{Role: role}
				out = append(out, RoleInfo{Role: role, Grants: role.Grants(), Permissions: p.Permissions()})
			}
			return api.WriteJSON(w, http.StatusOK, out)
		})
	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/users", Permission: PermAdmin, Tags: []string{"auth"},
		Summary: "List users", Response: []User{}},
		func(w http.ResponseWriter, r *http.Request) error {
			us, err := s.ListUsers(r.Context())
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusOK, us)
		})
	srv.HandleOp(api.Op{Method: "POST", Path: "/api/v1/users", Permission: PermAdmin, Tags: []string{"auth"},
		Summary: "Create a user (a password is generated and returned once when none is given)",
		Request: NewUserRequest{}, Response: NewUserResponse{}, Status: http.StatusCreated},
		func(w http.ResponseWriter, r *http.Request) error {
			var req NewUserRequest
			if err := api.DecodeJSON(r, &req); err != nil {
				return err
			}
			u, pw, err := s.CreateUser(r.Context(), req.Name, req.Role, req.Password)
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusCreated, NewUserResponse{User: u, Password: pw})
		})
	srv.HandleOp(api.Op{Method: "PATCH", Path: "/api/v1/users/{id}", Permission: PermAdmin, Tags: []string{"auth"},
		Summary: "Change a user's role, status or password (by id or name)", Request: UserChange{}, Response: User{}},
		func(w http.ResponseWriter, r *http.Request) error {
			var req UserChange
			if err := api.DecodeJSON(r, &req); err != nil {
				return err
			}
			u, err := s.UpdateUser(r.Context(), r.PathValue("id"), req)
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusOK, u)
		})
	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/tokens", Permission: PermAdmin, Tags: []string{"auth"},
		Summary: "List API tokens (metadata only)", Query: []string{"user"}, Response: []Token{}},
		func(w http.ResponseWriter, r *http.Request) error {
			ts, err := s.ListTokens(r.Context(), r.URL.Query().Get("user"))
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusOK, ts)
		})
	srv.HandleOp(api.Op{Method: "POST", Path: "/api/v1/tokens", Permission: PermAdmin, Tags: []string{"auth"},
		Summary: "Issue an API token; the secret is in this response only",
		Request: NewTokenRequest{}, Response: NewTokenResponse{}, Status: http.StatusCreated},
		func(w http.ResponseWriter, r *http.Request) error {
			var req NewTokenRequest
			if err := api.DecodeJSON(r, &req); err != nil {
				return err
			}
			if req.ExpiresInDays < 0 || req.ExpiresInDays > 3650 {
				return errs.WithField("expires_in_days", "must be from 0 (never) to 3650")
			}
			t, secret, err := s.CreateToken(r.Context(), req.User, req.Name, req.Scopes, time.Duration(req.ExpiresInDays)*24*time.Hour)
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusCreated, NewTokenResponse{Token: t, Secret: secret})
		})
	srv.HandleOp(api.Op{Method: "DELETE", Path: "/api/v1/tokens/{id}", Permission: PermAdmin, Tags: []string{"auth"},
		Summary: "Revoke an API token (by id or prefix)", Response: Token{}},
		func(w http.ResponseWriter, r *http.Request) error {
			t, err := s.RevokeToken(r.Context(), r.PathValue("id"))
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusOK, t)
		})
	srv.HandleOp(api.Op{Method: "GET", Path: "/api/v1/audit", Permission: PermAuditRead, Tags: []string{"auth"},
		Summary:     "Audit log, cursor paged, filtered by resource, resource id and actor",
		Description: "order=desc (newest first, the default) or asc; cursor is next_cursor of the previous page.",
		Query:       []string{"resource", "resource_id", "actor", "order", "cursor", "limit"},
		Response:    api.Page[AuditRecord]{}},
		func(w http.ResponseWriter, r *http.Request) error {
			limit, err := api.QueryInt(r, "limit", 100, 1, 1000)
			if err != nil {
				return err
			}
			q := r.URL.Query()
			order := q.Get("order")
			if order != "" && order != "asc" && order != "desc" {
				return errs.WithField("order", "must be asc or desc")
			}
			items, next, err := ListAudit(r.Context(), s.db, AuditFilter{
				Resource: q.Get("resource"), ResourceID: q.Get("resource_id"), Actor: q.Get("actor"),
				Cursor: q.Get("cursor"), Limit: limit, Oldest: order == "asc",
			})
			if err != nil {
				return err
			}
			return api.WriteJSON(w, http.StatusOK, api.Page[AuditRecord]{Items: items, NextCursor: next})
		})
}

func (s *Service) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req LoginRequest
	if err := api.DecodeJSON(r, &req); err != nil {
		return err
	}
	now := time.Now()
	for _, key := range []string{"ip:" + clientIP(r), "user:" + strings.ToLower(req.Name)} {
		if ok, retry := s.login.allow(key, now); !ok {
			writeTooMany(w, r, retry, "login")
			return nil
		}
	}
	sess, err := s.Login(r.Context(), req.Name, req.Password)
	if err != nil {
		if errs.Is(err, errs.Unauthorized) {
			s.log.WarnContext(r.Context(), "login failed", "user", req.Name, "remote", clientIP(r))
		}
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: sess.Cookie, Path: "/", Expires: sess.ExpiresAt,
		MaxAge: int(s.opts.SessionTTL.Seconds()), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	me := meOf(sess.Principal)
	me.ExpiresAt = &sess.ExpiresAt
	return api.WriteJSON(w, http.StatusOK, me)
}

func (s *Service) handleLogout(w http.ResponseWriter, r *http.Request) error {
	p, _ := PrincipalFrom(r.Context())
	if err := s.Logout(r.Context(), p); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// clientIP is the peer address; a proxy's X-Forwarded-For is not trusted
// because anyone can send it.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
