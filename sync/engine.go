// Package sync moves data between OmniHub and the platforms: it pulls orders
// incrementally, receives pushed and queued platform messages through a
// deduplicating inbox, propagates stock to every channel, uploads shipments,
// answers refunds, reconciles what pulls and pushes missed, and raises alerts.
//
// Every effect is a River job, so a crash or a platform outage delays work but
// never loses it; a job that exhausts its attempts is a dead letter a person
// can retry. The engine sees platforms only through the capability interfaces
// of package channel and the domain only through the small interfaces below,
// which the composition root (internal/app) wires to the real services.
//
// The package is named after its directory in the design map; importers
// usually alias it (syncer "omnihub/sync") to keep the standard library's
// sync package readable.
package sync

import (
	"context"
	"log/slog"
	stdsync "sync"
	"time"

	"github.com/riverqueue/river"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"omnihub/channel"
	"omnihub/errs"
	"omnihub/shop"
	"omnihub/store"
	"omnihub/store/txgroup"
)

// OrderSink ingests platform orders into the order domain.
type OrderSink interface {
	// Ingest applies one platform version of an order; created reports
	// whether the order was new to OmniHub (reconciliation counts repairs).
	Ingest(ctx context.Context, shopID string, o channel.Order) (created bool, err error)
	// IngestBatch applies a page of orders in one durable step (one commit
	// for the page rather than one per order). The error is for the batch
	// as a whole; each outcome carries its order's own error (an order the
	// domain refuses as invalid, say) and whether it was new.
	IngestBatch(ctx context.Context, shopID string, orders []channel.Order) ([]IngestOutcome, error)
}

// IngestOutcome is one order's result in OrderSink.IngestBatch.
type IngestOutcome struct {
	Created bool
	Err     error
}

// PushMark is a (shop, SKU) whose sellable quantity changed and must reach
// the channel.
type PushMark struct {
	SKUID    string
	Sellable int64
	Version  int64
	MarkedAt time.Time
}

// StockSource is the inventory side of propagation.
type StockSource interface {
	PendingPushes(ctx context.Context, shopID string, limit int) ([]PushMark, error)
	AckPush(ctx context.Context, shopID, skuID string, version int64) error
	// Sellable is the policy value of a SKU on a shop; an errs.NotFound
	// error means the shop has no allocation policy.
	Sellable(ctx context.Context, shopID, skuID string) (int64, error)
}

// Binding ties an internal SKU to a platform item/SKU of one shop.
type Binding struct {
	SKUID          string
	PlatformItemID string
	PlatformSKUID  string
}

// ListingIndex resolves internal SKUs to platform listings and back.
type ListingIndex interface {
	// BindingsForSKUs returns the bindings of each SKU in one shop, for a
	// whole push cycle at once (SKUs without any are absent from the map).
	BindingsForSKUs(ctx context.Context, shopID string, skuIDs []string) (map[string][]Binding, error)
	// SKUForListing returns the internal SKU bound to a listing (ok=false
	// when none).
	SKUForListing(ctx context.Context, shopID string, l channel.Listing) (skuID string, ok bool, err error)
}

// RefundSink applies platform after-sales cases (optional). Apply is
// idempotent per (shop, platform refund id) and answers errs.Unavailable
// while the refund's order is not ingested yet. A sink that is also a
// RefundIndex lets reconciliation count the cases it repaired.
type RefundSink interface {
	Apply(ctx context.Context, shopID string, r channel.Refund) error
}

// ConnectorFactory returns the connector for a platform, talking to baseURL
// (empty: the platform's production gateway).
type ConnectorFactory func(p channel.Platform, baseURL string) (channel.Connector, error)

