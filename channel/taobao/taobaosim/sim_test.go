package taobaosim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)

func newSim(t *testing.T) *Sim {
	t.Helper()
	s := New(Options{Seed: 1, Clock: func() time.Time { return t0 }}).Start()
	t.Cleanup(s.Close)
	return s
}

// call signs p with the demo credentials, lets mutate tamper with the
// signed parameters, and returns the decoded answer.
func call(t *testing.T, s *Sim, p map[string]string, mutate func(map[string]string)) map[string]any {
	t.Helper()
	cr := s.Credentials()
	all := map[string]string{"app_key": cr.AppKey, "session": cr.Session, "timestamp": fmtTime(t0), "v": "2.0",
		"sign_method": "hmac-sha256", "format": "json"}
	for k, v := range p {
		all[k] = v
	}
	all["sign"], _ = signature(all, cr.AppSecret, all["sign_method"])
	if mutate != nil {
		mutate(all)
	}
	form := url.Values{}
	for k, v := range all {
		form.Set(k, v)
	}
	resp, err := http.PostForm(s.GatewayURL(), form)
	if err != nil {
		t.Error(err) // not Fatal: call is used from goroutines too
		return nil
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Error(err)
	}
	return out
}

func errCode(out map[string]any) (float64, string) {
	e, ok := out["error_response"].(map[string]any)
	if !ok {
		return 0, ""
	}
	sub, _ := e["sub_code"].(string)
	return e["code"].(float64), sub
}

func TestGatewayChecks(t *testing.T) {
	s := newSim(t)
	trades := map[string]string{"method": "taobao.trades.sold.increment.get", "fields": "tid",
		"start_modified": "2026-11-23 09:00:00", "end_modified": "2026-11-23 10:00:00"}
	cases := []struct {
		name   string
		p      map[string]string
		mutate func(map[string]string)
		code   float64
		sub    string
	}{
		{"ok", trades, nil, 0, ""},
		{"missing method", map[string]string{}, func(m map[string]string) { delete(m, "method") }, 21, ""},
		{"unknown method", map[string]string{"method": "taobao.nothing.get"}, nil, 22, ""},
		{"missing sign", trades, func(m map[string]string) { delete(m, "sign") }, 24, ""},
		{"wrong sign", trades, func(m map[string]string) { m["sign"] = strings.Repeat("A", 64) }, 25, ""},
		{"tampered param", trades, func(m map[string]string) { m["fields"] = "tid,payment" }, 25, ""},
		{"unknown sign method", trades, func(m map[string]string) { m["sign_method"] = "sha1" }, 25, ""},
		{"unknown app", trades, func(m map[string]string) { m["app_key"] = "1" }, 29, ""},
		{"missing timestamp", trades, func(m map[string]string) { delete(m, "timestamp") }, 30, ""},
		{"bad version", map[string]string{"method": "taobao.trades.sold.increment.get", "v": "1.0"}, nil, 34, ""},
		{"xml", map[string]string{"method": "taobao.trades.sold.increment.get", "format": "xml"}, nil, 23, ""},
		{"missing session", map[string]string{"method": "taobao.trades.sold.increment.get", "session": ""}, nil, 26, ""},
		{"invalid session", map[string]string{"method": "taobao.trades.sold.increment.get", "session": "nope"}, nil, 27, "invalid-sessionkey"},
		{"missing fields", map[string]string{"method": "taobao.trades.sold.increment.get", "start_modified": "2026-11-23 09:00:00", "end_modified": "2026-11-23 10:00:00"}, nil, 40, "isv.missing-parameter"},
		{"window too long", map[string]string{"method": "taobao.trades.sold.increment.get", "fields": "tid", "start_modified": "2026-11-22 09:00:00", "end_modified": "2026-11-23 09:00:01"}, nil, 41, "isv.invalid-parameter"},
		{"end before start", map[string]string{"method": "taobao.trades.sold.increment.get", "fields": "tid", "start_modified": "2026-11-23 09:00:00", "end_modified": "2026-11-23 08:00:00"}, nil, 41, "isv.invalid-parameter"},
		{"page too large", map[string]string{"method": "taobao.trades.sold.increment.get", "fields": "tid", "start_modified": "2026-11-23 09:00:00", "end_modified": "2026-11-23 10:00:00", "page_size": "101"}, nil, 41, "isv.invalid-parameter"},
		{"tmc quantity", map[string]string{"method": "taobao.tmc.messages.consume", "quantity": "201"}, nil, 41, "isv.invalid-parameter"},
		{"tmc without session", map[string]string{"method": "taobao.tmc.messages.consume", "session": ""}, nil, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := call(t, s, c.p, c.mutate)
			code, sub := errCode(out)
			if code != c.code || sub != c.sub {
				t.Fatalf("got %v %q, want %v %q: %v", code, sub, c.code, c.sub, out)
			}
		})
	}
}

func TestStockFollowsTrades(t *testing.T) {
	s := newSim(t)
	it := s.AddItem(ItemSpec{Title: "茶叶", Price: 1000, Quantity: 3, OuterID: "TEA"})
	tid, err := s.CreateTrade(TradeSpec{Lines: []LineSpec{{NumIID: it.NumIID, Num: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if q := s.Quantity(it.NumIID, 0); q != 1 {
		t.Fatalf("after order %d", q)
	}
	if _, err := s.CreateTrade(TradeSpec{Lines: []LineSpec{{NumIID: it.NumIID, Num: 2}}}); !errors.Is(err, ErrOutOfStock) {
		t.Fatalf("oversold: %v", err)
	}
	if err := s.CancelTrade(tid); err != nil {
		t.Fatal(err)
	}
	if q := s.Quantity(it.NumIID, 0); q != 3 {
		t.Fatalf("after cancel %d", q)
	}
	if err := s.PayTrade(tid); !errors.Is(err, ErrState) {
		t.Fatalf("paid a closed trade: %v", err)
	}
}

func TestDeterministicWithSeed(t *testing.T) {
	gen := func() string {
		s := New(Options{Seed: 99, Clock: func() time.Time { return t0 }})
		s.SeedCatalog()
		var b strings.Builder
		for i := 0; i < 5; i++ {
			tid, err := s.GenerateTrade(true)
			if err != nil {
				t.Fatal(err)
			}
			j, _ := json.Marshal(s.tradeJSON(s.trades[tid]))
			b.Write(j)
		}
		return b.String() + s.Credentials().AppSecret
	}
	a, b := gen(), gen()
	if a != b {
		t.Fatal("same seed, different shop")
	}
	if !strings.Contains(a, "receiver_state") || !strings.ContainsAny(a, "省市") {
		t.Fatalf("no realistic address: %.200s", a)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := newSim(t)
	s.SeedCatalog()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				s.GenerateTrade(j%2 == 0)
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				call(t, s, map[string]string{"method": "taobao.tmc.messages.consume"}, nil)
			}
		}()
	}
	wg.Wait()
}
