package taobao_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/channel/taobao"
	"omnihub/channel/taobao/taobaosim"
	"omnihub/errs"
)

// fakeClock is shared by the connector and the simulator.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	sim   *taobaosim.Sim
	conn  *taobao.Connector
	sess  channel.Session
	clock *fakeClock
}

func setup(t testing.TB, o taobaosim.Options, signMethod string) *env {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	o.Clock = clk.Now
	if o.Seed == 0 {
		o.Seed = 42
	}
	sim := taobaosim.New(o).Start()
	t.Cleanup(sim.Close)
	conn := taobao.New(taobao.Options{BaseURL: sim.GatewayURL(), TokenURL: sim.TokenURL(), Clock: clk.Now, SignMethod: signMethod})
	cr := sim.Credentials()
	sess := channel.Session{ShopID: "shop-1", PlatformShopID: strconv.FormatInt(cr.SellerID, 10), Credentials: channel.Credentials{
		AppKey: cr.AppKey, AppSecret: cr.AppSecret, AccessToken: cr.Session, RefreshToken: cr.RefreshToken, ExpiresAt: cr.ExpiresAt,
	}}
	return &env{sim: sim, conn: conn, sess: sess, clock: clk}
}

func apiErr(t *testing.T, err error) *channel.APIError {
	t.Helper()
	var ae *channel.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want *channel.APIError, got %T %v", err, err)
	}
	return ae
}

func TestContractPullOrdersPagingAndMapping(t *testing.T) {
	for _, sm := range []string{taobao.SignMD5, taobao.SignHMAC, taobao.SignHMACSHA256} {
		t.Run(sm, func(t *testing.T) {
			e := setup(t, taobaosim.Options{RateLimit: -1}, sm)
			e.sim.SeedCatalog()
			start := e.clock.Now().Add(-time.Minute)
			const n = 230
			want := map[string]bool{}
			for i := 0; i < n; i++ {
				tid, err := e.sim.GenerateTrade(i%3 != 0)
				if err != nil {
					t.Fatal(err)
				}
				want[strconv.FormatInt(tid, 10)] = true
				e.clock.Advance(time.Second)
			}
			ctx := context.Background()
			got := map[string]channel.Order{}
			q := channel.OrderQuery{Start: start, End: e.clock.Now().Add(time.Minute), PageSize: 100}
			pages := 0
			for {
				p, err := e.conn.PullOrders(ctx, e.sess, q)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, o := range p.Orders {
					if _, dup := got[o.PlatformOrderID]; dup {
						t.Fatalf("order %s twice", o.PlatformOrderID)
					}
					got[o.PlatformOrderID] = o
				}
				if p.NextCursor == "" {
					break
				}
				q.Cursor = p.NextCursor
			}
			if pages != 3 || len(got) != n {
				t.Fatalf("pages %d orders %d, want 3 and %d", pages, len(got), n)
			}
			for tid := range want {
				o, ok := got[tid]
				if !ok {
					t.Fatalf("missing %s", tid)
				}
				checkOrder(t, e, o)
			}
		})
	}
}

// checkOrder compares a pulled order with the simulator's own view.
func checkOrder(t *testing.T, e *env, o channel.Order) {
	t.Helper()
	tid, _ := strconv.ParseInt(o.PlatformOrderID, 10, 64)
	ti, ok := e.sim.Trade(tid)
	if !ok {
		t.Fatalf("sim has no %d", tid)
	}
	if o.PlatformStatus != ti.Status || !o.ModifiedAt.Equal(ti.Modified.UTC().Truncate(time.Second)) {
		t.Fatalf("status/modified: %s %v vs %s %v", o.PlatformStatus, o.ModifiedAt, ti.Status, ti.Modified)
	}
	if o.ModifiedAt.Location() != time.UTC {
		t.Fatal("times must be UTC")
	}
	if o.PaidAmount != ti.Payment {
		t.Fatalf("paid %d, sim %d", o.PaidAmount, ti.Payment)
	}
	if o.GoodsAmount-o.DiscountAmount+o.ShippingAmount != o.PaidAmount {
		t.Fatalf("amounts do not add up: %+v", o)
	}
	if len(o.Lines) != len(ti.Lines) {
		t.Fatalf("lines %d vs %d", len(o.Lines), len(ti.Lines))
	}
	var sumPaid int64
	for i, l := range o.Lines {
		if l.PlatformLineID != strconv.FormatInt(ti.Lines[i].Oid, 10) || l.Quantity != ti.Lines[i].Num {
			t.Fatalf("line %d: %+v vs %+v", i, l, ti.Lines[i])
		}
		if ti.Lines[i].SkuID != 0 && (l.PlatformSKUID != strconv.FormatInt(ti.Lines[i].SkuID, 10) || l.SpecName == "" || l.OuterSKUID == "") {
			t.Fatalf("sku line %d: %+v", i, l)
		}
		sumPaid += l.Paid
	}
	if sumPaid+o.ShippingAmount != o.PaidAmount {
		t.Fatalf("line payments %d + post %d != %d", sumPaid, o.ShippingAmount, o.PaidAmount)
	}
	if o.Receiver.Name == "" || o.Receiver.Province == "" || o.Receiver.City == "" || len(o.Receiver.Phone) != 11 {
		t.Fatalf("receiver: %+v", o.Receiver)
	}
	if (o.Status == channel.OrderPaid) != (o.PaidAt != nil) {
		t.Fatalf("paid_at and status disagree: %s %v", o.Status, o.PaidAt)
	}
}

