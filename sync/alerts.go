package sync

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"omnihub/errs"
	"omnihub/ids"
	"omnihub/jobs"
	"omnihub/store"
)

// Alert kinds.
const (
	AlertDeadLetter  = "dead_letter"
	AlertFailureRate = "failure_rate"
	AlertOrderWait   = "order_waiting"
	AlertPushLag     = "push_lag"
)

// WebhookKind selects a message format.
type WebhookKind string

const (
	WebhookGeneric  WebhookKind = "generic"  // {"kind","shop_id","message","at"}
	WebhookWeCom    WebhookKind = "wecom"    // 企业微信群机器人
	WebhookDingTalk WebhookKind = "dingtalk" // 钉钉自定义机器人 (optional signing secret)
	WebhookFeishu   WebhookKind = "feishu"   // 飞书自定义机器人 (optional signing secret)
)

// Webhook is one alert destination.
type Webhook struct {
	Kind   WebhookKind `json:"kind" yaml:"kind"`
	URL    string      `json:"url" yaml:"url"`
	Secret string      `json:"-" yaml:"secret"` // DingTalk/Feishu signing secret
}

// AlertConfig says when to alert and where.
type AlertConfig struct {
	Webhooks []Webhook
	// FailureRate over FailureWindow, once at least MinCalls were made, raises
	// a failure-rate alert for a shop (defaults 0.2, 5m, 20).
	FailureRate   float64
	FailureWindow time.Duration
	MinCalls      int
	// OrderWait raises an alert when a paid order has waited longer than
	// this for release to the warehouse (default 30m); needs WaitingOrders.
	OrderWait time.Duration
	// PushLag raises an alert when a stock change has not reached its
	// channel after this long (default 5m).
	PushLag time.Duration
	// Dedup suppresses the same alert for this long (default 15m).
	Dedup time.Duration
	// WaitingOrders, when set, returns the age of the oldest order waiting
	// for release and how many wait longer than OrderWait.
	WaitingOrders func(ctx context.Context, olderThan time.Duration) (oldest time.Duration, count int, err error)
	HTTPClient    *http.Client
}

