// Package channel defines what OmniHub needs from a sales platform, split by
// capability, and the neutral types connectors translate to and from.
//
// A connector (channel/<platform>) speaks one platform's protocol exactly and
// implements the capability interfaces it can; domain packages and the sync
// engine see only this package. Connectors hold no per-shop state: every call
// receives the shop's Session (credentials included), so one connector value
// serves every shop of its platform. Each connector ships a simulator
// (channel/<platform>/<platform>sim) used by tests, the demo and benchmarks.
//
// Money is integer minor units (fen). Times are UTC; connectors convert from
// the platform's zone (mostly Asia/Shanghai) at the edge.
package channel

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Platform identifies a sales platform.
type Platform string

const (
	Taobao Platform = "taobao" // Taobao and Tmall (TOP)
	Douyin Platform = "douyin" // Douyin shop (抖店)
)

// Capability names one thing a connector can do.
type Capability string

const (
	CapPullOrders     Capability = "pull_orders"
	CapConsumeMessage Capability = "consume_messages" // platform message queue polled over HTTP (Taobao TMC)
	CapReceivePush    Capability = "receive_push"     // platform calls our webhook (Douyin)
	CapPushStock      Capability = "push_stock"
	CapListings       Capability = "listings"
	CapUploadShipment Capability = "upload_shipment"
	CapRefunds        Capability = "refunds"
	CapAnswerRefunds  Capability = "answer_refunds"
	CapRefreshToken   Capability = "refresh_token"
)

// Connector is implemented by every platform package.
type Connector interface {
	Platform() Platform
	Capabilities() []Capability
}

// Session is what a call needs to act for one shop.
type Session struct {
	ShopID         string // OmniHub's shop id
	PlatformShopID string // the seller's id on the platform
	Credentials    Credentials
}

// Credentials of a shop. Stored encrypted at rest; never logged.
type Credentials struct {
	AppKey       string            `json:"app_key"`
	AppSecret    string            `json:"app_secret"`
	AccessToken  string            `json:"access_token"`
	RefreshToken string            `json:"refresh_token,omitempty"`
	ExpiresAt    time.Time         `json:"expires_at,omitzero"`
	Extra        map[string]string `json:"extra,omitempty"`
}

// String never reveals secrets (for %v in logs).
func (c Credentials) String() string { return "Credentials{app_key:" + c.AppKey + ", secrets:***}" }

// OrderStatus is a platform order status normalised across platforms.
type OrderStatus string

const (
	OrderPendingPayment OrderStatus = "pending_payment"
	OrderPaid           OrderStatus = "paid" // paid, waiting for the seller to ship
	OrderPartShipped    OrderStatus = "part_shipped"
	OrderShipped        OrderStatus = "shipped" // shipped, waiting for the buyer to confirm
	OrderCompleted      OrderStatus = "completed"
	OrderCancelled      OrderStatus = "cancelled" // closed before or instead of shipping (includes full refund)
)

// Address is a receiver's address as the platform gives it.
type Address struct {
	Name     string `json:"name"`
	Phone    string `json:"phone"`
	Province string `json:"province"`
	City     string `json:"city"`
	District string `json:"district"`
	Town     string `json:"town,omitempty"`
	Detail   string `json:"detail"`
	Zip      string `json:"zip,omitempty"`
}

