// Package aftersales owns after-sales cases (RMA): refunds, returns,
// exchanges and reships, from the platform's request (or a person's) to the
// case's close.
//
// A case moves through an explicit state machine (Transitions); every step
// is written with who took it and when (case events), in the same
// transaction as its effects on the order and on stock (OrderEffects,
// StockEffects) and as the durable job that answers the platform
// (aftersales_respond, worked by RespondWorker through a Responder).
// Platform updates arrive through Apply, idempotent and ordered by the
// platform's modification time. Auto-approval rules are stored expr
// expressions evaluated against each new case.
//
// The package defines the small interfaces it needs from the order and
// inventory modules and from the connectors; the app wires the real ones.
package aftersales

import (
	"context"
	"time"

	"omnihub/channel"
	"omnihub/store"
)

// DocType is the document type after-sales uses for its own stock
// movements (exchange and reship reservations, restocks).
const DocType = "aftersales"

// OrderDocType is the document type of order reservations in inventory.
const OrderDocType = "order"

// QCResult is the outcome of inspecting one returned unit.
type QCResult string

const (
	Good      QCResult = "good"
	Defective QCResult = "defective"
)

// Line is one order line the case is about.
type Line struct {
	No int64 `json:"no"` // 1-based within the case
	// OrderLine is the internal order's line number (0 when unknown).
	OrderLine      int64  `json:"order_line"`
	PlatformLineID string `json:"platform_line_id,omitempty"`
	SKUID          string `json:"sku_id"`
	// NewSKUID is the replacement for exchanges (and reships; defaults to SKUID).
	NewSKUID string `json:"new_sku_id,omitempty"`
	Qty      int64  `json:"qty"`
	Amount   int64  `json:"amount"` // fen refunded for this line
}

// QCUnit is the inspection of one returned unit.
type QCUnit struct {
	Line   int64     `json:"line"`
	Unit   int64     `json:"unit"` // 1-based within the line
	SKUID  string    `json:"sku_id"`
	Result QCResult  `json:"result"`
	Note   string    `json:"note,omitempty"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
}

// Event is one attributed step of a case's history.
type Event struct {
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action Action    `json:"action"`
	From   State     `json:"from,omitempty"`
	To     State     `json:"to,omitempty"`
	Note   string    `json:"note,omitempty"`
}

// Case is an after-sales case.
type Case struct {
	ID     string `json:"id"`
	ShopID string `json:"shop_id"`
	// PlatformRefundID is the platform's refund / after-sale id, unique per
	// shop; empty for cases opened by hand.
	PlatformRefundID string     `json:"platform_refund_id,omitempty"`
	OrderID          string     `json:"order_id,omitempty"`
	PlatformOrderID  string     `json:"platform_order_id,omitempty"`
	Type             Type       `json:"type"`
	State            State      `json:"state"`
	Reason           string     `json:"reason"`
	Evidence         string     `json:"evidence,omitempty"`
	RefundAmount     int64      `json:"refund_amount"`   // fen asked for
	RefundedAmount   int64      `json:"refunded_amount"` // fen actually returned (set on refund)
	Currency         string     `json:"currency"`
	GoodsShipped     bool       `json:"goods_shipped"`
	WarehouseID      string     `json:"warehouse_id,omitempty"`
	ReturnCarrier    string     `json:"return_carrier,omitempty"`
	ReturnTrackingNo string     `json:"return_tracking_no,omitempty"`
	ShipCarrier      string     `json:"ship_carrier,omitempty"`
	ShipTrackingNo   string     `json:"ship_tracking_no,omitempty"`
	RefuseReason     string     `json:"refuse_reason,omitempty"`
	PlatformStatus   string     `json:"platform_status,omitempty"`
	PlatformModified *time.Time `json:"platform_modified_at,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	StateSince       time.Time  `json:"state_since"`
	Lines            []Line     `json:"lines"`
	QC               []QCUnit   `json:"qc,omitempty"`
	// History is every step, oldest first (filled by Get).
	History []Event `json:"history,omitempty"`
	// Steps is when each state was (last) entered, derived from History.
	Steps map[State]time.Time `json:"steps,omitempty"`
	// Allowed lists what a person may do next.
	Allowed []Action `json:"allowed,omitempty"`
}

// Manual reports whether the case was opened by hand.
func (c Case) Manual() bool { return c.PlatformRefundID == "" }

// DocRef names one line of a stock document (mirrors inventory.DocRef).
type DocRef struct {
	Type, ID string
	Line     int
}

// ReserveLine is one reservation (mirrors inventory.ReserveLine).
type ReserveLine struct {
	Doc         DocRef
	WarehouseID string
	SKUID       string
	Qty         int64
}

