package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"

	"omnihub/auth"
	"omnihub/bench"
	"omnihub/catalog"
	"omnihub/channel"
	"omnihub/channel/douyin/douyinsim"
	"omnihub/channel/taobao/taobaosim"
	"omnihub/config"
	"omnihub/ids"
	"omnihub/internal/app"
	"omnihub/inventory"
	"omnihub/shop"
	"omnihub/store/postgres"
)

// Stock propagation benchmark ("omnihub bench propagation").
//
// Shops on in-process Taobao and Douyin simulators carry one catalog; a
// driver changes stock through the inventory service at a fixed rate, and
// every stock API call that reaches a simulator is logged with its arrival
// time and quantity. Each change's delay is measured against that ground
// truth, not against the engine's own report: the time from the change
// (the driver's call into inventory) to the API call, on the last of the
// shops, that first carries a value reflecting it.
//
// To know which change a pushed quantity reflects, the driver serialises
// the changes of each SKU and walks its available stock through values
// that never repeat and are at least 4 apart (receive +12, adjust −4, …);
// with every shop's ratio ≥ 25% and a fixed safety stock, each shop's
// policy value then identifies the state exactly. A call carrying a value
// that was never a policy value, or an older state after a newer one, is a
// violation.

// PropagationOptions shape a propagation run. Zero values take defaults.
type PropagationOptions struct {
	TaobaoShops, DouyinShops int // default 5 and 5
	// Products × SKUsPerProduct is the catalog bound on every shop
	// (default 20 × 10).
	Products, SKUsPerProduct int
	// Rate is inventory changes per second (default 1000).
	Rate int
	// Duration of the driven phase (default 30s).
	Duration time.Duration
	// Drivers is the number of concurrent callers into inventory (default 8).
	Drivers int
	// ShopStockRate is each shop's stock API calls per second (shop
	// setting; default 1000). SharedApp puts all shops of a platform on
	// one app key (one per-platform-app limiter); otherwise each shop has
	// its own app.
	ShopStockRate float64
	SharedApp     bool
	// PlatformRate is the sync engine's calls per second per platform app
	// (0: the engine's default, 50).
	PlatformRate float64
	// Settle bounds the wait for every channel to converge (default 60s).
	Settle time.Duration
	Seed   uint64
	// Progress receives human-readable progress lines (nil: none).
	Progress io.Writer
}

func (o PropagationOptions) withDefaults() PropagationOptions {
	if o.TaobaoShops == 0 && o.DouyinShops == 0 {
		o.TaobaoShops, o.DouyinShops = 5, 5
	}
	if o.Products <= 0 {
		o.Products = 20
	}
	if o.SKUsPerProduct <= 0 {
		o.SKUsPerProduct = 10
	}
	if o.Rate <= 0 {
		o.Rate = 1000
	}
	if o.Duration <= 0 {
		o.Duration = 30 * time.Second
	}
	if o.Drivers <= 0 {
		o.Drivers = 8
	}
	if o.ShopStockRate <= 0 {
		o.ShopStockRate = 1000
	}
	if o.Settle <= 0 {
		o.Settle = 60 * time.Second
	}
	if o.Seed == 0 {
		o.Seed = 20261111
	}
	return o
}

// PropagationReport is what a propagation run measured.
type PropagationReport struct {
	Shops, SKUs int
	Changes     int           // inventory changes made
	Elapsed     time.Duration // of the driven phase
	ChangeP50   time.Duration // one change's own call into inventory (commit included)
	ChangeP99   time.Duration
	// Delay: change → the last shop's API call carrying it.
	DelayP50, DelayP95, DelayP99, DelayMax time.Duration
	// Calls are SKU quantities set by stock API calls accepted by the
	// simulators during the driven phase and until convergence (a batch
	// call counts each of its SKUs); APICalls are those calls themselves.
	// Marks are (shop, SKU) values the changes produced (every change
	// moves every shop's value).
	Calls, APICalls, Marks int
	CallsPerSec            float64
	// Engine is the sync engine's own report (sync.Deps.OnPropagation).
	EngineP50, EngineP99 time.Duration
	Settle               time.Duration // after the driven phase, until every channel showed its policy value
	Violations           []string
}

