package app

import (
	"context"

	"omnihub/catalog"
	"omnihub/inventory"
	"omnihub/store"
)

// wireCatalog builds the catalog service and its routes. When orders are
// wired, binding a listing replays the orders waiting for it (OnBound) and
// order ingestion resolves platform lines through the catalog.
func (a *App) wireCatalog() {
	a.Catalog = catalog.New(a.DB, catalog.Options{})
	a.Catalog.Routes(a.API)
	if a.Orders != nil {
		a.Catalog.SetOnBound(a.OrdersOnBound)
		a.Orders.SetResolver(OrderResolver(a.Catalog))
	}
}

// CatalogBundles adapts the catalog to inventory.BundleResolver, so that
// inventory expands bundles into their components:
// inv.SetBundles(app.CatalogBundles(a.Catalog)).
func CatalogBundles(c *catalog.Service) inventory.BundleResolver { return catalogBundles{c} }

type catalogBundles struct{ c *catalog.Service }

func (b catalogBundles) ComponentsTx(ctx context.Context, tx store.Tx, skuID string) ([]inventory.Component, bool, error) {
	comps, isBundle, err := b.c.ComponentsTx(ctx, tx, skuID)
	if err != nil || !isBundle {
		return nil, isBundle, err
	}
	out := make([]inventory.Component, len(comps))
	for i, c := range comps {
		out[i] = inventory.Component{SKUID: c.SKUID, Qty: c.Qty}
	}
	return out, true, nil
}

func (b catalogBundles) BundlesContainingTx(ctx context.Context, tx store.Tx, skuID string) ([]string, error) {
	return b.c.BundlesContainingTx(ctx, tx, skuID)
}
