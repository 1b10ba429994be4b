package app

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"omnihub/config"
)

// A serving process is a sync member (its share of the platform rate is
// counted from sync_members) from before it takes jobs until it stops, and
// leaves no row behind when it stops cleanly.
func TestServeJoinsAndLeavesSyncMembers(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Addr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, cfg, NewLogger(cfg.Log, io.Discard), Options{RunWorkers: true, Migrate: true, ProcessID: "member-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	members := func() int {
		t.Helper()
		var n int
		if err := a.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM sync_members WHERE id = 'member-test'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ready) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("serve exited early: %v", err)
	}
	if n := members(); n != 1 || a.Sync.Members() != 1 {
		t.Fatalf("while serving: %d member rows, %d members counted; want 1 and 1", n, a.Sync.Members())
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
	if n := members(); n != 0 {
		t.Fatalf("after a clean stop: %d member rows, want 0", n)
	}
}
