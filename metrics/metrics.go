package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/flowd/flowd/engine"
	"github.com/flowd/flowd/flow"
	"github.com/flowd/flowd/retention"
	"github.com/flowd/flowd/scheduler"
)

// Metrics holds flowd's collectors on their own registry. It implements
// engine.Observer; every method is safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	executionsStarted  prometheus.Counter
	executionsFinished *prometheus.CounterVec
	stepAttempts       *prometheus.CounterVec
	stepDuration       prometheus.Histogram
	queueLag           prometheus.Histogram
	retriesScheduled   *prometheus.CounterVec
	stepsInFlight      prometheus.Gauge
	httpRequests       *prometheus.CounterVec
	httpDuration       *prometheus.HistogramVec
	eventsPublished    prometheus.Counter
	eventExecutions    prometheus.Counter
	prunedRows         *prometheus.CounterVec
	pruneLastSuccess   prometheus.Gauge
	pruneErrors        prometheus.Counter
}

var (
	_ engine.Observer         = (*Metrics)(nil)
	_ scheduler.EventObserver = (*Metrics)(nil)
	_ retention.Observer      = (*Metrics)(nil)
)

// Step and queue-lag histogram buckets, in seconds: from a fast local
// receiver (5 ms) to a slow one (60 s), and from an idle queue to a
// backlog of minutes.
var (
	stepBuckets     = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	queueLagBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
)

// New returns Metrics registered on a new registry, together with the Go
// runtime and process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		reg: reg,
		executionsStarted: newCounter(reg, "flowd_executions_started_total",
			"Executions that started running (their first step attempt was about to be sent); an execution retry does not count again."),
		executionsFinished: newCounterVec(reg, "flowd_executions_finished_total",
			"Executions that ended, by final status (success, failed, cancelled).", "status"),
		stepAttempts: newCounterVec(reg, "flowd_step_attempts_total",
			"HTTP attempts of steps, by outcome (success, failed, interrupted) and response status class (2xx, 3xx, 4xx, 5xx, or none when no response came back).",
			"outcome", "status_class"),
		stepDuration: newHistogram(reg, "flowd_step_duration_seconds",
			"Duration of step attempts, from rendering the request to the last byte of the response read.", stepBuckets),
		queueLag: newHistogram(reg, "flowd_queue_lag_seconds",
			"Time from an execution job becoming ready (its scheduled time) to a worker starting it, first job attempt only.", queueLagBuckets),
		retriesScheduled: newCounterVec(reg, "flowd_retries_scheduled_total",
			"Retries scheduled, by kind: step (a failed step attempt will be sent again) or execution (a failed execution goes back to scheduled).", "kind"),
		stepsInFlight: newGauge(reg, "flowd_steps_in_flight",
			"Step HTTP requests being sent by this process right now."),
		httpRequests: newCounterVec(reg, "flowd_http_requests_total",
			"Requests answered by the API listener, by route pattern and status class.", "route", "status_class"),
		httpDuration: promauto.With(reg).NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flowd_http_request_duration_seconds",
			Help:    "Time to answer API listener requests, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
		// No type label: event types are chosen by the publisher, without
		// bound.
		eventsPublished: newCounter(reg, "flowd_events_published_total",
			"Events published (POST /v1/events) by this process; a repeated Idempotency-Key does not count again."),
		eventExecutions: newCounter(reg, "flowd_event_executions_started_total",
			"Executions created by the events this process published (one per subscribed flow that matched)."),
		prunedRows: newCounterVec(reg, "flowd_pruned_rows_total",
			"Rows deleted by this process's pruner once past FLOWD_RETENTION, by table.", "table"),
		pruneLastSuccess: newGauge(reg, "flowd_prune_last_success_timestamp_seconds",
			"Unix time of the end of this process's last prune cycle without error (0: none yet; one process at a time prunes, so take the max over processes)."),
		pruneErrors: newCounter(reg, "flowd_prune_errors_total",
			"Prune cycles of this process that ended with an error (a statement or lock timeout, the database unreachable)."),
	}
	// Known label values start at zero, so rates and alerts work before the
	// first event of each kind.
	for _, s := range []string{flow.ExecutionStatusSuccess, flow.ExecutionStatusFailed, flow.ExecutionStatusCancelled} {
		m.executionsFinished.WithLabelValues(s)
	}
	for _, k := range []string{"step", "execution"} {
		m.retriesScheduled.WithLabelValues(k)
	}
	for _, t := range retention.Tables() {
		m.prunedRows.WithLabelValues(t)
	}
	return m
}

// newCounter, newCounterVec, newGauge and newHistogram make a collector
// and register it on reg (the one place New's collectors are registered,
// so that none is left out).
func newCounter(reg prometheus.Registerer, name, help string) prometheus.Counter {
	return promauto.With(reg).NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

func newCounterVec(reg prometheus.Registerer, name, help string, labels ...string) *prometheus.CounterVec {
	return promauto.With(reg).NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

func newGauge(reg prometheus.Registerer, name, help string) prometheus.Gauge {
	return promauto.With(reg).NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
}

func newHistogram(reg prometheus.Registerer, name, help string, buckets []float64) prometheus.Histogram {
	return promauto.With(reg).NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets})
}

// Registry returns the registry the metrics are registered on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ExecutionStarted counts an execution that starts running.
func (m *Metrics) ExecutionStarted() { m.executionsStarted.Inc() }

// ExecutionFinished counts an execution that ended with status.
func (m *Metrics) ExecutionFinished(status string) {
	m.executionsFinished.WithLabelValues(status).Inc()
}

// StepAttempted counts a step attempt and observes its duration. A zero
// statusCode means no response came back.
func (m *Metrics) StepAttempted(outcome string, statusCode int, d time.Duration) {
	m.stepAttempts.WithLabelValues(outcome, StatusClass(statusCode)).Inc()
	m.stepDuration.Observe(d.Seconds())
}

// StepsInFlight adds delta to the requests being sent.
func (m *Metrics) StepsInFlight(delta int) { m.stepsInFlight.Add(float64(delta)) }

// QueueLag observes the wait of a job between ready and started.
func (m *Metrics) QueueLag(d time.Duration) { m.queueLag.Observe(max(d, 0).Seconds()) }

// EventPublished counts a published event and the executions it started.
func (m *Metrics) EventPublished(executions int) {
	m.eventsPublished.Inc()
	m.eventExecutions.Add(float64(executions))
}

// RetryScheduled counts a retry of kind "step" or "execution".
func (m *Metrics) RetryScheduled(kind string) { m.retriesScheduled.WithLabelValues(kind).Inc() }

// Pruned counts rows the pruner deleted from table.
func (m *Metrics) Pruned(table string, n int64) { m.prunedRows.WithLabelValues(table).Add(float64(n)) }

// PruneSucceeded records the end of a prune cycle without error.
func (m *Metrics) PruneSucceeded(at time.Time) {
	m.pruneLastSuccess.Set(float64(at.UnixNano()) / 1e9)
}

// PruneFailed counts a prune cycle that ended with an error.
func (m *Metrics) PruneFailed() { m.pruneErrors.Inc() }

// StatusClass returns "2xx", "3xx", "4xx" or "5xx" for a final HTTP status
// code and "none" for anything else (0: no response came back).
func StatusClass(code int) string {
	if code < 200 || code > 599 {
		return "none"
	}
	return strconv.Itoa(code/100) + "xx"
}
