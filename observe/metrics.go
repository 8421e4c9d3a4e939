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
	descSwitches    = prometheus.NewDesc("stackless_switches_total", "Tasklets switched in to run by the node's scheduler (one per turn, however many steps it took).", []string{"node"}, nil)
	descChanOps     = prometheus.NewDesc("stackless_channel_operations_total", "Sends, receives and selects the node's tasklets did.", []string{"node"}, nil)
	descTasklets    = prometheus.NewDesc("stackless_tasklets", "Live tasklets on the node, by state (a cluster worker reports runnable, blocked and paused).", []string{"node", "state"}, nil)
	descBlocked     = prometheus.NewDesc("stackless_blocked_tasklets", "Tasklets on the node that wait: on a channel, a remote operation, an effect or a timer.", []string{"node"}, nil)
	descTimers      = prometheus.NewDesc("stackless_timers", "Timers (sleeps, select timeouts) the node's scheduler holds; a timeout whose select ended counts until it is swept.", []string{"node"}, nil)
	descChannels    = prometheus.NewDesc("stackless_channels", "Channels whose home is the node.", []string{"node"}, nil)
	descHeap        = prometheus.NewDesc("stackless_heap_bytes", "Go heap in use by the node's process.", []string{"node"}, nil)
	descLinkFrames  = prometheus.NewDesc("stackless_link_frames_total", "Frames over the node's links to other nodes, by direction (in, out).", []string{"node", "direction"}, nil)
	descLinkBytes   = prometheus.NewDesc("stackless_link_bytes_total", "Bytes over the node's links to other nodes, by direction (in, out), length prefixes included.", []string{"node", "direction"}, nil)
	descCkptGen     = prometheus.NewDesc("stackless_checkpoint_generation", "The newest checkpoint generation.", nil, nil)
	descCkpts       = prometheus.NewDesc("stackless_checkpoints_stored", "Checkpoint generations the store keeps.", nil, nil)
	descCkptsTaken  = prometheus.NewDesc("stackless_checkpoints_total", "Checkpoints the cluster's coordinator took since it started.", nil, nil)
	descCkptSeconds = prometheus.NewDesc("stackless_checkpoint_duration_seconds", "How long the newest checkpoint took.", nil, nil)
	descCkptBytes   = prometheus.NewDesc("stackless_checkpoint_size_bytes", "Size of the newest checkpoint.", nil, nil)
	descCkptFailing = prometheus.NewDesc("stackless_checkpoint_failures", "Checkpoints that failed in a row since the newest one stored (0: the newest attempt was stored); above 0, a crash loses the work since the newest generation.", nil, nil)
	descMigrations  = prometheus.NewDesc("stackless_migrations_total", "Tasklets the cluster's balancer migrated.", nil, nil)
	descRollbacks   = prometheus.NewDesc("stackless_rollbacks_total", "Rollbacks of the cluster to its last checkpoint.", nil, nil)
	descLeft        = prometheus.NewDesc("stackless_workers_left_total", "Workers that left the cluster cleanly.", nil, nil)
	descUp          = prometheus.NewDesc("stackless_up", "1 when the observed system answered the scrape, else 0.", nil, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSteps, descSwitches, descChanOps, descTasklets, descBlocked, descTimers,
		descChannels, descHeap, descLinkFrames, descLinkBytes, descCkptGen, descCkpts, descCkptsTaken, descCkptSeconds,
		descCkptBytes, descCkptFailing, descMigrations, descRollbacks, descLeft, descUp} {
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
		counter(descSwitches, float64(n.Switches), node)
		counter(descChanOps, float64(n.ChannelOps), node)
		for state, k := range n.ByState {
			gauge(descTasklets, float64(k), node, state)
		}
		gauge(descBlocked, float64(n.Blocked), node)
		gauge(descTimers, float64(n.Timers), node)
		if n.HasLocal {
			gauge(descChannels, float64(n.Channels), node)
		}
		if n.HasLinks {
			counter(descLinkFrames, float64(n.FramesIn), node, "in")
			counter(descLinkFrames, float64(n.FramesOut), node, "out")
			counter(descLinkBytes, float64(n.BytesIn), node, "in")
			counter(descLinkBytes, float64(n.BytesOut), node, "out")
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
		if m.HasCluster {
			counter(descCkptsTaken, float64(m.CheckpointsTaken))
		}
		if m.CheckpointSeconds > 0 {
			gauge(descCkptSeconds, m.CheckpointSeconds)
		}
		if m.CheckpointBytes > 0 {
			gauge(descCkptBytes, float64(m.CheckpointBytes))
		}
	}
	if m.HasCluster {
		gauge(descCkptFailing, float64(m.CheckpointFailures))
		counter(descMigrations, float64(m.Migrations))
		counter(descRollbacks, float64(m.Rollbacks))
		counter(descLeft, float64(m.WorkersLeft))
	}
}
