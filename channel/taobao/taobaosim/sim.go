// Package taobaosim simulates the Taobao Open Platform (TOP) gateway and a
// seller's store behind it, for tests, the demo and benchmarks, in the
// manner of net/http/httptest.
//
// It checks what the real gateway checks (app key, signature by md5, hmac
// or hmac-sha256, timestamp skew, API version, session validity and
// expiry, required parameters, time-window and page-size limits, per-app
// rate limits) and answers with TOP's error envelope and codes. The store
// holds items, SKUs, quantities, trades and refunds; trade and refund
// events are published to a TMC queue consumed over the HTTP API with
// consume/confirm semantics. Faults (latency, 5xx, rate-limit bursts,
// lost, duplicated and reordered messages, session expiry) are injected on
// demand and are deterministic for a given seed.
//
// The simulator deliberately does not import the connector package: it
// implements the signature check from the documentation on its own, so
// that the two check each other.
package taobaosim

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a simulator. Zero values take the defaults.
type Options struct {
	Seed  int64
	Clock func() time.Time // default time.Now
	// The demo app and seller created by New.
	AppKey, AppSecret string // default "12345678" / a secret derived from Seed
	SellerNick        string // default "omnihub旗舰店"
	SellerID          int64  // default 2200000001
	// SessionTTL is how long an issued session (access token) lives
	// (default 24h).
	SessionTTL time.Duration
	// RateLimit is calls per second per app, RateBurst the bucket size
	// (defaults 100 and 200; RateLimit < 0 disables).
	RateLimit float64
	RateBurst int
	// MaxSkew is the timestamp tolerance (TOP documents 10 minutes).
	MaxSkew time.Duration
	// RedeliverAfter is how long a consumed but unconfirmed TMC message
	// waits before it is delivered again (default 1 minute).
	RedeliverAfter time.Duration
}

// Faults are injected on demand; SetFaults replaces them.
type Faults struct {
	Latency          time.Duration // added to every gateway call (real time)
	ServerErrorRatio float64       // share of calls answered with HTTP 503
	ServerErrorNext  int           // the next N calls answer HTTP 503
	RemoteErrorNext  int           // the next N calls answer code 15 with an isp.* sub code
	RateLimitNext    int           // the next N calls answer code 7 (a rate-limit burst)
	DropRatio        float64       // share of TMC messages lost at publication
	DuplicateRatio   float64       // share of delivered TMC messages delivered twice in a batch
	Reorder          bool          // shuffle each TMC batch
	ExpireSessions   bool          // expire every session issued so far (applied once)
}

type app struct {
	key, secret string
	tokens      float64
	last        time.Time
}

type session struct {
	appKey  string
	expires time.Time
	refresh string
}

// Sim is a running simulator.
type Sim struct {
	mu       sync.Mutex
	opts     Options
	now      func() time.Time
	rng      *rand.Rand
	apps     map[string]*app
	sessions map[string]*session
	refresh  map[string]string // refresh token → app key
	demo     Credentials
	faults   Faults
	calls    map[string]int
	seq      int64
	// stockSets counts quantities set through the stock APIs, one per
	// item or SKU (a batch call counts each of its SKUs).
	stockSets int

	items      map[int64]*item
	itemOrder  []int64
	skuIndex   map[int64]int64 // sku id → num_iid
	trades     map[int64]*trade
	tradeOrder []int64
	refunds    map[int64]*refund
	tmc        []*tmcMsg
	tmall      *tmallStore // Tmall exchanges (tmall.go)

	srv *httptest.Server
}

// Credentials are what a shop needs to talk to the simulator.
type Credentials struct {
	AppKey, AppSecret     string
	Session, RefreshToken string
	ExpiresAt             time.Time
	SellerID              int64
	SellerNick            string
}

// New returns a simulator with one app and one authorised seller.
func New(o Options) *Sim {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.AppKey == "" {
		o.AppKey = "12345678"
	}
	if o.SellerNick == "" {
		o.SellerNick = "omnihub旗舰店"
	}
	if o.SellerID == 0 {
		o.SellerID = 2200000001
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = 24 * time.Hour
	}
	if o.RateLimit == 0 {
		o.RateLimit = 100
	}
	if o.RateBurst == 0 {
		o.RateBurst = 200
	}
	if o.MaxSkew == 0 {
		o.MaxSkew = 10 * time.Minute
	}
	if o.RedeliverAfter == 0 {
		o.RedeliverAfter = time.Minute
	}
	s := &Sim{
		opts: o, now: o.Clock, rng: rand.New(rand.NewSource(o.Seed)),
		apps: map[string]*app{}, sessions: map[string]*session{}, refresh: map[string]string{},
		calls: map[string]int{}, items: map[int64]*item{}, skuIndex: map[int64]int64{},
		trades: map[int64]*trade{}, refunds: map[int64]*refund{},
	}
	if o.AppSecret == "" {
		o.AppSecret = s.token(32)
		s.opts.AppSecret = o.AppSecret
	}
	s.AddApp(o.AppKey, o.AppSecret)
	access, refresh := s.IssueSession(o.AppKey)
	s.demo = Credentials{AppKey: o.AppKey, AppSecret: o.AppSecret, Session: access, RefreshToken: refresh,
		ExpiresAt: s.now().Add(o.SessionTTL), SellerID: o.SellerID, SellerNick: o.SellerNick}
	return s
}

