package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sundial/engine/api"
	"sundial/engine/api/crest"
	"sundial/engine/auth"
	"sundial/engine/cluster"
)

// pingTimeout is how long /healthz and /readyz wait for the daemon's loops
// to answer; /healthz calls the process unresponsive past it.
const pingTimeout = 2 * time.Second

// handler serves the REST API (/openidm/..., authenticated), the token
// endpoint, the operator's web page (/ui/, signed in), and the operational endpoints, which need no
// credentials (probes and Prometheus) and reveal no secret.
func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	objects, types := d.managedAPI()
	mux.Handle("/openidm/", api.New(api.Options{Schedules: d.Schedules(), Auth: d.auth, Logger: d.log, Objects: objects, ManagedTypes: types, Systems: d.systems, LiveSync: liveSyncs{d}}))
	d.mountTaskScanner(mux)
	d.mountJobs(mux)
	d.mountRecon(mux)
	d.mountAudit(mux)
	mux.Handle("/oauth2/token", d.auth.TokenHandler())
	mux.Handle("/ui/", d.webHandler())
	mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	mux.HandleFunc("GET /healthz", d.healthz)
	mux.HandleFunc("GET /readyz", d.readyz)
	metrics := promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{Registry: d.registry})
	if d.opts.MetricsAuth {
		metrics = d.authenticated(metrics)
	}
	mux.Handle("GET /metrics", metrics)
	return mux
}

// authenticated lets through the requests of any API client (every role
// reads), and answers the others 401 in the API's error shape.
func (d *Daemon) authenticated(next http.Handler) http.Handler {
	w := crest.Writer{Logger: d.log}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		p, err := d.auth.Authenticate(r)
		if err != nil || !p.Role.Allows(auth.PermRead) {
			w.Error(rw, crest.Errorf(http.StatusUnauthorized, "Access Denied"))
			return
		}
		next.ServeHTTP(rw, r)
	})
}

// health is the document /healthz and /readyz both serve; they differ in
// Status, Problems and the HTTP status code.
type health struct {
	// Status is, on /healthz, "ok" or "unresponsive"; on /readyz, "ready"
	// or "not ready".
	Status string `json:"status"`
	// Problems are, on /healthz, the loops that did not answer; on /readyz,
	// the reasons the node is not ready. Empty when all is well.
	Problems []string `json:"problems"`
	// Ready is what /readyz answers, on both.
	Ready     bool         `json:"ready"`
	Node      string       `json:"node"`
	Config    configHealth `json:"config"`
	Schedules int          `json:"schedules"`
	Executing int          `json:"executing"`
	// Reload is the reload loop's state.
	Reload reloadState `json:"reload"`
	// Cluster is the store and cluster membership (with Options.DB).
	Cluster *cluster.Status `json:"cluster,omitempty"`
}

type configHealth struct {
	Dir       string    `json:"dir"`
	Hash      string    `json:"hash"`
	AppliedAt time.Time `json:"appliedAt"`
	Errors    []string  `json:"errors"`
	// ReloadError is why the last reload was not applied, if it was not.
	ReloadError string `json:"reloadError,omitempty"`
}

// healthz is liveness: 200 while the process works (the reload loop, the
// scheduler's loop and the file watcher answer within pingTimeout, and the
// reload loop can still start a load), 503 otherwise. A node that is
// alive but not ready (an invalid file, the store down) answers 200 here.
func (d *Daemon) healthz(w http.ResponseWriter, r *http.Request) {
	running, problems := d.probeLoops(r.Context())
	h, _ := d.document(running)
	h.Status, h.Problems = "ok", problems
	code := http.StatusOK
	if len(h.Problems) > 0 {
		h.Status, code = "unresponsive", http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
}

// readyz is readiness: 503 while a configuration file is invalid, the last
// reload failed or is stuck past its deadline, the store is unreachable or
// this node is fenced off from firing persisted schedules; 200 otherwise.
func (d *Daemon) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pingTimeout)
	defer cancel()
	runs, _ := d.executing(ctx)
	h, problems := d.document(len(runs))
	h.Status, h.Problems = "ready", problems
	code := http.StatusOK
	if !h.Ready {
		h.Status, code = "not ready", http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
}

