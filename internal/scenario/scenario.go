// Package scenario builds a merchant's world around a running OmniHub and
// plays a live-stream flash sale through it: a catalog of an apparel and
// cosmetics merchant, two warehouses, Taobao and Douyin simulators with two
// shops each, connected through OmniHub's own HTTP API the way a merchant's IT
// person would; then thousands of buyers, cancellations and refunds while the
// simulators inject faults. It verifies the end state against the ground
// truth (nothing lost, nothing oversold, every channel at its policy value)
// and summarises it.
//
// The demo (omnihub demo), the end-to-end tests and the benchmarks all run
// this one scenario, so what the demo shows is what the tests prove.
package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"omnihub/auth"
	"omnihub/catalog"
	"omnihub/channel"
	"omnihub/channel/douyin/douyinsim"
	"omnihub/channel/taobao/taobaosim"
	"omnihub/errs"
	"omnihub/internal/app"
	"omnihub/inventory"
	"omnihub/shop"
)

// Options shape a scenario run. Zero values take the demo's defaults.
type Options struct {
	TaobaoShops, DouyinShops int // default 2 and 2
	// Sale is how long buyers rush (default 20s).
	Sale time.Duration
	// DouyinRate is order attempts per second per Douyin shop (default 100);
	// TaobaoRate trades per second per Taobao shop (default 20).
	DouyinRate, TaobaoRate   int
	CancelRatio, RefundRatio float64 // defaults 0.05 and 0.03
	// FlashStock is the units of each flash-sale SKU in the warehouses (default 300).
	FlashStock int64
	// Faults injects platform failures (5xx, rate-limit bursts, lost,
	// duplicated and reordered messages, session expiry) during the sale.
	Faults bool
	// Settle bounds how long to wait for convergence after the sale (default 2m).
	Settle time.Duration
	Seed   uint64
	// Progress receives human-readable progress lines (nil: none).
	Progress io.Writer
	// Recorder, when set, collects cross-shop latencies from the simulators.
	Recorder *Recorder
}

func (o Options) withDefaults() Options {
	if o.TaobaoShops == 0 && o.DouyinShops == 0 {
		o.TaobaoShops, o.DouyinShops = 2, 2
	}
	if o.Sale <= 0 {
		o.Sale = 20 * time.Second
	}
	if o.DouyinRate <= 0 {
		o.DouyinRate = 100
	}
	if o.TaobaoRate <= 0 {
		o.TaobaoRate = 20
	}
	if o.CancelRatio == 0 {
		o.CancelRatio = 0.05
	}
	if o.RefundRatio == 0 {
		o.RefundRatio = 0.03
	}
	if o.FlashStock <= 0 {
		o.FlashStock = 300
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Minute
	}
	if o.Seed == 0 {
		o.Seed = 20261123
	}
	return o
}

// withRate spreads a total of rate order attempts per second evenly over
// the shops (rate 0 keeps the per-platform rates) and scales the flash
// stock with the sale, so that the rush lasts about half the sale before
// the flash SKUs sell out, rather than a few seconds.
func (o Options) withRate(rate int) Options {
	if rate <= 0 {
		return o
	}
	o = o.withDefaults()
	per := max(rate/(o.TaobaoShops+o.DouyinShops), 1)
	o.DouyinRate, o.TaobaoRate = per, per
	o.FlashStock = max(o.FlashStock, int64(float64(rate)*o.Sale.Seconds()/6))
	return o
}

// World is the merchant's setup around one OmniHub.
type World struct {
	opts    Options
	App     *app.App
	BaseURL string // OmniHub's HTTP address, e.g. http://127.0.0.1:8080
	Token   string // the admin API token the scenario uses
	Admin   string // the admin's generated console password

	Warehouses []inventory.Warehouse
	SKUs       map[string]catalog.SKU // by code
	FlashSKUs  []string               // codes of the SKUs on flash sale

	Shops  []ShopSim
	client *http.Client
}

// ShopSim is one connected shop and the simulator behind it.
type ShopSim struct {
	Shop   shop.Shop
	Taobao *taobaosim.Sim
	Douyin *douyinsim.Sim
	// platform SKU id by internal SKU code, for reading channel stock.
	platformSKU map[string]int64
	platformItm map[string]int64
}

// Platform of the shop.
func (s ShopSim) Platform() channel.Platform { return s.Shop.Platform }