// Set records the report in a benchmark result.
func (p PropagationReport) Set(r *bench.Result) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r.Set("shops", float64(p.Shops), "")
	r.Set("skus", float64(p.SKUs), "")
	r.Set("changes", float64(p.Changes), "")
	r.Set("changes_per_sec", float64(p.Changes)/p.Elapsed.Seconds(), "/s")
	r.Set("change_commit_p50", ms(p.ChangeP50), "ms")
	r.Set("change_commit_p99", ms(p.ChangeP99), "ms")
	r.Set("propagation_p50", ms(p.DelayP50), "ms")
	r.Set("propagation_p95", ms(p.DelayP95), "ms")
	r.Set("propagation_p99", ms(p.DelayP99), "ms")
	r.Set("propagation_max", ms(p.DelayMax), "ms")
	r.Set("pushes", float64(p.Calls), "")
	r.Set("pushes_per_sec", p.CallsPerSec, "/s")
	r.Set("stock_api_calls", float64(p.APICalls), "")
	if p.Calls > 0 {
		r.Set("coalescing_ratio", float64(p.Marks)/float64(p.Calls), "marks/push")
	}
	r.Set("engine_reported_p50", ms(p.EngineP50), "ms")
	r.Set("engine_reported_p99", ms(p.EngineP99), "ms")
	r.Set("settle", p.Settle.Seconds(), "s")
	for _, v := range p.Violations {
		r.Violate("%s", v)
	}
}

// PropagationScenario is "omnihub bench propagation".
func PropagationScenario() bench.Scenario {
	return bench.Scenario{
		Name: "propagation",
		Description: "stock changes at 1,000/s across 10 Taobao and Douyin shops (200 SKUs): " +
			"delay from each change to the last channel's API call, pushes/s, coalescing, channels at policy",
		Run: func(ctx context.Context, env bench.Env, r *bench.Result) error {
			// Each shop has an app of its own with a quota of 1,000 stock
			// calls a second (the engine's default of 50 a second per app
			// caps a shop at 50 SKUs a second, far below this load).
			o := PropagationOptions{Progress: env.Log, Duration: env.Duration, Rate: env.Rate, PlatformRate: 1000, ShopStockRate: 1000}
			if env.Short && o.Duration == 0 {
				o.Duration = 3 * time.Second
			}
			cfg, cleanup, err := BenchConfig(ctx, env)
			if err != nil {
				return err
			}
			defer cleanup()
			rep, err := RunPropagation(ctx, cfg, o)
			if err != nil {
				return err
			}
			rep.Set(r)
			return nil
		},
	}
}

// BenchConfig is an OmniHub configuration on a fresh database of env's
// engine: SQLite in env.DataDir, or a new PostgreSQL schema that cleanup
// drops.
func BenchConfig(ctx context.Context, env bench.Env) (config.Config, func(), error) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(env.DataDir, "propagation-"+ids.New())
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Jobs.Workers = 16
	cfg.Jobs.BackoffBase = 100 * time.Millisecond
	cfg.Jobs.BackoffMax = 5 * time.Second
	cleanup := func() {}
	switch env.Engine {
	case "sqlite", "":
	case "postgres":
		schema := "bench_" + strings.ReplaceAll(ids.New(), "-", "")
		sep := "?"
		if strings.Contains(env.PostgresURL, "?") {
			sep = "&"
		}
		cfg.DB = env.PostgresURL + sep + "schema=" + schema
		cleanup = func() {
			c := context.WithoutCancel(ctx)
			if db, err := postgres.Open(c, postgres.Options{URL: env.PostgresURL, Schema: schema, MaxConns: 1}); err == nil {
				_ = db.DropSchema(c)
				db.Close()
			}
		}
	default:
		return cfg, nil, fmt.Errorf("unknown engine %q (sqlite or postgres)", env.Engine)
	}
	return cfg, cleanup, nil
}

// propShop is one shop of the propagation world.
type propShop struct {
	shop      shop.Shop
	ratio     int64 // policy
	safety    int64
	tb        *taobaosim.Sim
	dy        *douyinsim.Sim
	srv       *httptest.Server
	skuOf     map[string]int // platform SKU id → catalog index
	platSKU   []int64        // by catalog index
	platItem  []int64
	callIndex int // index into callLog.byShop
}

func (s *propShop) channelStock(i int) int64 {
	if s.tb != nil {
		return s.tb.Quantity(s.platItem[i], s.platSKU[i])
	}
	return s.dy.Stock(s.platSKU[i])
}

