package douyin_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"omnihub/channel"
	"omnihub/channel/douyin"
	"omnihub/channel/douyin/douyinsim"
	"omnihub/errs"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	sim  *douyinsim.Sim
	conn *douyin.Connector
	clk  *clock
	sess channel.Session
}

func newFixture(t *testing.T, o douyinsim.Options, signMethod string) *fixture {
	t.Helper()
	clk := &clock{t: time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)}
	o.Clock = clk.Now
	if o.Seed == 0 {
		o.Seed = 42
	}
	sim := douyinsim.New(o)
	sim.Start()
	t.Cleanup(sim.Close)
	conn := douyin.New(douyin.Options{BaseURL: sim.URL(), Clock: clk.Now, SignMethod: signMethod})
	cr := sim.Credentials()
	return &fixture{sim: sim, conn: conn, clk: clk, sess: channel.Session{
		ShopID: "shop-1", PlatformShopID: strconv.FormatInt(cr.ShopID, 10),
		Credentials: channel.Credentials{AppKey: cr.AppKey, AppSecret: cr.AppSecret, AccessToken: cr.AccessToken, RefreshToken: cr.RefreshToken, ExpiresAt: cr.ExpiresAt},
	}}
}

func (f *fixture) window() channel.OrderQuery {
	now := f.clk.Now()
	return channel.OrderQuery{Start: now.Add(-time.Hour), End: now.Add(time.Minute)}
}

func pullAll(t *testing.T, f *fixture, q channel.OrderQuery) ([]channel.Order, []int) {
	t.Helper()
	var all []channel.Order
	var sizes []int
	for i := 0; ; i++ {
		pg, err := f.conn.PullOrders(context.Background(), f.sess, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, pg.Orders...)
		sizes = append(sizes, len(pg.Orders))
		if pg.NextCursor == "" {
			return all, sizes
		}
		if i > 100 {
			t.Fatal("cursor never ends")
		}
		q.Cursor = pg.NextCursor
	}
}

func TestPullOrdersPaging(t *testing.T) {
	for _, tc := range []struct {
		name     string
		orders   int
		pageSize int
		want     []int
	}{
		{"empty window", 0, 100, []int{0}},
		{"one short page", 7, 100, []int{7}},
		{"exact multiple", 200, 100, []int{100, 100}},
		{"remainder", 250, 100, []int{100, 100, 50}},
		{"page size above the limit is clamped", 150, 500, []int{100, 50}},
		{"small pages", 5, 2, []int{2, 2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, douyinsim.Options{}, "")
			f.sim.SeedCatalog(3, 1_000_000)
			if got := len(f.sim.RandomOrders(tc.orders, true)); got != tc.orders {
				t.Fatalf("created %d orders", got)
			}
			q := f.window()
			q.PageSize = tc.pageSize
			all, sizes := pullAll(t, f, q)
			if len(sizes) != len(tc.want) {
				t.Fatalf("page sizes %v, want %v", sizes, tc.want)
			}
			for i := range sizes {
				if sizes[i] != tc.want[i] {
					t.Fatalf("page sizes %v, want %v", sizes, tc.want)
				}
			}
			seen := map[string]bool{}
			for _, o := range all {
				if seen[o.PlatformOrderID] {
					t.Fatalf("order %s returned twice", o.PlatformOrderID)
				}
				seen[o.PlatformOrderID] = true
				if o.Status != channel.OrderPaid || o.PaidAt == nil || len(o.Lines) == 0 || o.Receiver.Name == "" || o.Receiver.Province == "" {
					t.Fatalf("badly mapped order %+v", o)
				}
			}
		})
	}
}

