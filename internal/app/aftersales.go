package app

import (
	"context"

	"omnihub/aftersales"
	"omnihub/aftersales/aftersalesapi"
	"omnihub/channel"
	"omnihub/config"
	"omnihub/inventory"
	"omnihub/store"
)

// AftersalesDeps are the after-sales module's collaborators. Stock and
// Orders are required for cases to move (while nil, the steps that need
// them fail as Unavailable rather than skip an effect); Responder is what
// aftersales_respond jobs answer the platforms through (while nil, those
// jobs fail and are retried, then dead-lettered).
type AftersalesDeps struct {
	Stock              aftersales.StockEffects // AftersalesStock(inventory service)
	Orders             aftersales.OrderEffects // the order service (it implements the interface)
	Responder          aftersales.Responder    // the sync engine (syncResponder): rate limits, session refresh, pause
	DefaultWarehouseID string
	// ReturnAddress goes with agreements to returns and exchanges
	// (config aftersales.return_address; ReturnAddress converts it).
	ReturnAddress *channel.Address
	// SKUs resolves the SKU a platform exchange asks for (the catalog).
	SKUs aftersales.SKUResolver
}

// ReturnAddress converts the configured return address (nil when none is
// configured).
func ReturnAddress(a config.Address) *channel.Address {
	if a.IsZero() {
		return nil
	}
	return &channel.Address{Name: a.Name, Phone: a.Phone, Province: a.Province, City: a.City, District: a.District,
		Town: a.Town, Detail: a.Detail, Zip: a.Zip}
}

// wireAftersales builds the after-sales service, its routes and its job worker.
func (a *App) wireAftersales(d AftersalesDeps) {
	a.Aftersales = aftersales.NewService(a.DB, aftersales.Options{
		Stock: d.Stock, Orders: d.Orders, DefaultWarehouseID: d.DefaultWarehouseID, ReturnAddress: d.ReturnAddress, SKUs: d.SKUs,
	})
	aftersalesapi.Register(a.API, a.Aftersales, aftersalesapi.Options{})
	aftersales.RegisterWorkers(a.DB.Jobs().Workers(), aftersales.WorkerDeps{DB: a.DB, Responder: d.Responder})
}

// AftersalesStock adapts the inventory service to aftersales.StockEffects
// (same operations; the document and reservation types differ only by package).
func AftersalesStock(inv *inventory.Service) aftersales.StockEffects { return stockAdapter{inv} }

type stockAdapter struct{ inv *inventory.Service }

func invDoc(d aftersales.DocRef) inventory.DocRef {
	return inventory.DocRef{Type: d.Type, ID: d.ID, Line: d.Line}
}

func (s stockAdapter) ReleaseTx(ctx context.Context, tx store.Tx, docType, docID string) error {
	return s.inv.ReleaseTx(ctx, tx, docType, docID)
}

func (s stockAdapter) ReleaseLineTx(ctx context.Context, tx store.Tx, d aftersales.DocRef, qty int64) error {
	return s.inv.ReleaseLineTx(ctx, tx, invDoc(d), qty)
}

func (s stockAdapter) RestockTx(ctx context.Context, tx store.Tx, d aftersales.DocRef, wh, sku string, qty int64, defective bool) error {
	return s.inv.RestockTx(ctx, tx, invDoc(d), wh, sku, qty, defective)
}

func (s stockAdapter) ReserveTx(ctx context.Context, tx store.Tx, lines []aftersales.ReserveLine) error {
	out := make([]inventory.ReserveLine, len(lines))
	for i, l := range lines {
		out[i] = inventory.ReserveLine{Doc: invDoc(l.Doc), WarehouseID: l.WarehouseID, SKUID: l.SKUID, Qty: l.Qty}
	}
	return s.inv.ReserveTx(ctx, tx, out)
}

func (s stockAdapter) ShipTx(ctx context.Context, tx store.Tx, docType, docID string) error {
	return s.inv.ShipTx(ctx, tx, docType, docID)
}
