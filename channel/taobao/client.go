// Package taobao is the Taobao/Tmall Open Platform (TOP) connector: it
// speaks the TOP REST protocol (system parameters, md5/hmac/hmac-sha256
// signing, GMT+8 timestamps, the error envelope and its codes) and
// translates trades, refunds, items and TMC messages to the neutral types of
// package channel. It holds no per-shop state. The simulator in taobaosim
// implements the same protocol independently, so each checks the other.
package taobao

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"omnihub/channel"
	"omnihub/errs"
)

// Gateway addresses (docs/connectors/taobao.md).
const (
	GatewayURL      = "https://eco.taobao.com/router/rest"
	GatewayURLPlain = "http://gw.api.taobao.com/router/rest"
	TokenURL        = "https://oauth.taobao.com/token"
)

// Options configure a Connector. Zero values take the defaults.
type Options struct {
	BaseURL    string // the REST gateway (default GatewayURL)
	TokenURL   string // the OAuth token endpoint (default TokenURL)
	HTTPClient *http.Client
	Clock      func() time.Time
	SignMethod string // md5, hmac or hmac-sha256 (default hmac-sha256)
	// Fields overrides the trade fields asked for (default tradeFields).
	Fields string
}

// Connector implements the channel capability interfaces for TOP.
type Connector struct {
	base, token string
	http        *http.Client
	now         func() time.Time
	signMethod  string
	fields      string
}

// Interface checks.
var (
	_ channel.Connector        = (*Connector)(nil)
	_ channel.OrderPuller      = (*Connector)(nil)
	_ channel.MessageConsumer  = (*Connector)(nil)
	_ channel.StockPusher      = (*Connector)(nil)
	_ channel.ListingReader    = (*Connector)(nil)
	_ channel.ShipmentUploader = (*Connector)(nil)
	_ channel.RefundPuller     = (*Connector)(nil)
	_ channel.RefundResponder  = (*Connector)(nil)
	_ channel.TokenRefresher   = (*Connector)(nil)
)

// New returns a connector.
func New(o Options) *Connector {
	c := &Connector{base: o.BaseURL, token: o.TokenURL, http: o.HTTPClient, now: o.Clock,
		signMethod: o.SignMethod, fields: o.Fields}
	if c.base == "" {
		c.base = GatewayURL
	}
	if c.token == "" {
		c.token = TokenURL
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 30 * time.Second}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.signMethod == "" {
		c.signMethod = SignHMACSHA256
	}
	if c.fields == "" {
		c.fields = tradeFields
	}
	return c
}

// Platform implements channel.Connector.
func (c *Connector) Platform() channel.Platform { return channel.Taobao }

// Capabilities implements channel.Connector.
func (c *Connector) Capabilities() []channel.Capability {
	return []channel.Capability{
		channel.CapPullOrders, channel.CapConsumeMessage, channel.CapPushStock, channel.CapListings,
		channel.CapUploadShipment, channel.CapRefunds, channel.CapAnswerRefunds, channel.CapRefreshToken,
	}
}

// maxBody bounds what we read from the gateway (a page of 100 full trades
// is well below this).
const maxBody = 32 << 20

// Call invokes one TOP API for the shop whose credentials are given and
// returns the body inside "<method>_response". params are the business
// parameters; empty values are not sent. Errors are *channel.APIError (the
// platform answered) or errs.Unavailable (the network failed).
func (c *Connector) Call(ctx context.Context, cr channel.Credentials, method string, params map[string]string) (json.RawMessage, error) {
	all := map[string]string{
		"method":      method,
		"app_key":     cr.AppKey,
		"session":     cr.AccessToken,
		"timestamp":   FormatTime(c.now()),
		"v":           "2.0",
		"sign_method": c.signMethod,
		"format":      "json",
	}
	for k, v := range params {
		if _, sys := all[k]; sys {
			return nil, errs.E(errs.Internal, "taobao: business parameter %s shadows a system parameter", k)
		}
		all[k] = v
	}
	all["sign"] = Sign(all, cr.AppSecret, c.signMethod)
	form := url.Values{}
	for k, v := range all {
		if v != "" {
			form.Set(k, v)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "taobao: build request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	body, status, err := c.do(req)
	if err != nil {
		return nil, err
	}
	if ae := httpStatusError(status, body); ae != nil {
		return nil, ae
	}
	return decodeEnvelope(body, method)
}

func (c *Connector) do(req *http.Request) ([]byte, int, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, errs.Wrap(err, errs.Unavailable, "taobao: %s", req.URL.Path)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, 0, errs.Wrap(err, errs.Unavailable, "taobao: read response")
	}
	return body, resp.StatusCode, nil
}

// httpStatusError classifies non-200 gateway answers. TOP answers API
// errors with HTTP 200 and an error_response; anything else is the gateway
// or a proxy in front of it failing.
func httpStatusError(status int, body []byte) *channel.APIError {
	switch {
	case status == http.StatusOK:
		return nil
	case status == http.StatusTooManyRequests:
		return &channel.APIError{Platform: channel.Taobao, Code: "http_429", Message: "too many requests", Class: channel.ClassRateLimited}
	case status >= 500:
		return &channel.APIError{Platform: channel.Taobao, Code: fmt.Sprintf("http_%d", status),
			Message: snippet(body), Class: channel.ClassTransient}
	default:
		// A 4xx with a TOP envelope is still a TOP error; let the decoder see it.
		if bytes.Contains(body, []byte("error_response")) {
			return nil
		}
		return &channel.APIError{Platform: channel.Taobao, Code: fmt.Sprintf("http_%d", status),
			Message: snippet(body), Class: channel.ClassPermanent}
	}
}

func snippet(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.TrimSpace(string(b))
}