func TestOrderMapping(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, douyin.SignHMACSHA256)
	pr := f.sim.AddProduct(douyinsim.Product{Title: "冰丝防晒衣", SKUs: []douyinsim.SKU{
		{Code: "FS-BLK-M", Spec: "颜色:黑色", Price: 12900, Stock: 10},
		{Code: "FS-WHT-M", Spec: "颜色:白色", Price: 13900, Stock: 10},
	}})
	id, err := f.sim.CreateOrder(douyinsim.NewOrder{Lines: []douyinsim.NewLine{{SkuID: pr.SKUs[0].SkuID, Qty: 2}, {SkuID: pr.SKUs[1].SkuID, Qty: 1}},
		Name: "张伟", Phone: "13800138000", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "文一西路1号", BuyerWords: "不要放快递柜"})
	if err != nil {
		t.Fatal(err)
	}
	o, err := f.conn.GetOrder(context.Background(), f.sess, strconv.FormatInt(id, 10))
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != channel.OrderPendingPayment || o.PlatformStatus != "1" || o.PaidAt != nil {
		t.Fatalf("status %s/%s paid %v", o.Status, o.PlatformStatus, o.PaidAt)
	}
	if o.Receiver != (channel.Address{Name: "张伟", Phone: "13800138000", Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "文一西路1号"}) {
		t.Fatalf("receiver %+v", o.Receiver)
	}
	if o.BuyerNote != "不要放快递柜" || o.Currency != "CNY" || !o.CreatedAt.Equal(f.clk.Now()) || o.CreatedAt.Location() != time.UTC {
		t.Fatalf("order %+v", o)
	}
	if len(o.Lines) != 2 || o.Lines[0].OuterSKUID != "FS-BLK-M" || o.Lines[0].Quantity != 2 || o.Lines[0].Price != 12900 ||
		o.Lines[0].PlatformSKUID != strconv.FormatInt(pr.SKUs[0].SkuID, 10) || o.Lines[0].SpecName != "颜色:黑色" {
		t.Fatalf("lines %+v", o.Lines)
	}
	var paid int64
	for _, l := range o.Lines {
		paid += l.Paid
		if l.Paid+l.Discount != l.Price*l.Quantity {
			t.Fatalf("line amounts %+v", l)
		}
	}
	if o.GoodsAmount != 2*12900+13900 || o.PaidAmount != paid+o.ShippingAmount {
		t.Fatalf("amounts goods %d paid %d lines %d post %d", o.GoodsAmount, o.PaidAmount, paid, o.ShippingAmount)
	}
	f.clk.Add(time.Minute)
	if err := f.sim.PayOrder(id); err != nil {
		t.Fatal(err)
	}
	o, err = f.conn.GetOrder(context.Background(), f.sess, strconv.FormatInt(id, 10))
	if err != nil || o.Status != channel.OrderPaid || o.PaidAt == nil || !o.ModifiedAt.Equal(f.clk.Now()) {
		t.Fatalf("after pay: %v %+v", err, o)
	}
	if _, err := f.conn.GetOrder(context.Background(), f.sess, "6920000000000099990"); !errs.Is(err, errs.Invalid) {
		t.Fatalf("unknown order: %v", err)
	}
}

func TestWindowLimit(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	now := f.clk.Now()
	_, err := f.conn.PullOrders(context.Background(), f.sess, channel.OrderQuery{Start: now.Add(-48 * time.Hour), End: now})
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("window too long: %v", err)
	}
	if f.sim.Calls("order.searchList") != 0 {
		t.Fatal("connector called the platform with a window it would refuse")
	}
}

func TestTokenExpiryAndRefresh(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	ctx := context.Background()
	f.sim.ExpireToken()
	_, err := f.conn.PullOrders(ctx, f.sess, f.window())
	if !channel.IsAuthExpired(err) || !channel.IsRetryable(err) {
		t.Fatalf("expired token: %v", err)
	}
	var ae *channel.APIError
	if !errors.As(err, &ae) || ae.Code != "40003" || ae.SubCode != douyin.SubTokenExpired {
		t.Fatalf("want 40003/%s, got %v", douyin.SubTokenExpired, err)
	}
	cr, err := f.conn.RefreshToken(ctx, f.sess.Credentials)
	if err != nil {
		t.Fatal(err)
	}
	if cr.AccessToken == f.sess.Credentials.AccessToken || cr.RefreshToken == f.sess.Credentials.RefreshToken || !cr.ExpiresAt.Equal(f.clk.Now().Add(7*24*time.Hour)) || cr.Extra["shop_id"] == "" {
		t.Fatalf("refreshed credentials %+v", cr)
	}
	old := f.sess.Credentials
	f.sess.Credentials = cr
	if _, err := f.conn.PullOrders(ctx, f.sess, f.window()); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
	// A refresh token is single use.
	if _, err := f.conn.RefreshToken(ctx, old); !errors.As(err, &ae) || ae.Class != channel.ClassAuthInvalid {
		t.Fatalf("reused refresh token: %v", err)
	}
	// Unknown token.
	bad := f.sess
	bad.Credentials.AccessToken = "nope"
	if _, err := f.conn.PullOrders(ctx, bad, f.window()); !channel.IsAuthExpired(err) {
		t.Fatalf("unknown token: %v", err)
	}
}

