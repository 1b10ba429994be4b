// Package catalog owns OmniHub's product master data: products (SPU), SKUs
// with their codes, barcodes, spec attributes, prices, weights and images,
// bundles (组合装, a SKU made of component SKUs) and the channel listing
// bindings that map a shop's platform item/SKU to an internal SKU.
//
// Other modules see the catalog through a few transaction-scoped calls:
// inventory expands bundles with ComponentsTx and BundlesContainingTx, and
// order ingestion maps platform lines to SKUs with ResolveTx (binding first,
// then the seller's outer code 商家编码, which creates the binding). Bulk
// maintenance goes through Import and Export (.xlsx and .csv, see package
// sheet), which validate the whole sheet and write nothing when any row is bad.
//
// Money is integer fen with a currency code; quantities, weights (g) and
// volumes (cm³) are integers.
package catalog

import (
	"context"
	"sync"
	"time"

	"omnihub/store"
)

// Status of a product or SKU. Inactive SKUs are kept (orders and stock refer
// to them) but are not offered for new listings.
type Status string

const (
	Active   Status = "active"
	Inactive Status = "inactive"
)

// Kind of SKU.
type Kind string

const (
	// Simple is a physical SKU with its own stock.
	Simple Kind = "simple"
	// Bundle (组合装) has no stock of its own: it is made of components, and
	// its availability derives from theirs.
	Bundle Kind = "bundle"
)

// Product is a SPU: what the SKUs of one style share.
type Product struct {
	ID        string    `json:"id"`
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	Category  string    `json:"category,omitempty"`
	Brand     string    `json:"brand,omitempty"`
	Images    []string  `json:"images"`
	Status    Status    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ProductInput creates or replaces a product.
type ProductInput struct {
	Code     string   `json:"code"`
	Name     string   `json:"name"`
	Category string   `json:"category,omitempty"`
	Brand    string   `json:"brand,omitempty"`
	Images   []string `json:"images,omitempty"`
	Status   Status   `json:"status,omitempty"` // default active
}

// Component is one part of a bundle: Qty units of SKUID per bundle unit.
type Component struct {
	SKUID string `json:"sku_id"`
	Qty   int64  `json:"qty"`
}

// SKU is a sellable unit.
type SKU struct {
	ID        string `json:"id"`
	ProductID string `json:"product_id,omitempty"`
	Code      string `json:"code"`
	Barcode   string `json:"barcode,omitempty"`
	Name      string `json:"name"`
	Kind      Kind   `json:"kind"`
	// Attributes are spec values such as colour and size.
	Attributes   map[string]string `json:"attributes"`
	CostFen      int64             `json:"cost_fen"`
	PriceFen     int64             `json:"price_fen"`
	ListPriceFen int64             `json:"list_price_fen"`
	Currency     string            `json:"currency"`
	WeightG      int64             `json:"weight_g"`
	VolumeCm3    int64             `json:"volume_cm3"`
	Images       []string          `json:"images"`
	Status       Status            `json:"status"`
	// Components of a bundle (empty for simple SKUs).
	Components []Component `json:"components,omitempty"`
	CreatedAt  time.Time   `json:"created_at"`
	UpdatedAt  time.Time   `json:"updated_at"`
}

// SKUInput creates or replaces a SKU.
type SKUInput struct {
	ProductID    string            `json:"product_id,omitempty"`
	Code         string            `json:"code"`
	Barcode      string            `json:"barcode,omitempty"`
	Name         string            `json:"name"`
	Kind         Kind              `json:"kind,omitempty"` // default simple
	Attributes   map[string]string `json:"attributes,omitempty"`
	CostFen      int64             `json:"cost_fen"`
	PriceFen     int64             `json:"price_fen"`
	ListPriceFen int64             `json:"list_price_fen"`
	Currency     string            `json:"currency,omitempty"` // default CNY
	WeightG      int64             `json:"weight_g"`
	VolumeCm3    int64             `json:"volume_cm3"`
	Images       []string          `json:"images,omitempty"`
	Status       Status            `json:"status,omitempty"` // default active
	// Components are required for bundles and forbidden otherwise.
	Components []Component `json:"components,omitempty"`
}

// Binding maps a shop's platform listing to an internal SKU.
type Binding struct {
	ShopID         string `json:"shop_id"`
	PlatformItemID string `json:"platform_item_id"`
	// PlatformSKUID is empty for single-spec items without platform SKUs.
	PlatformSKUID string `json:"platform_sku_id"`
	SKUID         string `json:"sku_id"`
	// OuterCode is the seller's code on the platform (商家编码) when known.
	OuterCode string `json:"outer_code,omitempty"`
	// Source is "manual" (Bind) or "auto" (ResolveTx matched the outer code).
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Binding sources.
const (
	SourceManual = "manual"
	SourceAuto   = "auto"
)

// OnBoundFunc is called inside the transaction that created or changed a
// binding, so that work waiting on it (orders parked for an unknown SKU)
// can be replayed atomically with the binding.
type OnBoundFunc func(ctx context.Context, tx store.Tx, shopID, platformSKUID, skuID string) error

// Options configure a Service.
type Options struct {
	// OnBound, when set, is called in every transaction that binds a
	// listing (Bind, and ResolveTx when it auto-binds by outer code).
	OnBound OnBoundFunc
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Service is the catalog module.
type Service struct {
	db   store.DB
	opts Options
	// simple remembers SKU ids known to be simple (see ComponentsTx).
	simple sync.Map
}

// New returns the catalog service over db.
func New(db store.DB, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Service{db: db, opts: opts}
}

// SetOnBound installs the binding hook after construction (the app wires
// order ingestion once both services exist). Call it before serving.
func (s *Service) SetOnBound(fn OnBoundFunc) { s.opts.OnBound = fn }

// DB is the database the service works on.
func (s *Service) DB() store.DB { return s.db }

func (s *Service) now() time.Time { return store.UTC(s.opts.Now()) }
