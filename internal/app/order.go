package app

import (
	"context"
	"net/http"

	"omnihub/auth"
	"omnihub/inventory"
	"omnihub/order"
	"omnihub/store"
)

// wireOrders builds the order service and its routes. Stock and SKU
// resolution are connected by ConnectOrders once inventory and catalog are
// built (they share their service instances and hooks with other modules);
// until then orders are audited and routed but approved without reservation.
func (a *App) wireOrders() {
	a.Orders = order.New(a.DB, order.Options{Logger: a.Log})
	a.Orders.Register(a.API, order.HTTPOptions{Caller: func(r *http.Request) (string, bool) {
		return auth.ActorFrom(r.Context()), auth.Can(r.Context(), order.PermPII)
	}})
}

// ConnectOrders gives the order module the shared inventory service and the
// catalog's SKU resolver (catalog.Service satisfies order.SKUResolver). Set
// catalog's OnBound hook to a.OrdersOnBound so that binding a platform SKU
// releases the orders waiting for it.
func (a *App) ConnectOrders(inv *inventory.Service, resolver order.SKUResolver) {
	if inv != nil {
		a.Orders.SetStock(OrderStock(inv))
	}
	if resolver != nil {
		a.Orders.SetResolver(resolver)
	}
}

// OrdersOnBound is catalog's OnBound hook: replays, in the binding's
// transaction, the orders waiting in the exception queue for that SKU.
func (a *App) OrdersOnBound(ctx context.Context, tx store.Tx, shopID, platformSKUID, skuID string) error {
	_, err := a.Orders.ReplayUnbound(ctx, tx, shopID, platformSKUID)
	return err
}

// OrderStock adapts inventory to order.StockReserver: an order line is the
// inventory document line {"order", orderID, lineNo}.
func OrderStock(inv *inventory.Service) order.StockReserver { return orderStock{inv} }

type orderStock struct{ inv *inventory.Service }

func (s orderStock) ReserveTx(ctx context.Context, tx store.Tx, lines []order.StockLine) error {
	rl := make([]inventory.ReserveLine, len(lines))
	for i, l := range lines {
		rl[i] = inventory.ReserveLine{Doc: inventory.DocRef{Type: "order", ID: l.OrderID, Line: l.LineNo}, WarehouseID: l.WarehouseID, SKUID: l.SKUID, Qty: l.Qty}
	}
	return s.inv.ReserveTx(ctx, tx, rl)
}

func (s orderStock) ReleaseTx(ctx context.Context, tx store.Tx, orderID string) error {
	return s.inv.ReleaseTx(ctx, tx, "order", orderID)
}

func (s orderStock) ShipTx(ctx context.Context, tx store.Tx, orderID string) error {
	return s.inv.ShipTx(ctx, tx, "order", orderID)
}

func (s orderStock) Available(ctx context.Context, warehouseID, skuID string) (int64, error) {
	return s.inv.Available(ctx, warehouseID, skuID)
}
