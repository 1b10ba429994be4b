package app

import (
	"context"
	"net/http"
	"sync"
	"time"

	"omnihub/auth"
	"omnihub/catalog"
	"omnihub/inventory"
	"omnihub/order"
	"omnihub/store"
)

// wireOrders builds the order service and its routes. Stock and SKU
// resolution are connected by ConnectOrders once inventory and catalog are
// built (they share their service instances and hooks with other modules);
// until then orders are audited and routed but approved without reservation.
func (a *App) wireOrders() {
	// Order actions are audited through auth.AuditTx, so a request that
	// makes one leaves exactly that row (not the middleware's fallback too).
	a.Orders = order.New(a.DB, order.Options{Logger: a.Log, AuditTx: AuditTx})
	a.Orders.Register(a.API, order.HTTPOptions{Caller: func(r *http.Request) (string, bool) {
		return auth.ActorFrom(r.Context()), auth.Can(r.Context(), order.PermPII)
	}})
}

// ConnectOrders gives the order module the shared inventory service (stock
// reservation, the active warehouses and their stock for routing orders no
// rule routes, and the check of routing rule targets) and the catalog (SKU
// resolution, weights and kinds for courier rules). Also set catalog's
// OnBound hook to a.OrdersOnBound so that binding a platform SKU releases
// the orders waiting for it:
//
//	a.ConnectOrders(a.Inventory, a.Catalog)
//	a.Catalog.SetOnBound(a.OrdersOnBound)
func (a *App) ConnectOrders(inv *inventory.Service, cat *catalog.Service) {
	if inv != nil {
		a.Orders.SetStock(OrderStock(inv))
		a.Orders.SetWarehouses(OrderWarehouses(inv))
		a.Orders.SetWarehouseLookup(func(ctx context.Context, idOrCode string) (string, error) {
			w, err := inv.Warehouse(ctx, idOrCode)
			return w.ID, err
		})
	}
	if cat != nil {
		a.Orders.SetResolver(OrderResolver(cat))
		a.Orders.SetSKUInfo(OrderSKUInfo(cat))
	}
}

// OrdersOnBound is catalog's OnBound hook: replays, in the binding's
// transaction, the orders waiting in the exception queue for that SKU.
func (a *App) OrdersOnBound(ctx context.Context, tx store.Tx, shopID, platformSKUID, skuID string) error {
	_, err := a.Orders.ReplayUnbound(ctx, tx, shopID, platformSKUID)
	return err
}

// OrderWarehouses adapts inventory to order.WarehouseSource: the active
// warehouses with their priority and provinces, and their stock.
func OrderWarehouses(inv *inventory.Service) order.WarehouseSource { return orderWarehouses{inv} }

type orderWarehouses struct{ inv *inventory.Service }

func (w orderWarehouses) ActiveWarehousesTx(ctx context.Context, tx store.Tx) ([]order.WarehouseRoute, error) {
	ws, err := w.inv.ActiveWarehousesTx(ctx, tx)
	if err != nil {
		return nil, err
	}
	out := make([]order.WarehouseRoute, len(ws))
	for i, x := range ws {
		out[i] = order.WarehouseRoute{ID: x.ID, Priority: x.Priority, Provinces: x.Provinces}
	}
	return out, nil
}

func (w orderWarehouses) AvailableTx(ctx context.Context, tx store.Tx, warehouseIDs, skuIDs []string) (map[string]map[string]int64, error) {
	return w.inv.AvailableTx(ctx, tx, warehouseIDs, skuIDs)
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

// OrderSKUInfo gives courier and split rules the catalog's weight and kind
// of a SKU (Type is the "type" attribute, else the kind; Presale is the
// "presale" attribute = "true"). Lookups are cached for a minute: rules run
// on every paid order.
func OrderSKUInfo(cat *catalog.Service) order.SKUInfoFunc {
	type entry struct {
		info order.SKUInfo
		ok   bool
		at   time.Time
	}
	var mu sync.Mutex
	cache := map[string]entry{}
	return func(ctx context.Context, q store.Querier, skuID string) (order.SKUInfo, bool) {
		mu.Lock()
		e, hit := cache[skuID]
		mu.Unlock()
		if hit && time.Since(e.at) < time.Minute {
			return e.info, e.ok
		}
		s, err := cat.GetSKUIn(ctx, q, skuID)
		e = entry{at: time.Now(), ok: err == nil}
		if err == nil {
			t := s.Attributes["type"]
			if t == "" {
				t = string(s.Kind)
			}
			e.info = order.SKUInfo{WeightGrams: s.WeightG, Type: t, Presale: s.Attributes["presale"] == "true"}
		}
		mu.Lock()
		if len(cache) > 100_000 {
			cache = map[string]entry{}
		}
		cache[skuID] = e
		mu.Unlock()
		return e.info, e.ok
	}
}

// OrderResolver adapts the catalog to order.SKUBatchResolver, so that an
// order batch resolves its lines' SKUs in one query rather than one per
// listing.
func OrderResolver(cat *catalog.Service) order.SKUBatchResolver { return orderResolver{cat} }

type orderResolver struct{ *catalog.Service }

func (r orderResolver) ResolveManyTx(ctx context.Context, tx store.Tx, shopID string, refs []order.ListingRef) (map[order.ListingRef]string, error) {
	in := make([]catalog.ListingRef, len(refs))
	for i, x := range refs {
		in[i] = catalog.ListingRef(x)
	}
	got, err := r.Service.ResolveManyTx(ctx, tx, shopID, in)
	if err != nil {
		return nil, err
	}
	out := make(map[order.ListingRef]string, len(got))
	for k, v := range got {
		out[order.ListingRef(k)] = v
	}
	return out, nil
}
