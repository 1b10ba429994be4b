package taobao

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"omnihub/channel"
	"omnihub/errs"
)

// RefreshToken implements channel.TokenRefresher: POST to the OAuth token
// endpoint with grant_type=refresh_token, client_id (app key),
// client_secret and the refresh token.
func (c *Connector) RefreshToken(ctx context.Context, cr channel.Credentials) (channel.Credentials, error) {
	if cr.RefreshToken == "" {
		return cr, &channel.APIError{Platform: channel.Taobao, Code: "no_refresh_token",
			Message: "shop has no refresh token; the seller must authorise again", Class: channel.ClassAuthInvalid}
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {cr.RefreshToken},
		"client_id":     {cr.AppKey},
		"client_secret": {cr.AppSecret},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.token, strings.NewReader(form.Encode()))
	if err != nil {
		return cr, errs.Wrap(err, errs.Internal, "taobao: build token request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	body, status, err := c.do(req)
	if err != nil {
		return cr, err
	}
	if status >= 500 {
		return cr, httpStatusError(status, body)
	}
	var t struct {
		AccessToken  string     `json:"access_token"`
		RefreshToken string     `json:"refresh_token"`
		ExpiresIn    flexString `json:"expires_in"`
		ReExpiresIn  flexString `json:"re_expires_in"`
		UserID       flexString `json:"taobao_user_id"`
		UserNick     string     `json:"taobao_user_nick"`
		Error        string     `json:"error"`
		ErrorDesc    string     `json:"error_description"`
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return cr, &channel.APIError{Platform: channel.Taobao, Code: "bad_response", Message: snippet(body), Class: channel.ClassTransient}
	}
	if t.Error != "" || t.AccessToken == "" {
		code := t.Error
		if code == "" {
			code = "token_error"
		}
		// invalid_grant / invalid_client: the refresh token or app is no
		// longer valid; only the seller can fix that by authorising again.
		return cr, &channel.APIError{Platform: channel.Taobao, Code: code, Message: t.ErrorDesc, Class: channel.ClassAuthInvalid}
	}
	now := c.now()
	out := cr
	out.AccessToken = t.AccessToken
	if t.RefreshToken != "" {
		out.RefreshToken = t.RefreshToken
	}
	var fp fieldParser
	if secs := fp.int(t.ExpiresIn); secs > 0 && fp.err == nil {
		out.ExpiresAt = now.Add(time.Duration(secs) * time.Second).UTC()
	}
	extra := make(map[string]string, len(cr.Extra)+2)
	for k, v := range cr.Extra {
		extra[k] = v
	}
	if t.UserID != "" {
		extra["taobao_user_id"] = string(t.UserID)
	}
	if secs := fp.int(t.ReExpiresIn); secs > 0 && fp.err == nil {
		extra["refresh_expires_at"] = now.Add(time.Duration(secs) * time.Second).UTC().Format(time.RFC3339)
	}
	out.Extra = extra
	return out, nil
}
