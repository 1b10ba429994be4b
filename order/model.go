// Package order owns the unified order: one order per shop and platform order
// id whatever the number and order of deliveries, its internal state machine
// and history, the automatic audit (address, notes, risk, merge, split,
// warehouse routing, courier choice) driven by rules stored as data, stock
// reservation at approval, and the exception queue where a person fixes,
// approves, rejects or replays what the audit held.
//
// Inventory and catalog are reached through the small interfaces
// StockReserver and SKUResolver, inside the order's own transaction.
package order

import (
	"log/slog"
	"strings"
	"time"

	"omnihub/errs"
)

// Status is an order's internal state.
type Status string

const (
	PendingPayment    Status = "pending_payment"
	Paid              Status = "paid"
	Held              Status = "held"      // the audit wants a person (address, note, risk, stock)
	Exception         Status = "exception" // the order cannot be processed as is (unbound SKU)
	Approved          Status = "approved"  // audited, routed, stock reserved
	Allocated         Status = "allocated" // released to the warehouse
	Picking           Status = "picking"
	Packed            Status = "packed"
	Shipped           Status = "shipped"
	Delivered         Status = "delivered"
	Completed         Status = "completed"
	Cancelled         Status = "cancelled"
	Refunding         Status = "refunding"
	PartiallyRefunded Status = "partially_refunded"
	Refunded          Status = "refunded"
)

// transitions is the state machine: from → allowed targets. Anything else
// is an illegal transition (errs.Conflict). Leaving refunding or
// partially_refunded is further bound by where the order stood when its
// refund began (Order.RefundFrom; see checkRefundMove).
var transitions = map[Status][]Status{
	PendingPayment:    {Paid, Cancelled},
	Paid:              {Approved, Held, Exception, Cancelled, Refunding},
	Held:              {Approved, Exception, Paid, Cancelled, Refunding},
	Exception:         {Approved, Held, Paid, Cancelled, Refunding},
	Approved:          {Allocated, Shipped, Held, Paid, Cancelled, Refunding}, // → shipped: the platform says it left outside the warehouse flow
	Allocated:         {Picking, Shipped, Approved, Cancelled, Refunding},
	Picking:           {Packed, Shipped, Cancelled, Refunding},
	Packed:            {Shipped, Cancelled, Refunding},
	Shipped:           {Delivered, Completed, Refunding},
	Delivered:         {Completed, Refunding},
	Completed:         {Refunding},
	Refunding:         {PartiallyRefunded, Refunded, Cancelled, Paid, Held, Exception, Approved, Allocated, Picking, Packed, Shipped, Delivered, Completed},
	PartiallyRefunded: {Refunding, Shipped, Delivered, Completed, Cancelled},
	Refunded:          {},
	Cancelled:         {},
}

// Statuses lists every state, in lifecycle order.
var Statuses = []Status{PendingPayment, Paid, Held, Exception, Approved, Allocated, Picking, Packed, Shipped, Delivered, Completed, Cancelled, Refunding, PartiallyRefunded, Refunded}

// CanTransition reports whether from → to is allowed.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Transitions returns the allowed targets of a state.
func Transitions(from Status) []Status { return append([]Status(nil), transitions[from]...) }

func checkTransition(from, to Status) error {
	if !CanTransition(from, to) {
		return errs.E(errs.Conflict, "illegal order transition %s → %s", from, to).WithField("status", string(from))
	}
	return nil
}

// holdsStock: states whose order owns reservations.
func holdsStock(s Status) bool {
	switch s {
	case Approved, Allocated, Picking, Packed:
		return true
	}
	return false
}

// shippedStatus: the goods have left the warehouse.
func shippedStatus(s Status) bool { return s == Shipped || s == Delivered || s == Completed }

// refundStatus: states that say how far a refund went, not where the goods are.
func refundStatus(s Status) bool { return s == Refunding || s == PartiallyRefunded || s == Refunded }

// Position is where the order stands in fulfilment: its status, or for a
// refunding, partially refunded or refunded order the status its refund
// began in.
func (o *Order) Position() Status {
	if refundStatus(o.Status) && o.RefundFrom != "" {
		return o.RefundFrom
	}
	return o.Status
}

// Shipped reports whether the order's goods have left the warehouse.
func (o *Order) Shipped() bool { return shippedStatus(o.Position()) }

