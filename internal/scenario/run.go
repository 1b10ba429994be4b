package scenario

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	stdsync "sync"
	"sync/atomic"
	"time"

	"omnihub/bench"
	"omnihub/channel/douyin/douyinsim"
	"omnihub/channel/taobao/taobaosim"
	"omnihub/order"
	"omnihub/store"
)

// Summary is what a run did and whether the invariants held.
type Summary struct {
	Elapsed          time.Duration  `json:"elapsed_ns"`
	SaleDuration     time.Duration  `json:"sale_ns"`
	SettleDuration   time.Duration  `json:"settle_ns"`
	PlatformOrders   int            `json:"platform_orders"` // orders the platforms accepted
	PlatformPaid     int            `json:"platform_paid"`
	SoldOut          int64          `json:"platform_sold_out"` // buyers the platforms refused: their channel stock was 0
	Ingested         int            `json:"orders_ingested"`
	Duplicates       int            `json:"duplicate_orders"`
	Missing          int            `json:"missing_orders"`
	ByStatus         map[string]int `json:"orders_by_status"`
	HeldByReason     map[string]int `json:"held_by_reason"`
	OutOfStockHeld   int            `json:"reservation_refusals"` // correct refusals: the platform sold what OmniHub did not have
	OpenReservations int64          `json:"open_reservation_units"`
	Oversell         int            `json:"oversell"` // check violations
	CheckViolations  []string       `json:"check_violations,omitempty"`
	StockPushes      int64          `json:"stock_pushes"`
	ChannelMismatch  []string       `json:"channel_mismatch,omitempty"`
	PropagationP50   time.Duration  `json:"propagation_p50_ns"` // stock change → channel API call
	PropagationP99   time.Duration  `json:"propagation_p99_ns"`
	CrossShopP50     time.Duration  `json:"cross_shop_p50_ns"` // sale on one shop → the other live shop's stock update
	CrossShopP99     time.Duration  `json:"cross_shop_p99_ns"`
	DeadLetters      int            `json:"dead_letters"`
	Refunds          int            `json:"refunds_requested"`
	AftersalesCases  int            `json:"aftersales_cases"` // cases OmniHub opened from platform refunds
	// PlatformRefunds counts the after-sales requests the simulators hold
	// (ground truth; Refunds counts the requests the buyers made in this
	// run), RefundsWithoutCase those OmniHub has no case for: each one is
	// a lost refund.
	PlatformRefunds    int            `json:"platform_refunds"`
	RefundsWithoutCase []string       `json:"refunds_without_case,omitempty"`
	CasesByStatus      map[string]int `json:"aftersales_by_status,omitempty"`
	Cancelled          int            `json:"platform_cancelled"`
	OrdersPerSecond    float64        `json:"orders_per_second"`
}

