package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"omnihub/errs"
	"omnihub/store/sqlite"
)

func TestStockAndCheckCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	steps := [][]string{
		{"catalog", "sku", "add", "--code", "TEA", "--name", "Tea"},
		{"stock", "warehouse", "add", "WH1", "Main"},
		{"stock", "warehouse", "add", "WH2"},
		{"stock", "receive", "--warehouse", "WH1", "--sku", "TEA", "--qty", "10"},
		{"stock", "adjust", "--warehouse", "WH1", "--sku", "TEA", "--counted", "8"},
		{"stock", "transfer", "--from", "WH1", "--to", "WH2", "--sku", "TEA", "--qty", "3"},
	}
	var out string
	for _, s := range steps {
		var err error
		if out, err = runCLI(t, dir, "", s...); err != nil {
			t.Fatalf("%v: %v", s, err)
		}
	}
	id := strings.Fields(out)[1]
	if _, err := runCLI(t, dir, "", "stock", "transfer-in", id); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, dir, "", "stock", "show", "--sku", "TEA"); err != nil || !strings.Contains(out, "WH1") || !strings.Contains(out, "WH2") {
		t.Fatalf("show = %q %v", out, err)
	}
	if out, err := runCLI(t, dir, "", "check"); err != nil || !strings.Contains(out, "invariants hold") {
		t.Fatalf("check = %q %v", out, err)
	}
	// Tamper with a balance behind the ledger's back.
	db, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "omnihub.db")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(context.Background(), `UPDATE inv_balances SET reserved = reserved + 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = runCLI(t, dir, "", "check")
	if !errs.Is(err, errs.Conflict) || errs.ExitCode(errs.CodeOf(err)) != 4 || !strings.Contains(out, "VIOLATION reserved_mismatch") {
		t.Fatalf("check after tampering = %q %v", out, err)
	}
}
