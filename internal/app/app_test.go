package app

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"omnihub/config"
)

func TestServeHealthMetricsAndGracefulStop(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Addr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, cfg, NewLogger(cfg.Log, io.Discard), Options{RunWorkers: true, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve exited early: %v", err)
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("/healthz = %d %s", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, "sqlite") {
		t.Fatalf("/readyz = %d %s", code, body)
	}
	code, body := get("/metrics")
	for _, want := range []string{"go_goroutines", "omnihub_http_requests_total", `route="/healthz"`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %s (status %d)", want, code)
		}
	}
	if code, body := get("/api/v1/dead-letters"); code != http.StatusUnauthorized || !strings.Contains(body, `"code":"unauthorized"`) {
		t.Fatalf("unauthenticated API call = %d %s", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("graceful stop returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}
