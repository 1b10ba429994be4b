// Package douyin is the connector for the Douyin shop open platform
// (抖店开放平台, openapi-fxg.jinritemai.com). It speaks the platform's
// protocol: signed requests with a sorted param_json, the code/sub_code
// response envelope and its error codes, access-token refresh, incremental
// order and after-sales pulls, stock sync, shipment upload, after-sales
// decisions and the signed message push (webhook).
//
// The connector holds no per-shop state; every call gets the shop's
// channel.Session. Its simulator lives in channel/douyin/douyinsim.
package douyin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"omnihub/channel"
	"omnihub/errs"
)

// DefaultBaseURL is the production gateway.
const DefaultBaseURL = "https://openapi-fxg.jinritemai.com"

// shanghai is the platform's zone (GMT+8, no daylight saving).
var shanghai = time.FixedZone("CST", 8*3600)

// Options configure a Connector.
type Options struct {
	BaseURL    string       // default DefaultBaseURL
	HTTPClient *http.Client // default a client with a 30 s timeout
	Clock      func() time.Time
	// SignMethod is md5 (the default of the platform) or hmac-sha256.
	SignMethod string
	// MaxPushAge rejects pushed messages whose own event time is older
	// than this (default 7 days; the platform's redelivery stops well
	// before). Douyin's push signature carries no timestamp, so replays
	// within the window are caught by message-id deduplication instead.
	MaxPushAge time.Duration
}

// Connector is the Douyin shop connector.
type Connector struct {
	base   string
	hc     *http.Client
	now    func() time.Time
	signM  string
	maxAge time.Duration
}

