package order

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"omnihub/api"
	"omnihub/errs"
	"omnihub/geo"
	"omnihub/rules"
	"omnihub/store"
)

// StockLine is one order line to reserve in a warehouse.
type StockLine struct {
	OrderID     string
	LineNo      int
	WarehouseID string
	SKUID       string
	Qty         int64
}

// StockReserver is what the order module needs from inventory. Every Tx
// method runs in the order's own transaction. ReserveTx is all or nothing and
// idempotent per (order, line); a shortage is an errs.Conflict.
type StockReserver interface {
	ReserveTx(ctx context.Context, tx store.Tx, lines []StockLine) error
	ReleaseTx(ctx context.Context, tx store.Tx, orderID string) error
	ShipTx(ctx context.Context, tx store.Tx, orderID string) error
	Available(ctx context.Context, warehouseID, skuID string) (int64, error)
}

// WarehouseSource is what routing needs from inventory when no rule and no
// DefaultWarehouse decides, and to compare candidate warehouses by stock.
// Both methods read in the order's own transaction, so they see the
// reservations earlier orders of the same transaction made.
type WarehouseSource interface {
	// ActiveWarehousesTx lists the active warehouses, the most preferred
	// first (by priority, then a stable order of the source's own). Routing
	// puts those that serve the receiver's province before the others,
	// keeping this order within each group.
	ActiveWarehousesTx(ctx context.Context, tx store.Tx) ([]WarehouseRoute, error)
	// AvailableTx tells how many units of each SKU each warehouse could ship
	// now (on hand − reserved; a bundle through its components), by
	// warehouse id then SKU id; a missing pair is 0.
	AvailableTx(ctx context.Context, tx store.Tx, warehouseIDs, skuIDs []string) (map[string]map[string]int64, error)
}

// WarehouseRoute is an active warehouse as routing weighs it.
type WarehouseRoute struct {
	ID string
	// Priority: lower is preferred.
	Priority int
	// Provinces are the GB/T 2260 province-level codes (2 digits, the first
	// two of an order's DivisionCode) the warehouse serves; empty: none in
	// particular.
	Provinces []string
}

// WarehouseLookup finds a warehouse given by id or code and returns its id;
// an unknown warehouse is errs.NotFound. SaveRule checks the target of a
// routing rule with it and stores the id.
type WarehouseLookup func(ctx context.Context, idOrCode string) (id string, err error)

// SKUResolver maps a platform line to an internal SKU (catalog.ResolveTx):
// binding first, then the seller's outer code; ok=false when unbound.
type SKUResolver interface {
	ResolveTx(ctx context.Context, tx store.Tx, shopID, platformItemID, platformSKUID, outerCode string) (skuID string, ok bool, err error)
}

// ListingRef names the listing of an order line, as a resolver takes it.
type ListingRef struct {
	PlatformItemID, PlatformSKUID, OuterCode string
}

// SKUBatchResolver is an SKUResolver that also resolves many lines of one
// shop at once. Ingest uses it, when the resolver has it, to resolve a
// batch's lines before auditing them, instead of one query per listing.
type SKUBatchResolver interface {
	SKUResolver
	ResolveManyTx(ctx context.Context, tx store.Tx, shopID string, refs []ListingRef) (map[ListingRef]string, error)
}

// SKUInfo is what courier and split rules know of a SKU.
type SKUInfo struct {
	WeightGrams int64
	Type        string // free text used by rules: fresh, fragile, bulky…
	Presale     bool   // sold before it arrives: its lines wait in a part of their own
}

// SKUInfoFunc looks a SKU up (optional; nil: nothing known). q is the
// transaction the order is decided in: a lookup must go through it, not
// take a connection of its own, which on PostgreSQL could wait for ever
// behind transactions that wait for this one's locks.
type SKUInfoFunc func(ctx context.Context, q store.Querier, skuID string) (SKUInfo, bool)