// token returns a random hex token from the seeded source.
func (s *Sim) token(n int) string {
	const hexd = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hexd[s.rng.Intn(16)]
	}
	return string(b)
}

// Credentials returns the demo app and seller session made by New.
func (s *Sim) Credentials() Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.demo
}

// AddApp registers an app key and secret.
func (s *Sim) AddApp(key, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[key] = &app{key: key, secret: secret, tokens: float64(s.opts.RateBurst), last: s.now()}
}

// IssueSession authorises the seller for an app and returns an access
// token (session) and a refresh token.
func (s *Sim) IssueSession(appKey string) (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(appKey)
}

func (s *Sim) issueLocked(appKey string) (string, string) {
	access := "6100" + s.token(36)
	refresh := "6101" + s.token(36)
	s.sessions[access] = &session{appKey: appKey, expires: s.now().Add(s.opts.SessionTTL), refresh: refresh}
	s.refresh[refresh] = appKey
	return access, refresh
}

// ExpireSession makes a session invalid from now on (as if it ran out).
func (s *Sim) ExpireSession(access string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if se, ok := s.sessions[access]; ok {
		se.expires = s.now().Add(-time.Second)
	}
}

// SetFaults replaces the injected faults.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.ExpireSessions {
		for _, se := range s.sessions {
			se.expires = s.now().Add(-time.Second)
		}
		f.ExpireSessions = false
	}
	s.faults = f
}

// Calls reports how many times each API method reached the simulator
// (after the gateway checks passed).
func (s *Sim) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Start serves the simulator on a local port (httptest).
func (s *Sim) Start() *Sim {
	s.srv = httptest.NewServer(s)
	return s
}

// URL is the root URL of a started simulator.
func (s *Sim) URL() string { return s.srv.URL }

// GatewayURL is the REST gateway (the connector's BaseURL).
func (s *Sim) GatewayURL() string { return s.srv.URL + "/router/rest" }

// TokenURL is the OAuth token endpoint.
func (s *Sim) TokenURL() string { return s.srv.URL + "/token" }

// Close stops a started simulator.
func (s *Sim) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// ServeHTTP serves /router/rest (the TOP gateway) and /token (OAuth).
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/router/rest":
		s.gateway(w, r)
	case "/token":
		s.tokenEndpoint(w, r)
	default:
		http.NotFound(w, r)
	}
}

// topErr is an error_response.
type topErr struct {
	Code    int    `json:"code"`
	Msg     string `json:"msg"`
	SubCode string `json:"sub_code,omitempty"`
	SubMsg  string `json:"sub_msg,omitempty"`
}

func (e *topErr) Error() string {
	return fmt.Sprintf("%d %s %s %s", e.Code, e.Msg, e.SubCode, e.SubMsg)
}

func platformErr(code int, msg string) *topErr { return &topErr{Code: code, Msg: msg} }

// missing is code 40 with the isv.missing-parameter sub code.
func missing(name string) *topErr {
	return &topErr{Code: 40, Msg: "Missing required arguments:" + name, SubCode: "isv.missing-parameter", SubMsg: "缺少必选参数:" + name}
}

// invalid is code 41 with the isv.invalid-parameter sub code.
func invalid(name, why string) *topErr {
	return &topErr{Code: 41, Msg: "Invalid arguments:" + name, SubCode: "isv.invalid-parameter", SubMsg: why}
}

// bizErr is a business error: code 15 with an isv.* sub code.
func bizErr(sub, msg string) *topErr {
	return &topErr{Code: 15, Msg: "Remote service error", SubCode: sub, SubMsg: msg}
}

func (s *Sim) writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write(b)
}

func (s *Sim) writeErr(w http.ResponseWriter, e *topErr) {
	s.mu.Lock()
	s.seq++
	rid := fmt.Sprintf("sim%012d", s.seq)
	s.mu.Unlock()
	body := map[string]any{"code": e.Code, "msg": e.Msg, "request_id": rid}
	if e.SubCode != "" {
		body["sub_code"] = e.SubCode
	}
	if e.SubMsg != "" {
		body["sub_msg"] = e.SubMsg
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"error_response": body})
}

