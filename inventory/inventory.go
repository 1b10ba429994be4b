// Package inventory owns OmniHub's one stock truth: warehouses and bins,
// balances per (warehouse, SKU) — on hand, reserved, in transit, defective —
// the append-only ledger they are a projection of, reservations per document
// line, transfers, stocktakes, and what every shop may sell (channel
// allocation policies, bundles, push marks for the sync engine).
//
// Every quantity change writes a ledger row (reason, document, deltas,
// resulting balance) in the same transaction as the balance it changes, and a
// reservation never oversells: it is applied by a guarded conditional update
// under the balance row's lock. Other modules reserve inside their own
// transaction (ReserveTx and friends); the Reserver batches many concurrent
// reservations into one transaction (group commit) for hot SKUs.
package inventory

import (
	"context"
	"fmt"
	"time"

	"omnihub/errs"
	"omnihub/store"
	"omnihub/store/txgroup"
)

// DocRef names a document line a stock change belongs to, such as
// {"order", orderID, 1}.
type DocRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Line int    `json:"line"`
}

func (d DocRef) String() string { return fmt.Sprintf("%s/%s#%d", d.Type, d.ID, d.Line) }

// ReserveLine asks to reserve Qty units of SKUID in WarehouseID for Doc.
type ReserveLine struct {
	Doc         DocRef `json:"doc"`
	WarehouseID string `json:"warehouse_id"`
	SKUID       string `json:"sku_id"`
	Qty         int64  `json:"qty"`
}

// Component is one part of a bundle: Qty units of SKUID per bundle unit.
type Component struct {
	SKUID string
	Qty   int64
}

// BundleResolver tells inventory what bundles are made of. The catalog
// implements it; inventory never reads catalog tables itself.
type BundleResolver interface {
	// ComponentsTx returns the components of skuID when it is a bundle.
	ComponentsTx(ctx context.Context, tx store.Tx, skuID string) (components []Component, isBundle bool, err error)
	// BundlesContainingTx lists the bundles that have skuID as a component,
	// so that a component's change re-marks the bundles' sellable numbers.
	BundlesContainingTx(ctx context.Context, tx store.Tx, skuID string) ([]string, error)
}

// noBundles is used when no resolver is configured: every SKU is simple.
type noBundles struct{}

func (noBundles) ComponentsTx(context.Context, store.Tx, string) ([]Component, bool, error) {
	return nil, false, nil
}
func (noBundles) BundlesContainingTx(context.Context, store.Tx, string) ([]string, error) {
	return nil, nil
}

