package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"omnihub/jobs"
	"omnihub/store/storetest"
)

// BenchmarkMiddlewareToken measures what authentication adds to a request
// authenticated by API token on SQLite: shape check, one indexed lookup,
// constant-time compare, permission check (last_used_at writes are
// throttled to one a minute, so they do not show).
func BenchmarkMiddlewareToken(b *testing.B) {
	db := storetest.OpenSQLite(b, jobs.Config{})
	ctx := WithActor(context.Background(), "bench")
	s := NewService(db, Options{Hash: testHash, TokenRate: -1})
	if _, _, err := s.CreateUser(ctx, "bench", RoleOperator, ""); err != nil {
		b.Fatal(err)
	}
	_, tok, err := s.CreateToken(ctx, "bench", "", nil, 0)
	if err != nil {
		b.Fatal(err)
	}
	h := s.Middleware("orders.read", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/x", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}

// BenchmarkHashPassword is the cost of one login with the default argon2id
// parameters (the point is that it is slow on purpose).
func BenchmarkHashPassword(b *testing.B) {
	for b.Loop() {
		if _, err := HashPassword("correct horse battery staple", DefaultHashParams); err != nil {
			b.Fatal(err)
		}
	}
}