// params reads system and business parameters from the query string and a
// form body, as the gateway accepts both.
func params(r *http.Request) (map[string]string, error) {
	if err := r.ParseForm(); err != nil {
		return nil, err
	}
	p := map[string]string{}
	for k, vs := range r.Form {
		if len(vs) > 0 {
			p[k] = vs[0]
		}
	}
	return p, nil
}

// signature recomputes a TOP signature from the documented algorithm.
func signature(p map[string]string, secret, method string) (string, bool) {
	names := make([]string, 0, len(p))
	for k, v := range p {
		if k != "sign" && v != "" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var sb strings.Builder
	for _, k := range names {
		sb.WriteString(k + p[k])
	}
	var h hash.Hash
	switch method {
	case "md5":
		h = md5.New()
		h.Write([]byte(secret + sb.String() + secret))
	case "hmac":
		h = hmac.New(md5.New, []byte(secret))
		h.Write([]byte(sb.String()))
	case "hmac-sha256":
		h = hmac.New(sha256.New, []byte(secret))
		h.Write([]byte(sb.String()))
	default:
		return "", false
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil))), true
}

var gmt8 = time.FixedZone("GMT+8", 8*3600)

const layout = "2006-01-02 15:04:05"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(gmt8).Format(layout)
}

func parseTime(s string) (time.Time, error) { return time.ParseInLocation(layout, s, gmt8) }

func money(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// apiFunc handles one API; it runs with s.mu held.
type apiFunc func(s *Sim, p map[string]string) (any, *topErr)

type apiSpec struct {
	fn          apiFunc
	needSession bool
}

var apis map[string]apiSpec

func init() {
	apis = map[string]apiSpec{
		"taobao.trades.sold.increment.get": {(*Sim).apiTradesIncrement, true},
		"taobao.trade.fullinfo.get":        {(*Sim).apiTradeFullinfo, true},
		"taobao.items.onsale.get":          {(*Sim).apiItemsOnsale, true},
		"taobao.item.seller.get":           {(*Sim).apiItemSeller, true},
		"taobao.item.quantity.update":      {(*Sim).apiItemQuantityUpdate, true},
		"taobao.skus.quantity.update":      {(*Sim).apiSkusQuantityUpdate, true},
		"taobao.logistics.offline.send":    {(*Sim).apiOfflineSend, true},
		"taobao.logistics.online.send":     {(*Sim).apiOnlineSend, true},
		"taobao.refunds.receive.get":       {(*Sim).apiRefundsReceive, true},
		"taobao.refund.get":                {(*Sim).apiRefundGet, true},
		"taobao.rp.refunds.agree":          {(*Sim).apiRefundsAgree, true},
		"taobao.rp.returngoods.agree":      {(*Sim).apiReturnGoodsAgree, true},
		"taobao.refund.refuse":             {(*Sim).apiRefundRefuse, true},
		"taobao.tmc.messages.consume":      {(*Sim).apiTMCConsume, false},
		"taobao.tmc.messages.confirm":      {(*Sim).apiTMCConfirm, false},
	}
}

func responseKey(method string) string {
	return strings.ReplaceAll(strings.TrimPrefix(method, "taobao."), ".", "_") + "_response"
}

func (s *Sim) gateway(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f := s.faults
	serverErr := false
	if s.faults.ServerErrorNext > 0 {
		s.faults.ServerErrorNext--
		serverErr = true
	} else if f.ServerErrorRatio > 0 && s.rng.Float64() < f.ServerErrorRatio {
		serverErr = true
	}
	s.mu.Unlock()
	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-r.Context().Done():
			return
		}
	}
	if serverErr {
		http.Error(w, "503 Service Temporarily Unavailable", http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		s.writeErr(w, platformErr(9, "Http Action Not Allowed"))
		return
	}
	p, err := params(r)
	if err != nil {
		s.writeErr(w, platformErr(41, "Invalid arguments"))
		return
	}
	method := p["method"]
	resp, terr := s.dispatch(method, p)
	if terr != nil {
		s.writeErr(w, terr)
		return
	}
	s.writeJSON(w, http.StatusOK, map[string]any{responseKey(method): resp})
}