// ownsStock reports whether the order holds reservations: a stock-holding
// state, or a refunding or partially refunded order that began its refund in
// one (the reservation of what was not refunded is kept until the order ships
// or is cancelled).
func (o *Order) ownsStock() bool {
	switch o.Status {
	case Refunding, PartiallyRefunded:
		return holdsStock(o.RefundFrom)
	}
	return holdsStock(o.Status)
}

// checkRefundMove is the part of the machine the table cannot say: a
// refunding or partially refunded order returns only to the fulfilment state
// its refund began in (or ships, when it held stock), and only an unshipped
// one can be cancelled.
func checkRefundMove(o *Order, to Status) error {
	if o.Status != Refunding && o.Status != PartiallyRefunded || o.RefundFrom == "" {
		return nil
	}
	bad := func(why string) error {
		return errs.E(errs.Conflict, "illegal order transition %s → %s: %s", o.Status, to, why).WithField("status", string(o.Status))
	}
	switch {
	case to == Cancelled && shippedStatus(o.RefundFrom):
		return bad("the order has shipped (" + string(o.RefundFrom) + "); refund it instead")
	case to == Shipped && holdsStock(o.RefundFrom), shippedStatus(to) && shippedStatus(o.RefundFrom):
		return nil
	case !refundStatus(to) && to != Cancelled && to != o.RefundFrom:
		return bad("its refund began in " + string(o.RefundFrom) + " and it can only return there")
	}
	return nil
}

// inQueue: states shown in the exception queue.
func inQueue(s Status) bool { return s == Held || s == Exception }

// Hold reasons set by the system (rules add their own).
const (
	ReasonUnboundSKU = "unbound_sku"
	ReasonOutOfStock = "out_of_stock"
	ReasonNoRoute    = "no_warehouse"
	ReasonBadAddress = "bad_address"
	ReasonRuleError  = "rule_error"
	// ReasonInactiveWarehouse: the routing rules that matched all target
	// warehouses that are no longer active.
	ReasonInactiveWarehouse = "warehouse_inactive"
)

// Receiver is who gets the parcel. It is personal data: it masks itself in
// logs (slog.LogValuer) and Masked returns the form shown to callers
// without the orders.pii permission.
type Receiver struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Province string `json:"province"`
	City     string `json:"city"`
	District string `json:"district"`
	Town     string `json:"town,omitempty"`
	Detail   string `json:"detail"`
	Zip      string `json:"zip,omitempty"`
}

// LogValue masks personal fields.
func (r Receiver) LogValue() slog.Value {
	m := r.Masked()
	return slog.GroupValue(
		slog.String("name", m.Name), slog.String("phone", m.Phone),
		slog.String("province", r.Province), slog.String("city", r.City), slog.String("district", r.District),
		slog.String("detail", m.Detail),
	)
}

// Masked hides the name, phone and street address but keeps the region.
func (r Receiver) Masked() Receiver {
	r.Name = MaskName(r.Name)
	r.Phone = MaskPhone(r.Phone)
	r.Detail = maskTail(r.Detail, 0)
	r.Town = ""
	return r
}

