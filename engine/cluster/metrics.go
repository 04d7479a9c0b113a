package cluster

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	up          prometheus.Gauge
	skew        prometheus.Gauge
	storeErrors *prometheus.CounterVec
	claims      *prometheus.CounterVec
	recovered   prometheus.Counter
	abandoned   prometheus.Counter
	deadNodes   prometheus.Counter
	dropped     prometheus.Counter
}

func newMetrics(n *Node, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		up: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sundial_store_up",
			Help: "1 when the last store call succeeded, 0 while the store fails (persisted schedules do not fire then).",
		}),
		skew: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sundial_clock_skew_seconds",
			Help: "This node's clock minus the database's, at the last check-in.",
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sundial_store_errors_total",
			Help: "Store calls that failed (after their retries), by operation.",
		}, []string{"op"}),
		claims: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sundial_fire_claims_total",
			Help: "Fires of persisted schedules asked of the store, by result: won (this node runs it), lost (another node fired or holds the trigger), fenced (this node may not fire now), error.",
		}, []string{"result"}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sundial_recovered_runs_total",
			Help: "Runs interrupted by a dead node (or this node's previous process) re-run here as recovery runs.",
		}),
		abandoned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sundial_abandoned_runs_total",
			Help: "Non-recoverable runs interrupted by a dead node, recorded abandoned by this node.",
		}),
		deadNodes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sundial_dead_nodes_recovered_total",
			Help: "Nodes that stopped checking in and were recovered by this node.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sundial_run_records_dropped_total",
			Help: "Run records (non-persisted runs, skipped fires) dropped because too many waited for the store.",
		}),
	}
	age := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "sundial_checkin_age_seconds",
		Help: "Time since this node's last successful check-in began.",
	}, func() float64 {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.health.lastOK.IsZero() {
			return 0
		}
		return n.clock.Now().Sub(n.health.lastOK).Seconds()
	})
	if reg != nil {
		for _, c := range []prometheus.Collector{m.up, m.skew, m.storeErrors, m.claims, m.recovered, m.abandoned, m.deadNodes, m.dropped, age} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, err
				}
			}
		}
	}
	return m, nil
}