// New returns a connector.
func New(o Options) *Connector {
	c := &Connector{base: strings.TrimRight(o.BaseURL, "/"), hc: o.HTTPClient, now: o.Clock, signM: o.SignMethod, maxAge: o.MaxPushAge}
	if c.base == "" {
		c.base = DefaultBaseURL
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: 30 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.signM == "" {
		c.signM = SignMD5
	}
	if c.maxAge == 0 {
		c.maxAge = 7 * 24 * time.Hour
	}
	return c
}

// Compile-time checks of the capabilities this connector offers.
var (
	_ channel.Connector        = (*Connector)(nil)
	_ channel.OrderPuller      = (*Connector)(nil)
	_ channel.PushReceiver     = (*Connector)(nil)
	_ channel.StockPusher      = (*Connector)(nil)
	_ channel.ShipmentUploader = (*Connector)(nil)
	_ channel.RefundPuller     = (*Connector)(nil)
	_ channel.RefundResponder  = (*Connector)(nil)
	_ channel.TokenRefresher   = (*Connector)(nil)
)

// Platform implements channel.Connector.
func (c *Connector) Platform() channel.Platform { return channel.Douyin }

// Capabilities implements channel.Connector.
func (c *Connector) Capabilities() []channel.Capability {
	return []channel.Capability{
		channel.CapPullOrders, channel.CapReceivePush, channel.CapPushStock,
		channel.CapUploadShipment, channel.CapRefunds, channel.CapAnswerRefunds,
		channel.CapRefreshToken, channel.CapListings,
	}
}

// Envelope is the platform's response envelope (API version 2).
type Envelope struct {
	Code    int             `json:"code"`
	Msg     string          `json:"msg"`
	SubCode string          `json:"sub_code"`
	SubMsg  string          `json:"sub_msg"`
	Data    json.RawMessage `json:"data"`
	LogID   string          `json:"log_id"`
}

// Platform response codes (抖店 公共错误码).
const (
	CodeSuccess         = 10000
	CodePartialFailure  = 10001
	CodeUnavailable     = 20000
	CodeTimeout         = 20001
	CodeNoPermission    = 30001
	CodeIPNotTrusted    = 30002
	CodeMissingParam    = 40001
	CodeMissingBizParam = 40002
	CodeInvalidParam    = 40003
	CodeInvalidBizParam = 40004
	CodePlatformFailure = 50001
	CodeBusinessFailure = 50002
	CodeRateLimited     = 60000
	CodeAPIOffline      = 70000
	CodeSecurity        = 80000
	CodeOther           = 90000
)

// Sub-codes the connector reacts to.
const (
	SubTokenExpired    = "isv.access-token-expired"
	SubTokenNotExist   = "isv.access-token-no-existed"
	SubTokenInvalid    = "isv.access-token-invalid"
	SubTokenMissing    = "isv.access-token-missing"
	SubSignatureBad    = "isv.signature-invalid"
	SubIdempotentExist = "isv.idempotent-id-existed"
)

// DecodeResponse turns an HTTP response of the gateway into the envelope's
// data, or a classified *channel.APIError.
func DecodeResponse(status int, body []byte) (json.RawMessage, error) {
	if status >= 500 || status == http.StatusTooManyRequests {
		cl := channel.ClassTransient
		if status == http.StatusTooManyRequests {
			cl = channel.ClassRateLimited
		}
		return nil, &channel.APIError{Platform: channel.Douyin, Code: "http_" + strconv.Itoa(status), Message: snippet(body), Class: cl}
	}
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil || (env.Code == 0 && env.Msg == "") {
		if status != http.StatusOK {
			return nil, &channel.APIError{Platform: channel.Douyin, Code: "http_" + strconv.Itoa(status), Message: snippet(body), Class: channel.ClassPermanent}
		}
		// A gateway that answers 200 with something that is not the
		// envelope is broken in transit (proxy page, truncated body).
		return nil, &channel.APIError{Platform: channel.Douyin, Code: "bad_response", Message: snippet(body), Class: channel.ClassTransient}
	}
	if env.Code == CodeSuccess {
		return env.Data, nil
	}
	return nil, apiError(env)
}

func apiError(env Envelope) *channel.APIError {
	msg := env.Msg
	if env.SubMsg != "" {
		msg += ": " + env.SubMsg
	}
	return &channel.APIError{Platform: channel.Douyin, Code: strconv.Itoa(env.Code), SubCode: env.SubCode, Message: msg, Class: classify(env.Code, env.SubCode)}
}

// classify decides what a caller does about a platform error.
func classify(code int, sub string) channel.ErrorClass {
	switch code {
	case CodeUnavailable, CodeTimeout, CodeOther:
		return channel.ClassTransient
	case CodeRateLimited:
		return channel.ClassRateLimited
	case CodeNoPermission, CodeIPNotTrusted, CodePlatformFailure:
		return channel.ClassAuthInvalid
	case CodeMissingParam, CodeInvalidParam:
		switch sub {
		case SubTokenExpired, SubTokenNotExist:
			return channel.ClassAuthExpired
		case SubTokenInvalid, SubTokenMissing, SubSignatureBad, "isv.app-id-invalid", "isv.app-id-missing", "isv.app-id-expired":
			return channel.ClassAuthInvalid
		}
	}
	return channel.ClassPermanent
}

func snippet(b []byte) string {
	const max = 200
	s := strings.TrimSpace(string(b))
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// call performs one API call: method like "order.searchList", params
// serialised to param_json, the answer's data decoded into out.
func (c *Connector) call(ctx context.Context, cr channel.Credentials, method string, params any, withToken bool, out any) error {
	if cr.AppKey == "" || cr.AppSecret == "" {
		return errs.E(errs.Invalid, "douyin: shop credentials lack app key or secret")
	}
	pj, err := ParamJSON(params)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "douyin: serialise %s params", method)
	}
	ts := strconv.FormatInt(c.now().Unix(), 10)
	q := url.Values{}
	q.Set("app_key", cr.AppKey)
	q.Set("method", method)
	if withToken {
		q.Set("access_token", cr.AccessToken)
	}
	q.Set("timestamp", ts)
	q.Set("v", "2")
	q.Set("sign_method", c.signM)
	q.Set("sign", Sign(c.signM, cr.AppKey, cr.AppSecret, method, pj, ts))
	u := c.base + "/" + strings.ReplaceAll(method, ".", "/") + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(pj))
	if err != nil {
		return errs.Wrap(err, errs.Internal, "douyin: build request")
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errs.Wrap(err, errs.Unavailable, "douyin: %s", method)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return errs.Wrap(err, errs.Unavailable, "douyin: read %s answer", method)
	}
	data, err := DecodeResponse(resp.StatusCode, body)
	if err != nil {
		var ae *channel.APIError
		if errors.As(err, &ae) && ae.Class == channel.ClassRateLimited {
			if ra, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil {
				ae.RetryAfter = time.Duration(ra) * time.Second
			} else {
				ae.RetryAfter = time.Second
			}
		}
		return err
	}
	if out == nil || len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return &channel.APIError{Platform: channel.Douyin, Code: "bad_data", Message: fmt.Sprintf("%s: %v", method, err), Class: channel.ClassPermanent}
	}
	return nil
}

// epoch converts the platform's epoch seconds to UTC (zero stays zero).
func epoch(s int64) time.Time {
	if s <= 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}