// policy is the inventory allocation formula for a pool of available units.
func (s *propShop) policy(pool int64) int64 {
	return max(0, pool-s.safety) * s.ratio / 100
}

// stockCall is one SKU quantity set by an accepted stock API call.
type stockCall struct {
	sku int
	qty int64
	at  time.Time
}

// callLog collects accepted stock calls per shop, one entry per SKU.
type callLog struct {
	mu     stdsync.Mutex
	byShop [][]stockCall
	n      atomic.Int64 // SKU entries
	api    atomic.Int64 // API calls
}

func (l *callLog) add(shopIdx, sku int, qty int64, at time.Time) {
	l.mu.Lock()
	l.byShop[shopIdx] = append(l.byShop[shopIdx], stockCall{sku, qty, at})
	l.mu.Unlock()
	l.n.Add(1)
}

// capture keeps a response's status and body for inspection.
type capture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *capture) WriteHeader(s int) { c.status = s; c.ResponseWriter.WriteHeader(s) }
func (c *capture) Write(b []byte) (int, error) {
	if c.body.Len() < 512 {
		c.body.Write(b[:min(len(b), 512)])
	}
	return c.ResponseWriter.Write(b)
}

// recordTaobao serves a Taobao simulator and logs every SKU set by an
// accepted taobao.item.quantity.update or taobao.skus.quantity.update.
func recordTaobao(sim *taobaosim.Sim, s *propShop, log *callLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		c := &capture{ResponseWriter: w, status: http.StatusOK}
		sim.ServeHTTP(c, r)
		p, _ := url.ParseQuery(string(body))
		accepted := func(key string) bool {
			return c.status == http.StatusOK && bytes.HasPrefix(c.body.Bytes(), []byte(`{"`+key+`"`))
		}
		switch {
		case p.Get("method") == "taobao.item.quantity.update" && accepted("item_quantity_update_response"):
			if i, ok := s.skuOf[p.Get("sku_id")]; ok {
				q, _ := strconv.ParseInt(p.Get("quantity"), 10, 64)
				log.add(s.callIndex, i, q, at)
			}
		case p.Get("method") == "taobao.skus.quantity.update" && accepted("skus_quantity_update_response"):
			for _, e := range strings.Split(p.Get("skuid_quantities"), ";") {
				id, qty, _ := strings.Cut(e, ":")
				if i, ok := s.skuOf[id]; ok {
					q, _ := strconv.ParseInt(qty, 10, 64)
					log.add(s.callIndex, i, q, at)
				}
			}
		default:
			return
		}
		log.api.Add(1)
	})
}

// recordDouyin serves a Douyin simulator and logs every SKU set by an
// accepted sku.syncStock or sku.syncStockBatch.
func recordDouyin(sim *douyinsim.Sim, s *propShop, log *callLog) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		c := &capture{ResponseWriter: w, status: http.StatusOK}
		sim.ServeHTTP(c, r)
		if m := r.URL.Query().Get("method"); (m != "sku.syncStock" && m != "sku.syncStockBatch") || c.status != http.StatusOK {
			return
		}
		var env struct {
			Code int `json:"code"`
		}
		if json.Unmarshal(c.body.Bytes(), &env) != nil || env.Code != 10000 {
			return
		}
		type skuStock struct {
			SKUID    json.Number `json:"sku_id"`
			StockNum int64       `json:"stock_num"` // absent: 0
		}
		var pj struct {
			skuStock
			List []skuStock `json:"sku_sync_list"`
		}
		if json.Unmarshal(body, &pj) != nil {
			return
		}
		if pj.List == nil {
			pj.List = []skuStock{pj.skuStock}
		}
		for _, k := range pj.List {
			if i, ok := s.skuOf[k.SKUID.String()]; ok {
				log.add(s.callIndex, i, k.StockNum, at)
			}
		}
		log.api.Add(1)
	})
}

// change is one driven inventory change: SKU i reached state seq at start.
type change struct {
	sku, seq int
	start    time.Time
}

