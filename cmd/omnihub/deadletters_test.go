package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"omnihub/errs"
	"omnihub/store/sqlite"
)

func TestDeadLetterCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if out, err := runCLI(t, dir, "", "dead-letters", "list"); err != nil || !strings.Contains(out, "no dead letters") {
		t.Fatalf("empty list = %q %v", out, err)
	}
	// A job that exhausted its attempts, as River leaves it.
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "omnihub.db")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(context.Background(), `INSERT INTO river_job (id, args, attempt, kind, max_attempts, state, finalized_at, errors)
		VALUES (41, '{"shop_id":"s1"}', 3, 'sync_push_stock', 3, 'discarded', CURRENT_TIMESTAMP,
		'[{"at":"2026-11-23T10:00:00Z","attempt":3,"error":"taobao: isv.item-quantity-update-failed"}]'),
		(42, '{"shop_id":"s2"}', 3, 'sync_upload_shipment', 3, 'discarded', CURRENT_TIMESTAMP, '[{"at":"2026-11-23T10:00:00Z","attempt":3,"error":"boom"}]'),
		(43, '{"shop_id":"s2"}', 1, 'sync_upload_shipment', 3, 'completed', CURRENT_TIMESTAMP, '[]')`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, dir, "", "dead-letters", "list")
	if err != nil || !strings.Contains(out, "41\tsync_push_stock\t3/3 attempts") || !strings.Contains(out, "isv.item-quantity-update-failed") {
		t.Fatalf("list = %q %v", out, err)
	}
	if _, err := runCLI(t, dir, "", "dead-letters", "retry", "41"); err != nil {
		t.Fatal(err)
	}
	if _, err := runCLI(t, dir, "", "dead-letters", "skip", "42"); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, dir, "", "dead-letters", "list"); err != nil || !strings.Contains(out, "no dead letters") {
		t.Fatalf("after retry and skip = %q %v", out, err)
	}
	if _, err := runCLI(t, dir, "", "dead-letters", "retry", "x"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad id = %v", err)
	}
	// A finished job is not a dead letter: retrying it would upload the
	// shipment again. Refused (exit 4), not run, not audited.
	if _, err := runCLI(t, dir, "", "dead-letters", "retry", "43"); !errs.Is(err, errs.Conflict) || !strings.Contains(err.Error(), "not a dead letter") {
		t.Fatalf("retry of a completed job = %v, want a conflict", err)
	}
	// Both actions are in the audit log with the CLI user as actor.
	db, err = sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "omnihub.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var state string
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_log WHERE resource = 'dead_letter' AND actor LIKE 'cli:%'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("audit rows = %d %v", n, err)
	}
	if err := db.QueryRow(context.Background(), `SELECT state FROM river_job WHERE id = 41`).Scan(&state); err != nil || state != "available" {
		t.Fatalf("retried job state = %q %v", state, err)
	}
	if err := db.QueryRow(context.Background(), `SELECT state FROM river_job WHERE id = 43`).Scan(&state); err != nil || state != "completed" {
		t.Fatalf("completed job after a refused retry = %q %v", state, err)
	}
}
