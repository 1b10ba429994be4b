package app

import (
	"context"

	"omnihub/errs"
	"omnihub/inventory"
)

// wireInventory builds the inventory service and its routes. Bundles expand
// and stock sheets resolve SKU codes through the catalog when it is wired;
// orders reserve through this service (ConnectOrders). The sync engine
// installs its push hook with a.Inventory.SetOnMarked when it is wired.
func (a *App) wireInventory() {
	a.Inventory = inventory.New(a.DB, inventory.Options{})
	if a.Catalog != nil {
		a.Inventory.SetBundles(CatalogBundles(a.Catalog))
		a.Inventory.SetSKUByCode(func(ctx context.Context, code string) (string, bool, error) {
			k, err := a.Catalog.SKUByCode(ctx, code)
			if errs.Is(err, errs.NotFound) {
				return "", false, nil
			}
			return k.ID, err == nil, err
		})
	}
	a.Inventory.Routes(a.API)
	if a.Orders != nil {
		a.ConnectOrders(a.Inventory, nil)
	}
}
