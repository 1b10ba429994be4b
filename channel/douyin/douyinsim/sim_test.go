package douyinsim

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// call signs a request with the documented algorithm written out in full
// (not the simulator's helper) and returns the envelope.
func call(t *testing.T, s *Sim, method, pj string, mutate func(q url.Values)) map[string]any {
	t.Helper()
	cr := s.Credentials()
	ts := strconv.FormatInt(s.now().Unix(), 10)
	sum := md5.Sum([]byte(cr.AppSecret + "app_key" + cr.AppKey + "method" + method + "param_json" + pj + "timestamp" + ts + "v2" + cr.AppSecret))
	q := url.Values{"app_key": {cr.AppKey}, "method": {method}, "access_token": {cr.AccessToken}, "timestamp": {ts}, "v": {"2"}, "sign": {hex.EncodeToString(sum[:])}}
	if mutate != nil {
		mutate(q)
	}
	resp, err := http.Post(s.URL()+"/"+strings.ReplaceAll(method, ".", "/")+"?"+q.Encode(), "application/json", strings.NewReader(pj))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env map[string]any
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("%s: %s", err, b)
	}
	return env
}

func code(env map[string]any) string {
	c, _ := env["code"].(float64)
	return strconv.Itoa(int(c)) + "/" + env["sub_code"].(string)
}