// Config tunes the engine. Zero values take defaults.
type Config struct {
	// TickEvery is how often the leader schedules pulls, message polls,
	// token refreshes and alert checks (default 5s).
	TickEvery time.Duration
	// ReconcileEvery schedules a full reconciliation of every shop (default 1h).
	ReconcileEvery time.Duration
	// ReconcileLookback is the order window a reconciliation re-reads (default 24h).
	ReconcileLookback time.Duration
	// RefreshBefore refreshes tokens expiring within this margin (default 30m).
	RefreshBefore time.Duration
	// PlatformRate caps API calls per second per platform app and API
	// family (default 50) for the whole cluster: each process takes its
	// share, the rate divided by the live sync members (members.go).
	PlatformRate float64
	// ShopRate caps stock API calls per second per shop when the shop does
	// not set one (default 20). Not divided among processes: a shop's stock
	// calls are made only by the holder of its push lease.
	ShopRate float64
	// PushBatch bounds the marks one push round reads (default 200).
	PushBatch int
	// BurstThreshold is the backlog of unprocessed order messages of one
	// shop from which messages are answered by one burst pull instead of a
	// detail call each (default 10; negative: never coalesce).
	BurstThreshold int
	// BurstMaxWait is how long a message waits for a burst pull before it
	// is read on its own (default 5s).
	BurstMaxWait time.Duration
	// Alerts configures where alerts go.
	Alerts AlertConfig
	// FlushEvery is how often Start's loop adds this process's call
	// outcome counts to sync_call_stats, which the failure-rate alert reads
	// (default 5s).
	FlushEvery time.Duration
	// HeartbeatEvery is how often Start's loop renews this process's row in
	// sync_members and recounts the live members that the platform rate is
	// shared by (default 5s).
	HeartbeatEvery time.Duration
	// MemberTTL is how long a member counts as live after its last
	// heartbeat (default 3 × HeartbeatEvery).
	MemberTTL time.Duration
	// PausedRecheck is how long a job of a paused shop snoozes before it
	// looks at the shop again (default 12 × TickEvery: one minute at the
	// default tick). After a resume, queued work starts within it.
	PausedRecheck time.Duration
	// Retention is how long the engine's own records are kept.
	Retention RetentionConfig
}

func (c Config) withDefaults() Config {
	if c.TickEvery <= 0 {
		c.TickEvery = 5 * time.Second
	}
	if c.ReconcileEvery <= 0 {
		c.ReconcileEvery = time.Hour
	}
	if c.ReconcileLookback <= 0 {
		c.ReconcileLookback = 24 * time.Hour
	}
	if c.RefreshBefore <= 0 {
		c.RefreshBefore = 30 * time.Minute
	}
	if c.PlatformRate <= 0 {
		c.PlatformRate = 50
	}
	if c.ShopRate <= 0 {
		c.ShopRate = 20
	}
	if c.PushBatch <= 0 {
		c.PushBatch = 200
	}
	if c.BurstThreshold == 0 {
		c.BurstThreshold = 10
	}
	if c.BurstMaxWait <= 0 {
		c.BurstMaxWait = 5 * time.Second
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = 5 * time.Second
	}
	if c.HeartbeatEvery <= 0 {
		c.HeartbeatEvery = 5 * time.Second
	}
	if c.MemberTTL <= 0 {
		c.MemberTTL = 3 * c.HeartbeatEvery
	}
	if c.PausedRecheck <= 0 {
		c.PausedRecheck = 12 * c.TickEvery
	}
	c.Alerts = c.Alerts.withDefaults()
	c.Retention = c.Retention.withDefaults()
	return c
}

// Deps are the engine's collaborators.
type Deps struct {
	DB         store.DB
	Shops      *shop.Service
	Connectors ConnectorFactory
	Orders     OrderSink
	Stock      StockSource
	Listings   ListingIndex
	Refunds    RefundSink // optional
	Metrics    *Metrics   // optional (nil: unregistered metrics)
	Log        *slog.Logger
	Now        func() time.Time
	// ProcessID names this process for push leases (default: random).
	ProcessID string
	// OnPropagation, when set, receives every stock change's time from mark
	// to channel API call (benchmarks and the demo report percentiles).
	OnPropagation func(time.Duration)
}

