package auth

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"omnihub/api"
	"omnihub/errs"
)

// limiters holds one token bucket per key (API token, session, login
// source). Idle buckets are dropped so the map cannot grow without bound.
type limiters struct {
	mu      sync.Mutex
	limit   rate.Limit
	burst   int
	m       map[string]*bucket
	lastGC  time.Time
	idleTTL time.Duration
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiters(limit rate.Limit, burst int) *limiters {
	return &limiters{limit: limit, burst: burst, m: map[string]*bucket{}, idleTTL: 10 * time.Minute}
}

// allow takes one token from key's bucket; when empty it returns false and
// how long until the next token.
func (l *limiters) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil || l.limit == rate.Inf {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastGC) > time.Minute {
		for k, b := range l.m {
			if now.Sub(b.seen) > l.idleTTL {
				delete(l.m, k)
			}
		}
		l.lastGC = now
	}
	b := l.m[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.m[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// writeTooMany answers 429 as problem+json with Retry-After.
func writeTooMany(w http.ResponseWriter, r *http.Request, retry time.Duration, what string) {
	secs := int(math.Ceil(retry.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = jsonEncode(w, api.Problem{
		Type:      "https://omnihub.dev/problems/rate_limited",
		Title:     http.StatusText(http.StatusTooManyRequests),
		Status:    http.StatusTooManyRequests,
		Detail:    what + " rate limit exceeded; retry after " + strconv.Itoa(secs) + "s",
		Code:      errs.Unavailable,
		RequestID: api.RequestID(r.Context()),
	})
}