// ChannelStock reads what the platform shows for an internal SKU code.
func (s ShopSim) ChannelStock(code string) (int64, bool) {
	sku, ok := s.platformSKU[code]
	if !ok {
		return 0, false
	}
	if s.Taobao != nil {
		return s.Taobao.Quantity(s.platformItm[code], sku), true
	}
	return s.Douyin.Stock(sku), true
}

// Close stops the simulators.
func (w *World) Close() {
	for _, s := range w.Shops {
		if s.Taobao != nil {
			s.Taobao.Close()
		}
		if s.Douyin != nil {
			s.Douyin.Close()
		}
	}
}

func (w *World) logf(format string, args ...any) {
	if w.opts.Progress != nil {
		fmt.Fprintf(w.opts.Progress, format+"\n", args...)
	}
}

// catalogue of the demo merchant: an apparel and cosmetics brand.
type seedSKU struct {
	product, productName, category string
	code, name                     string
	attrs                          map[string]string
	price, cost                    int64
	weight                         int64
	stock                          [2]int64 // per warehouse
	flash                          bool
}

func demoCatalog(flashStock int64) []seedSKU {
	half := flashStock / 2
	return []seedSKU{
		{"TS-001", "纯棉圆领短袖T恤", "服装/T恤", "TS-001-WH-M", "纯棉T恤 白色 M", map[string]string{"颜色": "白色", "尺码": "M"}, 5900, 2200, 220, [2]int64{400, 200}, false},
		{"TS-001", "纯棉圆领短袖T恤", "服装/T恤", "TS-001-WH-L", "纯棉T恤 白色 L", map[string]string{"颜色": "白色", "尺码": "L"}, 5900, 2200, 240, [2]int64{300, 200}, false},
		{"TS-001", "纯棉圆领短袖T恤", "服装/T恤", "TS-001-BK-M", "纯棉T恤 黑色 M", map[string]string{"颜色": "黑色", "尺码": "M"}, 5900, 2200, 220, [2]int64{350, 150}, false},
		{"DR-002", "法式碎花连衣裙", "服装/连衣裙", "DR-002-S", "碎花连衣裙 S", map[string]string{"尺码": "S"}, 19900, 7800, 350, [2]int64{120, 80}, false},
		{"DR-002", "法式碎花连衣裙", "服装/连衣裙", "DR-002-M", "碎花连衣裙 M", map[string]string{"尺码": "M"}, 19900, 7800, 360, [2]int64{150, 60}, false},
		{"LIP-101", "丝绒哑光口红", "美妆/口红", "LIP-101-01", "丝绒口红 #01 正红", map[string]string{"色号": "#01 正红"}, 12900, 2600, 40, [2]int64{half, flashStock - half}, true},
		{"LIP-101", "丝绒哑光口红", "美妆/口红", "LIP-101-02", "丝绒口红 #02 豆沙", map[string]string{"色号": "#02 豆沙"}, 12900, 2600, 40, [2]int64{half, flashStock - half}, true},
		{"ESS-201", "玻尿酸补水精华液", "美妆/精华", "ESS-201-30", "补水精华 30ml", map[string]string{"规格": "30ml"}, 23900, 5100, 120, [2]int64{flashStock, 0}, true},
		{"MSK-301", "蚕丝补水面膜", "美妆/面膜", "MSK-301-10", "蚕丝面膜 10片装", map[string]string{"规格": "10片"}, 9900, 1800, 260, [2]int64{500, 500}, false},
	}
}

