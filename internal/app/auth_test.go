package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"omnihub/api"
	"omnihub/auth"
	"omnihub/config"
)

// exempt are the only routes that may answer without credentials, besides
// platform push endpoints registered as signed (api.PublicSigned).
var exempt = map[string]bool{
	"GET /healthz":            true,
	"GET /readyz":             true,
	"GET /metrics":            true,
	"GET /api/openapi.json":   true,
	"POST /api/v1/auth/login": true,
}

var wildcard = regexp.MustCompile(`\{[^}]*\}`)

// concretePath fills a ServeMux pattern's wildcards with a harmless value.
func concretePath(p string) string {
	p = strings.ReplaceAll(p, "{$}", "")
	return wildcard.ReplaceAllString(p, "1")
}

func newTestApp(t *testing.T) *App {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	a, err := New(context.Background(), cfg, NewLogger(cfg.Log, io.Discard), Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func auditRows(t *testing.T, a *App) int {
	t.Helper()
	var n int
	if err := a.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRouterWalk proves that every route of the full application, except
// health, readiness, metrics, the OpenAPI document, login and signed
// platform pushes, requires authentication, and that each role gets exactly
// the permissions of the matrix: 403 where it lacks the route's permission,
// never 401/403 where it has it.
func TestRouterWalk(t *testing.T) {
	a := newTestApp(t)
	// Same middleware as production, without rate limits: the walk sends
	// many requests per token on purpose.
	svc := auth.NewService(a.DB, auth.Options{Hash: auth.HashParams{Memory: 1024, Time: 1, Threads: 1}, TokenRate: -1})
	a.API.Authenticate = svc.Middleware
	h := a.API.Handler()
	routes := a.API.Routes()

	send := func(rt api.Route, token string) *httptest.ResponseRecorder {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, rt.Method, concretePath(rt.Path), nil)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	before := auditRows(t, a)
	var guarded []api.Route
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		switch {
		case exempt[key] || rt.Signed:
			continue
		case rt.Public:
			t.Errorf("%s is public but neither exempt nor a signed platform push (use api.PublicSigned)", key)
			continue
		}
		if rt.Permission != "" && !auth.ValidPermission(rt.Permission) {
			t.Errorf("%s requires malformed permission %q (want resource.action, lower case)", key, rt.Permission)
		}
		if rt.Permission != "" && !slices.Contains(auth.KnownPermissions(), rt.Permission) {
			t.Logf("%s requires %q, which is not in auth.KnownPermissions (typo? else auth.RegisterPermissions)", key, rt.Permission)
		}
		guarded = append(guarded, rt)
		if rec := send(rt, ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s without credentials = %d, want 401: %s", key, rec.Code, rec.Body)
		}
		if rec := send(rt, "omh_notatoken"); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s with a bad token = %d, want 401", key, rec.Code)
		}
	}
	if n := auditRows(t, a); n != before {
		t.Fatalf("unauthenticated requests changed the audit log (%d → %d rows)", before, n)
	}
	t.Logf("%d routes, %d need authentication", len(routes), len(guarded))
	if len(guarded) < 10 {
		t.Fatalf("only %d guarded routes: is the app wired?", len(guarded))
	}

	ctx := auth.WithActor(context.Background(), "test")
	for _, role := range auth.Roles {
		t.Run(string(role), func(t *testing.T) {
			if _, _, err := svc.CreateUser(ctx, "u-"+string(role), role, ""); err != nil {
				t.Fatal(err)
			}
			_, token, err := svc.CreateToken(ctx, "u-"+string(role), "walk", nil, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			for _, rt := range guarded {
				key := rt.Method + " " + rt.Path
				rec := send(rt, token)
				has := role.Has(rt.Permission)
				switch {
				case !has && rec.Code != http.StatusForbidden:
					t.Errorf("%s lacks %q but %s = %d: %s", role, rt.Permission, key, rec.Code, rec.Body)
				case has && (rec.Code == http.StatusUnauthorized || rec.Code == http.StatusForbidden):
					t.Errorf("%s has %q but %s = %d: %s", role, rt.Permission, key, rec.Code, rec.Body)
				case has && rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable:
					t.Errorf("%s %s with no input = %d (hostile input must get a clear 4xx): %s", role, key, rec.Code, rec.Body)
				}
			}
		})
	}
}

// TestOpenAPIDocumentsEveryRoute checks the served document against the
// full application's router.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	a := newTestApp(t)
	rec := httptest.NewRecorder()
	a.API.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/openapi.json", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /api/openapi.json = %d", rec.Code)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
	for _, rt := range a.API.Routes() {
		p := strings.ReplaceAll(rt.Path, "{$}", "")
		p = regexp.MustCompile(`\{([^}.]*)\.\.\.\}`).ReplaceAllString(p, "{$1}")
		if _, ok := doc.Paths[p][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("%s %s is not in the OpenAPI document", rt.Method, rt.Path)
		}
	}
}
