package metrics

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runq/runq/tasks"
)

// Queues lists every known queue with its counts: a *tasks.Client.
type Queues interface {
	Queues(ctx context.Context) ([]tasks.QueueInfo, error)
}

// QueueTimeout bounds the read of the queues at each scrape: well inside
// Prometheus's default scrape timeout (10 s), so a slow Redis costs the
// queue gauges of one scrape, not the whole scrape.
const QueueTimeout = 2 * time.Second

// queueCollector reports each queue's depth and oldest queued age, read
// from Redis when Prometheus scrapes (so they are as fresh as the scrape,
// and cost nothing between scrapes). A read that fails is logged and
// counted in runq_queue_scrape_errors_total; the rest of the scrape is
// served without the queue gauges.
type queueCollector struct {
	q      Queues
	log    *slog.Logger
	errors atomic.Int64

	depth, oldest, errorsDesc *prometheus.Desc
}

func newQueueCollector(q Queues, log *slog.Logger) *queueCollector {
	return &queueCollector{
		q:   q,
		log: log,
		depth: prometheus.NewDesc("runq_queue_depth",
			"Tasks queued and waiting for a worker, read from Redis at scrape time.", []string{"queue"}, nil),
		oldest: prometheus.NewDesc("runq_queue_oldest_age_seconds",
			"How long the task at the head of the queue has waited since it was submitted (0 when none), read at scrape time.",
			[]string{"queue"}, nil),
		errorsDesc: prometheus.NewDesc("runq_queue_scrape_errors_total",
			"Scrapes whose read of the queue gauges from Redis failed.", nil, nil),
	}
}

// Describe sends the collector's descriptors.
func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
	ch <- c.errorsDesc
}

// Collect reads the queues and sends their gauges, then the error count,
// which includes this scrape's failure if it failed.
func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), QueueTimeout)
	defer cancel()
	qs, err := c.q.Queues(ctx)
	if err != nil {
		c.errors.Add(1)
		c.log.Warn("metrics: cannot read the queues; their gauges are left out of this scrape", "err", err)
		qs = nil
	}
	for _, q := range qs {
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(q.Queued), q.Name)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, q.OldestQueued.Seconds(), q.Name)
	}
	ch <- prometheus.MustNewConstMetric(c.errorsDesc, prometheus.CounterValue, float64(c.errors.Load()))
}