// Options configure a Service.
type Options struct {
	Stock    StockReserver // nil: orders are approved without reservation (tests of audit alone)
	Resolver SKUResolver   // nil: a line's outer code is taken as the SKU id
	SKUInfo  SKUInfoFunc
	Geo      *geo.Table // default geo.Default()
	Logger   *slog.Logger
	Now      func() time.Time
	// Warehouses lets routing choose by stock among the active warehouses
	// when no rule matches and DefaultWarehouse is empty (nil: such an order
	// is held with no_warehouse).
	Warehouses WarehouseSource
	// DefaultWarehouse, when set, is used when no routing rule matches,
	// instead of choosing among the active warehouses.
	DefaultWarehouse string
	// LookupWarehouse checks routing rule targets when a rule is saved and
	// turns a warehouse code into its id (nil: targets are not checked).
	LookupWarehouse WarehouseLookup
	// RiskWindow is how far back orders to the same phone are counted (default 24h).
	RiskWindow time.Duration
	// MergeWindow: paid orders of one buyer, address and shop this close are
	// merged into one parcel (default 2h; negative disables merging).
	MergeWindow time.Duration
	// RulesTTL bounds how stale another process's rule edits may be (default 5s).
	RulesTTL time.Duration
	// Hook is called in the transaction after an order changes state
	// (optional: fulfilment and sync listen here).
	Hook func(ctx context.Context, tx store.Tx, o *Order, from Status) error
	// AuditTx records the service's user actions (order changes, rules,
	// blacklist) in the audit log; internal/app wires it to auth.AuditTx so
	// that an API request is audited once, by this row. Nil: the service
	// writes the audit_log row itself.
	AuditTx api.AuditFunc
}

// Service is the order module.
type Service struct {
	db   store.DB
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	ruleSet  *ruleSet
	loadedAt time.Time

	ingestQ ingestQueue // single deliveries waiting to be batched (Ingest)
}

