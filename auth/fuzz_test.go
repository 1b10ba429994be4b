package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"omnihub/jobs"
	"omnihub/store/storetest"
)

// FuzzMiddleware sends arbitrary Authorization headers and session cookies
// through the real middleware over a database holding a live token and a
// live session. Anything but those credentials must get 401 — never a
// panic, a 5xx or the handler.
func FuzzMiddleware(f *testing.F) {
	db := storetest.OpenSQLite(f, jobs.Config{})
	ctx := WithActor(context.Background(), "fuzz")
	s := NewService(db, Options{Hash: testHash, TokenRate: -1})
	if _, _, err := s.CreateUser(ctx, "fuzz", RoleAdmin, "fuzzing password"); err != nil {
		f.Fatal(err)
	}
	_, tok, err := s.CreateToken(ctx, "fuzz", "", nil, 0)
	if err != nil {
		f.Fatal(err)
	}
	sess, err := s.Login(ctx, "fuzz", "fuzzing password")
	if err != nil {
		f.Fatal(err)
	}
	h := s.Middleware("orders.read", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(299) }))
	// Seeds: near misses of the real credentials.
	f.Add("Bearer "+tok[:len(tok)-1]+"B", "")
	f.Add("Bearer "+tok[:12]+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "")
	f.Add("", sess.Cookie[:len(sess.Cookie)-1]+"x")
	f.Add("bearer", tok)
	f.Add("Token "+tok, "")
	f.Fuzz(func(t *testing.T, authz, cookie string) {
		if authz == "Bearer "+tok || (authz == "" && cookie == sess.Cookie) {
			t.Skip("the real credentials")
		}
		req := httptest.NewRequest("GET", "/x", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		if cookie != "" {
			req.Header.Set("Cookie", SessionCookie+"="+cookie)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			// A Bearer header with surrounding spaces is the same token.
			if v, err := ParseBearer(authz); err == nil && v == tok {
				return
			}
			if authz == "" && rec.Code == 299 {
				if c, err := req.Cookie(SessionCookie); err == nil && c.Value == sess.Cookie {
					return
				}
			}
			t.Fatalf("Authorization %q, cookie %q → %d", authz, cookie, rec.Code)
		}
	})
}
