package sync

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sort"
	stdsync "sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/jobs"
	"omnihub/secrets"
	"omnihub/shop"
	"omnihub/store"
)

// fakeStock is an in-memory StockSource with inventory's mark semantics.
type fakeStock struct {
	mu    stdsync.Mutex
	marks map[[2]string]*PushMark // (shop, sku) → latest mark
	acked map[[2]string]int64
	truth map[[2]string]int64
}

func newFakeStock() *fakeStock {
	return &fakeStock{marks: map[[2]string]*PushMark{}, acked: map[[2]string]int64{}, truth: map[[2]string]int64{}}
}

// set changes sellable and marks it, calling the hook in a real tx.
func (f *fakeStock) set(ctx context.Context, t *testing.T, db store.DB, e *Engine, shopID, sku string, qty int64) {
	t.Helper()
	err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		f.mu.Lock()
		k := [2]string{shopID, sku}
		m := f.marks[k]
		if m == nil {
			m = &PushMark{SKUID: sku}
			f.marks[k] = m
		}
		m.Version++
		m.Sellable = qty
		m.MarkedAt = time.Now()
		f.truth[k] = qty
		f.mu.Unlock()
		return e.OnMarkedTx(ctx, tx, []string{shopID})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fakeStock) PendingPushes(_ context.Context, shopID string, limit int) ([]PushMark, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []PushMark
	for k, m := range f.marks {
		if k[0] == shopID && m.Version > f.acked[k] {
			out = append(out, *m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MarkedAt.Before(out[j].MarkedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (f *fakeStock) AckPush(_ context.Context, shopID, skuID string, version int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := [2]string{shopID, skuID}
	if version > f.acked[k] {
		f.acked[k] = version
	}
	return nil
}

func (f *fakeStock) Sellable(_ context.Context, shopID, skuID string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.truth[[2]string{shopID, skuID}], nil
}

// fakeListings binds SKU "sku-N" to platform SKU "psku-N" on every shop.
type fakeListings struct{}

func (fakeListings) BindingsForSKU(_ context.Context, _, skuID string) ([]Binding, error) {
	if skuID == "unbound" {
		return nil, nil
	}
	return []Binding{{SKUID: skuID, PlatformItemID: "item-1", PlatformSKUID: "p" + skuID}}, nil
}

func (f fakeListings) BindingsForSKUs(ctx context.Context, shopID string, skuIDs []string) (map[string][]Binding, error) {
	return bindingsEach(ctx, shopID, skuIDs, f.BindingsForSKU)
}

// bindingsEach answers BindingsForSKUs with a per-SKU lookup (fakes).
func bindingsEach(ctx context.Context, shopID string, skuIDs []string, one func(context.Context, string, string) ([]Binding, error)) (map[string][]Binding, error) {
	out := map[string][]Binding{}
	for _, sku := range skuIDs {
		bs, err := one(ctx, shopID, sku)
		if err != nil {
			return nil, err
		}
		if len(bs) > 0 {
			out[sku] = bs
		}
	}
	return out, nil
}

func (fakeListings) SKUForListing(_ context.Context, _ string, l channel.Listing) (string, bool, error) {
	if len(l.PlatformSKUID) < 2 {
		return "", false, nil
	}
	return l.PlatformSKUID[1:], true, nil
}

// fakeOrders records ingested orders, newest version wins.
type fakeOrders struct {
	mu     stdsync.Mutex
	orders map[string]channel.Order
	calls  int
}

func (f *fakeOrders) Ingest(_ context.Context, shopID string, o channel.Order) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	k := shopID + "/" + o.PlatformOrderID
	old, ok := f.orders[k]
	if !ok || o.ModifiedAt.After(old.ModifiedAt) {
		f.orders[k] = o
	}
	return !ok, nil
}

func (f *fakeOrders) IngestBatch(ctx context.Context, shopID string, os []channel.Order) ([]IngestOutcome, error) {
	out := make([]IngestOutcome, len(os))
	for i, o := range os {
		out[i].Created, out[i].Err = f.Ingest(ctx, shopID, o)
	}
	return out, nil
}

func (f *fakeOrders) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.orders)
}

// fakePlatform is a connector with a programmable store and faults.
type fakePlatform struct {
	mu         stdsync.Mutex
	qty        map[string]int64 // platform sku → quantity
	pushes     int
	orders     []channel.Order
	refunds    []channel.Refund
	failPushes int // next N push calls fail with a 5xx
	rateLimit  int // next N push calls are rate limited
	expired    bool
	refreshes  int
	inFlight   int
	maxFlight  int
}

func (p *fakePlatform) Platform() channel.Platform { return channel.Taobao }
func (p *fakePlatform) Capabilities() []channel.Capability {
	return []channel.Capability{channel.CapPushStock, channel.CapPullOrders}
}
func (p *fakePlatform) MaxStockBatch() int { return 20 }

func (p *fakePlatform) PushStock(ctx context.Context, s channel.Session, ups []channel.StockUpdate) ([]channel.StockResult, error) {
	p.mu.Lock()
	p.inFlight++
	p.maxFlight = max(p.maxFlight, p.inFlight)
	p.mu.Unlock()
	time.Sleep(time.Millisecond) // let overlapping pushers overlap, if they could
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inFlight--
	if p.expired && s.Credentials.AccessToken != "fresh" {
		return nil, &channel.APIError{Platform: "taobao", Code: "27", Message: "Invalid session", Class: channel.ClassAuthExpired}
	}
	if p.rateLimit > 0 {
		p.rateLimit--
		return nil, &channel.APIError{Platform: "taobao", Code: "7", Message: "App Call Limited", Class: channel.ClassRateLimited, RetryAfter: 20 * time.Millisecond}
	}
	if p.failPushes > 0 {
		p.failPushes--
		return nil, &channel.APIError{Platform: "taobao", Code: "15", Message: "Remote service error", Class: channel.ClassTransient}
	}
	p.pushes++
	out := make([]channel.StockResult, len(ups))
	for i, u := range ups {
		p.qty[u.PlatformSKUID] = u.Quantity
		out[i] = channel.StockResult{Update: u}
	}
	return out, nil
}

func (p *fakePlatform) RefreshToken(_ context.Context, c channel.Credentials) (channel.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refreshes++
	c.AccessToken = "fresh"
	c.ExpiresAt = time.Now().Add(24 * time.Hour)
	return c, nil
}

func (p *fakePlatform) PullLimits() channel.PullLimits {
	return channel.PullLimits{MaxWindow: 6 * time.Hour, MaxPageSize: 3}
}

func (p *fakePlatform) PullOrders(_ context.Context, _ channel.Session, q channel.OrderQuery) (channel.OrderPage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if q.End.Sub(q.Start) > 6*time.Hour {
		return channel.OrderPage{}, &channel.APIError{Platform: "taobao", Code: "41", Message: "window too long", Class: channel.ClassPermanent}
	}
	var in []channel.Order
	for _, o := range p.orders {
		if !o.ModifiedAt.Before(q.Start) && o.ModifiedAt.Before(q.End) {
			in = append(in, o)
		}
	}
	off := 0
	fmt.Sscan(q.Cursor, &off)
	end := min(off+q.PageSize, len(in))
	page := channel.OrderPage{Orders: in[off:end]}
	if end < len(in) {
		page.NextCursor = fmt.Sprint(end)
	}
	return page, nil
}

func (p *fakePlatform) GetOrder(_ context.Context, _ channel.Session, id string) (channel.Order, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, o := range p.orders {
		if o.PlatformOrderID == id {
			return o, nil
		}
	}
	return channel.Order{}, &channel.APIError{Platform: "taobao", Code: "isv.trade-not-exist", Class: channel.ClassPermanent}
}

// RefundPullLimits: windows and pages as small as the order pull's, so that
// tests cross window and page boundaries.
func (p *fakePlatform) RefundPullLimits() channel.PullLimits {
	return channel.PullLimits{MaxWindow: 6 * time.Hour, MaxPageSize: 3}
}

func (p *fakePlatform) PullRefunds(_ context.Context, _ channel.Session, q channel.RefundQuery) (channel.RefundPage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if q.End.Sub(q.Start) > 6*time.Hour {
		return channel.RefundPage{}, &channel.APIError{Platform: "taobao", Code: "41", Message: "window too long", Class: channel.ClassPermanent}
	}
	if q.PageSize > 3 {
		return channel.RefundPage{}, &channel.APIError{Platform: "taobao", Code: "41", Message: "page too large", Class: channel.ClassPermanent}
	}
	var in []channel.Refund
	for _, r := range p.refunds {
		if !r.ModifiedAt.Before(q.Start) && r.ModifiedAt.Before(q.End) {
			in = append(in, r)
		}
	}
	off := 0
	fmt.Sscan(q.Cursor, &off)
	end := min(off+q.PageSize, len(in))
	page := channel.RefundPage{Refunds: in[off:end]}
	if end < len(in) {
		page.NextCursor = fmt.Sprint(end)
	}
	return page, nil
}

func (p *fakePlatform) GetRefund(_ context.Context, _ channel.Session, id string) (channel.Refund, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.refunds {
		if r.PlatformRefundID == id {
			return r, nil
		}
	}
	return channel.Refund{}, &channel.APIError{Platform: "taobao", Code: "isv.refund-not-exist", Class: channel.ClassPermanent}
}

func (p *fakePlatform) ListListings(_ context.Context, _ channel.Session, _ string) (channel.ListingPage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []channel.Listing
	for sku, q := range p.qty {
		out = append(out, channel.Listing{PlatformItemID: "item-1", PlatformSKUID: sku, Quantity: q, OnSale: true})
	}
	return channel.ListingPage{Listings: out}, nil
}

// fakeRefunds is a RefundSink with after-sales' contract: one case per
// (shop, platform refund id), the newest modification wins, and a refund
// whose order is not ingested yet is errs.Unavailable. Kind "bad" is
// refused as invalid.
type fakeRefunds struct {
	mu      stdsync.Mutex
	orders  *fakeOrders
	cases   map[string]channel.Refund // shop/refund id → the version applied
	creates int                       // cases created
	applies int                       // Apply calls
}

func newFakeRefunds(o *fakeOrders) *fakeRefunds {
	return &fakeRefunds{orders: o, cases: map[string]channel.Refund{}}
}

func (f *fakeRefunds) Apply(_ context.Context, shopID string, r channel.Refund) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applies++
	if r.Kind == "bad" {
		return errs.E(errs.Invalid, "refund %s: unknown kind", r.PlatformRefundID)
	}
	f.orders.mu.Lock()
	_, ok := f.orders.orders[shopID+"/"+r.PlatformOrderID]
	f.orders.mu.Unlock()
	if !ok {
		return errs.E(errs.Unavailable, "order %s of shop %s is not ingested yet", r.PlatformOrderID, shopID)
	}
	k := shopID + "/" + r.PlatformRefundID
	old, found := f.cases[k]
	if !found {
		f.creates++
	}
	if !found || r.ModifiedAt.After(old.ModifiedAt) {
		f.cases[k] = r
	}
	return nil
}

func (f *fakeRefunds) KnownRefunds(_ context.Context, shopID string, ids []string) (map[string]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]bool{}
	for _, id := range ids {
		if _, ok := f.cases[shopID+"/"+id]; ok {
			out[id] = true
		}
	}
	return out, nil
}

