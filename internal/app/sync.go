package app

import (
	"context"
	"net/url"

	"omnihub/aftersales"
	"omnihub/catalog"
	"omnihub/channel"
	"omnihub/channel/douyin"
	"omnihub/channel/taobao"
	"omnihub/errs"
	"omnihub/inventory"
	"omnihub/order"
	"omnihub/secrets"
	"omnihub/shop"
	"omnihub/store"
	syncer "omnihub/sync"
)

// Connectors builds the connector of a platform for a gateway URL (empty:
// the platform's production gateway). A shop's base URL points at a sandbox
// or a simulator; for Taobao the OAuth endpoint is then /token on the same
// host, as the simulator serves it.
func Connectors(p channel.Platform, baseURL string) (channel.Connector, error) {
	switch p {
	case channel.Taobao:
		o := taobao.Options{BaseURL: baseURL}
		if baseURL != "" {
			if u, err := url.Parse(baseURL); err == nil {
				u.Path, u.RawQuery = "/token", ""
				o.TokenURL = u.String()
			}
		}
		return taobao.New(o), nil
	case channel.Douyin:
		return douyin.New(douyin.Options{BaseURL: baseURL}), nil
	}
	return nil, errs.E(errs.Invalid, "no connector for platform %q (have taobao, douyin)", p)
}

// KnownPlatform reports whether OmniHub has a connector for p.
func KnownPlatform(p channel.Platform) bool { return p == channel.Taobao || p == channel.Douyin }

// wireShops opens the credential key and builds the shop service.
func (a *App) wireShops() error {
	key, err := secrets.LoadKey(a.Config.SecretKey, a.Config.SecretKeyPath())
	if err != nil {
		return err
	}
	box, err := secrets.New(key)
	if err != nil {
		return err
	}
	// Resuming a paused shop schedules, in the same transaction, a
	// reconciliation (its stock marks were acknowledged without a push
	// while it was paused) and the processing of the messages it received
	// meanwhile (syncer.ResumeTx).
	a.Shops = shop.NewService(a.DB, box, shop.Options{KnownPlatform: KnownPlatform, OnResumeTx: syncer.ResumeTx})
	a.Shops.Register(a.API)
	return nil
}

// wireSync builds the sync engine over the domain services, registers its
// workers, periodic jobs and routes, and connects inventory's push marks,
// catalog bindings, order ingest and after-sales to it.
func (a *App) wireSync(opts Options) {
	var hooks []syncer.Webhook
	for _, h := range a.Config.Alerts.Webhooks {
		hooks = append(hooks, syncer.Webhook{Kind: syncer.WebhookKind(h.Kind), URL: h.URL, Secret: h.Secret})
	}
	cfg := syncer.Config{Alerts: syncer.AlertConfig{Webhooks: hooks},
		TickEvery: a.Config.Sync.Tick, ReconcileEvery: a.Config.Sync.ReconcileEvery}
	if opts.SyncTick > 0 {
		cfg.TickEvery = opts.SyncTick
	}
	cfg.PlatformRate = a.Config.Sync.PlatformRate
	r := a.Config.Sync.Retention
	cfg.Retention = syncer.RetentionConfig{Messages: r.Messages, PushLog: r.PushLog, Reports: r.Reports}
	if opts.SyncPlatformRate > 0 {
		cfg.PlatformRate = opts.SyncPlatformRate
	}
	a.Sync = syncer.New(cfg, syncer.Deps{
		DB: a.DB, Shops: a.Shops, Connectors: Connectors,
		Orders:    orderSink{a.Orders},
		Stock:     stockSource{a.Inventory},
		Listings:  listingIndex{a.Catalog},
		Refunds:   a.refundSink(),
		Metrics:   syncer.NewMetrics(a.Registry),
		Log:       a.Log.With("module", "sync"),
		ProcessID: opts.ProcessID, OnPropagation: opts.OnPropagation,
	})
	a.Sync.Register(a.DB.Jobs())
	a.Sync.Routes(a.API, a.Config.HTTP.MaxBodyBytes)
}

type orderSink struct{ o *order.Service }

func (s orderSink) Ingest(ctx context.Context, shopID string, o channel.Order) (bool, error) {
	r, err := s.o.Ingest(ctx, shopID, o)
	if err != nil {
		return false, err
	}
	return r.Outcome == order.Created, r.Err
}

