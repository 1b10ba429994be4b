package sync

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the sync monitor's Prometheus series.
type Metrics struct {
	Calls        *prometheus.CounterVec   // shop, kind, outcome
	CallSeconds  *prometheus.HistogramVec // kind
	Propagation  prometheus.Histogram     // stock change → channel API call
	Pushed       *prometheus.CounterVec   // shop
	RateLimited  *prometheus.CounterVec   // shop
	Ingested     *prometheus.CounterVec   // shop, source (pull, message, reconcile)
	InboxDup     *prometheus.CounterVec   // platform
	DeadLetters  prometheus.Counter
	AlertsRaised *prometheus.CounterVec // kind
	Lag          *prometheus.GaugeVec   // shop: age of the oldest unpushed stock change
}

// NewMetrics creates the series and registers them on reg when not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omnihub_sync_calls_total", Help: "Platform API calls by shop, kind and outcome (ok, error).",
		}, []string{"shop", "kind", "outcome"}),
		CallSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "omnihub_sync_job_seconds", Help: "Duration of sync jobs by kind.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"kind"}),
		Propagation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "omnihub_stock_propagation_seconds", Help: "Time from a stock change to the channel API call that carried it.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}),
		Pushed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omnihub_stock_pushed_total", Help: "Stock quantities pushed to channels, by shop.",
		}, []string{"shop"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omnihub_sync_rate_limited_total", Help: "Calls a platform refused for rate limits, by shop.",
		}, []string{"shop"}),
		Ingested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omnihub_orders_ingested_total", Help: "Platform order versions ingested, by shop and source.",
		}, []string{"shop", "source"}),
		InboxDup: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omnihub_inbox_duplicates_total", Help: "Platform messages received more than once, by platform.",
		}, []string{"platform"}),
		DeadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "omnihub_dead_letters_total", Help: "Jobs that exhausted their attempts in this process.",
		}),
		AlertsRaised: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omnihub_alerts_total", Help: "Alerts raised, by kind.",
		}, []string{"kind"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "omnihub_stock_push_lag_seconds", Help: "Age of the oldest stock change not yet pushed, by shop.",
		}, []string{"shop"}),
	}
	if reg != nil {
		reg.MustRegister(m.Calls, m.CallSeconds, m.Propagation, m.Pushed, m.RateLimited, m.Ingested,
			m.InboxDup, m.DeadLetters, m.AlertsRaised, m.Lag)
	}
	return m
}

// observe counts one platform call's outcome: in this process's Prometheus
// series, and for the cluster-wide failure-rate alert (callstats.go).
func (e *Engine) observe(shopID, kind string, ok bool) {
	outcome := "ok"
	if !ok {
		outcome = "error"
	}
	e.m.Calls.WithLabelValues(shopID, kind, outcome).Inc()
	e.calls.add(callKey{bucket: minuteOf(e.now()), shop: shopID, kind: kind}, ok, e.callStatsKeep())
}