// RunPropagation starts an OmniHub on cfg, builds the shops and catalog,
// drives stock changes and measures their propagation.
func RunPropagation(ctx context.Context, cfg config.Config, o PropagationOptions) (PropagationReport, error) {
	o = o.withDefaults()
	logf := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	var rep PropagationReport
	rec := NewRecorder()
	var logs lockedBuffer
	st, err := startWith(ctx, cfg, &logs, app.Options{RunWorkers: true, Migrate: true, ProcessID: app.DefaultProcessID(),
		OnPropagation: rec.Propagation, SyncPlatformRate: o.PlatformRate})
	if err != nil {
		return rep, err
	}
	defer func() {
		_ = st.Stop()
		st.App.Close()
	}()
	a := st.App

	w := &World{App: a, BaseURL: st.URL, client: &http.Client{Timeout: 30 * time.Second}}
	if _, _, err := a.Auth.CreateUser(ctx, "admin", auth.RoleAdmin, ""); err != nil {
		return rep, fmt.Errorf("create admin: %w", err)
	}
	if _, w.Token, err = a.Auth.CreateToken(ctx, "admin", "propagation", nil, 24*time.Hour); err != nil {
		return rep, fmt.Errorf("create token: %w", err)
	}
	wh, err := a.Inventory.CreateWarehouse(ctx, "HZ", "华东仓（杭州）")
	if err != nil {
		return rep, err
	}

	// Catalog: Products × SKUsPerProduct, each SKU with 1,000 units.
	const opening = 1000
	nSKU := o.Products * o.SKUsPerProduct
	codes := make([]string, nSKU)
	skuIDs := make([]string, nSKU)
	for p := range o.Products {
		prod, err := a.Catalog.CreateProduct(ctx, catalog.ProductInput{Code: fmt.Sprintf("P%03d", p), Name: fmt.Sprintf("商品 %03d", p), Category: "服装"})
		if err != nil {
			return rep, err
		}
		for v := range o.SKUsPerProduct {
			i := p*o.SKUsPerProduct + v
			codes[i] = fmt.Sprintf("P%03d-%02d", p, v)
			sku, err := a.Catalog.CreateSKU(ctx, catalog.SKUInput{ProductID: prod.ID, Code: codes[i], Name: "规格 " + codes[i],
				Attributes: map[string]string{"规格": strconv.Itoa(v)}, PriceFen: 9900, ListPriceFen: 9900, CostFen: 3000, WeightG: 200})
			if err != nil {
				return rep, err
			}
			skuIDs[i] = sku.ID
			if err := a.Inventory.Receive(ctx, inventory.DocRef{Type: "opening", ID: "OPEN", Line: i + 1}, wh.ID, sku.ID, opening); err != nil {
				return rep, err
			}
		}
	}

	// Shops, each on its own simulator behind a recording front.
	nShops := o.TaobaoShops + o.DouyinShops
	calls := &callLog{byShop: make([][]stockCall, nShops)}
	shops := make([]*propShop, nShops)
	defer func() {
		for _, s := range shops {
			if s == nil {
				continue
			}
			if s.srv != nil {
				s.srv.Close()
			}
			if s.dy != nil {
				s.dy.Close()
			}
		}
	}()
	ratios := []int64{40, 50, 60, 75, 100}
	for i := range nShops {
		s := &propShop{ratio: ratios[i%len(ratios)], safety: int64(i % 3 * 5), skuOf: map[string]int{},
			platSKU: make([]int64, nSKU), platItem: make([]int64, nSKU), callIndex: i}
		shops[i] = s
		n := shop.New{Settings: shop.Settings{PullInterval: time.Hour, PullOverlap: time.Minute, PushStock: true, StockRate: o.ShopStockRate}}
		if i < o.TaobaoShops {
			appKey := fmt.Sprintf("2300%04d", i)
			if o.SharedApp {
				appKey = "23000000"
			}
			sim := taobaosim.New(taobaosim.Options{Seed: int64(o.Seed) + int64(i), AppKey: appKey, SellerNick: fmt.Sprintf("旗舰店%d", i+1),
				SellerID: 2200000001 + int64(i), RateLimit: -1})
			s.tb = sim
			for p := range o.Products {
				spec := taobaosim.ItemSpec{Title: fmt.Sprintf("商品 %03d", p), Price: 9900, OuterID: fmt.Sprintf("P%03d", p)}
				for v := range o.SKUsPerProduct {
					spec.SKUs = append(spec.SKUs, taobaosim.SKUSpec{Properties: "规格:" + strconv.Itoa(v), Price: 9900, OuterID: codes[p*o.SKUsPerProduct+v]})
				}
				it := sim.AddItem(spec)
				for v, k := range it.SKUs {
					idx := p*o.SKUsPerProduct + v
					s.platSKU[idx], s.platItem[idx] = k.SkuID, it.NumIID
					s.skuOf[strconv.FormatInt(k.SkuID, 10)] = idx
				}
			}
			s.srv = httptest.NewServer(recordTaobao(sim, s, calls))
			c := sim.Credentials()
			n.Platform, n.Name, n.PlatformShopID, n.BaseURL = channel.Taobao, fmt.Sprintf("天猫旗舰店%d", i+1), fmt.Sprint(c.SellerID), s.srv.URL+"/router/rest"
			n.Credentials = channel.Credentials{AppKey: c.AppKey, AppSecret: c.AppSecret, AccessToken: c.Session, RefreshToken: c.RefreshToken, ExpiresAt: c.ExpiresAt}
		} else {
			j := i - o.TaobaoShops
			appKey := fmt.Sprintf("7100000000%02d", j)
			if o.SharedApp {
				appKey = "710000000000"
			}
			sim := douyinsim.New(douyinsim.Options{AppKey: appKey, AppSecret: "dy-secret-" + appKey, ShopID: 8800001 + int64(j),
				ShopName: fmt.Sprintf("抖音小店%d", j+1), Seed: o.Seed + uint64(100+j)})
			s.dy = sim
			for p := range o.Products {
				pr := douyinsim.Product{Title: fmt.Sprintf("商品 %03d", p)}
				for v := range o.SKUsPerProduct {
					pr.SKUs = append(pr.SKUs, douyinsim.SKU{Code: codes[p*o.SKUsPerProduct+v], Spec: "规格:" + strconv.Itoa(v), Price: 9900})
				}
				got := sim.AddProduct(pr)
				for v, k := range got.SKUs {
					idx := p*o.SKUsPerProduct + v
					s.platSKU[idx], s.platItem[idx] = k.SkuID, got.ProductID
					s.skuOf[strconv.FormatInt(k.SkuID, 10)] = idx
				}
			}
			s.srv = httptest.NewServer(recordDouyin(sim, s, calls))
			c := sim.Credentials()
			n.Platform, n.Name, n.PlatformShopID, n.BaseURL = channel.Douyin, fmt.Sprintf("抖音小店%d", j+1), fmt.Sprint(c.ShopID), s.srv.URL
			n.Credentials = channel.Credentials{AppKey: c.AppKey, AppSecret: c.AppSecret, AccessToken: c.AccessToken, RefreshToken: c.RefreshToken, ExpiresAt: c.ExpiresAt}
		}
		if s.shop, err = w.connect(ctx, n); err != nil {
			return rep, err
		}
		if err := w.call(ctx, "PUT", "/api/v1/inventory/policies/"+s.shop.ID, inventory.Policy{ShopID: s.shop.ID, RatioPct: s.ratio, SafetyStock: s.safety}, nil); err != nil {
			return rep, fmt.Errorf("policy for %s: %w", s.shop.Name, err)
		}
	}
	// Bind listings by 商家编码 and set every channel to its policy value.
	for _, s := range shops {
		if _, err := a.Sync.Reconcile(ctx, s.shop.ID); err != nil {
			return rep, fmt.Errorf("initial reconcile of %s: %w", s.shop.Name, err)
		}
	}
	pools := make([][]int64, nSKU) // per SKU: available stock after each state
	for i := range pools {
		pools[i] = []int64{opening}
	}
	if _, err := converge(ctx, shops, skuIDs, pools, 60*time.Second); err != nil {
		return rep, fmt.Errorf("before the run: %w", err)
	}
	logf("propagation: %d shops (%d Taobao, %d Douyin), %d SKUs bound on each, %d changes/s for %s",
		nShops, o.TaobaoShops, o.DouyinShops, nSKU, o.Rate, o.Duration)

	// Drive.
	callsBefore, apiBefore := calls.n.Load(), calls.api.Load()
	var (
		locks    = make([]stdsync.Mutex, nSKU)
		changes  = make([][]change, o.Drivers)
		commit   bench.Latencies
		next     atomic.Int64
		firstErr error
		errMu    stdsync.Mutex
		wg       stdsync.WaitGroup
	)
	start := time.Now()
	total := int64(float64(o.Rate) * o.Duration.Seconds())
	interval := time.Second / time.Duration(o.Rate)
	progCtx, stopProg := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-progCtx.Done():
				return
			case <-t.C:
				logf("  … %d changes, %d stock calls so far", min(next.Load(), total), calls.n.Load()-callsBefore)
			}
		}
	}()
	for d := range o.Drivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(o.Seed, uint64(d)))
			for {
				n := next.Add(1) - 1
				if n >= total || ctx.Err() != nil || time.Since(start) >= o.Duration {
					return // the phase ends on time even when inventory fell behind the rate
				}
				if wait := time.Until(start.Add(time.Duration(n) * interval)); wait > 0 {
					time.Sleep(wait)
				}
				i := rng.IntN(nSKU)
				locks[i].Lock()
				seq := len(pools[i])
				pool := pools[i][seq-1]
				t0 := time.Now()
				var err error
				// Receive +12, adjust −4, alternately: available stock walks
				// 1000, 1012, 1008, 1020, … (0 and 4 mod 8), never repeating
				// a value, distinct values ≥ 4 apart.
				doc := inventory.DocRef{Type: "bench", ID: fmt.Sprintf("C%d", n), Line: 1}
				if seq%2 == 1 {
					err = a.Inventory.Receive(ctx, doc, wh.ID, skuIDs[i], 12)
					pool += 12
				} else {
					delta := int64(-4)
					err = a.Inventory.Adjust(ctx, inventory.Adjustment{Doc: doc, WarehouseID: wh.ID, SKUID: skuIDs[i], Delta: &delta})
					pool -= 4
				}
				if err == nil {
					pools[i] = append(pools[i], pool)
				}
				locks[i].Unlock()
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("change %d: %w", n, err)
					}
					errMu.Unlock()
					return
				}
				commit.Add(time.Since(t0))
				changes[d] = append(changes[d], change{i, seq, t0})
			}
		}()
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	stopProg()
	if firstErr != nil {
		return rep, firstErr
	}
	for _, c := range changes {
		rep.Changes += len(c)
	}
	logf("driven: %d changes in %s (%.0f/s); waiting for every channel to show its policy value …",
		rep.Changes, rep.Elapsed.Round(time.Millisecond), float64(rep.Changes)/rep.Elapsed.Seconds())

	settleStart := time.Now()
	mismatch, err := converge(ctx, shops, skuIDs, pools, o.Settle)
	if err != nil {
		return rep, err
	}
	rep.Settle = time.Since(settleStart)
	rep.Violations = append(rep.Violations, mismatch...)
	// The model the measurement relies on must agree with inventory.
	var off []string
	for _, s := range shops {
		for i, id := range skuIDs {
			want, err := a.Inventory.Sellable(ctx, s.shop.ID, id)
			if err != nil {
				return rep, err
			}
			if got := s.channelStock(i); got != max(want, 0) {
				off = append(off, fmt.Sprintf("%s %s: channel %d, inventory's policy value %d", s.shop.Name, codes[i], got, want))
			}
		}
	}
	if len(off) > 0 {
		rep.Violations = append(rep.Violations, fmt.Sprintf("%d channel quantities differ from inventory's policy value: %s", len(off), strings.Join(first(off, 5), "; ")))
	}

	// Measure against the simulators' call logs.
	rep.Shops, rep.SKUs = nShops, nSKU
	rep.ChangeP50, rep.ChangeP99 = commit.Percentile(50), commit.Percentile(99)
	rep.EngineP50, rep.EngineP99 = rec.prop.Percentile(50), rec.prop.Percentile(99)
	calls.mu.Lock()
	defer calls.mu.Unlock()
	// covered[s][i] is, per call of shop s on SKU i in order, the newest
	// state any call so far carried.
	type timeline struct {
		at      []time.Time
		covered []int
	}
	tl := make([][]timeline, nShops)
	var unmatched, regressions int
	for si, s := range shops {
		tl[si] = make([]timeline, nSKU)
		stateOf := make([]map[int64]int, nSKU)
		for i := range nSKU {
			stateOf[i] = make(map[int64]int, len(pools[i]))
			for seq, pool := range pools[i] {
				v := s.policy(pool)
				if _, dup := stateOf[i][v]; dup {
					return rep, fmt.Errorf("scenario bug: shop %s shows %d for two states of SKU %d", s.shop.Name, v, i)
				}
				stateOf[i][v] = seq
			}
		}
		for _, c := range calls.byShop[si] {
			seq, ok := stateOf[c.sku][c.qty]
			if !ok {
				unmatched++
				continue
			}
			t := &tl[si][c.sku]
			cov := seq
			if n := len(t.covered); n > 0 {
				if seq < t.covered[n-1] {
					regressions++
				}
				cov = max(cov, t.covered[n-1])
			}
			t.at, t.covered = append(t.at, c.at), append(t.covered, cov)
			if !c.at.Before(start) {
				rep.Calls++
			}
		}
	}
	if unmatched > 0 {
		rep.Violations = append(rep.Violations, fmt.Sprintf("%d stock calls carried a value that was never the shop's policy value", unmatched))
	}
	if regressions > 0 {
		rep.Violations = append(rep.Violations, fmt.Sprintf("%d stock calls carried an older value after a newer one", regressions))
	}
	var delays bench.Latencies
	uncovered := 0
	for _, cs := range changes {
		for _, c := range cs {
			var worst time.Duration
			ok := true
			for si := range shops {
				t := tl[si][c.sku]
				k, _ := slices.BinarySearch(t.covered, c.seq)
				if k == len(t.covered) {
					ok = false
					break
				}
				worst = max(worst, t.at[k].Sub(c.start))
			}
			if !ok {
				uncovered++
				continue
			}
			delays.Add(worst)
		}
	}
	if uncovered > 0 {
		rep.Violations = append(rep.Violations, fmt.Sprintf("%d changes never reached every channel", uncovered))
	}
	rep.Marks = rep.Changes * nShops
	rep.APICalls = int(calls.api.Load() - apiBefore)
	rep.DelayP50, rep.DelayP95, rep.DelayP99, rep.DelayMax = delays.Percentile(50), delays.Percentile(95), delays.Percentile(99), delays.Percentile(100)
	if d := rep.Elapsed + rep.Settle; d > 0 {
		rep.CallsPerSec = float64(rep.Calls) / d.Seconds()
	}
	logf("propagation p50 %s p95 %s p99 %s max %s; %d pushes (%.0f/s) in %d API calls, %.1f marks per push",
		rep.DelayP50.Round(time.Millisecond), rep.DelayP95.Round(time.Millisecond), rep.DelayP99.Round(time.Millisecond),
		rep.DelayMax.Round(time.Millisecond), rep.Calls, rep.CallsPerSec, rep.APICalls, float64(rep.Marks)/float64(max(rep.Calls, 1)))
	if s := logs.String(); s != "" && len(rep.Violations) > 0 {
		logf("server log:\n%s", lastLines(s, 20))
	}
	return rep, nil
}