func (s orderSink) IngestBatch(ctx context.Context, shopID string, os []channel.Order) ([]syncer.IngestOutcome, error) {
	rs, err := s.o.IngestBatch(ctx, shopID, os)
	if err != nil {
		return nil, err
	}
	out := make([]syncer.IngestOutcome, len(rs))
	for i, r := range rs {
		out[i] = syncer.IngestOutcome{Created: r.Outcome == order.Created, Err: r.Err}
	}
	return out, nil
}

type stockSource struct{ inv *inventory.Service }

func (s stockSource) PendingPushes(ctx context.Context, shopID string, limit int) ([]syncer.PushMark, error) {
	marks, err := s.inv.PendingPushes(ctx, shopID, limit)
	if err != nil {
		return nil, err
	}
	out := make([]syncer.PushMark, len(marks))
	for i, m := range marks {
		out[i] = syncer.PushMark{SKUID: m.SKUID, Sellable: m.Sellable, Version: m.Version, MarkedAt: m.MarkedAt}
	}
	return out, nil
}

func (s stockSource) AckPush(ctx context.Context, shopID, skuID string, version int64) error {
	return s.inv.AckPush(ctx, shopID, skuID, version)
}

// AckPushesTx acknowledges a push round's SKUs in the engine's transaction.
func (s stockSource) AckPushesTx(ctx context.Context, tx store.Tx, shopID string, acks []syncer.PushAck) error {
	in := make([]inventory.PushAck, len(acks))
	for i, a := range acks {
		in[i] = inventory.PushAck{SKUID: a.SKUID, Version: a.Version}
	}
	return s.inv.AckPushesTx(ctx, tx, shopID, in)
}

func (s stockSource) Sellable(ctx context.Context, shopID, skuID string) (int64, error) {
	return s.inv.Sellable(ctx, shopID, skuID)
}

type listingIndex struct{ c *catalog.Service }

// BindingsForSKUs answers a push cycle's SKUs in one query.
func (l listingIndex) BindingsForSKUs(ctx context.Context, shopID string, skuIDs []string) (map[string][]syncer.Binding, error) {
	bySKU, err := l.c.BindingsForSKUs(ctx, shopID, skuIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]syncer.Binding, len(bySKU))
	for sku, bs := range bySKU {
		conv := make([]syncer.Binding, len(bs))
		for i, b := range bs {
			conv[i] = syncer.Binding{SKUID: b.SKUID, PlatformItemID: b.PlatformItemID, PlatformSKUID: b.PlatformSKUID}
		}
		out[sku] = conv
	}
	return out, nil
}

// SKUForListing binds by the merchant's code on the platform (商家编码) the
// first time a listing is seen, exactly as an order line would.
func (l listingIndex) SKUForListing(ctx context.Context, shopID string, li channel.Listing) (string, bool, error) {
	return l.c.Resolve(ctx, shopID, li.PlatformItemID, li.PlatformSKUID, li.OuterID)
}

// refundSink feeds platform refunds (Taobao refunds, Douyin after-sales) to
// after-sales, which opens or advances the case and, in the same
// transaction, moves the order (refunding, partially refunded, refunded,
// cancelled) and its stock. A refund of an order not ingested yet fails as
// errs.Unavailable and the sync engine's job retries it.
func (a *App) refundSink() syncer.RefundSink {
	if a.Aftersales == nil || a.orderEffects() == nil {
		return nil
	}
	return refundSink{a.Aftersales}
}

type refundSink struct{ s *aftersales.Service }

func (r refundSink) Apply(ctx context.Context, shopID string, rf channel.Refund) error {
	_, err := r.s.Apply(ctx, shopID, rf)
	return err
}

// syncResponder sends after-sales decisions through the sync engine (built
// after after-sales, hence the indirection).
type syncResponder struct{ a *App }

func (r syncResponder) Respond(ctx context.Context, shopID string, d channel.RefundDecision) error {
	return r.a.Sync.Respond(ctx, shopID, d)
}

// orderEffects is the order module as after-sales sees it (order.Service
// implements aftersales.OrderEffects); nil until orders are wired.
func (a *App) orderEffects() aftersales.OrderEffects {
	if a.Orders == nil {
		return nil
	}
	return a.Orders
}