// Engine is the sync engine of one process.
type Engine struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	now  func() time.Time
	m    *Metrics

	mu       stdsync.Mutex
	conns    map[connKey]channel.Connector
	limiters map[string]*rate.Limiter
	calls    callStats                                // call outcomes not yet flushed (callstats.go)
	members  membership                               // heartbeat and rate share (members.go)
	bursts   singleflight.Group                       // per shop: one burst pull at a time (burst.go)
	pushers  pushers                                  // per shop: the push job running in this process (stock.go)
	inbox    *txgroup.Group[[]river.InsertManyParams] // group commit of platform messages (inboxwriter.go)
}

type connKey struct {
	platform channel.Platform
	baseURL  string
}

// New builds an engine.
func New(cfg Config, deps Deps) *Engine {
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Metrics == nil {
		deps.Metrics = NewMetrics(nil)
	}
	if deps.ProcessID == "" {
		deps.ProcessID = "p-" + time.Now().Format("150405.000000")
	}
	e := &Engine{
		cfg: cfg.withDefaults(), deps: deps, log: deps.Log, now: deps.Now, m: deps.Metrics,
		conns: map[connKey]channel.Connector{}, limiters: map[string]*rate.Limiter{},
		calls: callStats{pending: map[callKey]callCount{}}, inbox: newInboxGroup(deps.DB),
	}
	e.members.live.Store(1)
	return e
}

// Register adds the engine's workers and periodic jobs to the queue. Call it
// before the queue starts.
func (e *Engine) Register(q interface {
	Workers() *river.Workers
	PeriodicJobs() *river.PeriodicJobBundle
}) {
	w := q.Workers()
	river.AddWorker(w, &tickWorker{e: e})
	river.AddWorker(w, &pullWorker{e: e})
	river.AddWorker(w, &refundPullWorker{e: e})
	river.AddWorker(w, &consumeWorker{e: e})
	river.AddWorker(w, &processWorker{e: e})
	river.AddWorker(w, &pushWorker{e: e})
	river.AddWorker(w, &shipmentWorker{e: e})
	river.AddWorker(w, &reconcileWorker{e: e})
	river.AddWorker(w, &refreshWorker{e: e})
	river.AddWorker(w, &alertWorker{e: e})
	river.AddWorker(w, &reconcileAllWorker{e: e})
	if pj := q.PeriodicJobs(); pj != nil {
		pj.Add(river.NewPeriodicJob(river.PeriodicInterval(e.cfg.TickEvery),
			func() (river.JobArgs, *river.InsertOpts) { return TickArgs{}, uniqueOpts() }, &river.PeriodicJobOpts{RunOnStart: true}))
		pj.Add(river.NewPeriodicJob(river.PeriodicInterval(e.cfg.ReconcileEvery),
			func() (river.JobArgs, *river.InsertOpts) { return ReconcileAllArgs{}, uniqueOpts() }, nil))
	}
}

// connector returns the (cached) connector for a shop.
func (e *Engine) connector(sh shop.Shop) (channel.Connector, error) {
	k := connKey{sh.Platform, sh.BaseURL}
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.conns[k]; ok {
		return c, nil
	}
	c, err := e.deps.Connectors(sh.Platform, sh.BaseURL)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "no connector for platform %s", sh.Platform)
	}
	e.conns[k] = c
	return c, nil
}

// limiter returns this process's token bucket for a key at a rate of
// perSecond (burst: one second's worth).
func (e *Engine) limiter(key string, perSecond float64) *rate.Limiter {
	e.mu.Lock()
	defer e.mu.Unlock()
	burst := max(int(perSecond), 1)
	l, ok := e.limiters[key]
	if !ok {
		l = rate.NewLimiter(rate.Limit(perSecond), burst)
		e.limiters[key] = l
	} else if l.Limit() != rate.Limit(perSecond) || l.Burst() != burst {
		// A shop's rate was changed (PATCH /shops/{id}), or the number of
		// processes sharing a platform app's rate: apply it now, not after
		// a restart.
		l.SetLimit(rate.Limit(perSecond))
		l.SetBurst(burst)
	}
	return l
}