// document fills the shared health document, with executing runs in
// progress, and returns the reasons the node is not ready.
func (d *Daemon) document(executing int) (health, []string) {
	h := health{Node: d.nodeID, Executing: executing, Reload: *d.reloading.Load()}
	problems := []string{}
	h.Config.Dir = d.opts.ConfDir
	h.Config.Errors = []string{}
	if cur := d.current.Load(); cur != nil {
		h.Schedules = len(cur.Schedules)
	}
	if st := d.applied.Load(); st != nil {
		h.Config.Hash, h.Config.AppliedAt = st.Hash, st.At.UTC()
		if len(st.Errors) > 0 {
			h.Config.Errors = st.Errors
			problems = append(problems, fmt.Sprintf("%d error(s) in configuration files (config.errors); their last good versions keep running", len(st.Errors)))
		}
		if st.Failed != "" {
			h.Config.ReloadError = st.Failed
			problems = append(problems, "last reload failed: "+st.Failed)
		}
	} else {
		problems = append(problems, "starting: no configuration applied yet")
	}
	if h.Reload.Stuck != "" {
		problems = append(problems, "reload stuck: "+h.Reload.Stuck)
	}
	if d.node != nil {
		st := d.node.Status()
		h.Cluster = &st
		switch {
		case !st.Reachable:
			problems = append(problems, "store unreachable: "+st.Error)
		case !st.Firing:
			problems = append(problems, "fenced: this node may not fire persisted schedules (its check-in is not fresh)")
		}
		if st.ClockSkewed {
			problems = append(problems, fmt.Sprintf("clock skewed from the store's by %.1fs", st.ClockSkew))
		}
	}
	h.Ready = len(problems) == 0
	return h, problems
}

// schedulerProbe is one call of the scheduler's Executing, made for the
// health endpoints. While one is outstanding, later probes wait on it rather
// than start another, so a stuck loop holds one goroutine, not one per probe.
type schedulerProbe struct {
	done chan struct{} // closed once ids is set
	ids  []string
}

// executing asks the scheduler's loop for the fire ids of the runs in
// progress; false when it did not answer within ctx.
func (d *Daemon) executing(ctx context.Context) ([]string, bool) {
	d.probeMu.Lock()
	p := d.probe
	if p == nil {
		p = &schedulerProbe{done: make(chan struct{})}
		d.probe = p
		go func() {
			runs := d.sched.Executing()
			p.ids = make([]string, len(runs))
			for i, r := range runs {
				p.ids[i] = r.FireID
			}
			close(p.done)
			d.probeMu.Lock()
			d.probe = nil
			d.probeMu.Unlock()
		}()
	}
	d.probeMu.Unlock()
	select {
	case <-p.done:
		return p.ids, true
	case <-ctx.Done():
		return nil, false
	}
}

// probeLoops asks the scheduler's loop, the file watcher and the reload
// loop, at the same time, whether they answer within pingTimeout each. It
// returns the number of runs in progress (from the scheduler's answer) and
// what did not answer.
func (d *Daemon) probeLoops(parent context.Context) (running int, problems []string) {
	ctx, cancel := context.WithTimeout(parent, pingTimeout)
	defer cancel()
	var sched, watcher, reload string
	var wg sync.WaitGroup
	wg.Go(func() {
		runs, ok := d.executing(ctx)
		running = len(runs)
		if !ok {
			sched = "the scheduler's loop does not answer"
		}
	})
	wg.Go(func() {
		if err := d.watcher.Ping(ctx); err != nil {
			watcher = "the file watcher does not answer: " + err.Error()
		}
	})
	wg.Go(func() {
		answer := make(chan bool, 1)
		select {
		case d.reloadPings <- answer:
			if !<-answer {
				reload = fmt.Sprintf("%d configuration loads are blocked: no new load can start", maxBlockedLoads)
			}
		case <-ctx.Done():
			reload = "the reload loop does not answer"
		}
	})
	wg.Wait()
	problems = []string{}
	for _, p := range []string{sched, watcher, reload} {
		if p != "" {
			problems = append(problems, p)
		}
	}
	return running, problems
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