func TestContractGetOrderAndNotes(t *testing.T) {
	e := setup(t, taobaosim.Options{}, "")
	items := e.sim.SeedCatalog()
	tid, err := e.sim.CreateTrade(taobaosim.TradeSpec{
		Lines: []taobaosim.LineSpec{
			{NumIID: items[0].NumIID, SkuID: items[0].SKUs[1].SkuID, Num: 2, Discount: 150},
			{NumIID: items[2].NumIID, Num: 1},
		},
		BuyerMessage: "请开发票", SellerMemo: "指定顺丰", PostFee: 1000,
		Receiver: &taobaosim.Receiver{Name: "张三", Mobile: "13800138000", State: "浙江省", City: "杭州市", District: "西湖区", Address: "文一西路969号", Zip: "310013"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	o, err := e.conn.GetOrder(ctx, e.sess, strconv.FormatInt(tid, 10))
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != channel.OrderPendingPayment || o.PaidAt != nil {
		t.Fatalf("status %s", o.Status)
	}
	// 2×59.00 − 1.50 + 298.00 + 10.00 post
	if o.GoodsAmount != 2*5900+29800 || o.DiscountAmount != 150 || o.ShippingAmount != 1000 || o.PaidAmount != 2*5900-150+29800+1000 {
		t.Fatalf("amounts %+v", o)
	}
	if o.BuyerNote != "请开发票" || o.SellerNote != "指定顺丰" || o.Receiver.Detail != "文一西路969号" || o.Receiver.Phone != "13800138000" {
		t.Fatalf("notes/receiver %+v", o)
	}
	if o.Lines[0].OuterSKUID != "TS-001-WH-L" || o.Lines[1].OuterSKUID != "TEA-LJ-250" || o.Lines[1].PlatformSKUID != "" {
		t.Fatalf("outer ids %+v", o.Lines)
	}
	if !o.CreatedAt.Equal(e.clock.Now()) {
		t.Fatalf("created %v, want %v", o.CreatedAt, e.clock.Now())
	}
	if err := e.sim.PayTrade(tid); err != nil {
		t.Fatal(err)
	}
	o, _ = e.conn.GetOrder(ctx, e.sess, strconv.FormatInt(tid, 10))
	if o.Status != channel.OrderPaid || o.PaidAt == nil {
		t.Fatalf("after pay: %s", o.Status)
	}
	_, err = e.conn.GetOrder(ctx, e.sess, "4100000000999999999")
	if ae := apiErr(t, err); ae.SubCode != "isv.trade-not-exist" || ae.Class != channel.ClassPermanent {
		t.Fatalf("missing trade: %+v", ae)
	}
}

func TestContractLimitsRejectedWithRealCodes(t *testing.T) {
	e := setup(t, taobaosim.Options{}, "")
	ctx := context.Background()
	now := e.clock.Now()
	// A window one second longer than a day.
	_, err := e.conn.PullOrders(ctx, e.sess, channel.OrderQuery{Start: now.Add(-24*time.Hour - time.Second), End: now})
	ae := apiErr(t, err)
	if ae.Code != "41" || ae.SubCode != "isv.invalid-parameter" || ae.Class != channel.ClassPermanent {
		t.Fatalf("window: %+v", ae)
	}
	// Exactly a day is allowed.
	if _, err := e.conn.PullOrders(ctx, e.sess, channel.OrderQuery{Start: now.Add(-24 * time.Hour), End: now}); err != nil {
		t.Fatalf("one-day window refused: %v", err)
	}
	// Page too large.
	_, err = e.conn.PullOrders(ctx, e.sess, channel.OrderQuery{Start: now.Add(-time.Hour), End: now, PageSize: 101})
	if ae := apiErr(t, err); ae.Code != "41" || ae.SubCode != "isv.invalid-parameter" {
		t.Fatalf("page size: %+v", ae)
	}
	// Older than three months.
	old := now.Add(-91 * 24 * time.Hour)
	_, err = e.conn.PullOrders(ctx, e.sess, channel.OrderQuery{Start: old, End: old.Add(time.Hour)})
	if ae := apiErr(t, err); ae.Code != "41" {
		t.Fatalf("lookback: %+v", ae)
	}
	if l := e.conn.PullLimits(); l.MaxWindow != 24*time.Hour || l.MaxPageSize != 100 {
		t.Fatalf("limits %+v", l)
	}
	// Refund page too large.
	_, err = e.conn.PullRefunds(ctx, e.sess, channel.RefundQuery{Start: now.Add(-time.Hour), End: now, PageSize: 101})
	if ae := apiErr(t, err); ae.Code != "41" {
		t.Fatalf("refund page: %+v", ae)
	}
}

func TestContractWrongSignatureAndAppKey(t *testing.T) {
	for _, sm := range []string{taobao.SignMD5, taobao.SignHMAC, taobao.SignHMACSHA256} {
		e := setup(t, taobaosim.Options{}, sm)
		bad := e.sess
		bad.Credentials.AppSecret = "not-the-secret"
		_, err := e.conn.GetOrder(context.Background(), bad, "1")
		if ae := apiErr(t, err); ae.Code != "25" || ae.Class != channel.ClassAuthInvalid {
			t.Fatalf("%s: %+v", sm, ae)
		}
	}
	e := setup(t, taobaosim.Options{}, "")
	bad := e.sess
	bad.Credentials.AppKey = "99999999"
	_, err := e.conn.GetOrder(context.Background(), bad, "1")
	if ae := apiErr(t, err); ae.Code != "29" || ae.Class != channel.ClassAuthInvalid {
		t.Fatalf("app key: %+v", ae)
	}
}

func TestContractClockSkew(t *testing.T) {
	e := setup(t, taobaosim.Options{}, "")
	skewed := taobao.New(taobao.Options{BaseURL: e.sim.GatewayURL(), Clock: func() time.Time { return e.clock.Now().Add(11 * time.Minute) }})
	_, err := skewed.GetOrder(context.Background(), e.sess, "1")
	if ae := apiErr(t, err); ae.Code != "31" {
		t.Fatalf("skew: %+v", ae)
	}
}

func TestContractSessionExpiryThenRefresh(t *testing.T) {
	e := setup(t, taobaosim.Options{SessionTTL: time.Hour}, "")
	e.sim.SeedCatalog()
	ctx := context.Background()
	q := channel.OrderQuery{Start: e.clock.Now().Add(-time.Hour), End: e.clock.Now()}
	if _, err := e.conn.PullOrders(ctx, e.sess, q); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Hour)
	q = channel.OrderQuery{Start: e.clock.Now().Add(-time.Hour), End: e.clock.Now()}
	_, err := e.conn.PullOrders(ctx, e.sess, q)
	ae := apiErr(t, err)
	if ae.Code != "27" || !channel.IsAuthExpired(err) {
		t.Fatalf("expired: %+v", ae)
	}
	cr, err := e.conn.RefreshToken(ctx, e.sess.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	if cr.AccessToken == e.sess.Credentials.AccessToken || cr.RefreshToken == "" || !cr.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) {
		t.Fatalf("refreshed %+v", cr)
	}
	if cr.Extra["taobao_user_id"] != e.sess.PlatformShopID {
		t.Fatalf("user id %q", cr.Extra["taobao_user_id"])
	}
	e.sess.Credentials = cr
	if _, err := e.conn.PullOrders(ctx, e.sess, q); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
	// The spent refresh token is refused: the seller must authorise again.
	old := cr
	old.RefreshToken = "6101deadbeef"
	_, err = e.conn.RefreshToken(ctx, old)
	if ae := apiErr(t, err); ae.Class != channel.ClassAuthInvalid || ae.Code != "invalid_grant" {
		t.Fatalf("bad refresh: %+v", ae)
	}
	// Forced expiry fault.
	e.sim.SetFaults(taobaosim.Faults{ExpireSessions: true})
	if _, err := e.conn.PullOrders(ctx, e.sess, q); !channel.IsAuthExpired(err) {
		t.Fatalf("forced expiry: %v", err)
	}
}

func TestContractRateLimitAndServerErrors(t *testing.T) {
	e := setup(t, taobaosim.Options{RateLimit: 5, RateBurst: 3}, "")
	ctx := context.Background()
	q := channel.OrderQuery{Start: e.clock.Now().Add(-time.Hour), End: e.clock.Now()}
	var limited error
	for i := 0; i < 5; i++ {
		if _, err := e.conn.PullOrders(ctx, e.sess, q); err != nil {
			limited = err
			break
		}
	}
	ae := apiErr(t, limited)
	if ae.Code != "7" || ae.SubCode != "accesscontrol.limited-by-app-access-count" || !channel.IsRateLimited(limited) || ae.RetryAfter != time.Second {
		t.Fatalf("rate limit: %+v", ae)
	}
	e.clock.Advance(time.Second) // the bucket refills on the simulator's clock
	if _, err := e.conn.PullOrders(ctx, e.sess, q); err != nil {
		t.Fatalf("after waiting: %v", err)
	}
	// Injected burst.
	e.sim.SetFaults(taobaosim.Faults{RateLimitNext: 1})
	if _, err := e.conn.PullOrders(ctx, e.sess, q); !channel.IsRateLimited(err) {
		t.Fatalf("burst: %v", err)
	}
	// HTTP 5xx.
	e.clock.Advance(time.Second)
	e.sim.SetFaults(taobaosim.Faults{ServerErrorNext: 1})
	_, err := e.conn.PullOrders(ctx, e.sess, q)
	if ae := apiErr(t, err); ae.Class != channel.ClassTransient || ae.Code != "http_503" || !channel.IsRetryable(err) {
		t.Fatalf("5xx: %+v", ae)
	}
	// isp.* remote error.
	e.sim.SetFaults(taobaosim.Faults{RemoteErrorNext: 1})
	_, err = e.conn.PullOrders(ctx, e.sess, q)
	if ae := apiErr(t, err); ae.Class != channel.ClassTransient || ae.Code != "15" {
		t.Fatalf("isp: %+v", ae)
	}
	if _, err := e.conn.PullOrders(ctx, e.sess, q); err != nil {
		t.Fatalf("recovered: %v", err)
	}
}

func TestContractStockPush(t *testing.T) {
	e := setup(t, taobaosim.Options{}, "")
	items := e.sim.SeedCatalog()
	ctx := context.Background()
	sku := items[0].SKUs[2]
	ups := []channel.StockUpdate{
		{PlatformItemID: strconv.FormatInt(items[0].NumIID, 10), PlatformSKUID: strconv.FormatInt(sku.SkuID, 10), Quantity: 7},
		{PlatformItemID: strconv.FormatInt(items[2].NumIID, 10), Quantity: 0},
		{PlatformItemID: "600000999999", Quantity: 1},                                              // unknown item
		{PlatformItemID: strconv.FormatInt(items[1].NumIID, 10), Quantity: 3},                      // item with SKUs, no SKU given
		{PlatformItemID: strconv.FormatInt(items[0].NumIID, 10), PlatformSKUID: "1", Quantity: -1}, // bad
	}
	res, err := e.conn.PushStock(ctx, e.sess, ups)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(ups) || res[0].Err != nil || res[1].Err != nil || res[2].Err == nil || res[3].Err == nil || res[4].Err == nil {
		t.Fatalf("results %+v", res)
	}
	if q := e.sim.Quantity(items[0].NumIID, sku.SkuID); q != 7 {
		t.Fatalf("sku quantity %d", q)
	}
	if q := e.sim.Quantity(items[2].NumIID, 0); q != 0 {
		t.Fatalf("item quantity %d", q)
	}
	// Full overwrite: pushing again is harmless.
	if _, err := e.conn.PushStock(ctx, e.sess, ups[:1]); err != nil || e.sim.Quantity(items[0].NumIID, sku.SkuID) != 7 {
		t.Fatalf("repeat push: %v", err)
	}
	// A rate limit stops the batch and is the call's error.
	e.sim.SetFaults(taobaosim.Faults{RateLimitNext: 1})
	res, err = e.conn.PushStock(ctx, e.sess, ups[:2])
	if !channel.IsRateLimited(err) || len(res) != 0 {
		t.Fatalf("rate-limited batch: %v %+v", err, res)
	}
	if e.conn.MaxStockBatch() != taobao.SKUsPerCall {
		t.Fatal("batch size")
	}
}

func TestContractListings(t *testing.T) {
	e := setup(t, taobaosim.Options{RateLimit: -1}, "")
	e.sim.SeedCatalog()
	for i := 0; i < 201; i++ { // more than one page of 200 items
		e.sim.AddItem(taobaosim.ItemSpec{Title: "测试商品" + strconv.Itoa(i), Price: 1000 + int64(i), Quantity: int64(i), OuterID: "T-" + strconv.Itoa(i)})
	}
	ctx := context.Background()
	var all []channel.Listing
	cursor, pages := "", 0
	for {
		p, err := e.conn.ListListings(ctx, e.sess, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, p.Listings...)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	// 4 T-shirt SKUs + 2 cup SKUs + tea + soap + 201 items.
	if pages != 2 || len(all) != 4+2+1+1+201 {
		t.Fatalf("pages %d listings %d", pages, len(all))
	}
	l := all[3]
	if l.OuterID != "TS-001-BK-L" || l.Price != 6900 || l.Quantity != 60 || l.SpecName != "颜色分类:黑色;尺码:L" || !l.OnSale || l.PlatformSKUID == "" {
		t.Fatalf("listing %+v", l)
	}
	if tea := all[6]; tea.PlatformSKUID != "" || tea.OuterID != "TEA-LJ-250" || tea.Price != 29800 {
		t.Fatalf("tea %+v", tea)
	}
}

func paidTrade(t *testing.T, e *env, lines int) (int64, taobaosim.TradeInfo) {
	t.Helper()
	items := e.sim.Items()
	spec := taobaosim.TradeSpec{}
	for i := 0; i < lines; i++ {
		it := items[i]
		l := taobaosim.LineSpec{NumIID: it.NumIID, Num: 1}
		if len(it.SKUs) > 0 {
			l.SkuID = it.SKUs[0].SkuID
		}
		spec.Lines = append(spec.Lines, l)
	}
	tid, err := e.sim.CreateTrade(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sim.PayTrade(tid); err != nil {
		t.Fatal(err)
	}
	ti, _ := e.sim.Trade(tid)
	return tid, ti
}

func TestContractShipment(t *testing.T) {
	e := setup(t, taobaosim.Options{}, "")
	e.sim.SeedCatalog()
	ctx := context.Background()
	tid, ti := paidTrade(t, e, 2)
	id := strconv.FormatInt(tid, 10)
	oid1 := strconv.FormatInt(ti.Lines[0].Oid, 10)

	// Split: first line only.
	sh := channel.Shipment{PlatformOrderID: id, PlatformLineIDs: []string{oid1}, CarrierCode: "zto", TrackingNo: "ZT100001"}
	if err := e.conn.UploadShipment(ctx, e.sess, sh); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.sim.Trade(tid); got.Status != "SELLER_CONSIGNED_PART" || got.Lines[0].InvoiceNo != "ZT100001" || got.Lines[0].Company != "ZTO" {
		t.Fatalf("after split %+v", got)
	}
	o, _ := e.conn.GetOrder(ctx, e.sess, id)
	if o.Status != channel.OrderPartShipped {
		t.Fatalf("status %s", o.Status)
	}
	// The same split again is harmless.
	if err := e.conn.UploadShipment(ctx, e.sess, sh); err != nil {
		t.Fatalf("repeat split: %v", err)
	}
	// The rest of the trade.
	rest := channel.Shipment{PlatformOrderID: id, CarrierCode: "SF", TrackingNo: "SF200002"}
	if err := e.conn.UploadShipment(ctx, e.sess, rest); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.sim.Trade(tid); got.Status != "WAIT_BUYER_CONFIRM_GOODS" || got.Lines[1].InvoiceNo != "SF200002" {
		t.Fatalf("after rest %+v", got)
	}
	// A different tracking number for an already shipped line is an error.
	other := channel.Shipment{PlatformOrderID: id, PlatformLineIDs: []string{oid1}, CarrierCode: "ZTO", TrackingNo: "ZT999"}
	if err := e.conn.UploadShipment(ctx, e.sess, other); err == nil {
		t.Fatal("conflicting upload accepted")
	}
	// Unknown carrier.
	tid2, _ := paidTrade(t, e, 1)
	err := e.conn.UploadShipment(ctx, e.sess, channel.Shipment{PlatformOrderID: strconv.FormatInt(tid2, 10), CarrierCode: "NOPE", TrackingNo: "1"})
	if ae := apiErr(t, err); ae.Class != channel.ClassPermanent || ae.Code != "15" {
		t.Fatalf("unknown carrier %+v", ae)
	}
	// Online mode (在线下单).
	online := e.sess
	online.Credentials.Extra = map[string]string{"logistics_mode": "online"}
	if err := e.conn.UploadShipment(ctx, online, channel.Shipment{PlatformOrderID: strconv.FormatInt(tid2, 10), CarrierCode: "YTO", TrackingNo: "YT1"}); err != nil {
		t.Fatal(err)
	}
	if e.sim.Calls("taobao.logistics.online.send") != 1 {
		t.Fatal("online.send not used")
	}
}

func TestContractTMC(t *testing.T) {
	e := setup(t, taobaosim.Options{RedeliverAfter: time.Minute}, "")
	e.sim.SeedCatalog()
	ctx := context.Background()
	tid, ti := paidTrade(t, e, 1) // TradeCreate + TradeBuyerPay
	if _, err := e.sim.RequestRefund(tid, ti.Lines[0].Oid, taobaosim.RefundSpec{}); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.conn.ConsumeMessages(ctx, e.sess, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("got %d messages", len(msgs))
	}
	kinds := []channel.MessageKind{channel.MsgOrderCreated, channel.MsgOrderPaid, channel.MsgRefundCreated}
	for i, m := range msgs {
		if m.Kind != kinds[i] || m.PlatformOrderID != strconv.FormatInt(tid, 10) || m.ID == "" || m.PlatformShopID != e.sess.PlatformShopID || m.OccurredAt.IsZero() {
			t.Fatalf("message %d: %+v", i, m)
		}
	}
	if msgs[2].PlatformRefundID == "" || msgs[2].Topic != "taobao_refund_RefundCreated" {
		t.Fatalf("refund message %+v", msgs[2])
	}
	// Not confirmed: not redelivered before the timeout, redelivered after.
	if again, _ := e.conn.ConsumeMessages(ctx, e.sess, 100); len(again) != 0 {
		t.Fatalf("redelivered too early: %d", len(again))
	}
	e.clock.Advance(2 * time.Minute)
	again, err := e.conn.ConsumeMessages(ctx, e.sess, 100)
	if err != nil || len(again) != 3 || again[0].ID != msgs[0].ID {
		t.Fatalf("redelivery: %v %d", err, len(again))
	}
	// Confirm two; the third comes back.
	if err := e.conn.ConfirmMessages(ctx, e.sess, []string{msgs[0].ID, msgs[1].ID}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Minute)
	again, _ = e.conn.ConsumeMessages(ctx, e.sess, 100)
	if len(again) != 1 || again[0].ID != msgs[2].ID {
		t.Fatalf("after confirm: %+v", again)
	}
	if err := e.conn.ConfirmMessages(ctx, e.sess, []string{again[0].ID}); err != nil || e.sim.Pending() != 0 {
		t.Fatalf("pending %d %v", e.sim.Pending(), err)
	}
	// Confirming twice is harmless.
	if err := e.conn.ConfirmMessages(ctx, e.sess, []string{again[0].ID}); err != nil {
		t.Fatal(err)
	}
}

func TestContractTMCFaults(t *testing.T) {
	e := setup(t, taobaosim.Options{Seed: 7, RateLimit: -1}, "")
	e.sim.SeedCatalog()
	ctx := context.Background()
	e.sim.SetFaults(taobaosim.Faults{DuplicateRatio: 0.5, Reorder: true})
	for i := 0; i < 30; i++ {
		if _, err := e.sim.GenerateTrade(true); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	total := 0
	for {
		msgs, err := e.conn.ConsumeMessages(ctx, e.sess, 200)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
		var ids []string
		for _, m := range msgs {
			seen[m.ID]++
			total++
			ids = append(ids, m.ID)
		}
		if err := e.conn.ConfirmMessages(ctx, e.sess, ids); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 60 || total <= 60 {
		t.Fatalf("distinct %d total %d: want 60 distinct and duplicates", len(seen), total)
	}
	// Lost messages never arrive; the pull path has to find those trades.
	e.sim.SetFaults(taobaosim.Faults{DropRatio: 1})
	if _, err := e.sim.GenerateTrade(true); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := e.conn.ConsumeMessages(ctx, e.sess, 100); len(msgs) != 0 {
		t.Fatalf("dropped messages delivered: %d", len(msgs))
	}
	// Limit: at most the asked number of messages even below TMC's minimum of 10.
	e.sim.SetFaults(taobaosim.Faults{})
	for i := 0; i < 5; i++ {
		e.sim.GenerateTrade(false)
	}
	if msgs, _ := e.conn.ConsumeMessages(ctx, e.sess, 3); len(msgs) != 3 {
		t.Fatalf("limit: %d", len(msgs))
	}
}

func TestContractRefunds(t *testing.T) {
	e := setup(t, taobaosim.Options{RateLimit: -1}, "")
	e.sim.SeedCatalog()
	ctx := context.Background()
	start := e.clock.Now().Add(-time.Minute)

	// Refund only, before shipment: agree → SUCCESS, trade closed.
	tid1, t1 := paidTrade(t, e, 1)
	r1, err := e.sim.RequestRefund(tid1, t1.Lines[0].Oid, taobaosim.RefundSpec{Reason: "拍错/多拍/不喜欢", Desc: "颜色拍错了"})
	if err != nil {
		t.Fatal(err)
	}
	// Return and refund after shipment.
	tid2, t2 := paidTrade(t, e, 2)
	if err := e.sim.ShipTrade(tid2, "SF", "SF1"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	r2, err := e.sim.RequestRefund(tid2, t2.Lines[1].Oid, taobaosim.RefundSpec{GoodsReturn: true, Amount: 100})
	if err != nil {
		t.Fatal(err)
	}
	// A refund to refuse.
	tid3, t3 := paidTrade(t, e, 1)
	r3, _ := e.sim.RequestRefund(tid3, t3.Lines[0].Oid, taobaosim.RefundSpec{})

	page, err := e.conn.PullRefunds(ctx, e.sess, channel.RefundQuery{Start: start, End: e.clock.Now().Add(time.Minute), PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Refunds) != 2 || page.NextCursor == "" {
		t.Fatalf("page 1: %d %q", len(page.Refunds), page.NextCursor)
	}
	page2, err := e.conn.PullRefunds(ctx, e.sess, channel.RefundQuery{Start: start, End: e.clock.Now().Add(time.Minute), PageSize: 2, Cursor: page.NextCursor})
	if err != nil || len(page2.Refunds) != 1 || page2.NextCursor != "" {
		t.Fatalf("page 2: %v %+v", err, page2)
	}

	id1, id2, id3 := strconv.FormatInt(r1, 10), strconv.FormatInt(r2, 10), strconv.FormatInt(r3, 10)
	g1, err := e.conn.GetRefund(ctx, e.sess, id1)
	if err != nil {
		t.Fatal(err)
	}
	if g1.Status != channel.RefundRequested || g1.Kind != channel.RefundOnly || g1.Amount != t1.Payment || g1.GoodsShipped || g1.Reason != "拍错/多拍/不喜欢" || g1.Description != "颜色拍错了" || g1.Quantity != 1 || g1.PlatformLineID != strconv.FormatInt(t1.Lines[0].Oid, 10) || g1.PlatformOrderID != strconv.FormatInt(tid1, 10) {
		t.Fatalf("refund 1 %+v", g1)
	}
	if err := e.conn.AnswerRefund(ctx, e.sess, channel.RefundDecision{PlatformRefundID: id1, Action: channel.RefundAgree}); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.sim.Refund(r1); r.Status != "SUCCESS" {
		t.Fatalf("r1 %s", r.Status)
	}
	if tr, _ := e.sim.Trade(tid1); tr.Status != "TRADE_CLOSED" {
		t.Fatalf("trade 1 %s", tr.Status)
	}
	// Agreeing again is harmless.
	if err := e.conn.AnswerRefund(ctx, e.sess, channel.RefundDecision{PlatformRefundID: id1, Action: channel.RefundAgree}); err != nil {
		t.Fatal(err)
	}

	g2, _ := e.conn.GetRefund(ctx, e.sess, id2)
	if g2.Kind != channel.ReturnRefund || !g2.GoodsShipped || g2.Amount != 100 {
		t.Fatalf("refund 2 %+v", g2)
	}
	// Agreeing to a return needs an address.
	if err := e.conn.AnswerRefund(ctx, e.sess, channel.RefundDecision{PlatformRefundID: id2, Action: channel.RefundAgree}); err == nil {
		t.Fatal("return agreed without address")
	}
	addr := &channel.Address{Name: "仓库收货组", Phone: "13900000000", Province: "浙江省", City: "杭州市", District: "余杭区", Detail: "仓前街道1号", Zip: "311121"}
	if err := e.conn.AnswerRefund(ctx, e.sess, channel.RefundDecision{PlatformRefundID: id2, Action: channel.RefundAgree, ReturnAddress: addr}); err != nil {
		t.Fatal(err)
	}
	if g, _ := e.conn.GetRefund(ctx, e.sess, id2); g.Status != channel.RefundWaitBuyerReturn {
		t.Fatalf("r2 %s", g.Status)
	}
	if err := e.sim.BuyerReturnGoods(r2, "中通快递", "ZT777"); err != nil {
		t.Fatal(err)
	}
	g2, _ = e.conn.GetRefund(ctx, e.sess, id2)
	if g2.Status != channel.RefundBuyerReturned || g2.ReturnTrackingNo != "ZT777" {
		t.Fatalf("r2 returned %+v", g2)
	}
	if err := e.conn.AnswerRefund(ctx, e.sess, channel.RefundDecision{PlatformRefundID: id2, Action: channel.RefundConfirmReceipt}); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.sim.Refund(r2); r.Status != "SUCCESS" {
		t.Fatalf("r2 %s", r.Status)
	}
	if tr, _ := e.sim.Trade(tid2); tr.Status != "WAIT_BUYER_CONFIRM_GOODS" {
		t.Fatalf("partly refunded trade must stay open: %s", tr.Status)
	}

	if err := e.conn.AnswerRefund(ctx, e.sess, channel.RefundDecision{PlatformRefundID: id3, Action: channel.RefundRefuse, Reason: "商品已发出，请收货后申请退货"}); err != nil {
		t.Fatal(err)
	}
	if g, _ := e.conn.GetRefund(ctx, e.sess, id3); g.Status != channel.RefundRefused {
		t.Fatalf("r3 %s", g.Status)
	}
	_, err = e.conn.GetRefund(ctx, e.sess, "1")
	if ae := apiErr(t, err); ae.SubCode != "isv.refund-not-exist" {
		t.Fatalf("missing refund %+v", ae)
	}
	if err := e.conn.AnswerRefund(ctx, e.sess, channel.RefundDecision{PlatformRefundID: id3, Action: "maybe"}); err == nil {
		t.Fatal("unknown action accepted")
	}
}

// A trade modified while a window is being paged leaves the window; paging
// from the last page back (as TOP advises) must still see every other trade.
func TestContractPagingSurvivesModificationsDuringPull(t *testing.T) {
	e := setup(t, taobaosim.Options{RateLimit: -1}, "")
	e.sim.SeedCatalog()
	start := e.clock.Now().Add(-time.Minute)
	var tids []int64
	for i := 0; i < 250; i++ {
		tid, err := e.sim.GenerateTrade(true)
		if err != nil {
			t.Fatal(err)
		}
		tids = append(tids, tid)
		e.clock.Advance(time.Second)
	}
	end := e.clock.Now()
	e.clock.Advance(time.Minute)
	ctx := context.Background()
	seen := map[string]bool{}
	q := channel.OrderQuery{Start: start, End: end, PageSize: 100}
	calls := 0
	for {
		p, err := e.conn.PullOrders(ctx, e.sess, q)
		if err != nil {
			t.Fatal(err)
		}
		calls++
		for _, o := range p.Orders {
			seen[o.PlatformOrderID] = true
		}
		if calls == 1 {
			// The seller edits the newest and a middle trade meanwhile.
			e.sim.SetSellerMemo(tids[249], "改地址")
			e.sim.SetSellerMemo(tids[120], "加急")
		}
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	for i, tid := range tids {
		if i == 249 || i == 120 {
			continue // moved out of this window into the next one
		}
		if !seen[strconv.FormatInt(tid, 10)] {
			t.Fatalf("trade %d (#%d) missed", tid, i)
		}
	}
}

func TestContractNetworkFailureIsUnavailable(t *testing.T) {
	e := setup(t, taobaosim.Options{}, "")
	e.sim.SetFaults(taobaosim.Faults{Latency: 300 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := e.conn.GetOrder(ctx, e.sess, "1")
	if err == nil || !errs.Is(err, errs.Unavailable) || !channel.IsRetryable(err) {
		t.Fatalf("want a retryable Unavailable error, got %v", err)
	}
}

func TestContractTMCReorder(t *testing.T) {
	e := setup(t, taobaosim.Options{Seed: 3, RateLimit: -1}, "")
	e.sim.SeedCatalog()
	for i := 0; i < 20; i++ {
		e.sim.GenerateTrade(true)
	}
	e.sim.SetFaults(taobaosim.Faults{Reorder: true})
	msgs, err := e.conn.ConsumeMessages(context.Background(), e.sess, 200)
	if err != nil || len(msgs) != 40 {
		t.Fatalf("%v %d", err, len(msgs))
	}
	ordered := true
	for i := 1; i < len(msgs); i++ {
		a, _ := strconv.ParseInt(msgs[i-1].ID, 10, 64)
		b, _ := strconv.ParseInt(msgs[i].ID, 10, 64)
		if a > b {
			ordered = false
		}
	}
	if ordered {
		t.Fatal("reorder fault delivered messages in publication order")
	}
}