// StockEffects is what after-sales needs from inventory, always inside the
// caller's transaction. The inventory Service has these methods with its own
// DocRef/ReserveLine types; the app adapts them field for field.
type StockEffects interface {
	// ReleaseTx releases every open reservation of a document (a full
	// refund before shipment releases the whole order's reservation).
	ReleaseTx(ctx context.Context, tx store.Tx, docType, docID string) error
	// ReleaseLineTx releases qty of one document line (partial refund before shipment).
	ReleaseLineTx(ctx context.Context, tx store.Tx, doc DocRef, qty int64) error
	// RestockTx books returned units back: good ones to available stock,
	// defective ones to defective stock.
	RestockTx(ctx context.Context, tx store.Tx, doc DocRef, warehouseID, skuID string, qty int64, defective bool) error
	// ReserveTx reserves an exchange's (or reship's) replacement goods.
	ReserveTx(ctx context.Context, tx store.Tx, lines []ReserveLine) error
	// ShipTx consumes a document's reservations when the replacement ships.
	ShipTx(ctx context.Context, tx store.Tx, docType, docID string) error
}

// OrderLineRef is an order line as after-sales needs it.
type OrderLineRef struct {
	Line           int    // the order's line number (DocRef.Line of its reservation)
	PlatformLineID string // Taobao oid, Douyin sku_order_id
	SKUID          string
	Qty            int64
	Paid           int64 // fen
	WarehouseID    string
}

// OrderRef is an internal order as after-sales needs it.
type OrderRef struct {
	ID string
	// Paid is what the buyer paid for the goods, in fen (postage aside):
	// when the order's refunds reach it, the order was refunded in full.
	Paid  int64
	Lines []OrderLineRef
}

// OrderEffects is what after-sales needs from the order module, always
// inside the caller's transaction. The context of the calls that change the
// order carries the Cause (CauseFrom). order.Service implements it.
type OrderEffects interface {
	// FindByPlatformIDTx finds the internal order of a platform order;
	// ok=false when it has not been ingested (yet).
	FindByPlatformIDTx(ctx context.Context, tx store.Tx, shopID, platformOrderID string) (o OrderRef, ok bool, err error)
	// IsShippedTx reports whether the order has left the warehouse.
	IsShippedTx(ctx context.Context, tx store.Tx, orderID string) (bool, error)
	// MarkRefundingTx flags the order as having an open after-sales case
	// (it should not be released to the warehouse while the flag is set).
	MarkRefundingTx(ctx context.Context, tx store.Tx, orderID string) error
	// ClearRefundingTx removes the flag when a case ends without money
	// back (refused, cancelled by the buyer).
	ClearRefundingTx(ctx context.Context, tx store.Tx, orderID string) error
	// MarkRefundedTx records money returned after shipment (full: the whole
	// order was refunded) and clears the refunding flag.
	MarkRefundedTx(ctx context.Context, tx store.Tx, orderID string, full bool) error
	// CancelTx closes an unshipped order that was refunded in full. Stock
	// is released by after-sales itself (StockEffects.ReleaseTx).
	CancelTx(ctx context.Context, tx store.Tx, orderID, reason string) error
}

// Cause is why after-sales asks the order module for an effect: the case
// and who took the step. It travels in the context of every OrderEffects
// call that changes the order (WithCause), so that the order's history can
// say who and why without the interface carrying it.
type Cause struct {
	CaseID string
	Actor  string // a person, ActorPlatform or "rule:<name>"
	Action Action
}

type causeKey struct{}

// WithCause returns ctx carrying c.
func WithCause(ctx context.Context, c Cause) context.Context {
	return context.WithValue(ctx, causeKey{}, c)
}

// CauseFrom returns the cause ctx carries (ok=false outside an after-sales step).
func CauseFrom(ctx context.Context) (Cause, bool) {
	c, ok := ctx.Value(causeKey{}).(Cause)
	return c, ok
}

// Responder sends a decision to the platform (the app wires it to the
// shop's connector through channel.RefundResponder).
type Responder interface {
	Respond(ctx context.Context, shopID string, d channel.RefundDecision) error
}

// SKUResolver maps a platform SKU to a catalog SKU inside the caller's
// transaction (catalog.Service.ResolveTx): the listing's binding, else the
// SKU whose code is outerCode. ok is false when neither exists.
type SKUResolver interface {
	ResolveTx(ctx context.Context, tx store.Tx, shopID, platformItemID, platformSKUID, outerCode string) (skuID string, ok bool, err error)
}

// Options configure a Service.
type Options struct {
	Stock  StockEffects
	Orders OrderEffects
	// SKUs resolves the SKU a platform exchange asks for (optional:
	// without it, exchanges keep the same SKU unless a person names one).
	SKUs SKUResolver
	// DefaultWarehouseID receives returns and ships replacements when the
	// case names no warehouse and the order line has none.
	DefaultWarehouseID string
	// ReturnAddress is sent with agreements to return-type cases.
	ReturnAddress *channel.Address
	// Now is the clock (tests).
	Now func() time.Time
}

// Service is the after-sales module.
type Service struct {
	db    store.DB
	opts  Options
	rules *ruleCache
}

// NewService builds the service. Stock and Orders are required for the
// steps that touch them; while one is missing those steps fail as
// Unavailable instead of silently skipping the effect.
func NewService(db store.DB, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{db: db, opts: opts, rules: newRuleCache()}
}

func (s *Service) now() time.Time { return store.UTC(s.opts.Now()) }