// appLimiter returns the token bucket of a platform app's budget (key
// "app:…"), which every process of the cluster draws on: this process gets
// perSecond divided by the live members (members.go).
func (e *Engine) appLimiter(key string, perSecond float64) *rate.Limiter {
	return e.limiter(key, perSecond/float64(e.members.live.Load()))
}

// wait obeys the per-platform-app and per-shop limits before a stock API
// call. Stock calls have budgets of their own, apart from reads (waitAPI):
// platforms meter each API separately, and a burst of order reads during a
// live-stream sale must never delay the stock updates that stop oversell.
// The app's budget is shared by the cluster's processes (appLimiter); the
// shop's is not divided, because only the holder of the shop's push lease
// makes its stock calls (stock.go), so one process at a time uses it.
func (e *Engine) wait(ctx context.Context, sh shop.Shop, sess channel.Session, shopRate float64) error {
	if err := e.appLimiter("app:"+string(sh.Platform)+":"+sess.Credentials.AppKey, e.cfg.PlatformRate).Wait(ctx); err != nil {
		return err
	}
	if shopRate <= 0 {
		shopRate = e.cfg.ShopRate
	}
	return e.limiter("shop:"+sh.ID, shopRate).Wait(ctx)
}

// API families metered apart by waitAPI.
const (
	apiOrders    = "orders"    // order search and detail
	apiRefunds   = "refunds"   // refund / after-sale reads
	apiAnswer    = "answer"    // refund decisions
	apiMessages  = "messages"  // message queue polls and confirmations
	apiListings  = "listings"  // on-sale items and SKUs
	apiLogistics = "logistics" // shipment upload
)

// waitAPI obeys the per-platform-app limit of one API family before a call
// that is not a stock update (this process's share of it, appLimiter).
func (e *Engine) waitAPI(ctx context.Context, sh shop.Shop, sess channel.Session, api string) error {
	return e.appLimiter("app:"+string(sh.Platform)+":"+sess.Credentials.AppKey+":"+api, e.cfg.PlatformRate).Wait(ctx)
}

// session opens a shop whatever its status; work that calls the platform
// or acts for the shop opens it with activeSession (pause.go).
func (e *Engine) session(ctx context.Context, shopID string) (channel.Session, shop.Shop, error) {
	return e.deps.Shops.Session(ctx, shopID)
}

// classify turns a connector error into a job outcome: rate limits snooze
// (they are not failures), an expired session refreshes the token and
// retries, anything else is returned for River's backoff.
func (e *Engine) classify(ctx context.Context, sh shop.Shop, kind string, err error) error {
	if err == nil {
		e.observe(sh.ID, kind, true)
		return nil
	}
	if isPaused(err) {
		// Paused between two calls (pullWindow checks at each page): no
		// platform failure, the job waits for the resume.
		return err
	}
	e.observe(sh.ID, kind, false)
	if channel.IsRateLimited(err) {
		d := channel.RetryAfterOf(err)
		if d <= 0 {
			d = time.Second
		}
		e.m.RateLimited.WithLabelValues(sh.ID).Inc()
		return river.JobSnooze(d)
	}
	if channel.IsAuthExpired(err) {
		rerr := e.refreshShop(ctx, sh.ID)
		if isPaused(rerr) {
			return rerr
		}
		if rerr != nil {
			return errs.Wrap(rerr, errs.Unauthorized, "%s: session expired and refresh failed", kind)
		}
		return river.JobSnooze(10 * time.Millisecond)
	}
	return err
}

func uniqueOpts() *river.InsertOpts {
	return &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: activeStates}}
}
