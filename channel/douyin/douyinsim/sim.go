// Package douyinsim simulates the Douyin shop open platform (抖店开放平台)
// for tests, the demo and benchmarks: the signed gateway with its parameter,
// token, timestamp, page-size, window and rate-limit checks and the real
// error codes; an in-memory shop (products, SKUs, platform stock, orders,
// after-sales) with realistic buyers; message pushes to a webhook with the
// platform's signature and retries; fault injection; and a live-stream
// flash-sale traffic generator.
//
// It does not import the connector: its signature check is written
// independently so that the two can catch each other's mistakes.
package douyinsim

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Demo credentials used when Options leave them empty.
const (
	DemoAppKey    = "7152331848235353614"
	DemoAppSecret = "d1f8a6a2-5b7c-4e3f-9a21-0c6d7e8f9a10"
	DemoShopID    = 77001
)

// Options configure a simulator.
type Options struct {
	AppKey, AppSecret string
	ShopID            int64
	ShopName          string
	Seed              uint64
	Clock             func() time.Time
	TokenTTL          time.Duration // default 7 days, as the platform's access tokens
	MaxWindow         time.Duration // longest update-time window of a search (default 24h)
	RateLimit         int           // calls per second per app (0: unlimited)

	WebhookURL    string
	WebhookClient *http.Client
	PushRetries   int           // redeliveries after the first attempt (default 3)
	PushBackoff   time.Duration // first retry delay, doubled each time (default 200ms)
	PushBatch     int           // messages per POST (default 20)
	PushWorkers   int           // concurrent deliveries (default 2)

	// OnStockSync, when set, is called after each accepted sku.syncStock
	// with the SKU and its new platform stock, and once per SKU of each
	// accepted sku.syncStockBatch (benchmarks time the propagation of a
	// sale to the other shop with it).
	OnStockSync func(skuID, stock int64)
}

// Faults are injected failures; the zero value injects none.
type Faults struct {
	Latency            time.Duration
	ServerErrorRatio   float64 // share of calls answered with HTTP 502
	RateLimitBurst     int     // the next N calls are refused with code 60000
	DropPushRatio      float64 // pushes never sent
	DuplicatePushRatio float64 // pushes sent twice
	ReorderPushes      bool    // shuffle each batch
}

// Sim is a running simulator.
type Sim struct {
	opt    Options
	now    func() time.Time
	srv    *httptest.Server
	hc     *http.Client
	limit  *rate.Limiter
	mu     sync.Mutex
	rnd    *rand.Rand
	faults Faults

	// tokens
	tokens   map[string]time.Time // access token → expiry
	refresh  map[string]bool      // live refresh tokens
	curToken string
	curRefr  string
	tokenSeq int

	// shop
	skus        map[int64]*sku
	skuOrder    []int64
	products    []int64 // product ids in the order they were added
	orders      map[int64]*order
	updLog      []updEntry
	updUnsorted bool
	orderSeq    int64
	afterSales  map[int64]*afterSale
	asSeq       int64
	idem        map[string]bool
	packReqs    map[string]string // request_id → pack_id of order.logisticsAddSinglePack
	packSeq     int64
	calls       map[string]int

	pq pushQueue
}