// Setup creates the merchant's catalog, warehouses and stock in OmniHub,
// starts one simulator per shop with the same goods listed under the
// merchant's SKU codes, and connects each shop through OmniHub's HTTP API
// (as a merchant's IT person would with real credentials).
func Setup(ctx context.Context, a *app.App, baseURL string, opts Options) (*World, error) {
	opts = opts.withDefaults()
	w := &World{opts: opts, App: a, BaseURL: baseURL, SKUs: map[string]catalog.SKU{}, client: &http.Client{Timeout: 30 * time.Second}}

	// The first admin and an API token, as `omnihub user add` / `token create` would.
	_, pw, err := a.Auth.CreateUser(ctx, "admin", auth.RoleAdmin, "")
	if err != nil && !errs.Is(err, errs.Conflict) {
		return nil, fmt.Errorf("create admin: %w", err)
	}
	w.Admin = pw
	_, tok, err := a.Auth.CreateToken(ctx, "admin", "scenario", nil, 24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("create token: %w", err)
	}
	w.Token = tok

	for _, wh := range []struct{ code, name string }{{"HZ", "华东仓（杭州）"}, {"GZ", "华南仓（广州）"}} {
		got, err := a.Inventory.CreateWarehouse(ctx, wh.code, wh.name)
		if err != nil {
			return nil, fmt.Errorf("warehouse %s: %w", wh.code, err)
		}
		w.Warehouses = append(w.Warehouses, got)
	}
	a.Orders.SetDefaultWarehouse(w.Warehouses[0].ID)

	products := map[string]string{}
	for _, s := range demoCatalog(opts.FlashStock) {
		pid, ok := products[s.product]
		if !ok {
			p, err := a.Catalog.CreateProduct(ctx, catalog.ProductInput{Code: s.product, Name: s.productName, Category: s.category, Brand: "OmniHub 演示品牌"})
			if err != nil {
				return nil, fmt.Errorf("product %s: %w", s.product, err)
			}
			pid, products[s.product] = p.ID, p.ID
		}
		sku, err := a.Catalog.CreateSKU(ctx, catalog.SKUInput{ProductID: pid, Code: s.code, Name: s.name, Attributes: s.attrs,
			CostFen: s.cost, PriceFen: s.price, ListPriceFen: s.price, WeightG: s.weight})
		if err != nil {
			return nil, fmt.Errorf("sku %s: %w", s.code, err)
		}
		w.SKUs[s.code] = sku
		if s.flash {
			w.FlashSKUs = append(w.FlashSKUs, s.code)
		}
		for i, qty := range s.stock {
			if qty == 0 {
				continue
			}
			doc := inventory.DocRef{Type: "opening", ID: "OPEN-" + w.Warehouses[i].Code, Line: len(w.SKUs)}
			if err := a.Inventory.Receive(ctx, doc, w.Warehouses[i].ID, sku.ID, qty); err != nil {
				return nil, fmt.Errorf("receive %s: %w", s.code, err)
			}
		}
	}
	w.logf("catalog: %d SKUs in %d products, 2 warehouses; flash-sale SKUs %v", len(w.SKUs), len(products), w.FlashSKUs)

	seed := opts.Seed
	for i := range opts.TaobaoShops {
		sim := taobaosim.New(taobaosim.Options{Seed: int64(seed) + int64(i), SellerNick: fmt.Sprintf("演示旗舰店%d", i+1),
			SellerID: 2200000001 + int64(i), RateLimit: 400, RateBurst: 400, RedeliverAfter: 3 * time.Second}).Start()
		ss := ShopSim{Taobao: sim, platformSKU: map[string]int64{}, platformItm: map[string]int64{}}
		for _, group := range groupByProduct(demoCatalog(opts.FlashStock)) {
			spec := taobaosim.ItemSpec{Title: group[0].productName, Price: group[0].price, OuterID: group[0].product}
			for _, s := range group {
				spec.SKUs = append(spec.SKUs, taobaosim.SKUSpec{Properties: props(s.attrs), Price: s.price, Quantity: 0, OuterID: s.code})
			}
			it := sim.AddItem(spec)
			for j, k := range it.SKUs {
				ss.platformSKU[group[j].code], ss.platformItm[group[j].code] = k.SkuID, it.NumIID
			}
		}
		c := sim.Credentials()
		sh, err := w.connect(ctx, shop.New{Platform: channel.Taobao, Name: fmt.Sprintf("天猫演示旗舰店%d", i+1),
			PlatformShopID: fmt.Sprint(c.SellerID), BaseURL: sim.GatewayURL(),
			Settings:    shop.Settings{PullInterval: 10 * time.Second, PullOverlap: 30 * time.Second, PushStock: true},
			Credentials: channel.Credentials{AppKey: c.AppKey, AppSecret: c.AppSecret, AccessToken: c.Session, RefreshToken: c.RefreshToken, ExpiresAt: c.ExpiresAt}})
		if err != nil {
			return nil, err
		}
		ss.Shop = sh
		w.Shops = append(w.Shops, ss)
	}
	for i := range opts.DouyinShops {
		shopIdx := len(w.Shops)
		codeOf := map[int64]string{}
		var onSync func(sku, stock int64)
		if opts.Recorder != nil {
			rec := opts.Recorder
			onSync = func(sku, _ int64) { rec.stockSynced(shopIdx, codeOf[sku]) }
		}
		sim := douyinsim.New(douyinsim.Options{OnStockSync: onSync, AppKey: fmt.Sprintf("70000000000%d", i+1), AppSecret: fmt.Sprintf("dy-demo-secret-%d", i+1),
			ShopID: 8800001 + int64(i), ShopName: fmt.Sprintf("抖音直播小店%d", i+1), Seed: seed + uint64(100+i),
			WebhookURL: baseURL + "/api/v1/push/douyin", PushBatch: 50, PushWorkers: 4, PushBackoff: 100 * time.Millisecond, PushRetries: 5})
		sim.Start()
		ss := ShopSim{Douyin: sim, platformSKU: map[string]int64{}, platformItm: map[string]int64{}}
		for _, group := range groupByProduct(demoCatalog(opts.FlashStock)) {
			p := douyinsim.Product{Title: group[0].productName}
			for _, s := range group {
				p.SKUs = append(p.SKUs, douyinsim.SKU{Code: s.code, Spec: props(s.attrs), Price: s.price, Stock: 0})
			}
			got := sim.AddProduct(p)
			for j, k := range got.SKUs {
				ss.platformSKU[group[j].code], ss.platformItm[group[j].code] = k.SkuID, got.ProductID
				codeOf[k.SkuID] = group[j].code
			}
		}
		c := sim.Credentials()
		sh, err := w.connect(ctx, shop.New{Platform: channel.Douyin, Name: fmt.Sprintf("抖音直播小店%d", i+1),
			PlatformShopID: fmt.Sprint(c.ShopID), BaseURL: sim.URL(),
			Settings:    shop.Settings{PullInterval: 10 * time.Second, PullOverlap: 30 * time.Second, PushStock: true},
			Credentials: channel.Credentials{AppKey: c.AppKey, AppSecret: c.AppSecret, AccessToken: c.AccessToken, RefreshToken: c.RefreshToken, ExpiresAt: c.ExpiresAt}})
		if err != nil {
			return nil, err
		}
		ss.Shop = sh
		w.Shops = append(w.Shops, ss)
	}
	// Allocation: the live-stream shops share 70% of what is available and
	// the Taobao shops 30%, so that the channels together never offer more
	// than the warehouse holds; every shop keeps a small safety stock back.
	var douyinShops, taobaoShops int64
	for _, s := range w.Shops {
		if s.Platform() == channel.Douyin {
			douyinShops++
		} else {
			taobaoShops++
		}
	}
	for _, s := range w.Shops {
		ratio := int64(30) / max(taobaoShops, 1)
		if s.Platform() == channel.Douyin {
			ratio = int64(70) / max(douyinShops, 1)
		}
		if err := w.call(ctx, "PUT", "/api/v1/inventory/policies/"+s.Shop.ID, inventory.Policy{ShopID: s.Shop.ID, RatioPct: ratio, SafetyStock: 2}, nil); err != nil {
			return nil, fmt.Errorf("policy for %s: %w", s.Shop.Name, err)
		}
	}
	w.logf("connected %d shops through the API: %s", len(w.Shops), w.shopNames())

	// First reconciliation binds listings by 商家编码 and pushes policy stock.
	for _, s := range w.Shops {
		rep, err := a.Sync.Reconcile(ctx, s.Shop.ID)
		if err != nil {
			return nil, fmt.Errorf("initial reconcile of %s: %w", s.Shop.Name, err)
		}
		w.logf("  %s: %d listings bound, %d quantities set", s.Shop.Name, rep.ListingsSeen-rep.Unbound, len(rep.StockDrift))
	}
	return w, nil
}

func (w *World) shopNames() string {
	var b bytes.Buffer
	for i, s := range w.Shops {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.Shop.Name)
	}
	return b.String()
}

// connect posts a shop to OmniHub's API.
func (w *World) connect(ctx context.Context, n shop.New) (shop.Shop, error) {
	var sh shop.Shop
	err := w.call(ctx, http.MethodPost, "/api/v1/shops", n, &sh)
	return sh, err
}

// call is an authenticated JSON call to OmniHub's API.
func (w *World) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, w.BaseURL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+w.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func groupByProduct(skus []seedSKU) [][]seedSKU {
	var out [][]seedSKU
	idx := map[string]int{}
	for _, s := range skus {
		i, ok := idx[s.product]
		if !ok {
			i = len(out)
			idx[s.product] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], s)
	}
	return out
}

func props(attrs map[string]string) string {
	var b bytes.Buffer
	for _, k := range []string{"颜色", "尺码", "色号", "规格"} {
		if v, ok := attrs[k]; ok {
			if b.Len() > 0 {
				b.WriteByte(';')
			}
			b.WriteString(k + ":" + v)
		}
	}
	return b.String()
}
