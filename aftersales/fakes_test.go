package aftersales_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"omnihub/aftersales"
	"omnihub/channel"
	"omnihub/errs"
	"omnihub/store"
)

// fakeStock records every stock effect as a short line.
type fakeStock struct {
	mu    sync.Mutex
	calls []string
	// failReserve makes ReserveTx report a shortage.
	failReserve bool
}

func (f *fakeStock) rec(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeStock) ReleaseTx(_ context.Context, _ store.Tx, docType, docID string) error {
	f.rec("release %s:%s", docType, docID)
	return nil
}

func (f *fakeStock) ReleaseLineTx(_ context.Context, _ store.Tx, d aftersales.DocRef, qty int64) error {
	f.rec("release_line %s:%s:%d qty=%d", d.Type, d.ID, d.Line, qty)
	return nil
}

func (f *fakeStock) RestockTx(_ context.Context, _ store.Tx, d aftersales.DocRef, wh, sku string, qty int64, defective bool) error {
	kind := "good"
	if defective {
		kind = "defective"
	}
	f.rec("restock %s:%s:%d %s %s qty=%d %s", d.Type, d.ID, d.Line, wh, sku, qty, kind)
	return nil
}

func (f *fakeStock) ReserveTx(_ context.Context, _ store.Tx, lines []aftersales.ReserveLine) error {
	if f.failReserve {
		return errs.E(errs.Conflict, "insufficient stock").WithField("sku_id", lines[0].SKUID)
	}
	for _, l := range lines {
		f.rec("reserve %s:%s:%d %s %s qty=%d", l.Doc.Type, l.Doc.ID, l.Doc.Line, l.WarehouseID, l.SKUID, l.Qty)
	}
	return nil
}

func (f *fakeStock) ShipTx(_ context.Context, _ store.Tx, docType, docID string) error {
	f.rec("ship %s:%s", docType, docID)
	return nil
}

func (f *fakeStock) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// fakeOrders holds orders by platform id and records every order effect.
type fakeOrders struct {
	mu      sync.Mutex
	orders  map[string]aftersales.OrderRef // by platform order id
	shipped map[string]bool                // by internal id
	calls   []string
}

func newFakeOrders() *fakeOrders {
	return &fakeOrders{orders: map[string]aftersales.OrderRef{}, shipped: map[string]bool{}}
}

// add registers an order "O-<pid>" with lines of (sku, qty, paid).
func (f *fakeOrders) add(pid string, shipped bool, lines ...aftersales.OrderLineRef) aftersales.OrderRef {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := aftersales.OrderRef{ID: "O-" + pid}
	for i, l := range lines {
		l.Line = i + 1
		if l.PlatformLineID == "" {
			l.PlatformLineID = fmt.Sprintf("%s-%d", pid, i+1)
		}
		if l.WarehouseID == "" {
			l.WarehouseID = "WH1"
		}
		o.Lines = append(o.Lines, l)
		o.Paid += l.Paid
	}
	f.orders[pid] = o
	f.shipped[o.ID] = shipped
	return o
}

func (f *fakeOrders) rec(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeOrders) FindByPlatformIDTx(_ context.Context, _ store.Tx, _ string, pid string) (aftersales.OrderRef, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[pid]
	return o, ok, nil
}

func (f *fakeOrders) IsShippedTx(_ context.Context, _ store.Tx, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.shipped[id], nil
}

func (f *fakeOrders) MarkRefundingTx(_ context.Context, _ store.Tx, id string) error {
	f.rec("refunding %s", id)
	return nil
}

func (f *fakeOrders) ClearRefundingTx(_ context.Context, _ store.Tx, id string) error {
	f.rec("clear_refunding %s", id)
	return nil
}

func (f *fakeOrders) MarkRefundedTx(_ context.Context, _ store.Tx, id string, full bool) error {
	f.rec("refunded %s full=%v", id, full)
	return nil
}

func (f *fakeOrders) CancelTx(_ context.Context, _ store.Tx, id, _ string) error {
	f.rec("cancel %s", id)
	return nil
}

func (f *fakeOrders) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

type env struct {
	db     store.DB
	svc    *aftersales.Service
	stock  *fakeStock
	orders *fakeOrders
}

var returnAddr = &channel.Address{Name: "Returns desk", Phone: "0571-000", Province: "浙江省", City: "杭州市", District: "余杭区", Detail: "仓库 1 号"}

func newEnv(t *testing.T, db store.DB) *env {
	t.Helper()
	e := &env{db: db, stock: &fakeStock{}, orders: newFakeOrders()}
	e.svc = aftersales.NewService(db, aftersales.Options{
		Stock: e.stock, Orders: e.orders, DefaultWarehouseID: "WH1", ReturnAddress: returnAddr,
	})
	return e
}

// jobs returns the respond jobs enqueued so far, oldest first.
func respondJobs(t *testing.T, db store.DB) []aftersales.RespondArgs {
	t.Helper()
	col := "CAST(args AS TEXT)"
	if db.Engine() == store.SQLite {
		col = "json(args)" // River keeps SQLite args as JSONB
	}
	rows, err := db.Query(context.Background(), `SELECT `+col+` FROM river_job WHERE kind = 'aftersales_respond' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []aftersales.RespondArgs
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		var a aftersales.RespondArgs
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func refund(id, pid string, kind channel.RefundKind, st channel.RefundStatus, amount int64, mod time.Time) channel.Refund {
	return channel.Refund{
		PlatformRefundID: id, PlatformOrderID: pid, Kind: kind, PlatformStatus: "P_" + strings.ToUpper(string(st)),
		Status: st, Reason: "不想要了", Amount: amount, CreatedAt: mod, ModifiedAt: mod,
	}
}

// mc unwraps a (Case, error) result, failing the test on error.
func mc(t *testing.T) func(aftersales.Case, error) aftersales.Case {
	return func(c aftersales.Case, err error) aftersales.Case {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

func wantState(t *testing.T, c aftersales.Case, st aftersales.State) {
	t.Helper()
	if c.State != st {
		t.Fatalf("case state = %s, want %s", c.State, st)
	}
}

func wantCalls(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s calls:\n got  %q\n want %q", what, got, want)
	}
}

func wantCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	if !errs.Is(err, code) {
		t.Fatalf("err = %v (%s), want %s", err, errs.CodeOf(err), code)
	}
}
