package observe

import (
	"context"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// collector reads the source on each scrape and nowhere else: observing
// costs the scheduler nothing between scrapes. Names follow Prometheus's
// conventions: a stackless_ prefix, _total on counters, base units
// (seconds, bytes), one node label.
type collector struct{ src Source }

var (
	descSteps       = prometheus.NewDesc("stackless_steps_total", "Tasklet steps run by the node's scheduler.", []string{"node"}, nil)
	descTasklets    = prometheus.NewDesc("stackless_tasklets", "Live tasklets on the node, by state (a cluster worker reports runnable and waiting).", []string{"node", "state"}, nil)
	descTimers      = prometheus.NewDesc("stackless_timers", "Pending timers (sleeps, select timeouts) on the node.", []string{"node"}, nil)
	descChannels    = prometheus.NewDesc("stackless_channels", "Channels whose home is the node.", []string{"node"}, nil)
	descHeap        = prometheus.NewDesc("stackless_heap_bytes", "Go heap in use by the node's process.", []string{"node"}, nil)
	descCkptGen     = prometheus.NewDesc("stackless_checkpoint_generation", "The newest checkpoint generation.", nil, nil)
	descCkpts       = prometheus.NewDesc("stackless_checkpoints_stored", "Checkpoint generations the store keeps.", nil, nil)
	descCkptSeconds = prometheus.NewDesc("stackless_checkpoint_duration_seconds", "How long the newest checkpoint took.", nil, nil)
	descCkptBytes   = prometheus.NewDesc("stackless_checkpoint_size_bytes", "Size of the newest checkpoint.", nil, nil)
	descMigrations  = prometheus.NewDesc("stackless_migrations_total", "Tasklets the cluster's balancer migrated.", nil, nil)
	descRollbacks   = prometheus.NewDesc("stackless_rollbacks_total", "Rollbacks of the cluster to its last checkpoint.", nil, nil)
	descLeft        = prometheus.NewDesc("stackless_workers_left_total", "Workers that left the cluster cleanly.", nil, nil)
	descUp          = prometheus.NewDesc("stackless_up", "1 when the observed system answered the scrape, else 0.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSteps, descTasklets, descTimers, descChannels, descHeap, descCkptGen,
		descCkpts, descCkptSeconds, descCkptBytes, descMigrations, descRollbacks, descLeft, descUp} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m, err := c.src.Metrics(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, 1)
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, n := range m.Nodes {
		node := strconv.Itoa(int(n.Node))
		counter(descSteps, float64(n.Steps), node)
		for state, k := range n.ByState {
			gauge(descTasklets, float64(k), node, state)
		}
		if n.HasLocal {
			gauge(descTimers, float64(n.Timers), node)
			gauge(descChannels, float64(n.Channels), node)
		}
		if n.Heap != 0 {
			gauge(descHeap, float64(n.Heap), node)
		}
	}
	if m.HasCheckpoints {
		gauge(descCkptGen, float64(m.CheckpointGen))
		if m.Checkpoints > 0 {
			gauge(descCkpts, float64(m.Checkpoints))
		}
		if m.CheckpointSeconds > 0 {
			gauge(descCkptSeconds, m.CheckpointSeconds)
		}
		if m.CheckpointBytes > 0 {
			gauge(descCkptBytes, float64(m.CheckpointBytes))
		}
	}
	if m.HasCluster {
		counter(descMigrations, float64(m.Migrations))
		counter(descRollbacks, float64(m.Rollbacks))
		counter(descLeft, float64(m.WorkersLeft))
	}
}