func (c AlertConfig) withDefaults() AlertConfig {
	if c.FailureRate <= 0 {
		c.FailureRate = 0.2
	}
	if c.FailureWindow <= 0 {
		c.FailureWindow = 5 * time.Minute
	}
	if c.MinCalls <= 0 {
		c.MinCalls = 20
	}
	if c.OrderWait <= 0 {
		c.OrderWait = 30 * time.Minute
	}
	if c.PushLag <= 0 {
		c.PushLag = 5 * time.Minute
	}
	if c.Dedup <= 0 {
		c.Dedup = 15 * time.Minute
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return c
}

// Alert is a raised alert.
type Alert struct {
	ID      string     `json:"id"`
	At      time.Time  `json:"at"`
	Kind    string     `json:"kind"`
	ShopID  string     `json:"shop_id,omitempty"`
	Message string     `json:"message"`
	SentAt  *time.Time `json:"sent_at,omitempty"`
}

// SendAlertArgs delivers one alert to every configured webhook.
type SendAlertArgs struct {
	AlertID string `json:"alert_id"`
}

func (SendAlertArgs) Kind() string { return "sync_send_alert" }

// Raise records an alert (unless the same one was raised within the dedup
// window) and schedules its delivery.
func (e *Engine) Raise(ctx context.Context, kind, shopID, dedupKey, message string) (bool, error) {
	raised := false
	err := e.deps.DB.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		now := store.UTC(e.now())
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM sync_alerts WHERE dedup_key = $1 AND at > $2`, dedupKey, now.Add(-e.cfg.Alerts.Dedup)).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		id := ids.New()
		if _, err := tx.Exec(ctx, `INSERT INTO sync_alerts (id, at, kind, shop_id, dedup_key, message) VALUES ($1,$2,$3,$4,$5,$6)`,
			id, now, kind, shopID, dedupKey, message); err != nil {
			return err
		}
		raised = true
		return tx.InsertJob(ctx, SendAlertArgs{AlertID: id}, nil)
	})
	if raised {
		e.m.AlertsRaised.WithLabelValues(kind).Inc()
		e.log.Warn("alert", "kind", kind, "shop", shopID, "message", message)
	}
	return raised, err
}

// Alerts lists recent alerts, newest first.
func (e *Engine) Alerts(ctx context.Context, limit int) ([]Alert, error) {
	rows, err := e.deps.DB.Query(ctx, `SELECT id, at, kind, shop_id, message, sent_at FROM sync_alerts ORDER BY at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "list alerts")
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		if err := rows.Scan(&a.ID, &a.At, &a.Kind, &a.ShopID, &a.Message, &a.SentAt); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// checkAlerts runs on every tick: failure rates, push lag, waiting orders.
// Failure rates are over the calls of every process (callstats.go); the
// tick also prunes old call counts, long-gone sync members and the
// records past their retention (retention.go).
func (e *Engine) checkAlerts(ctx context.Context) error {
	cfg := e.cfg.Alerts
	rates, err := e.failureRates(ctx)
	if err != nil {
		return err
	}
	for shopID, n := range rates {
		calls := n.calls()
		if calls < int64(cfg.MinCalls) {
			continue
		}
		if fr := float64(n.failed) / float64(calls); fr >= cfg.FailureRate {
			msg := fmt.Sprintf("shop %s: %.0f%% of %d platform calls failed in the last %s", shopID, fr*100, calls, cfg.FailureWindow)
			if _, err := e.Raise(ctx, AlertFailureRate, shopID, AlertFailureRate+":"+shopID, msg); err != nil {
				return err
			}
		}
	}
	// Housekeeping, at most once a minute per process (the rows are kept
	// by the minute and the hour). A failure must not fail the tick's
	// fan-out: the next minute tries again.
	if minute := minuteOf(e.now()); e.calls.prunedAt.Swap(minute) != minute {
		if err := e.pruneCallStats(ctx); err != nil {
			e.log.Warn("prune call counts", "err", err)
		}
		if err := e.pruneMembers(ctx); err != nil {
			e.log.Warn("prune sync members", "err", err)
		}
		if n, err := e.pruneRecords(ctx); err != nil {
			e.log.Warn("prune sync records", "err", err)
		} else if n > 0 {
			e.log.Info("pruned sync records past their retention", "rows", n)
		}
	}
	if cfg.WaitingOrders != nil {
		oldest, n, err := cfg.WaitingOrders(ctx, cfg.OrderWait)
		if err != nil {
			return err
		}
		if n > 0 {
			msg := fmt.Sprintf("%d orders have waited longer than %s for release (oldest %s)", n, cfg.OrderWait, oldest.Round(time.Second))
			if _, err := e.Raise(ctx, AlertOrderWait, "", AlertOrderWait, msg); err != nil {
				return err
			}
		}
	}
	return nil
}

// WatchDeadLetters raises an alert for every job that this process's
// workers dead-letter. It returns when ctx ends.
func (e *Engine) WatchDeadLetters(ctx context.Context, q jobs.Queue) {
	events, cancel := q.Subscribe(river.EventKindJobFailed)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev == nil || ev.Job == nil || ev.Job.State != "discarded" {
				continue
			}
			e.m.DeadLetters.Inc()
			last := ""
			if n := len(ev.Job.Errors); n > 0 {
				last = ev.Job.Errors[n-1].Error
			}
			var shopRef struct {
				ShopID string `json:"shop_id"`
			}
			_ = json.Unmarshal(ev.Job.EncodedArgs, &shopRef)
			msg := fmt.Sprintf("job %d (%s) failed %d times and is now a dead letter: %s", ev.Job.ID, ev.Job.Kind, ev.Job.Attempt, last)
			if _, err := e.Raise(context.WithoutCancel(ctx), AlertDeadLetter, shopRef.ShopID, "dead:"+strconv.FormatInt(ev.Job.ID, 10), msg); err != nil {
				e.log.Error("raise dead-letter alert", "err", err)
			}
		}
	}
}

type alertWorker struct {
	river.WorkerDefaults[SendAlertArgs]
	e *Engine
}