// New returns the order service over db.
func New(db store.DB, opts Options) *Service {
	if opts.Geo == nil {
		opts.Geo = geo.Default()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RiskWindow <= 0 {
		opts.RiskWindow = 24 * time.Hour
	}
	if opts.MergeWindow == 0 {
		opts.MergeWindow = 2 * time.Hour
	}
	if opts.RulesTTL <= 0 {
		opts.RulesTTL = 5 * time.Second
	}
	return &Service{db: db, opts: opts, log: opts.Logger, ingestQ: ingestQueue{Max: maxIngestBatch}}
}

// DB is the database the service works on.
func (s *Service) DB() store.DB { return s.db }

// SetStock and SetResolver let the application wire inventory and catalog
// after construction (they are built from one another's hooks).
func (s *Service) SetStock(r StockReserver)     { s.opts.Stock = r }
func (s *Service) SetResolver(r SKUResolver)    { s.opts.Resolver = r }
func (s *Service) SetSKUInfo(f SKUInfoFunc)     { s.opts.SKUInfo = f }
func (s *Service) SetDefaultWarehouse(w string) { s.opts.DefaultWarehouse = w }

// SetWarehouses installs the warehouse source of default routing.
func (s *Service) SetWarehouses(w WarehouseSource) { s.opts.Warehouses = w }

// SetWarehouseLookup installs the check of routing rule targets.
func (s *Service) SetWarehouseLookup(f WarehouseLookup) { s.opts.LookupWarehouse = f }

func (s *Service) now() time.Time { return store.UTC(s.opts.Now()) }

// Rule kinds.
const (
	KindAudit   = "audit"   // Expression: bool; Action hold|exception|tag; Reason; Tag
	KindRoute   = "route"   // Expression: bool; Target: warehouse id (a code is turned into the id when saved)
	KindCourier = "courier" // Expression: bool; Target: courier code
)

// Audit actions.
const (
	ActionHold      = "hold"
	ActionException = "exception"
	ActionTag       = "tag"
)

// Rule is a stored business rule.
type Rule struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	Expression string    `json:"expression"`
	Action     string    `json:"action,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Tag        string    `json:"tag,omitempty"`
	Target     string    `json:"target,omitempty"`
	Priority   int       `json:"priority"`
	Enabled    bool      `json:"enabled"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

type compiledRule struct {
	Rule
	prog *rules.Program
}

type ruleSet struct {
	audit, route, courier []compiledRule
	blacklist             map[string]bool // kind + ":" + value
}

// Validate checks a rule and compiles it against the order environment.
func (r Rule) Validate() (*rules.Program, error) {
	switch r.Kind {
	case KindAudit:
		switch r.Action {
		case ActionHold, ActionException:
			if r.Reason == "" {
				return nil, errs.WithField("reason", "is required for hold and exception rules")
			}
		case ActionTag:
			if r.Tag == "" {
				return nil, errs.WithField("tag", "is required for tag rules")
			}
		default:
			return nil, errs.WithField("action", "must be hold, exception or tag")
		}
	case KindRoute, KindCourier:
		if r.Target == "" {
			return nil, errs.WithField("target", "is required (a warehouse id or a courier code)")
		}
	default:
		return nil, errs.WithField("kind", "must be audit, route or courier")
	}
	if r.Name == "" || len(r.Name) > 100 {
		return nil, errs.WithField("name", "is required (at most 100 bytes)")
	}
	return rules.Compile(r.Expression, Env{}, rules.Bool)
}

// rulesFor returns the cached, compiled rule set, reloading it when stale.
func (s *Service) rulesFor(ctx context.Context) (*ruleSet, error) {
	s.mu.Lock()
	rs, at := s.ruleSet, s.loadedAt
	s.mu.Unlock()
	if rs != nil && s.opts.Now().Sub(at) < s.opts.RulesTTL {
		return rs, nil
	}
	rs, err := s.loadRules(ctx, s.db)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.ruleSet, s.loadedAt = rs, s.opts.Now()
	s.mu.Unlock()
	return rs, nil
}

func (s *Service) invalidateRules() {
	s.mu.Lock()
	s.ruleSet = nil
	s.mu.Unlock()
}

func (s *Service) loadRules(ctx context.Context, q store.Querier) (*ruleSet, error) {
	all, err := listRules(ctx, q)
	if err != nil {
		return nil, err
	}
	rs := &ruleSet{blacklist: map[string]bool{}}
	for _, r := range all {
		if !r.Enabled {
			continue
		}
		p, err := r.Validate()
		if err != nil {
			// A rule stored by an older version that no longer compiles is
			// skipped loudly rather than stopping every order.
			s.log.Error("order rule does not compile; skipped", "rule", r.Name, "kind", r.Kind, "err", err)
			continue
		}
		cr := compiledRule{Rule: r, prog: p}
		switch r.Kind {
		case KindAudit:
			rs.audit = append(rs.audit, cr)
		case KindRoute:
			rs.route = append(rs.route, cr)
		case KindCourier:
			rs.courier = append(rs.courier, cr)
		}
	}
	for _, l := range [][]compiledRule{rs.audit, rs.route, rs.courier} {
		sort.SliceStable(l, func(i, j int) bool { return l[i].Priority < l[j].Priority })
	}
	rows, err := q.Query(ctx, `SELECT kind, value FROM order_blacklist`)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "load blacklist")
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "load blacklist")
		}
		rs.blacklist[k+":"+v] = true
	}
	return rs, rows.Err()
}

func listRules(ctx context.Context, q store.Querier) ([]Rule, error) {
	rows, err := q.Query(ctx, `SELECT id, kind, name, expression, action, reason, tag, target, priority, enabled, created_at, updated_at FROM order_rules ORDER BY kind, priority, name`)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list rules")
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var r Rule
		if err := rows.Scan(&r.ID, &r.Kind, &r.Name, &r.Expression, &r.Action, &r.Reason, &r.Tag, &r.Target, &r.Priority, &r.Enabled, &r.CreatedAt, &r.UpdatedAt); err != nil {
			return nil, errs.Wrap(err, errs.Internal, "list rules")
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