// state returns the number of cases and of cases created, and the status of one.
func (f *fakeRefunds) state(shopID, id string) (cases, creates int, status channel.RefundStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.cases), f.creates, f.cases[shopID+"/"+id].Status
}

type rig struct {
	db      store.DB
	e       *Engine
	stock   *fakeStock
	orders  *fakeOrders
	refunds *fakeRefunds // nil unless built with newRefundRig
	plat    *fakePlatform
	shops   *shop.Service
}

func newRig(t *testing.T, db store.DB, cfg Config) *rig {
	t.Helper()
	return buildRig(t, db, cfg, false)
}

// newRefundRig is a rig whose engine has a refund sink.
func newRefundRig(t *testing.T, db store.DB, cfg Config) *rig {
	t.Helper()
	return buildRig(t, db, cfg, true)
}

func buildRig(t *testing.T, db store.DB, cfg Config, withRefunds bool) *rig {
	t.Helper()
	box, _ := secrets.New(bytes.Repeat([]byte{9}, secrets.KeySize))
	r := &rig{db: db, stock: newFakeStock(), orders: &fakeOrders{orders: map[string]channel.Order{}},
		plat: &fakePlatform{qty: map[string]int64{}}, shops: shop.NewService(db, box, shop.Options{})}
	cfg.TickEvery = time.Hour // tests drive work explicitly
	deps := Deps{
		DB: db, Shops: r.shops, Stock: r.stock, Listings: fakeListings{}, Orders: r.orders,
		Connectors: func(channel.Platform, string) (channel.Connector, error) { return r.plat, nil },
	}
	if withRefunds {
		r.refunds = newFakeRefunds(r.orders)
		deps.Refunds = r.refunds
	}
	r.e = New(cfg, deps)
	r.e.Register(db.Jobs())
	ctx, cancel := context.WithCancel(context.Background())
	if err := db.Jobs().Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = db.Jobs().Stop(stopCtx)
		cancel()
	})
	return r
}

func (r *rig) addShop(t *testing.T, name string) shop.Shop {
	t.Helper()
	sh, err := r.shops.Create(context.Background(), shop.New{Platform: channel.Taobao, Name: name, PlatformShopID: name,
		Settings:    shop.Settings{PushStock: true, StockRate: 1000},
		Credentials: channel.Credentials{AppKey: "app", AppSecret: "secret", AccessToken: "tok"}})
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

func eventually(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func jobCfg() jobs.Config {
	return jobs.Config{RunWorkers: true, MaxWorkers: 8, MaxAttempts: 4, BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, PollInterval: 100 * time.Millisecond}
}

var _ http.Handler // keep net/http for helpers in other test files
var _ = river.EventKindJobFailed
