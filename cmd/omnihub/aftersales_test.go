package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"omnihub/aftersales"
	"omnihub/errs"
	"omnihub/store"
	"omnihub/store/sqlite"
)

// cliOrders is a one-order OrderEffects used to seed a case.
type cliOrders struct{}

func (cliOrders) FindByPlatformIDTx(context.Context, store.Tx, string, string) (aftersales.OrderRef, bool, error) {
	return aftersales.OrderRef{ID: "O1", Paid: 990, Lines: []aftersales.OrderLineRef{{Line: 1, SKUID: "SKU-A", Qty: 1, Paid: 990}}}, true, nil
}
func (cliOrders) IsShippedTx(context.Context, store.Tx, string) (bool, error)  { return false, nil }
func (cliOrders) MarkRefundingTx(context.Context, store.Tx, string) error      { return nil }
func (cliOrders) ClearRefundingTx(context.Context, store.Tx, string) error     { return nil }
func (cliOrders) MarkRefundedTx(context.Context, store.Tx, string, bool) error { return nil }
func (cliOrders) CancelTx(context.Context, store.Tx, string, string) error     { return nil }

func TestAftersalesCasesCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	out, err := runCLI(t, dir, "", "aftersales", "cases", "list")
	if err != nil || !strings.HasPrefix(out, "ID") {
		t.Fatalf("list on a fresh database = %q %v", out, err)
	}
	// Seed a manual case through the service on the same database.
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "omnihub.db")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := aftersales.NewService(db, aftersales.Options{Orders: cliOrders{}}).Create(ctx,
		aftersales.NewCase{ShopID: "S1", PlatformOrderID: "T1", Type: aftersales.RefundOnly, Reason: "少件", RefundAmount: 990}, "seed")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	out, err = runCLI(t, dir, "", "aftersales", "cases", "list", "--open")
	if err != nil || !strings.Contains(out, c.ID) || !strings.Contains(out, "9.90") {
		t.Fatalf("list = %q %v", out, err)
	}
	out, err = runCLI(t, dir, "", "aftersales", "cases", "approve", c.ID, "--note", "by phone")
	if err != nil || !strings.Contains(out, "is approved") {
		t.Fatalf("approve = %q %v", out, err)
	}
	out, err = runCLI(t, dir, "", "aftersales", "cases", "show", c.ID)
	if err != nil || !strings.Contains(out, "cli:") || !strings.Contains(out, "by phone") || !strings.Contains(out, "next: refund, cancel") {
		t.Fatalf("show = %q %v", out, err)
	}
	if _, err := runCLI(t, dir, "", "aftersales", "cases", "receive", c.ID); !errs.Is(err, errs.Conflict) {
		t.Fatalf("illegal step = %v, want conflict", err)
	}
	if _, err := runCLI(t, dir, "", "aftersales", "cases", "qc", c.ID, "--unit", "one=good"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("bad --unit = %v, want invalid", err)
	}
	if _, err := runCLI(t, dir, "", "aftersales", "cases", "show", "nope"); !errs.Is(err, errs.NotFound) {
		t.Fatalf("unknown case = %v, want not found", err)
	}
}