// Violations lists broken invariants (empty is success).
func (s Summary) Violations() []string {
	var v []string
	if s.Oversell > 0 {
		v = append(v, fmt.Sprintf("oversell: %d check violations: %s", s.Oversell, strings.Join(s.CheckViolations, "; ")))
	}
	if s.Missing > 0 {
		v = append(v, fmt.Sprintf("%d platform orders never reached OmniHub", s.Missing))
	}
	if s.Duplicates > 0 {
		v = append(v, fmt.Sprintf("%d orders ingested more than once", s.Duplicates))
	}
	if len(s.ChannelMismatch) > 0 {
		v = append(v, fmt.Sprintf("%d channel quantities differ from policy: %s", len(s.ChannelMismatch), strings.Join(first(s.ChannelMismatch, 5), "; ")))
	}
	if len(s.RefundsWithoutCase) > 0 {
		v = append(v, fmt.Sprintf("%d platform refunds have no after-sales case: %s", len(s.RefundsWithoutCase), strings.Join(first(s.RefundsWithoutCase, 5), "; ")))
	}
	return v
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Recorder collects latencies from the sync engine and the simulators; pass
// Recorder.Propagation as sync.Deps.OnPropagation.
type Recorder struct {
	prop bench.Latencies
	mu   stdsync.Mutex
	// Douyin stock syncs by shop index and SKU code, in time order
	syncs map[int]map[string][]time.Time
	sales []sale
}

type sale struct {
	shop    int
	code    string
	orderID string // platform order id
	at      time.Time
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{syncs: map[int]map[string][]time.Time{}} }

// Propagation records one stock change's mark-to-call latency.
func (r *Recorder) Propagation(d time.Duration) { r.prop.Add(d) }

// Run plays the flash sale and waits for OmniHub to converge.
func (w *World) Run(ctx context.Context, rec *Recorder) (Summary, error) {
	o := w.opts
	start := time.Now()
	var sum Summary
	if o.Faults {
		w.logf("faults on: 30%% 5xx, rate-limit bursts, lost/duplicated/reordered messages, sessions expired")
		for _, s := range w.Shops {
			if s.Taobao != nil {
				s.Taobao.SetFaults(taobaosim.Faults{ServerErrorRatio: 0.3, RateLimitNext: 30, DropRatio: 0.1, DuplicateRatio: 0.2, Reorder: true, ExpireSessions: true})
			} else {
				s.Douyin.SetFaults(douyinsim.Faults{ServerErrorRatio: 0.3, RateLimitBurst: 30, DropPushRatio: 0.1, DuplicatePushRatio: 0.2, ReorderPushes: true})
				s.Douyin.ExpireToken()
			}
		}
	}

	saleCtx, cancel := context.WithTimeout(ctx, o.Sale)
	defer cancel()
	var (
		wg       stdsync.WaitGroup
		mu       stdsync.Mutex
		errOnce  error
		soldOut  atomic.Int64
		refunds  atomic.Int64
		cancels  atomic.Int64
		tbTrades = make([][]int64, len(w.Shops))
	)
	w.logf("flash sale: %d Douyin shops at %d orders/s and %d Taobao shops at %d trades/s for %s (flash SKUs %v)",
		o.DouyinShops, o.DouyinRate, o.TaobaoShops, o.TaobaoRate, o.Sale, w.FlashSKUs)
	for i, s := range w.Shops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if s.Douyin != nil {
				err = w.douyinSale(saleCtx, i, s, rec, &soldOut, &refunds, &cancels)
			} else {
				tbTrades[i], err = w.taobaoSale(saleCtx, i, s, &soldOut, &refunds, &cancels)
			}
			if err != nil {
				mu.Lock()
				if errOnce == nil {
					errOnce = err
				}
				mu.Unlock()
			}
		}()
	}
	progressDone := make(chan struct{})
	go w.progress(saleCtx, ctx, progressDone)
	wg.Wait()
	<-progressDone
	if errOnce != nil {
		return sum, errOnce
	}
	sum.SaleDuration = time.Since(start)
	sum.SoldOut, sum.Refunds, sum.Cancelled = soldOut.Load(), int(refunds.Load()), int(cancels.Load())

	// Platforms recover; OmniHub's pulls, messages and reconciliation close the gaps.
	for _, s := range w.Shops {
		if s.Taobao != nil {
			s.Taobao.SetFaults(taobaosim.Faults{})
		} else {
			s.Douyin.SetFaults(douyinsim.Faults{})
		}
	}
	w.logf("sale over after %s; waiting for OmniHub to converge …", sum.SaleDuration.Round(time.Millisecond))
	for _, s := range w.Shops {
		if err := w.call(ctx, "POST", "/api/v1/shops/"+s.Shop.ID+"/pull", nil, nil); err != nil {
			return sum, err
		}
	}
	settleStart := time.Now()
	deadline := settleStart.Add(o.Settle)
	var err error
	lastReconcile, lastReport := time.Now(), time.Now()
	for {
		// While orders are still coming in, count them (cheap) rather than
		// compare every order and every channel: the full measure reads
		// all orders and checks the whole ledger, and at tens of thousands
		// of orders every half second it would compete with the ingest it
		// waits for.
		if have, want, err := w.countOrders(ctx, tbTrades); err != nil {
			return sum, err
		} else if have < want && time.Now().Before(deadline) {
			if time.Since(lastReport) >= 2*time.Second {
				w.logf("  … converging: %d of %d platform orders in OmniHub", have, want)
				lastReport = time.Now()
			}
			select {
			case <-ctx.Done():
				return sum, ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		sum, err = w.measure(ctx, sum, tbTrades)
		if err != nil {
			return sum, err
		}
		if len(sum.Violations()) == 0 || time.Now().After(deadline) {
			break
		}
		// Stock drift that pushes missed (a push that raced a sale on the
		// platform) is what reconciliation repairs; run it on demand as an
		// operator would if the monitor shows drift for long.
		if time.Since(lastReconcile) > 10*time.Second {
			for _, s := range w.Shops {
				_ = w.call(ctx, "POST", "/api/v1/shops/"+s.Shop.ID+"/reconcile", nil, nil)
			}
			lastReconcile = time.Now()
		}
		if time.Since(lastReport) >= 2*time.Second {
			w.logf("  … converging: %d of %d platform orders in OmniHub, %d channel quantities off policy", sum.Ingested, sum.PlatformOrders, len(sum.ChannelMismatch))
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return sum, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	sum.SettleDuration = time.Since(settleStart)
	sum.Elapsed = time.Since(start)
	if rec != nil {
		sum.PropagationP50, sum.PropagationP99 = rec.prop.Percentile(50), rec.prop.Percentile(99)
		refused, err := refusedOrders(ctx, w.App.DB)
		if err != nil {
			return sum, err
		}
		sum.CrossShopP50, sum.CrossShopP99 = rec.crossShop(refused)
	}
	if sum.SaleDuration > 0 {
		sum.OrdersPerSecond = float64(sum.PlatformOrders) / sum.SaleDuration.Seconds()
	}
	return sum, nil
}

// progress reports every two seconds until stop is done; queries run under
// ctx so that the last report is not cut short by the sale's own deadline.
func (w *World) progress(stop, ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop.Done():
			return
		case <-t.C:
			w.report(ctx)
		}
	}
}

// report prints one progress line: orders in OmniHub, held orders and
// stock pushes so far.
func (w *World) report(ctx context.Context) {
	var n, held int
	var pushes int64
	if err := w.App.DB.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN status = 'held' THEN 1 ELSE 0 END), 0) FROM orders`).Scan(&n, &held); err != nil {
		w.logf("  … progress unavailable: %v", err)
		return
	}
	if err := w.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM sync_push_log`).Scan(&pushes); err != nil {
		w.logf("  … progress unavailable: %v", err)
		return
	}
	w.logf("  … %d orders in OmniHub (%d held), %d stock pushes so far", n, held, pushes)
}