// Order is a platform order translated to neutral fields.
type Order struct {
	PlatformOrderID string      `json:"platform_order_id"`
	PlatformStatus  string      `json:"platform_status"` // the platform's own status code
	Status          OrderStatus `json:"status"`
	CreatedAt       time.Time   `json:"created_at"`
	PaidAt          *time.Time  `json:"paid_at,omitempty"`
	ModifiedAt      time.Time   `json:"modified_at"` // the platform's modification time: orders are applied in this order
	BuyerID         string      `json:"buyer_id"`
	BuyerNick       string      `json:"buyer_nick"`
	Receiver        Address     `json:"receiver"`
	Lines           []OrderLine `json:"lines"`
	Currency        string      `json:"currency"`
	GoodsAmount     int64       `json:"goods_amount"`
	DiscountAmount  int64       `json:"discount_amount"`
	ShippingAmount  int64       `json:"shipping_amount"`
	PaidAmount      int64       `json:"paid_amount"`
	PlatformSubsidy int64       `json:"platform_subsidy"`
	BuyerNote       string      `json:"buyer_note,omitempty"`
	SellerNote      string      `json:"seller_note,omitempty"`
	Presale         bool        `json:"presale,omitempty"`
	// Raw is the platform's payload, kept for audit.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// OrderLine is one line of a platform order.
type OrderLine struct {
	PlatformLineID string `json:"platform_line_id"` // Taobao oid, Douyin sku_order_id
	PlatformItemID string `json:"platform_item_id"`
	PlatformSKUID  string `json:"platform_sku_id"`
	OuterSKUID     string `json:"outer_sku_id,omitempty"` // the merchant's SKU code as set on the platform
	Title          string `json:"title"`
	SpecName       string `json:"spec_name,omitempty"`
	Quantity       int64  `json:"quantity"`
	Price          int64  `json:"price"`    // unit price
	Discount       int64  `json:"discount"` // line discount
	Paid           int64  `json:"paid"`     // what the buyer paid for the line
	RefundStatus   string `json:"refund_status,omitempty"`
}

// OrderQuery asks for orders modified within [Start, End). Connectors page
// with Cursor (opaque; empty for the first page).
type OrderQuery struct {
	Start, End time.Time
	Cursor     string
	PageSize   int
}

// OrderPage is one page of a pull.
type OrderPage struct {
	Orders     []Order
	NextCursor string // empty when there are no more pages
}

// PullLimits are a platform's documented limits for incremental pulls.
type PullLimits struct {
	MaxWindow   time.Duration // longest Start..End the platform accepts
	MaxPageSize int
	// MaxLookback is how far back the platform lets you ask (0: unlimited).
	MaxLookback time.Duration
}

// OrderPuller pulls orders incrementally by modification time.
type OrderPuller interface {
	PullLimits() PullLimits
	PullOrders(ctx context.Context, s Session, q OrderQuery) (OrderPage, error)
	GetOrder(ctx context.Context, s Session, platformOrderID string) (Order, error)
}

// MessageKind classifies a platform event.
type MessageKind string

const (
	MsgOrderCreated  MessageKind = "order_created"
	MsgOrderPaid     MessageKind = "order_paid"
	MsgOrderModified MessageKind = "order_modified" // address, notes, status…
	MsgOrderCanceled MessageKind = "order_cancelled"
	MsgOrderShipped  MessageKind = "order_shipped"
	MsgRefundCreated MessageKind = "refund_created"
	MsgRefundChanged MessageKind = "refund_changed"
	MsgOther         MessageKind = "other"
)

// Message is a platform event. Messages only say that something changed; the
// sync engine fetches the current document, so a lost or reordered message
// costs latency, never correctness.
type Message struct {
	ID               string          `json:"id"` // unique per platform: used to deduplicate
	Kind             MessageKind     `json:"kind"`
	Topic            string          `json:"topic"` // the platform's own topic / tag
	PlatformShopID   string          `json:"platform_shop_id"`
	PlatformOrderID  string          `json:"platform_order_id,omitempty"`
	PlatformRefundID string          `json:"platform_refund_id,omitempty"`
	OccurredAt       time.Time       `json:"occurred_at"`
	Raw              json.RawMessage `json:"raw,omitempty"`
}

// MessageConsumer polls a platform's message queue (Taobao TMC over HTTP).
// Messages not confirmed are redelivered by the platform.
type MessageConsumer interface {
	ConsumeMessages(ctx context.Context, s Session, max int) ([]Message, error)
	ConfirmMessages(ctx context.Context, s Session, ids []string) error
}

// PushReceiver parses and verifies a platform's webhook call (Douyin).
type PushReceiver interface {
	// ParsePush verifies the request's signature and returns its messages;
	// an unsigned, wrongly signed or stale request is an Unauthorized error.
	ParsePush(ctx context.Context, header http.Header, body []byte, appSecretFor func(appKey string) (string, error)) ([]Message, error)
	// PushAck is the response the platform expects on success.
	PushAck() (status int, contentType string, body []byte)
}

// StockUpdate sets a platform SKU's sellable quantity.
type StockUpdate struct {
	PlatformItemID string `json:"platform_item_id"`
	PlatformSKUID  string `json:"platform_sku_id"`
	Quantity       int64  `json:"quantity"`
}

// StockResult is the outcome of one update of a batch.
type StockResult struct {
	Update StockUpdate
	Err    error // nil on success
}

// StockPusher sets quantities on the platform (full overwrite, not deltas,
// so that a repeated push is harmless).
type StockPusher interface {
	// MaxStockBatch is how many updates one API call may carry (1 if the
	// platform has no batch API).
	MaxStockBatch() int
	PushStock(ctx context.Context, s Session, updates []StockUpdate) ([]StockResult, error)
}

// Listing is a platform item/SKU as the shop has it on sale.
type Listing struct {
	PlatformItemID string `json:"platform_item_id"`
	PlatformSKUID  string `json:"platform_sku_id"`
	OuterID        string `json:"outer_id"` // the merchant's SKU code on the platform: binds to an internal SKU
	Title          string `json:"title"`
	SpecName       string `json:"spec_name"`
	Price          int64  `json:"price"`
	Quantity       int64  `json:"quantity"`
	OnSale         bool   `json:"on_sale"`
}

// ListingPage is one page of listings.
type ListingPage struct {
	Listings   []Listing
	NextCursor string
}

// ListingReader lists what a shop has on sale.
type ListingReader interface {
	ListListings(ctx context.Context, s Session, cursor string) (ListingPage, error)
}

// Shipment is a parcel to report to the platform.
type Shipment struct {
	PlatformOrderID string   `json:"platform_order_id"`
	PlatformLineIDs []string `json:"platform_line_ids,omitempty"` // empty: the whole order
	CarrierCode     string   `json:"carrier_code"`                // OmniHub's carrier code (ZTO, YTO, SF…); connectors map it
	TrackingNo      string   `json:"tracking_no"`
}

// ShipmentUploader reports shipments (发货回传). Uploading the same shipment
// twice must be harmless: connectors treat "already shipped with this
// tracking number" as success.
type ShipmentUploader interface {
	UploadShipment(ctx context.Context, s Session, sh Shipment) error
}

// RefundKind is the type of an after-sales request.
type RefundKind string

const (
	RefundOnly     RefundKind = "refund_only"
	ReturnRefund   RefundKind = "return_refund"
	Exchange       RefundKind = "exchange"
	ReshipRequest  RefundKind = "reship"
	RefundKindElse RefundKind = "other"
)

// RefundStatus is a platform after-sales status normalised across platforms.
type RefundStatus string

const (
	RefundRequested       RefundStatus = "requested"         // waiting for the seller
	RefundAgreed          RefundStatus = "agreed"            // seller agreed, nothing comes back: the seller is to send goods (reships)
	RefundWaitBuyerReturn RefundStatus = "wait_buyer_return" // seller agreed, buyer to send goods back
	RefundBuyerReturned   RefundStatus = "buyer_returned"    // goods on their way / arrived, seller to confirm
	RefundRefused         RefundStatus = "refused"
	RefundSucceeded       RefundStatus = "succeeded"
	RefundClosed          RefundStatus = "closed" // withdrawn or closed without refund
)

// Refund is a platform after-sales case.
type Refund struct {
	PlatformRefundID string       `json:"platform_refund_id"`
	PlatformOrderID  string       `json:"platform_order_id"`
	PlatformLineID   string       `json:"platform_line_id,omitempty"`
	Kind             RefundKind   `json:"kind"`
	PlatformStatus   string       `json:"platform_status"`
	Status           RefundStatus `json:"status"`
	Reason           string       `json:"reason"`
	Description      string       `json:"description,omitempty"`
	Quantity         int64        `json:"quantity"`
	Amount           int64        `json:"amount"` // refund amount, fen
	ReturnCarrier    string       `json:"return_carrier,omitempty"`
	ReturnTrackingNo string       `json:"return_tracking_no,omitempty"`
	GoodsShipped     bool         `json:"goods_shipped"` // whether the seller had shipped when it was asked
	// Exchange is what the buyer asked to get instead (exchanges only).
	Exchange *ExchangeWant `json:"exchange,omitempty"`
	// ReplacementCarrier and ReplacementTrackingNo are the parcel the
	// seller sent for an exchange or a reship, once the platform has it.
	ReplacementCarrier    string          `json:"replacement_carrier,omitempty"`
	ReplacementTrackingNo string          `json:"replacement_tracking_no,omitempty"`
	CreatedAt             time.Time       `json:"created_at"`
	ModifiedAt            time.Time       `json:"modified_at"`
	Raw                   json.RawMessage `json:"raw,omitempty"`
}

// ExchangeWant is the platform SKU an exchange asks for.
type ExchangeWant struct {
	PlatformItemID string `json:"platform_item_id,omitempty"`
	PlatformSKUID  string `json:"platform_sku_id"`
	OuterSKUID     string `json:"outer_sku_id,omitempty"` // the merchant's SKU code, when the platform gives it
	Quantity       int64  `json:"quantity,omitempty"`
}

// RefundQuery asks for after-sales cases modified within [Start, End).
// Connectors page with Cursor (opaque; empty for the first page).
type RefundQuery struct {
	Start, End time.Time
	Cursor     string
	PageSize   int
}

// RefundPage is one page of refunds.
type RefundPage struct {
	Refunds    []Refund
	NextCursor string
}

// RefundPuller reads after-sales cases: incrementally by modification time
// (the safety net behind refund messages, like OrderPuller for orders) and
// one by id.
type RefundPuller interface {
	// RefundPullLimits are the limits PullRefunds callers keep to: windows
	// no longer than MaxWindow, pages no larger than MaxPageSize.
	RefundPullLimits() PullLimits
	PullRefunds(ctx context.Context, s Session, q RefundQuery) (RefundPage, error)
	GetRefund(ctx context.Context, s Session, platformRefundID string) (Refund, error)
}

// RefundDecision is the seller's answer to an after-sales case.
type RefundDecision struct {
	PlatformRefundID string `json:"platform_refund_id"`
	Action           string `json:"action"` // agree, refuse, confirm_receipt, ship_replacement
	Reason           string `json:"reason,omitempty"`
	// ReturnAddress for agreeing to a return (the warehouse's).
	ReturnAddress *Address `json:"return_address,omitempty"`
	// CarrierCode (OmniHub's code, as in Shipment) and TrackingNo of the
	// replacement parcel (ship_replacement).
	CarrierCode string `json:"carrier_code,omitempty"`
	TrackingNo  string `json:"tracking_no,omitempty"`
}

// Refund decision actions.
const (
	RefundAgree          = "agree"
	RefundRefuse         = "refuse"
	RefundConfirmReceipt = "confirm_receipt"
	// RefundShipReplacement reports the parcel of an exchange's new goods
	// or of a reship (the seller has the returned goods, for exchanges).
	RefundShipReplacement = "ship_replacement"
)

// RefundResponder sends the seller's decisions back to the platform.
type RefundResponder interface {
	AnswerRefund(ctx context.Context, s Session, d RefundDecision) error
}

// TokenRefresher renews a shop's access token before it expires.
type TokenRefresher interface {
	RefreshToken(ctx context.Context, c Credentials) (Credentials, error)
}

// Registry holds one connector per platform.
type Registry struct{ byPlatform map[Platform]Connector }

// NewRegistry returns a registry of the given connectors.
func NewRegistry(conns ...Connector) *Registry {
	r := &Registry{byPlatform: map[Platform]Connector{}}
	for _, c := range conns {
		r.byPlatform[c.Platform()] = c
	}
	return r
}

// Get returns the connector of a platform.
func (r *Registry) Get(p Platform) (Connector, bool) {
	c, ok := r.byPlatform[p]
	return c, ok
}

// Platforms lists the registered platforms.
func (r *Registry) Platforms() []Platform {
	out := make([]Platform, 0, len(r.byPlatform))
	for p := range r.byPlatform {
		out = append(out, p)
	}
	return out
}

// Has reports whether a platform has a connector.
func (r *Registry) Has(p Platform) bool { _, ok := r.byPlatform[p]; return ok }
