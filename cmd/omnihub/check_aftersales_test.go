package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"omnihub/errs"
	"omnihub/store/sqlite"
)

// omnihub check covers after-sales too: clean on a fresh database, and a
// case whose state its history does not lead to makes it exit 4 naming the case.
func TestCheckCoversAftersales(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	out, err := runCLI(t, dir, "", "check")
	if err != nil || !strings.Contains(out, "stock invariants hold") || !strings.Contains(out, "after-sales invariants hold") {
		t.Fatalf("check = %q %v", out, err)
	}
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "omnihub.db")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := db.Exec(context.Background(), `INSERT INTO aftersales_cases (id, shop_id, type, state, created_at, updated_at, state_since)
		VALUES ('CASE-1', 'S1', 'refund_only', 'refunded', $1, $1, $1)`, now); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = runCLI(t, dir, "", "check")
	if !errs.Is(err, errs.Conflict) || errs.ExitCode(errs.CodeOf(err)) != 4 || !strings.Contains(out, "VIOLATION aftersales_history: case CASE-1") ||
		!strings.Contains(out, "stock invariants hold") {
		t.Fatalf("check after tampering = %q %v", out, err)
	}
	out, err = runCLI(t, dir, "", "check", "--json")
	var v struct {
		OK         bool `json:"ok"`
		Balances   int  `json:"balances"`
		Aftersales []struct {
			CaseID string `json:"case_id"`
			Rule   string `json:"rule"`
		} `json:"aftersales_violations"`
	}
	if jerr := json.Unmarshal([]byte(out), &v); jerr != nil || !errs.Is(err, errs.Conflict) || v.OK || len(v.Aftersales) != 1 ||
		v.Aftersales[0].CaseID != "CASE-1" || v.Aftersales[0].Rule != "history" {
		t.Fatalf("check --json = %q %v %v", out, err, jerr)
	}
}