// New returns a simulator (not yet listening; use Start or ServeHTTP).
func New(o Options) *Sim {
	if o.AppKey == "" {
		o.AppKey = DemoAppKey
	}
	if o.AppSecret == "" {
		o.AppSecret = DemoAppSecret
	}
	if o.ShopID == 0 {
		o.ShopID = DemoShopID
	}
	if o.ShopName == "" {
		o.ShopName = "抖音模拟旗舰店"
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = 7 * 24 * time.Hour
	}
	if o.MaxWindow == 0 {
		o.MaxWindow = 24 * time.Hour
	}
	if o.PushRetries == 0 {
		o.PushRetries = 3
	}
	if o.PushBackoff == 0 {
		o.PushBackoff = 200 * time.Millisecond
	}
	if o.PushBatch <= 0 {
		o.PushBatch = 20
	}
	if o.PushWorkers <= 0 {
		o.PushWorkers = 2
	}
	s := &Sim{
		opt: o, now: o.Clock, hc: o.WebhookClient,
		rnd:    rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		tokens: map[string]time.Time{}, refresh: map[string]bool{},
		skus: map[int64]*sku{}, orders: map[int64]*order{}, afterSales: map[int64]*afterSale{},
		idem: map[string]bool{}, calls: map[string]int{}, packReqs: map[string]string{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.hc == nil {
		s.hc = &http.Client{Timeout: 10 * time.Second}
	}
	if o.RateLimit > 0 {
		s.limit = rate.NewLimiter(rate.Limit(o.RateLimit), o.RateLimit)
	}
	s.issueToken()
	s.pq.init(s)
	return s
}

// Start listens on a local port.
func (s *Sim) Start() { s.srv = httptest.NewServer(s) }

// URL is the gateway's base URL (after Start).
func (s *Sim) URL() string {
	if s.srv == nil {
		return ""
	}
	return s.srv.URL
}

// Close stops the listener and the push workers.
func (s *Sim) Close() {
	s.pq.close()
	if s.srv != nil {
		s.srv.Close()
	}
}

// Credentials are what a shop needs to call the simulator.
type Credentials struct {
	AppKey, AppSecret, AccessToken, RefreshToken string
	ShopID                                       int64
	ExpiresAt                                    time.Time
}

// Credentials returns the current app key, secret and tokens.
func (s *Sim) Credentials() Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Credentials{AppKey: s.opt.AppKey, AppSecret: s.opt.AppSecret, AccessToken: s.curToken,
		RefreshToken: s.curRefr, ShopID: s.opt.ShopID, ExpiresAt: s.tokens[s.curToken]}
}

// ExpireToken makes every access token issued so far expired (refresh
// tokens stay valid), as when a shop's token lapses.
func (s *Sim) ExpireToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.now().Add(-time.Second)
	for t := range s.tokens {
		s.tokens[t] = past
	}
}

// SetFaults replaces the injected faults.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// SetWebhook sets (or clears) the URL pushes go to.
func (s *Sim) SetWebhook(url string) {
	s.mu.Lock()
	s.opt.WebhookURL = url
	s.mu.Unlock()
}

// Calls reports how many gateway calls each method received.
func (s *Sim) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

func (s *Sim) issueToken() (string, string) {
	s.tokenSeq++
	at := fmt.Sprintf("sim-at-%d-%08x", s.tokenSeq, s.rnd.Uint32())
	rt := fmt.Sprintf("sim-rt-%d-%08x", s.tokenSeq, s.rnd.Uint32())
	s.tokens[at] = s.now().Add(s.opt.TokenTTL)
	s.refresh[rt] = true
	s.curToken, s.curRefr = at, rt
	return at, rt
}

// apiErr is a platform error answer.
type apiErr struct {
	code         int
	msg, sub, sm string
}

func (e *apiErr) Error() string { return fmt.Sprintf("%d %s %s", e.code, e.sub, e.sm) }

func errParam(sub, subMsg string) *apiErr {
	return &apiErr{code: 40003, msg: "非法的参数", sub: sub, sm: subMsg}
}
func errMissing(sub, subMsg string) *apiErr {
	return &apiErr{code: 40001, msg: "缺少必选参数", sub: sub, sm: subMsg}
}
func errBizParam(subMsg string) *apiErr {
	return &apiErr{code: 40004, msg: "非法的参数", sub: "isv.business-failed", sm: subMsg}
}
func errBiz(subMsg string) *apiErr {
	return &apiErr{code: 50002, msg: "业务处理失败", sub: "isv.business-failed", sm: subMsg}
}

var shanghai = time.FixedZone("CST", 8*3600)

// ServeHTTP is the gateway: POST /<method with / for .>?app_key=…
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f := s.faults
	fail5xx := f.ServerErrorRatio > 0 && s.rnd.Float64() < f.ServerErrorRatio
	limited := false
	if s.faults.RateLimitBurst > 0 {
		s.faults.RateLimitBurst--
		limited = true
	}
	s.mu.Unlock()
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if fail5xx {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		return
	}
	logID := fmt.Sprintf("2026%016x", s.nextRand())
	data, err := s.handle(r, limited)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	env := map[string]any{"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "", "log_id": logID}
	if err != nil {
		var ae *apiErr
		if !errors.As(err, &ae) {
			ae = &apiErr{code: 20000, msg: "服务不可用", sub: "dop.service-error", sm: err.Error()}
		}
		env["code"], env["msg"], env["sub_code"], env["sub_msg"] = ae.code, ae.msg, ae.sub, ae.sm
		env["data"] = map[string]any{}
	} else {
		if data == nil {
			data = map[string]any{}
		}
		env["data"] = data
	}
	_ = json.NewEncoder(w).Encode(env)
}