// Options configure a Service.
type Options struct {
	// Bundles resolves bundles into components (nil: no bundles).
	Bundles BundleResolver
	// OnMarked is called inside the transaction that marked shops' SKUs as
	// needing a stock push (the sync engine enqueues a coalesced push job).
	OnMarked func(ctx context.Context, tx store.Tx, shopIDs []string) error
	// SKUByCode resolves a SKU code (商家编码) to its id for sheet imports
	// (the catalog implements it; nil: sheets must give sku_id).
	SKUByCode func(ctx context.Context, code string) (skuID string, ok bool, err error)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service is the inventory module.
type Service struct {
	db   store.DB
	opts Options
	// moves shares transactions between concurrent single stock moves
	// (Receive, Adjust): see markMoved.
	moves txgroup.Group[[]string]
}

// New returns the inventory service over db.
func New(db store.DB, opts Options) *Service {
	if opts.Bundles == nil {
		opts.Bundles = noBundles{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{db: db, opts: opts}
	s.moves = txgroup.Group[[]string]{InTx: db.InTx, Finish: s.markMoved}
	return s
}

// SetBundles installs the bundle resolver after construction (the app wires
// the catalog once both services exist).
func (s *Service) SetBundles(b BundleResolver) {
	if b == nil {
		b = noBundles{}
	}
	s.opts.Bundles = b
}

// SetOnMarked installs the push-mark hook after construction (the app wires
// the sync engine after inventory). Set it before serving.
func (s *Service) SetOnMarked(fn func(ctx context.Context, tx store.Tx, shopIDs []string) error) {
	s.opts.OnMarked = fn
}

// SetSKUByCode installs the SKU code resolver used by sheet imports.
func (s *Service) SetSKUByCode(fn func(ctx context.Context, code string) (string, bool, error)) {
	s.opts.SKUByCode = fn
}

// DB is the database the service works on.
func (s *Service) DB() store.DB { return s.db }

func (s *Service) now() time.Time { return store.UTC(s.opts.Now()) }

// Reasons written to the ledger.
const (
	ReasonReceive          = "receive"
	ReasonAdjust           = "adjust"
	ReasonStocktake        = "stocktake"
	ReasonTransferOut      = "transfer_out"
	ReasonTransferIn       = "transfer_in"
	ReasonReserve          = "reserve"
	ReasonRelease          = "release"
	ReasonShip             = "ship"
	ReasonRestockGood      = "restock_good"
	ReasonRestockDefective = "restock_defective"
)

// Balance is the stock of one SKU in one warehouse.
type Balance struct {
	WarehouseID string    `json:"warehouse_id"`
	SKUID       string    `json:"sku_id"`
	OnHand      int64     `json:"on_hand"`
	Reserved    int64     `json:"reserved"`
	InTransit   int64     `json:"in_transit"`
	Defective   int64     `json:"defective"`
	Available   int64     `json:"available"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Buckets are quantities per bucket: a delta or a resulting balance.
type Buckets struct {
	OnHand    int64 `json:"on_hand"`
	Reserved  int64 `json:"reserved"`
	InTransit int64 `json:"in_transit"`
	Defective int64 `json:"defective"`
}

func (b Buckets) add(d Buckets) Buckets {
	return Buckets{b.OnHand + d.OnHand, b.Reserved + d.Reserved, b.InTransit + d.InTransit, b.Defective + d.Defective}
}

// valid reports whether a resulting balance keeps every invariant.
func (b Buckets) valid() bool {
	return b.OnHand >= 0 && b.Reserved >= 0 && b.InTransit >= 0 && b.Defective >= 0 && b.OnHand-b.Reserved >= 0
}

// LedgerEntry is one row of the append-only ledger.
type LedgerEntry struct {
	Seq         int64     `json:"seq"`
	At          time.Time `json:"at"`
	WarehouseID string    `json:"warehouse_id"`
	SKUID       string    `json:"sku_id"`
	Reason      string    `json:"reason"`
	Doc         DocRef    `json:"doc"`
	Delta       Buckets   `json:"delta"`
	Result      Buckets   `json:"result"`
}

// Reservation is the reservation of one component SKU for one document line.
type Reservation struct {
	Doc         DocRef    `json:"doc"`
	SKUID       string    `json:"sku_id"`
	WarehouseID string    `json:"warehouse_id"`
	LineSKUID   string    `json:"line_sku_id"`
	PerUnit     int64     `json:"per_unit"`
	Qty         int64     `json:"qty"`
	OpenQty     int64     `json:"open_qty"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Reservation states.
const (
	StatusOpen     = "open"
	StatusReleased = "released"
	StatusShipped  = "shipped"
)

func shortage(skuID, warehouseID string, want, have int64) error {
	e := errs.E(errs.Conflict, "insufficient stock of SKU %s in warehouse %s: want %d, available %d", skuID, warehouseID, want, have)
	e.Fields = map[string]string{"sku_id": skuID, "warehouse_id": warehouseID}
	return e
}

func validDoc(d DocRef, needLine bool) error {
	if d.Type == "" || d.ID == "" {
		return errs.WithField("doc", "document type and id are required")
	}
	if needLine && d.Line <= 0 {
		return errs.WithField("doc.line", "must be a positive line number")
	}
	return nil
}