// converge waits until every channel shows the policy value of the SKU's
// last state, which must also be what inventory computes, and returns what
// still differs at the deadline.
func converge(ctx context.Context, shops []*propShop, skuIDs []string, pools [][]int64, limit time.Duration) ([]string, error) {
	deadline := time.Now().Add(limit)
	for {
		var off []string
		for _, s := range shops {
			for i := range skuIDs {
				want := s.policy(pools[i][len(pools[i])-1])
				if got := s.channelStock(i); got != want {
					off = append(off, fmt.Sprintf("%s SKU %d: channel %d, policy %d", s.shop.Name, i, got, want))
				}
			}
		}
		if len(off) == 0 {
			return nil, nil
		}
		if time.Now().After(deadline) {
			return []string{fmt.Sprintf("%d channel quantities differ from policy after %s: %s", len(off), limit, strings.Join(first(off, 5), "; "))}, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lockedBuffer is a goroutine-safe log sink.
type lockedBuffer struct {
	mu stdsync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// startWith is Start with the app options given.
func startWith(ctx context.Context, cfg config.Config, logOut io.Writer, opts app.Options) (*Started, error) {
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := app.New(ctx, cfg, logger, opts)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(sctx, ready) }()
	select {
	case addr := <-ready:
		return &Started{App: a, URL: "http://" + addr, stop: cancel, done: done}, nil
	case err := <-done:
		cancel()
		a.Close()
		return nil, fmt.Errorf("serve: %w", err)
	}
}