func TestErrorClasses(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	ctx := context.Background()

	f.sim.SetFaults(douyinsim.Faults{RateLimitBurst: 1})
	_, err := f.conn.PullOrders(ctx, f.sess, f.window())
	var ae *channel.APIError
	if !channel.IsRateLimited(err) || !errors.As(err, &ae) || ae.Code != "60000" || ae.RetryAfter <= 0 {
		t.Fatalf("rate limited: %v", err)
	}
	if _, err := f.conn.PullOrders(ctx, f.sess, f.window()); err != nil {
		t.Fatalf("after the burst: %v", err)
	}

	f.sim.SetFaults(douyinsim.Faults{ServerErrorRatio: 1})
	_, err = f.conn.PullOrders(ctx, f.sess, f.window())
	if !errors.As(err, &ae) || ae.Class != channel.ClassTransient || !channel.IsRetryable(err) || !errs.Is(err, errs.Unavailable) {
		t.Fatalf("5xx: %v", err)
	}
	f.sim.SetFaults(douyinsim.Faults{})

	bad := f.sess
	bad.Credentials.AppSecret = "wrong"
	_, err = f.conn.PullOrders(ctx, bad, f.window())
	if !errors.As(err, &ae) || ae.Class != channel.ClassAuthInvalid || ae.SubCode != douyin.SubSignatureBad || channel.IsRetryable(err) {
		t.Fatalf("bad signature: %v", err)
	}

	// Clock skew beyond ten minutes is refused by the platform.
	skewed := douyin.New(douyin.Options{BaseURL: f.sim.URL(), Clock: func() time.Time { return f.clk.Now().Add(-11 * time.Minute) }})
	if _, err := skewed.PullOrders(ctx, f.sess, f.window()); !errors.As(err, &ae) || ae.SubCode != "isv.timestamp-invalid" || ae.Class != channel.ClassPermanent {
		t.Fatalf("skew: %v", err)
	}
}