func (s *Sim) dispatch(method string, p map[string]string) (any, *topErr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if method == "" {
		return nil, platformErr(21, "Missing Method")
	}
	if p["app_key"] == "" {
		return nil, platformErr(28, "Missing App Key")
	}
	a, ok := s.apps[p["app_key"]]
	if !ok {
		return nil, platformErr(29, "Invalid App Key")
	}
	if p["sign"] == "" {
		return nil, platformErr(24, "Missing Signature")
	}
	if p["timestamp"] == "" {
		return nil, platformErr(30, "Missing Timestamp")
	}
	ts, err := parseTime(p["timestamp"])
	if err != nil {
		return nil, &topErr{Code: 31, Msg: "Invalid Timestamp", SubMsg: "时间戳格式应为yyyy-MM-dd HH:mm:ss"}
	}
	if d := s.now().Sub(ts); d > s.opts.MaxSkew || d < -s.opts.MaxSkew {
		return nil, &topErr{Code: 31, Msg: "Invalid Timestamp", SubMsg: "时间戳与服务端时间误差超过10分钟"}
	}
	if p["v"] == "" {
		return nil, platformErr(32, "Missing Version")
	}
	if p["v"] != "2.0" {
		return nil, platformErr(34, "Unsupported Version")
	}
	if f := p["format"]; f != "" && f != "json" {
		// The simulator only speaks JSON (TOP's default is XML).
		return nil, &topErr{Code: 23, Msg: "Invalid Format", SubMsg: "simulator supports format=json only"}
	}
	sm := p["sign_method"]
	if sm == "" {
		sm = "md5"
	}
	want, ok := signature(p, a.secret, sm)
	if !ok || !strings.EqualFold(want, p["sign"]) {
		return nil, platformErr(25, "Invalid Signature")
	}
	spec, ok := apis[method]
	if !ok {
		return nil, platformErr(22, "Invalid Method")
	}
	if s.faults.RateLimitNext > 0 {
		s.faults.RateLimitNext--
		return nil, rateLimited(1)
	}
	if !s.allow(a) {
		return nil, rateLimited(1)
	}
	if s.faults.RemoteErrorNext > 0 {
		s.faults.RemoteErrorNext--
		return nil, &topErr{Code: 15, Msg: "Remote service error", SubCode: "isp.top-remote-connection-timeout", SubMsg: "远程服务调用超时"}
	}
	if spec.needSession {
		tok := p["session"]
		if tok == "" {
			return nil, platformErr(26, "Missing Session")
		}
		se, ok := s.sessions[tok]
		if !ok || se.appKey != a.key {
			return nil, &topErr{Code: 27, Msg: "Invalid session", SubCode: "invalid-sessionkey", SubMsg: "SessionKey非法"}
		}
		if !s.now().Before(se.expires) {
			return nil, &topErr{Code: 27, Msg: "Invalid session", SubCode: "session-expired", SubMsg: "SessionKey已过期"}
		}
	}
	s.calls[method]++
	return spec.fn(s, p)
}

func rateLimited(secs int) *topErr {
	return &topErr{Code: 7, Msg: "App Call Limited", SubCode: "accesscontrol.limited-by-app-access-count",
		SubMsg: fmt.Sprintf("This ban will last for %d more seconds", secs)}
}

// allow is a token bucket per app on the simulator's clock.
func (s *Sim) allow(a *app) bool {
	if s.opts.RateLimit < 0 {
		return true
	}
	now := s.now()
	if el := now.Sub(a.last).Seconds(); el > 0 {
		a.tokens = min(float64(s.opts.RateBurst), a.tokens+el*s.opts.RateLimit)
		a.last = now
	}
	if a.tokens < 1 {
		return false
	}
	a.tokens--
	return true
}

// tokenEndpoint implements OAuth refresh (grant_type=refresh_token).
func (s *Sim) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "invalid_request", "error_description": "POST required"})
		return
	}
	p, err := params(r)
	if err != nil {
		s.writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p["grant_type"] != "refresh_token" {
		s.writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type", "error_description": "only refresh_token is simulated"})
		return
	}
	a, ok := s.apps[p["client_id"]]
	if !ok || a.secret != p["client_secret"] {
		s.writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "client_id or client_secret wrong"})
		return
	}
	appKey, ok := s.refresh[p["refresh_token"]]
	if !ok || appKey != a.key {
		s.writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "refresh_token is invalid"})
		return
	}
	delete(s.refresh, p["refresh_token"])
	for tok, se := range s.sessions {
		if se.refresh == p["refresh_token"] {
			delete(s.sessions, tok)
		}
	}
	access, refresh := s.issueLocked(a.key)
	if s.demo.RefreshToken == p["refresh_token"] {
		s.demo.Session, s.demo.RefreshToken, s.demo.ExpiresAt = access, refresh, s.now().Add(s.opts.SessionTTL)
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"access_token":     access,
		"token_type":       "Bearer",
		"expires_in":       int64(s.opts.SessionTTL / time.Second),
		"refresh_token":    refresh,
		"re_expires_in":    int64(30 * 24 * time.Hour / time.Second),
		"taobao_user_id":   strconv.FormatInt(s.opts.SellerID, 10),
		"taobao_user_nick": s.opts.SellerNick,
	})
}