func TestGatewayChecks(t *testing.T) {
	clk := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	s := New(Options{Seed: 1, Clock: func() time.Time { return clk }})
	s.Start()
	defer s.Close()
	win := `{"order_asc":true,"order_by":"update_time","page":0,"size":100,"update_time_end":` + strconv.FormatInt(clk.Unix(), 10) + `,"update_time_start":` + strconv.FormatInt(clk.Unix()-3600, 10) + `}`
	for _, tc := range []struct {
		name, method, pj string
		mutate           func(url.Values)
		want             string
	}{
		{"ok", "order.searchList", win, nil, "10000/"},
		{"missing app key", "order.searchList", win, func(q url.Values) { q.Del("app_key") }, "40001/isv.app-id-missing"},
		{"unknown app key", "order.searchList", win, func(q url.Values) { q.Set("app_key", "1") }, "40003/isv.app-id-invalid"},
		{"missing sign", "order.searchList", win, func(q url.Values) { q.Del("sign") }, "40001/isv.signature-missing"},
		{"bad sign", "order.searchList", win, func(q url.Values) { q.Set("sign", "00") }, "40003/isv.signature-invalid"},
		{"hmac declared but md5 sent", "order.searchList", win, func(q url.Values) { q.Set("sign_method", "hmac-sha256") }, "40003/isv.signature-invalid"},
		{"wrong version", "order.searchList", win, func(q url.Values) { q.Set("v", "1") }, "40003/isv.version-invalid"},
		{"missing token", "order.searchList", win, func(q url.Values) { q.Del("access_token") }, "40001/isv.access-token-missing"},
		{"unknown token", "order.searchList", win, func(q url.Values) { q.Set("access_token", "x") }, "40003/isv.access-token-no-existed"},
		{"stale timestamp", "order.searchList", win, func(q url.Values) { q.Set("timestamp", strconv.FormatInt(clk.Unix()-700, 10)) }, "40003/isv.timestamp-invalid"},
		{"method differs from path", "order.searchList", win, func(q url.Values) { q.Set("method", "order.orderDetail") }, "40003/isv.method-invalid"},
		{"page size too big", "order.searchList", strings.Replace(win, `"size":100`, `"size":101`, 1), nil, "40004/isv.business-failed"},
		{"negative page", "order.searchList", strings.Replace(win, `"page":0`, `"page":-1`, 1), nil, "40004/isv.business-failed"},
		{"window too long", "order.searchList", strings.Replace(win, strconv.FormatInt(clk.Unix()-3600, 10), strconv.FormatInt(clk.Unix()-25*3600, 10), 1), nil, "40004/isv.business-failed"},
		{"bad json", "order.searchList", `{"page":`, nil, "40003/isv.parameter-format-invalid"},
		{"unknown api", "order.nothing", `{}`, nil, "70000/isp.api-service-off"},
		{"unknown order", "order.orderDetail", `{"shop_order_id":"1"}`, nil, "40004/isv.parameter-invalid:60033"},
		{"after-sale update search without order_by", "afterSale.List", `{"page":0,"size":10,"update_end_time":` + strconv.FormatInt(clk.Unix(), 10) + `,"update_start_time":` + strconv.FormatInt(clk.Unix()-60, 10) + `}`, nil, "40004/isv.business-failed"},
		{"after-sale deep page", "afterSale.List", `{"order_by":["update_time asc"],"page":500,"size":100,"update_end_time":` + strconv.FormatInt(clk.Unix(), 10) + `,"update_start_time":` + strconv.FormatInt(clk.Unix()-60, 10) + `}`, nil, "40004/isv.business-failed"},
		{"after-sale ok", "afterSale.List", `{"order_by":["update_time asc"],"page":0,"size":100,"update_end_time":` + strconv.FormatInt(clk.Unix(), 10) + `,"update_start_time":` + strconv.FormatInt(clk.Unix()-60, 10) + `}`, nil, "10000/"},
		{"size missing", "order.searchList", strings.Replace(win, `"size":100,`, ``, 1), nil, "40002/isv.missing-parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := code(call(t, s, tc.method, tc.pj, tc.mutate)); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParamJSONInQueryAndDateTimestamp(t *testing.T) {
	clk := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	s := New(Options{Seed: 1, Clock: func() time.Time { return clk }})
	s.Start()
	defer s.Close()
	cr := s.Credentials()
	ts := clk.In(shanghai).Format("2006-01-02 15:04:05")
	pj := `{"shop_order_id":"1"}`
	sum := md5.Sum([]byte(cr.AppSecret + "app_key" + cr.AppKey + "methodorder.orderDetailparam_json" + pj + "timestamp" + ts + "v2" + cr.AppSecret))
	q := url.Values{"app_key": {cr.AppKey}, "method": {"order.orderDetail"}, "access_token": {cr.AccessToken}, "timestamp": {ts}, "v": {"2"}, "sign": {hex.EncodeToString(sum[:])}, "param_json": {pj}}
	resp, err := http.Post(s.URL()+"/order/orderDetail?"+q.Encode(), "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&env)
	if got := code(env); got != "40004/isv.parameter-invalid:60033" { // signature and token passed; the order does not exist
		t.Fatalf("got %s", got)
	}
}

func TestDeterministicWithSeed(t *testing.T) {
	clk := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	run := func() []string {
		s := New(Options{Seed: 7, Clock: func() time.Time { return clk }})
		defer s.Close()
		s.SeedCatalog(3, 100)
		var out []string
		for _, id := range s.RandomOrders(10, true) {
			s.mu.Lock()
			o := s.orders[id]
			out = append(out, o.recv.Name+o.recv.Phone+o.recv.Detail+o.buyerWords+strconv.Itoa(len(o.lines)))
			s.mu.Unlock()
		}
		return out
	}
	a, b := run(), run()
	if strings.Join(a, "|") != strings.Join(b, "|") {
		t.Fatal("same seed gave different orders")
	}
	if a[0] == a[1] {
		t.Fatal("orders are not varied")
	}
}

func TestFlashSaleNeverOversellsPlatformStock(t *testing.T) {
	s := New(Options{Seed: 3})
	defer s.Close()
	pr := s.AddProduct(Product{Title: "直播间福利款", SKUs: []SKU{{Code: "FL-1", Price: 990, Stock: 60}, {Code: "FL-2", Price: 1990, Stock: 40}}})
	initial := map[int64]int64{pr.SKUs[0].SkuID: 60, pr.SKUs[1].SkuID: 40}
	var omu sync.Mutex
	seen := map[int64]FlashOrder{}
	res, err := s.FlashSale(context.Background(), FlashSaleOptions{
		OnOrder: func(o FlashOrder) { omu.Lock(); seen[o.OrderID] = o; omu.Unlock() },
		SKUs:    []int64{pr.SKUs[0].SkuID, pr.SKUs[1].SkuID}, OrdersPerSecond: 2000, Duration: 200 * time.Millisecond,
		MaxQty: 2, CancelRatio: 0.1, RefundRatio: 0.1, AutoAgreeRefunds: true, Workers: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.SoldOut == 0 || res.Created == 0 || res.Paid == 0 || res.Cancelled == 0 {
		t.Fatalf("the sale did not exhaust stock with a mix of outcomes: %+v", res)
	}
	if res.Attempts != res.Created+res.SoldOut {
		t.Fatalf("attempts %d != created %d + sold out %d", res.Attempts, res.Created, res.SoldOut)
	}
	// Units held by live orders plus what is left equals the initial stock,
	// and the stock never went negative.
	held := map[int64]int64{}
	for _, id := range s.Orders() {
		v, _ := s.Order(id)
		if v.Status == StatusCancelled {
			continue
		}
		for _, l := range v.Lines {
			held[l.SkuID] += l.Qty
		}
	}
	for k, init := range initial {
		left := s.Stock(k)
		if left < 0 || held[k]+left != init {
			t.Fatalf("sku %d: initial %d, held %d, left %d", k, init, held[k], left)
		}
		if res.UnitsSold[k] != held[k] {
			t.Fatalf("sku %d: result says %d sold, orders hold %d", k, res.UnitsSold[k], held[k])
		}
	}
	if int64(len(seen)) != res.Created {
		t.Fatalf("OnOrder saw %d orders, result says %d", len(seen), res.Created)
	}
	for id, o := range seen {
		v, _ := s.Order(id)
		if (v.Status == StatusCancelled) != (o.Cancelled || o.Refunded) || o.At.IsZero() {
			t.Fatalf("order %d: platform status %d, hook %+v", id, v.Status, o)
		}
	}
	st := s.PushStats()
	if st.Enqueued < int(2*res.Created) {
		t.Fatalf("pushes %+v for %d orders", st, res.Created)
	}
}

func TestFlashSaleValidates(t *testing.T) {
	s := New(Options{Seed: 3})
	defer s.Close()
	if _, err := s.FlashSale(context.Background(), FlashSaleOptions{}); err == nil {
		t.Fatal("sale without SKUs")
	}
	s.SeedCatalog(1, 1)
	if _, err := s.FlashSale(context.Background(), FlashSaleOptions{CancelRatio: 0.8, RefundRatio: 0.5}); err == nil {
		t.Fatal("ratios above 1")
	}
	if _, err := s.FlashSale(context.Background(), FlashSaleOptions{SKUs: []int64{1}}); err == nil {
		t.Fatal("unknown sku")
	}
}

func BenchmarkFlashSale(b *testing.B) {
	s := New(Options{Seed: 3})
	defer s.Close()
	pr := s.AddProduct(Product{Title: "秒杀", SKUs: []SKU{{Code: "B-1", Price: 990, Stock: 1 << 40}}})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.mu.Lock()
		_, err := s.createLocked(NewOrder{Lines: []NewLine{{SkuID: pr.SKUs[0].SkuID, Qty: 1}}, Pay: true}, s.rnd)
		s.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
	}
}

func TestUpdateIndex(t *testing.T) {
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	s := New(Options{Seed: 1, Clock: func() time.Time { return now }})
	defer s.Close()
	s.SeedCatalog(1, 100)
	a := s.RandomOrders(1, false)[0]
	now = now.Add(time.Second)
	b := s.RandomOrders(1, false)[0]
	now = now.Add(time.Second)
	if err := s.PayOrder(a); err != nil { // a moves after b
		t.Fatal(err)
	}
	ids := func(start, end int64) []int64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		var out []int64
		for _, o := range s.ordersUpdated(start, end) {
			out = append(out, o.id)
		}
		return out
	}
	t0 := now.Unix() - 2
	if got := ids(t0, t0+10); len(got) != 2 || got[0] != b || got[1] != a {
		t.Fatalf("got %v, want [%d %d]", got, b, a)
	}
	if got := ids(t0, t0); len(got) != 0 {
		t.Fatalf("a's old entry is stale, got %v", got)
	}
	now = now.Add(-time.Hour) // the clock goes back: full-scan fallback
	if err := s.CancelOrder(b); err != nil {
		t.Fatal(err)
	}
	if got := ids(now.Unix(), now.Unix()+7200); len(got) != 2 || got[0] != b || got[1] != a {
		t.Fatalf("after the clock went back: %v", got)
	}
}

func BenchmarkSearchListManyOrders(b *testing.B) {
	now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	s := New(Options{Seed: 1, Clock: func() time.Time { return now }})
	defer s.Close()
	s.SeedCatalog(5, 1<<40)
	for i := 0; i < 100; i++ {
		s.RandomOrders(1000, true)
		now = now.Add(time.Second)
	}
	m := p{"page": json.Number("50"), "size": json.Number("100"), "update_time_start": json.Number(strconv.FormatInt(now.Unix()-10, 10)),
		"update_time_end": json.Number(strconv.FormatInt(now.Unix(), 10)), "order_by": "update_time", "order_asc": true}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.orderSearchList(m); err != nil {
			b.Fatal(err)
		}
	}
}