func (w *World) douyinSale(ctx context.Context, idx int, s ShopSim, rec *Recorder, soldOut, refunds, cancels *atomic.Int64) error {
	var skus []int64
	for _, code := range w.FlashSKUs {
		skus = append(skus, s.platformSKU[code])
	}
	codeOf := map[int64]string{}
	for code, id := range s.platformSKU {
		codeOf[id] = code
	}
	res, err := s.Douyin.FlashSale(ctx, douyinsim.FlashSaleOptions{
		SKUs: skus, OrdersPerSecond: w.opts.DouyinRate, Duration: w.opts.Sale, MaxQty: 2,
		CancelRatio: w.opts.CancelRatio, RefundRatio: w.opts.RefundRatio, AutoAgreeRefunds: true, Workers: 4,
		OnOrder: func(fo douyinsim.FlashOrder) {
			if rec != nil && fo.Paid {
				rec.mu.Lock()
				rec.sales = append(rec.sales, sale{shop: idx, code: codeOf[fo.SkuID], orderID: strconv.FormatInt(fo.OrderID, 10), at: time.Now()})
				rec.mu.Unlock()
			}
		},
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("flash sale on %s: %w", s.Shop.Name, err)
	}
	soldOut.Add(res.SoldOut)
	refunds.Add(res.RefundRequested)
	cancels.Add(res.Cancelled)
	return nil
}

// taobaoSale creates trades at the configured rate: mostly the flash SKUs,
// some everyday goods; some buyers never pay, some ask for a refund.
func (w *World) taobaoSale(ctx context.Context, idx int, s ShopSim, soldOut, refunds, cancels *atomic.Int64) ([]int64, error) {
	rng := rand.New(rand.NewPCG(w.opts.Seed, uint64(idx)))
	var codes []string
	for code := range s.platformSKU {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	tick := time.NewTicker(time.Second / time.Duration(w.opts.TaobaoRate))
	defer tick.Stop()
	var tids []int64
	for {
		select {
		case <-ctx.Done():
			return tids, nil
		case <-tick.C:
		}
		code := w.FlashSKUs[rng.IntN(len(w.FlashSKUs))]
		if rng.Float64() < 0.3 {
			code = codes[rng.IntN(len(codes))]
		}
		tid, err := s.Taobao.CreateTrade(taobaosim.TradeSpec{Lines: []taobaosim.LineSpec{{NumIID: s.platformItm[code], SkuID: s.platformSKU[code], Num: 1 + int64(rng.IntN(2))}}})
		if err != nil {
			soldOut.Add(1) // the platform refuses a trade its stock cannot cover
			continue
		}
		tids = append(tids, tid)
		if rng.Float64() < w.opts.CancelRatio {
			if s.Taobao.CancelTrade(tid) == nil {
				cancels.Add(1)
			}
			continue
		}
		if err := s.Taobao.PayTrade(tid); err != nil {
			continue
		}
		if rng.Float64() < w.opts.RefundRatio {
			if info, ok := s.Taobao.Trade(tid); ok && len(info.Lines) > 0 {
				if _, err := s.Taobao.RequestRefund(tid, info.Lines[0].Oid, taobaosim.RefundSpec{Reason: "不想要了"}); err == nil {
					refunds.Add(1)
				}
			}
		}
	}
}

// measure compares OmniHub with the ground truth held by the simulators.
// countOrders returns how many orders OmniHub holds for the shops and how
// many the platforms have.
func (w *World) countOrders(ctx context.Context, tbTrades [][]int64) (have, want int, err error) {
	for i, s := range w.Shops {
		if s.Douyin != nil {
			want += len(s.Douyin.Orders())
		} else {
			want += len(tbTrades[i])
		}
		var n int
		if err := w.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM orders WHERE shop_id = $1`, s.Shop.ID).Scan(&n); err != nil {
			return 0, 0, err
		}
		have += n
	}
	return have, want, nil
}

func (w *World) measure(ctx context.Context, sum Summary, tbTrades [][]int64) (Summary, error) {
	a := w.App
	sum.PlatformOrders, sum.PlatformPaid, sum.Missing, sum.Duplicates, sum.Ingested = 0, 0, 0, 0, 0
	sum.ChannelMismatch = nil
	for i, s := range w.Shops {
		var want []string
		if s.Douyin != nil {
			for _, id := range s.Douyin.Orders() {
				want = append(want, strconv.FormatInt(id, 10))
				if v, ok := s.Douyin.Order(id); ok && v.Status != 1 && v.Status != 4 {
					sum.PlatformPaid++
				}
			}
		} else {
			for _, tid := range tbTrades[i] {
				want = append(want, strconv.FormatInt(tid, 10))
				if t, ok := s.Taobao.Trade(tid); ok && t.Status != "WAIT_BUYER_PAY" && t.Status != "TRADE_CLOSED_BY_TAOBAO" {
					sum.PlatformPaid++
				}
			}
		}
		sum.PlatformOrders += len(want)
		have := map[string]int{}
		rows, err := a.DB.Query(ctx, `SELECT platform_order_id FROM orders WHERE shop_id = $1`, s.Shop.ID)
		if err != nil {
			return sum, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return sum, err
			}
			have[id]++
		}
		rows.Close()
		for _, id := range want {
			switch n := have[id]; {
			case n == 0:
				sum.Missing++
			case n > 1:
				sum.Duplicates++
			}
		}
		for _, n := range have {
			sum.Ingested += n
		}
		// Channel stock must equal the policy value once pushes drained.
		for code, sku := range w.SKUs {
			got, ok := s.ChannelStock(code)
			if !ok {
				continue
			}
			want, err := a.Inventory.Sellable(ctx, s.Shop.ID, sku.ID)
			if err != nil {
				return sum, err
			}
			if got != max(want, 0) {
				sum.ChannelMismatch = append(sum.ChannelMismatch, fmt.Sprintf("%s %s: channel %d, policy %d", s.Shop.Name, code, got, want))
			}
		}
	}
	sum.ByStatus, sum.HeldByReason = map[string]int{}, map[string]int{}
	rows, err := a.DB.Query(ctx, `SELECT status, hold_reasons, COUNT(*) FROM orders GROUP BY status, hold_reasons`)
	if err != nil {
		return sum, err
	}
	sum.OutOfStockHeld = 0
	for rows.Next() {
		var st, reasons string
		var n int
		if err := rows.Scan(&st, &reasons, &n); err != nil {
			rows.Close()
			return sum, err
		}
		sum.ByStatus[st] += n
		for _, r := range strings.FieldsFunc(reasons, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
			sum.HeldByReason[r] += n
			if r == "out_of_stock" {
				sum.OutOfStockHeld += n
			}
		}
	}
	rows.Close()
	rep, err := a.Inventory.Check(ctx)
	if err != nil {
		return sum, err
	}
	sum.Oversell = len(rep.Violations)
	sum.CheckViolations = nil
	for _, v := range rep.Violations {
		sum.CheckViolations = append(sum.CheckViolations, fmt.Sprint(v))
	}
	_ = a.DB.QueryRow(ctx, `SELECT COALESCE(SUM(qty), 0) FROM inv_reservations WHERE status = 'open'`).Scan(&sum.OpenReservations)
	_ = a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM sync_push_log WHERE ok`).Scan(&sum.StockPushes)
	// Every after-sales request on the platforms must have its case.
	sum.PlatformRefunds, sum.RefundsWithoutCase = 0, nil
	for _, s := range w.Shops {
		var want []string
		if s.Taobao != nil {
			for _, id := range s.Taobao.RefundIDs() {
				want = append(want, strconv.FormatInt(id, 10))
			}
		} else {
			for _, id := range s.Douyin.AfterSaleIDs() {
				want = append(want, strconv.FormatInt(id, 10))
			}
		}
		sum.PlatformRefunds += len(want)
		have := map[string]bool{}
		rows, err := a.DB.Query(ctx, `SELECT platform_refund_id FROM aftersales_cases WHERE shop_id = $1`, s.Shop.ID)
		if err != nil {
			return sum, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return sum, err
			}
			have[id] = true
		}
		rows.Close()
		for _, id := range want {
			if !have[id] {
				sum.RefundsWithoutCase = append(sum.RefundsWithoutCase, s.Shop.Name+" "+id)
			}
		}
	}
	sum.AftersalesCases, sum.CasesByStatus = 0, map[string]int{}
	crows, err := a.DB.Query(ctx, `SELECT state, COUNT(*) FROM aftersales_cases GROUP BY state`)
	if err != nil {
		return sum, err
	}
	for crows.Next() {
		var st string
		var n int
		if err := crows.Scan(&st, &n); err != nil {
			crows.Close()
			return sum, err
		}
		sum.CasesByStatus[st] = n
		sum.AftersalesCases += n
	}
	crows.Close()
	dl, err := a.DB.Jobs().DeadLetters(ctx, 0, 1000)
	if err != nil {
		return sum, err
	}
	sum.DeadLetters = len(dl)
	return sum, nil
}

// crossShop computes, for each paid flash-sale order on one live shop, the
// time until every other Douyin shop received a stock update for that SKU
// (sale → webhook → ingest → reserve → mark → push → other platform).
// Orders OmniHub refused for want of stock (refused: platform order ids) are
// left out: they move no stock, so the other shop rightly gets no update for
// them, and the next one (often the end-of-sale correction) would be timed
// as if it were theirs.
func (r *Recorder) crossShop(refused map[string]bool) (p50, p99 time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var l bench.Latencies
	for _, s := range r.sales {
		if refused[s.orderID] {
			continue
		}
		var worst time.Duration
		ok := true
		for shop, byCode := range r.syncs {
			if shop == s.shop {
				continue
			}
			times := byCode[s.code]
			i := sort.Search(len(times), func(i int) bool { return !times[i].Before(s.at) })
			if i == len(times) {
				ok = false // never updated after this sale (value unchanged)
				break
			}
			worst = max(worst, times[i].Sub(s.at))
		}
		if ok && len(r.syncs) > 1 {
			l.Add(worst)
		}
	}
	return l.Percentile(50), l.Percentile(99)
}

// refusedOrders returns the platform order ids OmniHub held out_of_stock.
func refusedOrders(ctx context.Context, db store.DB) (map[string]bool, error) {
	rows, err := db.Query(ctx, `SELECT platform_order_id, hold_reasons FROM orders WHERE hold_reasons <> ''`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id, holds string
		if err := rows.Scan(&id, &holds); err != nil {
			return nil, err
		}
		if strings.Contains(","+holds+",", ","+order.ReasonOutOfStock+",") {
			out[id] = true
		}
	}
	return out, rows.Err()
}

// stockSynced records that a Douyin shop's platform accepted a stock sync.
func (r *Recorder) stockSynced(shop int, code string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.syncs[shop] == nil {
		r.syncs[shop] = map[string][]time.Time{}
	}
	r.syncs[shop][code] = append(r.syncs[shop][code], time.Now())
}