func TestRateLimitPerApp(t *testing.T) {
	f := newFixture(t, douyinsim.Options{RateLimit: 3}, "")
	var limited int
	for i := 0; i < 10; i++ {
		if _, err := f.conn.PullOrders(context.Background(), f.sess, f.window()); channel.IsRateLimited(err) {
			limited++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if limited == 0 {
		t.Fatal("no call was rate limited")
	}
}

func TestPushStock(t *testing.T) {
	for _, sm := range []string{douyin.SignMD5, douyin.SignHMACSHA256} {
		t.Run(sm, func(t *testing.T) {
			f := newFixture(t, douyinsim.Options{}, sm)
			pr := f.sim.AddProduct(douyinsim.Product{Title: "保温杯", SKUs: []douyinsim.SKU{{Code: "CUP-1", Price: 5900, Stock: 3}}})
			k := pr.SKUs[0]
			up := []channel.StockUpdate{
				{PlatformItemID: strconv.FormatInt(pr.ProductID, 10), PlatformSKUID: strconv.FormatInt(k.SkuID, 10), Quantity: 42},
				{PlatformItemID: strconv.FormatInt(pr.ProductID, 10), PlatformSKUID: "999", Quantity: 1},
				{PlatformItemID: strconv.FormatInt(pr.ProductID, 10), PlatformSKUID: strconv.FormatInt(k.SkuID, 10), Quantity: -1},
			}
			res, err := f.conn.PushStock(context.Background(), f.sess, up)
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Err != nil || res[1].Err == nil || channel.IsRetryable(res[1].Err) || res[2].Err == nil {
				t.Fatalf("results %+v", res)
			}
			if got := f.sim.Stock(k.SkuID); got != 42 {
				t.Fatalf("platform stock %d", got)
			}
			// Full overwrite: pushing the same value again changes nothing.
			f.clk.Add(time.Second)
			if res, _ := f.conn.PushStock(context.Background(), f.sess, up[:1]); res[0].Err != nil {
				t.Fatal(res[0].Err)
			}
			if n, last := f.sim.StockSyncs(k.SkuID); n != 2 || last != 42 || f.sim.Stock(k.SkuID) != 42 {
				t.Fatalf("syncs %d last %d stock %d", n, last, f.sim.Stock(k.SkuID))
			}
			// An idempotent id the platform has seen counts as success.
			if res, _ := f.conn.PushStock(context.Background(), f.sess, up[:1]); res[0].Err != nil {
				t.Fatalf("repeated idempotent id: %v", res[0].Err)
			}
			if f.conn.MaxStockBatch() != douyin.SKUsPerCall {
				t.Fatal("batch")
			}
		})
	}
}

func TestPushStockStopsOnRateLimit(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	pr := f.sim.SeedCatalog(2, 5)
	f.sim.SetFaults(douyinsim.Faults{RateLimitBurst: 1})
	var up []channel.StockUpdate
	for _, p := range pr {
		for _, k := range p.SKUs {
			up = append(up, channel.StockUpdate{PlatformItemID: strconv.FormatInt(p.ProductID, 10), PlatformSKUID: strconv.FormatInt(k.SkuID, 10), Quantity: 9})
		}
	}
	res, _ := f.conn.PushStock(context.Background(), f.sess, up)
	for _, r := range res {
		if !channel.IsRateLimited(r.Err) {
			t.Fatalf("want every result rate limited, got %+v", res)
		}
	}
	if f.sim.Calls("sku.syncStock") != 0 || f.sim.Calls("sku.syncStockBatch") != 0 {
		t.Fatal("kept calling after a rate limit")
	}
}

func TestUploadShipment(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	ctx := context.Background()
	f.sim.SeedCatalog(1, 100)
	ids := f.sim.RandomOrders(3, true)
	oid := strconv.FormatInt(ids[0], 10)
	sh := channel.Shipment{PlatformOrderID: oid, CarrierCode: "ZTO", TrackingNo: "75312345678901"}
	if err := f.conn.UploadShipment(ctx, f.sess, sh); err != nil {
		t.Fatal(err)
	}
	v, _ := f.sim.Order(ids[0])
	if v.Status != douyinsim.StatusShipped || v.TrackingNo != "75312345678901" || v.Company != "zhongtong" {
		t.Fatalf("platform order %+v", v)
	}
	if err := f.conn.UploadShipment(ctx, f.sess, sh); err != nil {
		t.Fatalf("repeat upload must be harmless: %v", err)
	}
	sh.TrackingNo = "other"
	if err := f.conn.UploadShipment(ctx, f.sess, sh); err == nil {
		t.Fatal("a different tracking number on a shipped order must fail")
	}
	o, _ := f.conn.GetOrder(ctx, f.sess, oid)
	if o.Status != channel.OrderShipped {
		t.Fatalf("status %s", o.Status)
	}
	if err := f.conn.UploadShipment(ctx, f.sess, channel.Shipment{PlatformOrderID: oid, PlatformLineIDs: []string{"1"}, CarrierCode: "SF", TrackingNo: "SF1"}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("partial shipment: %v", err)
	}
}

func TestRefundFlows(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	ctx := context.Background()
	f.sim.SeedCatalog(2, 100)
	ids := f.sim.RandomOrders(3, true)

	// Refund before shipment, agreed.
	as1, err := f.sim.RequestRefund(ids[0], 0, douyinsim.ASTypeRefundUnshipped, "拍错了")
	if err != nil {
		t.Fatal(err)
	}
	// Return after shipment.
	if err := f.conn.UploadShipment(ctx, f.sess, channel.Shipment{PlatformOrderID: strconv.FormatInt(ids[1], 10), CarrierCode: "SF", TrackingNo: "SF100"}); err != nil {
		t.Fatal(err)
	}
	as2, err := f.sim.RequestRefund(ids[1], 0, douyinsim.ASTypeReturn, "尺码不合适")
	if err != nil {
		t.Fatal(err)
	}
	// Refund refused.
	as3, err := f.sim.RequestRefund(ids[2], 0, douyinsim.ASTypeRefundUnshipped, "")
	if err != nil {
		t.Fatal(err)
	}

	var got []channel.Refund
	q := channel.RefundQuery{Start: f.clk.Now().Add(-time.Hour), End: f.clk.Now().Add(time.Minute), PageSize: 2}
	for {
		pg, err := f.conn.PullRefunds(ctx, f.sess, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, pg.Refunds...)
		if pg.NextCursor == "" {
			break
		}
		q.Cursor = pg.NextCursor
	}
	if len(got) != 3 {
		t.Fatalf("pulled %d refunds", len(got))
	}
	for _, r := range got {
		if r.Status != channel.RefundRequested || r.Amount <= 0 || r.Quantity <= 0 || r.PlatformOrderID == "" || r.PlatformLineID == "" {
			t.Fatalf("refund %+v", r)
		}
	}
	r2, err := f.conn.GetRefund(ctx, f.sess, strconv.FormatInt(as2, 10))
	if err != nil || r2.Kind != channel.ReturnRefund || !r2.GoodsShipped || r2.Reason != "尺码不合适" {
		t.Fatalf("detail %v %+v", err, r2)
	}

	agree := func(id int64, action string) {
		t.Helper()
		if err := f.conn.AnswerRefund(ctx, f.sess, channel.RefundDecision{PlatformRefundID: strconv.FormatInt(id, 10), Action: action,
			ReturnAddress: &channel.Address{Name: "仓库", Phone: "0571-88888888", Province: "浙江省", City: "杭州市", District: "余杭区", Detail: "仓前街道1号"}}); err != nil {
			t.Fatalf("%s %d: %v", action, id, err)
		}
	}
	agree(as1, channel.RefundAgree)
	if st := f.sim.AfterSaleStatus(as1); st != douyinsim.ASSucceeded {
		t.Fatalf("as1 status %d", st)
	}
	if o, _ := f.conn.GetOrder(ctx, f.sess, strconv.FormatInt(ids[0], 10)); o.Status != channel.OrderCancelled {
		t.Fatalf("fully refunded unshipped order: %s", o.Status)
	}
	agree(as1, channel.RefundAgree) // answering again is harmless

	agree(as2, channel.RefundAgree)
	if st := f.sim.AfterSaleStatus(as2); st != douyinsim.ASWaitBuyerReturn {
		t.Fatalf("as2 status %d", st)
	}
	if err := f.sim.BuyerReturn(as2, "顺丰速运", "SF200"); err != nil {
		t.Fatal(err)
	}
	r2, _ = f.conn.GetRefund(ctx, f.sess, strconv.FormatInt(as2, 10))
	if r2.Status != channel.RefundBuyerReturned || r2.ReturnTrackingNo != "SF200" {
		t.Fatalf("returned %+v", r2)
	}
	agree(as2, channel.RefundConfirmReceipt)
	if st := f.sim.AfterSaleStatus(as2); st != douyinsim.ASSucceeded {
		t.Fatalf("as2 final %d", st)
	}

	if err := f.conn.AnswerRefund(ctx, f.sess, channel.RefundDecision{PlatformRefundID: strconv.FormatInt(as3, 10), Action: channel.RefundRefuse, Reason: "已与买家协商"}); err != nil {
		t.Fatal(err)
	}
	if st := f.sim.AfterSaleStatus(as3); st != douyinsim.ASRefusedFirst {
		t.Fatalf("as3 %d", st)
	}
	if err := f.conn.AnswerRefund(ctx, f.sess, channel.RefundDecision{PlatformRefundID: strconv.FormatInt(as3, 10), Action: "bogus"}); err == nil {
		t.Fatal("unknown action accepted")
	}
}

// webhook is an OmniHub-like receiver built on the connector.
type webhook struct {
	conn   *douyin.Connector
	secret map[string]string
	mu     sync.Mutex
	msgs   []channel.Message
	reject int // refuse this many calls first (platform must retry)
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	if w.reject > 0 {
		w.reject--
		w.mu.Unlock()
		http.Error(rw, "busy", http.StatusServiceUnavailable)
		return
	}
	w.mu.Unlock()
	msgs, err := w.conn.ParsePush(r.Context(), r.Header, body, func(k string) (string, error) {
		if s, ok := w.secret[k]; ok {
			return s, nil
		}
		return "", errors.New("unknown app")
	})
	if err != nil {
		http.Error(rw, err.Error(), errs.HTTPStatus(errs.CodeOf(err)))
		return
	}
	w.mu.Lock()
	w.msgs = append(w.msgs, msgs...)
	w.mu.Unlock()
	st, ct, b := w.conn.PushAck()
	rw.Header().Set("Content-Type", ct)
	rw.WriteHeader(st)
	_, _ = rw.Write(b)
}

func (w *webhook) messages() []channel.Message {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]channel.Message(nil), w.msgs...)
}