func (s *Sim) nextRand() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.Uint64()
}

// signature is the simulator's own implementation of the documented
// algorithm (kept apart from the connector on purpose).
func signature(signMethod, appKey, secret, method, paramJSON, ts string) string {
	src := secret + "app_key" + appKey + "method" + method + "param_json" + paramJSON + "timestamp" + ts + "v" + "2" + secret
	if signMethod == "hmac-sha256" {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(src))
		return hex.EncodeToString(m.Sum(nil))
	}
	d := md5.Sum([]byte(src))
	return hex.EncodeToString(d[:])
}

var tokenFree = map[string]bool{"token.create": true, "token.refresh": true}

func (s *Sim) handle(r *http.Request, limited bool) (any, error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return nil, errBizParam("请使用POST方式调用")
	}
	q := r.URL.Query()
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	pj := string(body)
	if strings.TrimSpace(pj) == "" {
		pj = q.Get("param_json")
	}
	if pj == "" {
		pj = "{}"
	}
	appKey, method, ts, sign := q.Get("app_key"), q.Get("method"), q.Get("timestamp"), q.Get("sign")
	if appKey == "" {
		return nil, errMissing("isv.app-id-missing", "认证失败，app_key不存在")
	}
	if appKey != s.opt.AppKey {
		return nil, errParam("isv.app-id-invalid", "认证失败，app_key不正确")
	}
	pathMethod := strings.ReplaceAll(strings.Trim(r.URL.Path, "/"), "/", ".")
	if method == "" {
		method = pathMethod
	}
	if method != pathMethod {
		return nil, errParam("isv.method-invalid", "method与请求路径不一致")
	}
	if q.Get("v") != "2" {
		return nil, errParam("isv.version-invalid", "API协议版本不正确，当前版本为2")
	}
	if ts == "" {
		return nil, errMissing("isv.timestamp-missing", "缺少timestamp")
	}
	var at time.Time
	if n, err := strconv.ParseInt(ts, 10, 64); err == nil {
		at = time.Unix(n, 0)
	} else if t, err := time.ParseInLocation("2006-01-02 15:04:05", ts, shanghai); err == nil {
		at = t
	} else {
		return nil, errParam("isv.timestamp-format-error", "时间戳格式错误")
	}
	if d := s.now().Sub(at); d > 10*time.Minute || d < -10*time.Minute {
		return nil, errParam("isv.timestamp-invalid", "时间戳不合法，与服务器时间相差超过10分钟")
	}
	if sign == "" {
		return nil, errMissing("isv.signature-missing", "获取签名失败，请根据文档确保参数拼装正确")
	}
	sm := q.Get("sign_method")
	if sm != "" && sm != "md5" && sm != "hmac-sha256" {
		return nil, errParam("isv.sign-method-invalid", "sign_method不正确")
	}
	if !hmac.Equal([]byte(strings.ToLower(sign)), []byte(signature(sm, appKey, s.opt.AppSecret, method, pj, ts))) {
		return nil, errParam("isv.signature-invalid", "签名校验失败")
	}
	if !tokenFree[method] {
		tok := q.Get("access_token")
		if tok == "" {
			return nil, errMissing("isv.access-token-missing", "认证失败，access_token不能为空")
		}
		s.mu.Lock()
		exp, ok := s.tokens[tok]
		s.mu.Unlock()
		if !ok {
			return nil, errParam("isv.access-token-no-existed", "access_token不存在，请使用最新的access_token访问")
		}
		if !s.now().Before(exp) {
			return nil, errParam("isv.access-token-expired", "access_token已过期")
		}
	}
	if limited || (s.limit != nil && !s.limit.Allow()) {
		return nil, &apiErr{code: 60000, msg: "触发限流，请稍后重试", sub: "isv.access-limit", sm: "应用调用频率超过限制"}
	}
	var params map[string]any
	dec := json.NewDecoder(strings.NewReader(pj))
	dec.UseNumber()
	if err := dec.Decode(&params); err != nil {
		return nil, errParam("isv.parameter-format-invalid", "业务参数json解析失败")
	}
	s.mu.Lock()
	s.calls[method]++
	s.mu.Unlock()
	h, ok := handlers[method]
	if !ok {
		return nil, &apiErr{code: 70000, msg: "接口服务已下线", sub: "isp.api-service-off", sm: "API不存在或API已下线"}
	}
	return h(s, p(params))
}