// MaskPhone keeps the first 3 and last 4 digits of a mobile number.
func MaskPhone(p string) string {
	rs := []rune(p)
	if len(rs) <= 4 {
		return strings.Repeat("*", len(rs))
	}
	keepHead := 3
	if len(rs) < 11 {
		keepHead = 0
	}
	var b strings.Builder
	for i, c := range rs {
		if i < keepHead || i >= len(rs)-4 {
			b.WriteRune(c)
		} else {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// MaskName keeps the first character.
func MaskName(n string) string { return maskTail(n, 1) }

func maskTail(s string, keep int) string {
	rs := []rune(s)
	if len(rs) == 0 {
		return ""
	}
	if keep > len(rs) {
		keep = len(rs)
	}
	n := len(rs) - keep
	if n > 6 {
		n = 6
	}
	return string(rs[:keep]) + strings.Repeat("*", max(n, 1))
}

// Line is one order line.
type Line struct {
	LineNo         int    `json:"line_no"`
	PlatformLineID string `json:"platform_line_id"`
	PlatformItemID string `json:"platform_item_id"`
	PlatformSKUID  string `json:"platform_sku_id"`
	OuterCode      string `json:"outer_code,omitempty"`
	Title          string `json:"title"`
	SpecName       string `json:"spec_name,omitempty"`
	SKUID          string `json:"sku_id,omitempty"` // bound internal SKU; empty while unbound
	Quantity       int64  `json:"quantity"`
	Price          int64  `json:"price"`
	Discount       int64  `json:"discount"`
	Paid           int64  `json:"paid"`
	RefundStatus   string `json:"refund_status,omitempty"`
	Part           int    `json:"part"`
}

// Part is one parcel of an order (several after a split).
type Part struct {
	Part        int    `json:"part"`
	WarehouseID string `json:"warehouse_id"`
	Courier     string `json:"courier"`
	Presale     bool   `json:"presale"`
}

// Amounts are in fen.
type Amounts struct {
	Currency        string `json:"currency"`
	Goods           int64  `json:"goods"`
	Discount        int64  `json:"discount"`
	Shipping        int64  `json:"shipping"`
	Paid            int64  `json:"paid"`
	PlatformSubsidy int64  `json:"platform_subsidy"`
}

// Order is the unified order.
type Order struct {
	ID                 string     `json:"id"`
	ShopID             string     `json:"shop_id"`
	PlatformOrderID    string     `json:"platform_order_id"`
	PlatformStatus     string     `json:"platform_status"`
	ChannelStatus      string     `json:"channel_status"`
	PlatformModifiedAt time.Time  `json:"platform_modified_at"`
	Status             Status     `json:"status"`
	HoldReasons        []string   `json:"hold_reasons,omitempty"`
	BuyerID            string     `json:"buyer_id"`
	BuyerNick          string     `json:"buyer_nick"`
	Receiver           Receiver   `json:"receiver"`
	DivisionCode       string     `json:"division_code,omitempty"`
	Amounts            Amounts    `json:"amounts"`
	BuyerNote          string     `json:"buyer_note,omitempty"`
	SellerNote         string     `json:"seller_note,omitempty"`
	Tags               []string   `json:"tags,omitempty"`
	Presale            bool       `json:"presale,omitempty"`
	WarehouseID        string     `json:"warehouse_id,omitempty"`
	Courier            string     `json:"courier,omitempty"`
	MergeGroup         string     `json:"merge_group,omitempty"`
	RefundFrom         Status     `json:"refund_from,omitempty"` // where fulfilment stood when refunding began (empty: never); see Position
	Lines              []Line     `json:"lines"`
	Parts              []Part     `json:"parts,omitempty"`
	PlatformCreatedAt  time.Time  `json:"platform_created_at"`
	PaidAt             *time.Time `json:"paid_at,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`

	phoneKey, addressKey, payloadHash string
}

// Masked returns the order as shown to a caller without orders.pii.
func (o Order) Masked() Order {
	o.Receiver = o.Receiver.Masked()
	o.BuyerNick = MaskName(o.BuyerNick)
	return o
}

// LogValue keeps personal data out of logs.
func (o Order) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", o.ID), slog.String("shop_id", o.ShopID),
		slog.String("platform_order_id", o.PlatformOrderID), slog.String("status", string(o.Status)),
		slog.Any("receiver", o.Receiver))
}

// Event is one entry of an order's history.
type Event struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // transition, audit, merge, split, version, fix, note
	From   Status    `json:"from,omitempty"`
	To     Status    `json:"to,omitempty"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Version is one platform version received.
type Version struct {
	PayloadHash        string    `json:"payload_hash"`
	PlatformModifiedAt time.Time `json:"platform_modified_at"`
	PlatformStatus     string    `json:"platform_status"`
	Applied            bool      `json:"applied"`
	ReceivedAt         time.Time `json:"received_at"`
	Raw                string    `json:"raw,omitempty"`
}

// Detail is an order with its history.
type Detail struct {
	Order    Order     `json:"order"`
	Events   []Event   `json:"events"`
	Versions []Version `json:"versions"`
}

// Masked masks the order and drops raw payloads (they hold personal data).
func (d Detail) Masked() Detail {
	d.Order = d.Order.Masked()
	vs := make([]Version, len(d.Versions))
	for i, v := range d.Versions {
		v.Raw = ""
		vs[i] = v
	}
	d.Versions = vs
	return d
}

func joinList(l []string) string { return strings.Join(l, ",") }

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func addUnique(l []string, v string) []string {
	for _, x := range l {
		if x == v {
			return l
		}
	}
	return append(l, v)
}