func TestPushDeliveryAndRetries(t *testing.T) {
	f := newFixture(t, douyinsim.Options{PushBackoff: time.Millisecond}, "")
	cr := f.sim.Credentials()
	wh := &webhook{conn: f.conn, secret: map[string]string{cr.AppKey: cr.AppSecret}, reject: 2}
	srv := httptest.NewServer(wh)
	defer srv.Close()
	f.sim.SetWebhook(srv.URL)
	f.sim.SendVerification()
	f.sim.SeedCatalog(1, 100)
	ids := f.sim.RandomOrders(5, true)
	as, err := f.sim.RequestRefund(ids[0], 0, douyinsim.ASTypeRefundUnshipped, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.sim.WaitPushes(ctx); err != nil {
		t.Fatal(err)
	}
	st := f.sim.PushStats()
	if st.Retries == 0 || st.Failed != 0 || st.Delivered != st.Enqueued {
		t.Fatalf("push stats %+v", st)
	}
	kinds := map[channel.MessageKind]int{}
	ids2 := map[string]bool{}
	for _, m := range wh.messages() {
		kinds[m.Kind]++
		if ids2[m.ID] {
			t.Fatalf("duplicate message %s without fault injection", m.ID)
		}
		ids2[m.ID] = true
		if m.PlatformShopID != strconv.FormatInt(cr.ShopID, 10) || m.PlatformOrderID == "" || m.OccurredAt.IsZero() {
			t.Fatalf("message %+v", m)
		}
		if m.Kind == channel.MsgRefundCreated && m.PlatformRefundID != strconv.FormatInt(as, 10) {
			t.Fatalf("refund message %+v", m)
		}
	}
	if kinds[channel.MsgOrderCreated] != 5 || kinds[channel.MsgOrderPaid] != 5 || kinds[channel.MsgRefundCreated] != 1 {
		t.Fatalf("kinds %v", kinds)
	}
}

func TestPushWrongSecretIsRefusedAndRetried(t *testing.T) {
	f := newFixture(t, douyinsim.Options{PushBackoff: time.Millisecond, PushRetries: 2}, "")
	cr := f.sim.Credentials()
	wh := &webhook{conn: f.conn, secret: map[string]string{cr.AppKey: "not-the-secret"}}
	srv := httptest.NewServer(wh)
	defer srv.Close()
	f.sim.SetWebhook(srv.URL)
	f.sim.SeedCatalog(1, 10)
	f.sim.RandomOrders(1, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.sim.WaitPushes(ctx); err != nil {
		t.Fatal(err)
	}
	st := f.sim.PushStats()
	if len(wh.messages()) != 0 || st.Failed != 1 || st.Posts != 3 {
		t.Fatalf("stats %+v, accepted %d", st, len(wh.messages()))
	}
}

func TestPushDuplicatesKeepTheirID(t *testing.T) {
	f := newFixture(t, douyinsim.Options{PushBackoff: time.Millisecond}, "")
	cr := f.sim.Credentials()
	wh := &webhook{conn: f.conn, secret: map[string]string{cr.AppKey: cr.AppSecret}}
	srv := httptest.NewServer(wh)
	defer srv.Close()
	f.sim.SetWebhook(srv.URL)
	f.sim.SetFaults(douyinsim.Faults{DuplicatePushRatio: 1, ReorderPushes: true})
	f.sim.SeedCatalog(1, 10)
	f.sim.RandomOrders(3, true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.sim.WaitPushes(ctx); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, m := range wh.messages() {
		count[m.ID]++
	}
	if len(count) != 6 {
		t.Fatalf("distinct messages %d", len(count))
	}
	for id, n := range count {
		if n != 2 {
			t.Fatalf("message %s seen %d times", id, n)
		}
	}
}

func TestParsePushRejects(t *testing.T) {
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	c := douyin.New(douyin.Options{Clock: func() time.Time { return now }})
	secrets := func(k string) (string, error) {
		if k == "app" {
			return "sec", nil
		}
		return "", errors.New("unknown")
	}
	body := []byte(`[{"tag":"101","msg_id":"m1","data":"{\"p_id\":6920000000000000010,\"shop_id\":77001,\"pay_time\":` + strconv.FormatInt(now.Unix(), 10) + `}"}]`)
	h := func(app, sign string) http.Header {
		hh := http.Header{}
		if app != "" {
			hh.Set("app-id", app)
		}
		if sign != "" {
			hh.Set("event-sign", sign)
		}
		return hh
	}
	good := douyin.PushSign("app", "sec", body)
	msgs, err := c.ParsePush(context.Background(), h("app", good), body, secrets)
	if err != nil || len(msgs) != 1 || msgs[0].ID != "m1" || msgs[0].Kind != channel.MsgOrderPaid || msgs[0].PlatformOrderID != "6920000000000000010" || !msgs[0].OccurredAt.Equal(now) {
		t.Fatalf("good push: %v %+v", err, msgs)
	}
	for name, hh := range map[string]http.Header{
		"unsigned":    h("app", ""),
		"no app":      h("", good),
		"unknown app": h("other", good),
		"wrong sign":  h("app", douyin.PushSign("app", "other", body)),
	} {
		if _, err := c.ParsePush(context.Background(), hh, body, secrets); !errs.Is(err, errs.Unauthorized) {
			t.Errorf("%s: %v", name, err)
		}
	}
	tampered := append([]byte(nil), body...)
	tampered[10] = '2'
	if _, err := c.ParsePush(context.Background(), h("app", good), tampered, secrets); !errs.Is(err, errs.Unauthorized) {
		t.Errorf("tampered body: %v", err)
	}
	stale := []byte(`[{"tag":"100","msg_id":"m2","data":"{\"p_id\":1,\"create_time\":1600000000}"}]`)
	if _, err := c.ParsePush(context.Background(), h("app", douyin.PushSign("app", "sec", stale)), stale, secrets); !errs.Is(err, errs.Unauthorized) {
		t.Errorf("stale: %v", err)
	}
	verify := []byte(`[{"tag":"0","msg_id":"","data":"{}"}]`)
	if msgs, err := c.ParsePush(context.Background(), h("app", douyin.PushSign("app", "sec", verify)), verify, secrets); err != nil || len(msgs) != 0 {
		t.Errorf("verification message: %v %v", err, msgs)
	}
	st, ct, b := c.PushAck()
	if st != 200 || ct != "application/json" || string(b) != `{"code":0,"msg":"success"}` {
		t.Errorf("ack %d %s %s", st, ct, b)
	}
}

func TestListListings(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	prs := f.sim.SeedCatalog(150, 7) // two pages of products, 300 SKUs
	var all []channel.Listing
	cursor := ""
	pages := 0
	for {
		pg, err := f.conn.ListListings(context.Background(), f.sess, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, pg.Listings...)
		if pg.NextCursor == "" {
			break
		}
		cursor = pg.NextCursor
	}
	if pages != 2 || len(all) != 300 {
		t.Fatalf("pages %d listings %d", pages, len(all))
	}
	l := all[0]
	k := prs[0].SKUs[0]
	if l.PlatformItemID != strconv.FormatInt(prs[0].ProductID, 10) || l.PlatformSKUID != strconv.FormatInt(k.SkuID, 10) ||
		l.OuterID != k.Code || l.Quantity != 7 || l.Price != k.Price || !l.OnSale || l.Title == "" || l.SpecName == "" {
		t.Fatalf("listing %+v for %+v", l, k)
	}
}

func TestCreateToken(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	cr, err := f.conn.CreateToken(context.Background(), f.sess.Credentials.AppKey, f.sess.Credentials.AppSecret, f.sess.PlatformShopID, "")
	if err != nil {
		t.Fatal(err)
	}
	if cr.AccessToken == "" || cr.RefreshToken == "" || cr.Extra["shop_id"] != f.sess.PlatformShopID || cr.ExpiresAt.IsZero() {
		t.Fatalf("credentials %+v", cr)
	}
	f.sess.Credentials = cr
	if _, err := f.conn.PullOrders(context.Background(), f.sess, f.window()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.conn.CreateToken(context.Background(), f.sess.Credentials.AppKey, f.sess.Credentials.AppSecret, "1", ""); !errs.Is(err, errs.Unauthorized) {
		t.Fatalf("other shop: %v", err)
	}
}

func TestStockSyncHook(t *testing.T) {
	var mu sync.Mutex
	seen := map[int64]int64{}
	f := newFixture(t, douyinsim.Options{OnStockSync: func(sku, stock int64) { mu.Lock(); seen[sku] = stock; mu.Unlock() }}, "")
	pr := f.sim.SeedCatalog(1, 3)[0]
	k := pr.SKUs[1]
	res, _ := f.conn.PushStock(context.Background(), f.sess, []channel.StockUpdate{{PlatformItemID: strconv.FormatInt(pr.ProductID, 10), PlatformSKUID: strconv.FormatInt(k.SkuID, 10), Quantity: 11}})
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen[k.SkuID] != 11 || len(seen) != 1 {
		t.Fatalf("hook saw %v", seen)
	}
}

func TestLatencyTimesOutAsUnavailable(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	f.sim.SetFaults(douyinsim.Faults{Latency: 300 * time.Millisecond})
	c := douyin.New(douyin.Options{BaseURL: f.sim.URL(), Clock: f.clk.Now, HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
	_, err := c.PullOrders(context.Background(), f.sess, f.window())
	if !errs.Is(err, errs.Unavailable) || !channel.IsRetryable(err) {
		t.Fatalf("slow platform: %v", err)
	}
}

// A flash sale pushed to a connector-based webhook: every paid order's
// payment message arrives exactly once (no faults), and after-sale messages
// name their case.
func TestFlashSalePushesReachTheWebhook(t *testing.T) {
	f := newFixture(t, douyinsim.Options{PushBatch: 50, PushWorkers: 4}, "")
	cr := f.sim.Credentials()
	wh := &webhook{conn: f.conn, secret: map[string]string{cr.AppKey: cr.AppSecret}}
	srv := httptest.NewServer(wh)
	defer srv.Close()
	f.sim.SetWebhook(srv.URL)
	pr := f.sim.AddProduct(douyinsim.Product{Title: "秒杀款", SKUs: []douyinsim.SKU{{Code: "FS-1", Price: 990, Stock: 80}, {Code: "FS-2", Price: 990, Stock: 80}}})
	var mu sync.Mutex
	paid := map[string]bool{}
	res, err := f.sim.FlashSale(context.Background(), douyinsim.FlashSaleOptions{
		SKUs: []int64{pr.SKUs[0].SkuID, pr.SKUs[1].SkuID}, OrdersPerSecond: 1500, Duration: 200 * time.Millisecond,
		CancelRatio: 0.1, RefundRatio: 0.1,
		OnOrder: func(o douyinsim.FlashOrder) {
			if o.Paid {
				mu.Lock()
				paid[strconv.FormatInt(o.OrderID, 10)] = true
				mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.sim.WaitPushes(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	refunds := 0
	for _, m := range wh.messages() {
		switch m.Kind {
		case channel.MsgOrderPaid:
			got[m.PlatformOrderID]++
		case channel.MsgRefundCreated:
			refunds++
			if m.PlatformRefundID == "" {
				t.Fatalf("refund message without case %+v", m)
			}
		}
	}
	if int64(len(paid)) != res.Paid || len(got) != len(paid) {
		t.Fatalf("paid orders %d (result %d), payment messages for %d", len(paid), res.Paid, len(got))
	}
	for id := range paid {
		if got[id] != 1 {
			t.Fatalf("order %s: %d payment messages", id, got[id])
		}
	}
	if int64(refunds) != res.RefundRequested {
		t.Fatalf("refund messages %d, requested %d", refunds, res.RefundRequested)
	}
}

func TestUploadPartialShipments(t *testing.T) {
	f := newFixture(t, douyinsim.Options{}, "")
	ctx := context.Background()
	pr := f.sim.AddProduct(douyinsim.Product{Title: "套装", SKUs: []douyinsim.SKU{{Code: "A", Price: 100, Stock: 9}, {Code: "B", Price: 200, Stock: 9}}})
	id, err := f.sim.CreateOrder(douyinsim.NewOrder{Pay: true, Lines: []douyinsim.NewLine{{SkuID: pr.SKUs[0].SkuID, Qty: 2}, {SkuID: pr.SKUs[1].SkuID, Qty: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	oid := strconv.FormatInt(id, 10)
	o, _ := f.conn.GetOrder(ctx, f.sess, oid)
	first := channel.Shipment{PlatformOrderID: oid, PlatformLineIDs: []string{o.Lines[0].PlatformLineID}, CarrierCode: "YTO", TrackingNo: "YT1"}
	if err := f.conn.UploadShipment(ctx, f.sess, first); err != nil {
		t.Fatal(err)
	}
	if o, _ = f.conn.GetOrder(ctx, f.sess, oid); o.Status != channel.OrderPartShipped || o.PlatformStatus != "101" {
		t.Fatalf("after the first parcel: %s/%s", o.Status, o.PlatformStatus)
	}
	if err := f.conn.UploadShipment(ctx, f.sess, first); err != nil {
		t.Fatalf("repeating a parcel must be harmless: %v", err)
	}
	if v, _ := f.sim.Order(id); v.Lines[0].Shipped != 2 || v.Lines[1].Shipped != 0 {
		t.Fatalf("shipped %+v", v.Lines)
	}
	second := channel.Shipment{PlatformOrderID: oid, PlatformLineIDs: []string{o.Lines[1].PlatformLineID}, CarrierCode: "YTO", TrackingNo: "YT2"}
	if err := f.conn.UploadShipment(ctx, f.sess, second); err != nil {
		t.Fatal(err)
	}
	o, _ = f.conn.GetOrder(ctx, f.sess, oid)
	if o.Status != channel.OrderShipped {
		t.Fatalf("after both parcels: %s", o.Status)
	}
	if err := f.conn.UploadShipment(ctx, f.sess, channel.Shipment{PlatformOrderID: oid, PlatformLineIDs: []string{"42"}, CarrierCode: "YTO", TrackingNo: "YT3"}); !errs.Is(err, errs.Invalid) {
		t.Fatalf("unknown sub-order: %v", err)
	}
}