// p reads business parameters leniently, as the platform does (numbers may
// come as JSON numbers or numeric strings).
type p map[string]any

func (m p) str(k string) string {
	switch v := m[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

func (m p) has(k string) bool { _, ok := m[k]; return ok && m[k] != nil }

func (m p) int(k string) (int64, error) {
	s := m.str(k)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errBizParam(k + "格式不正确")
	}
	return n, nil
}

func (m p) bool(k string) bool {
	switch v := m[k].(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == "1"
	case json.Number:
		return v.String() == "1"
	}
	return false
}

type handler func(*Sim, p) (any, error)

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"token.create":                 (*Sim).tokenCreate,
		"token.refresh":                (*Sim).tokenRefresh,
		"order.searchList":             (*Sim).orderSearchList,
		"order.orderDetail":            (*Sim).orderDetail,
		"sku.syncStock":                (*Sim).skuSyncStock,
		"sku.syncStockBatch":           (*Sim).skuSyncStockBatch,
		"order.logisticsAdd":           (*Sim).logisticsAdd,
		"order.logisticsAddSinglePack": (*Sim).logisticsAddSinglePack,
		"afterSale.List":               (*Sim).afterSaleList,
		"afterSale.Detail":             (*Sim).afterSaleDetail,
		"afterSale.operate":            (*Sim).afterSaleOperate,
		"product.listV2":               (*Sim).productList,
		"sku.list":                     (*Sim).skuList,
	}
}

func (s *Sim) tokenData(at, rt string) map[string]any {
	return map[string]any{
		"access_token": at, "refresh_token": rt,
		"expires_in": int64(s.opt.TokenTTL / time.Second), "scope": "SCOPE",
		"shop_id": s.opt.ShopID, "shop_name": s.opt.ShopName,
	}
}

func (s *Sim) tokenCreate(m p) (any, error) {
	gt := m.str("grant_type")
	if gt != "authorization_self" && gt != "authorization_code" {
		return nil, &apiErr{code: 50001, msg: "平台处理失败", sub: "dop.token-generate-failed:grant-type-invalid", sm: "grant_type参数取值不正确"}
	}
	if gt == "authorization_self" {
		if sid, _ := m.int("shop_id"); sid != 0 && sid != s.opt.ShopID {
			return nil, &apiErr{code: 50001, msg: "平台处理失败", sub: "dop.token-generate-failed:no-authorization", sm: "店铺授权已失效"}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at, rt := s.issueToken()
	return s.tokenData(at, rt), nil
}

func (s *Sim) tokenRefresh(m p) (any, error) {
	if m.str("grant_type") != "refresh_token" {
		return nil, &apiErr{code: 50001, msg: "平台处理失败", sub: "dop.token-generate-failed:grant-type-invalid", sm: "grant_type参数取值不正确"}
	}
	rt := m.str("refresh_token")
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.refresh[rt] {
		return nil, &apiErr{code: 50001, msg: "平台处理失败", sub: "dop.token-generate-failed:token-invalid", sm: "refresh_token不存在或已使用"}
	}
	delete(s.refresh, rt) // a refresh token is good for one refresh
	at, nrt := s.issueToken()
	return s.tokenData(at, nrt), nil
}

// Token issues a fresh access token as token.create would (for demos).
func (s *Sim) Token() Credentials {
	s.mu.Lock()
	s.issueToken()
	s.mu.Unlock()
	return s.Credentials()
}

var _ = context.Background