func (w *alertWorker) Work(ctx context.Context, j *river.Job[SendAlertArgs]) error {
	e := w.e
	var a Alert
	err := e.deps.DB.QueryRow(ctx, `SELECT id, at, kind, shop_id, message, sent_at FROM sync_alerts WHERE id = $1`, j.Args.AlertID).
		Scan(&a.ID, &a.At, &a.Kind, &a.ShopID, &a.Message, &a.SentAt)
	if err != nil {
		return store.NotFoundIfNoRows(err, "alert %s", j.Args.AlertID)
	}
	if a.SentAt != nil {
		return nil
	}
	for _, wh := range e.cfg.Alerts.Webhooks {
		if err := e.sendWebhook(ctx, wh, a); err != nil {
			return err
		}
	}
	_, err = e.deps.DB.Exec(ctx, `UPDATE sync_alerts SET sent_at = $1 WHERE id = $2`, store.UTC(e.now()), a.ID)
	return err
}

// AlertBody renders an alert in a webhook's documented message format and
// returns the URL to post it to (DingTalk signs in the query string).
func AlertBody(wh Webhook, a Alert, now time.Time) (string, []byte, error) {
	text := fmt.Sprintf("[OmniHub] %s: %s", a.Kind, a.Message)
	target := wh.URL
	var body any
	switch wh.Kind {
	case WebhookWeCom:
		// https://developer.work.weixin.qq.com/document/path/91770
		body = map[string]any{"msgtype": "text", "text": map[string]string{"content": text}}
	case WebhookDingTalk:
		// https://open.dingtalk.com/document/robots/custom-robot-access
		// Signed robots: sign = base64(HMAC-SHA256(secret, ts+"\n"+secret)),
		// URL-encoded, with timestamp in milliseconds, in the query string.
		body = map[string]any{"msgtype": "text", "text": map[string]string{"content": text}}
		if wh.Secret != "" {
			ts := strconv.FormatInt(now.UnixMilli(), 10)
			mac := hmac.New(sha256.New, []byte(wh.Secret))
			mac.Write([]byte(ts + "\n" + wh.Secret))
			sign := base64.StdEncoding.EncodeToString(mac.Sum(nil))
			u, err := url.Parse(wh.URL)
			if err != nil {
				return "", nil, errs.Wrap(err, errs.Invalid, "dingtalk webhook url")
			}
			q := u.Query()
			q.Set("timestamp", ts)
			q.Set("sign", sign)
			u.RawQuery = q.Encode()
			target = u.String()
		}
	case WebhookFeishu:
		// https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot
		// Signed bots: sign = base64(HMAC-SHA256 keyed by ts+"\n"+secret
		// over an empty message), timestamp in seconds, both in the body.
		m := map[string]any{"msg_type": "text", "content": map[string]string{"text": text}}
		if wh.Secret != "" {
			ts := strconv.FormatInt(now.Unix(), 10)
			mac := hmac.New(sha256.New, []byte(ts+"\n"+wh.Secret))
			m["timestamp"] = ts
			m["sign"] = base64.StdEncoding.EncodeToString(mac.Sum(nil))
		}
		body = m
	default:
		body = a
	}
	raw, err := json.Marshal(body)
	return target, raw, err
}

func (e *Engine) sendWebhook(ctx context.Context, wh Webhook, a Alert) error {
	target, raw, err := AlertBody(wh, a, e.now())
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(raw))
	if err != nil {
		return errs.Wrap(err, errs.Invalid, "alert webhook request")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.cfg.Alerts.HTTPClient.Do(req)
	if err != nil {
		return errs.Wrap(err, errs.Unavailable, "send alert to %s webhook", wh.Kind)
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode >= 300 {
		return errs.E(errs.Unavailable, "%s webhook answered %d: %s", wh.Kind, resp.StatusCode, respBody)
	}
	// The bots answer 200 with an error code in the body on failure.
	var r struct {
		ErrCode *int `json:"errcode"`
		Code    *int `json:"code"`
	}
	if json.Unmarshal(respBody, &r) == nil {
		if (r.ErrCode != nil && *r.ErrCode != 0) || (r.Code != nil && *r.Code != 0) {
			return errs.E(errs.Unavailable, "%s webhook refused the alert: %s", wh.Kind, respBody)
		}
	}
	return nil
}
