package telemetry

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mizan-afi/mizan/edge"
	"github.com/mizan-afi/mizan/live"
	"github.com/mizan-afi/mizan/ssr"
)

// The metrics of the parts an app starts besides the App itself, read from
// their Stats at each scrape: register each part once with WatchHub,
// WatchRenderer and WatchPurger.
var (
	descLiveConns = prometheus.NewDesc("mizan_live_connections", "Open WebSocket connections of the live hub.", nil, nil)
	descLiveSubs  = prometheus.NewDesc("mizan_live_subscriptions", "Subscriptions of the live hub's connections.", nil, nil)
	descLivePush  = prometheus.NewDesc("mizan_live_pushes_total", "Invalidate messages the live hub queued to connections.", nil, nil)
	descLiveDrop  = prometheus.NewDesc("mizan_live_dropped_total", "Connections the live hub closed as slow consumers.", nil, nil)

	descSSRRenders  = prometheus.NewDesc("mizan_ssr_renders_total", "SSR renders, by outcome (ok, error, timeout, failure).", []string{"outcome"}, nil)
	descSSRStarts   = prometheus.NewDesc("mizan_ssr_worker_starts_total", "SSR worker processes started.", nil, nil)
	descSSRRestarts = prometheus.NewDesc("mizan_ssr_worker_restarts_total", "SSR worker processes started to replace one that died.", nil, nil)
	descSSRRetries  = prometheus.NewDesc("mizan_ssr_retries_total", "SSR renders sent again because their worker died with them in flight.", nil, nil)

	descEdgeBacklog = prometheus.NewDesc("mizan_edge_purge_backlog", "Invalidations given to the edge purge that the edge has not acknowledged yet.", nil, nil)
	descEdgeOldest  = prometheus.NewDesc("mizan_edge_purge_oldest_seconds", "How long the oldest unacknowledged edge invalidation has waited.", nil, nil)
	descEdgeSent    = prometheus.NewDesc("mizan_edge_purge_sent_total", "Edge purge posts the edge acknowledged.", nil, nil)
	descEdgeFails   = prometheus.NewDesc("mizan_edge_purge_failures_total", "Edge purge posts that were not acknowledged.", nil, nil)
)

// WatchHub registers the metrics of a live hub: connections and
// subscriptions (gauges), pushes and slow consumers dropped.
func (t *T) WatchHub(h *live.Hub) error {
	return t.watch("live hub", func(ch chan<- prometheus.Metric) {
		s := h.Stats()
		ch <- prometheus.MustNewConstMetric(descLiveConns, prometheus.GaugeValue, float64(s.Connections))
		ch <- prometheus.MustNewConstMetric(descLiveSubs, prometheus.GaugeValue, float64(s.Subscriptions))
		ch <- prometheus.MustNewConstMetric(descLivePush, prometheus.CounterValue, float64(s.Pushed))
		ch <- prometheus.MustNewConstMetric(descLiveDrop, prometheus.CounterValue, float64(s.Dropped))
	})
}

// WatchRenderer registers the metrics of an SSR renderer: renders by
// outcome, worker starts and restarts, retries.
func (t *T) WatchRenderer(r *ssr.Renderer) error {
	return t.watch("SSR renderer", func(ch chan<- prometheus.Metric) {
		s := r.Stats()
		for _, o := range []struct {
			outcome string
			n       uint64
		}{{"ok", s.Renders}, {"error", s.Errors}, {"timeout", s.Timeouts}, {"failure", s.Failures}} {
			ch <- prometheus.MustNewConstMetric(descSSRRenders, prometheus.CounterValue, float64(o.n), o.outcome)
		}
		ch <- prometheus.MustNewConstMetric(descSSRStarts, prometheus.CounterValue, float64(s.Starts))
		ch <- prometheus.MustNewConstMetric(descSSRRestarts, prometheus.CounterValue, float64(restarts(s.Starts, r.Workers())))
		ch <- prometheus.MustNewConstMetric(descSSRRetries, prometheus.CounterValue, float64(s.Retries))
	})
}

// restarts is how many of starts worker processes replaced one that
// died: those beyond the first of each of the workers slots.
func restarts(starts uint64, workers int) uint64 {
	if starts <= uint64(workers) {
		return 0
	}
	return starts - uint64(workers)
}

// WatchPurger registers the metrics of an edge purger: the backlog and the
// age of its oldest entry (gauges), posts acknowledged and failed.
func (t *T) WatchPurger(p *edge.Purger) error {
	return t.watch("edge purger", func(ch chan<- prometheus.Metric) {
		s := p.Stats()
		ch <- prometheus.MustNewConstMetric(descEdgeBacklog, prometheus.GaugeValue, float64(s.Pending))
		ch <- prometheus.MustNewConstMetric(descEdgeOldest, prometheus.GaugeValue, s.OldestPending.Seconds())
		ch <- prometheus.MustNewConstMetric(descEdgeSent, prometheus.CounterValue, float64(s.Sent))
		ch <- prometheus.MustNewConstMetric(descEdgeFails, prometheus.CounterValue, float64(s.Failures))
	})
}

// watch registers a collector reading one part's stats at each scrape.
func (t *T) watch(what string, collect func(chan<- prometheus.Metric)) error {
	if err := t.reg.Register(prometheus.CollectorFunc(collect)); err != nil {
		return fmt.Errorf("telemetry: registering the metrics of the %s: %w", what, err)
	}
	return nil
}
