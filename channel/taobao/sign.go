package taobao

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sort"
	"strings"
	"time"
)

// Sign methods TOP accepts in the sign_method system parameter.
const (
	SignMD5        = "md5"
	SignHMAC       = "hmac" // HMAC-MD5
	SignHMACSHA256 = "hmac-sha256"
)

// Sign computes the TOP request signature: every parameter except sign (and
// byte-array uploads, which OmniHub never sends) sorted by name, each name
// followed by its value; md5 wraps that string in the app secret on both
// sides, hmac and hmac-sha256 key the MAC with the secret; the digest is
// written as upper-case hex. Empty values are left out, as the official
// SDKs do, so a parameter sent empty cannot change the signature.
func Sign(params map[string]string, secret, method string) string {
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if k == "sign" || k == "" || v == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys) // byte order == ASCII order, as documented
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(params[k])
	}
	var h hash.Hash
	switch method {
	case SignHMAC:
		h = hmac.New(md5.New, []byte(secret))
		h.Write([]byte(b.String()))
	case SignHMACSHA256:
		h = hmac.New(sha256.New, []byte(secret))
		h.Write([]byte(b.String()))
	default: // md5
		h = md5.New()
		h.Write([]byte(secret + b.String() + secret))
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
}

// shanghai is GMT+8 as a fixed zone: TOP's clock zone. A fixed offset keeps
// the connector free of a tzdata dependency (China has no daylight saving).
var shanghai = time.FixedZone("GMT+8", 8*3600)

// timeLayout is TOP's yyyy-MM-dd HH:mm:ss.
const timeLayout = "2006-01-02 15:04:05"

// FormatTime renders t as TOP expects it (GMT+8).
func FormatTime(t time.Time) string { return t.In(shanghai).Format(timeLayout) }

// ParseTime reads a TOP time (GMT+8) and returns it in UTC.
func ParseTime(s string) (time.Time, error) {
	t, err := time.ParseInLocation(timeLayout, strings.TrimSpace(s), shanghai)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
