package daemon

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sundial/engine/persist"
)

// handler serves the operational endpoints.
func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", d.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{Registry: d.registry}))
	return mux
}

// health is the /healthz document.
type health struct {
	Status    string       `json:"status"` // ok, or degraded when a config file is invalid or the store is not healthy
	Node      string       `json:"node"`
	Config    configHealth `json:"config"`
	Schedules int          `json:"schedules"`
	Executing int          `json:"executing"`
	// Cluster is the store and cluster membership (with Options.DB).
	Cluster *persist.Status `json:"cluster,omitempty"`
}

type configHealth struct {
	Dir       string    `json:"dir"`
	Hash      string    `json:"hash"`
	AppliedAt time.Time `json:"appliedAt"`
	Errors    []string  `json:"errors"`
	// ReloadError is why the last reload was not applied, if it was not.
	ReloadError string `json:"reloadError,omitempty"`
}

func (d *Daemon) healthz(w http.ResponseWriter, _ *http.Request) {
	snap := d.sched.Snapshot()
	h := health{Status: "ok", Node: d.nodeID, Schedules: len(snap.Schedules), Executing: len(snap.Executing)}
	h.Config.Dir = d.opts.ConfDir
	h.Config.Errors = []string{}
	if st := d.applied.Load(); st != nil {
		h.Config.Hash, h.Config.AppliedAt = st.Hash, st.At.UTC()
		if len(st.Errors) > 0 {
			h.Status = "degraded"
			h.Config.Errors = st.Errors
		}
		if st.Failed != "" {
			h.Status = "degraded"
			h.Config.ReloadError = st.Failed
		}
	}
	if d.persist != nil {
		st := d.persist.Status()
		h.Cluster = &st
		if !st.Healthy() {
			h.Status = "degraded"
		}
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(h)
}
