package sync

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	stdsync "sync"
	"time"

	"sundial/engine/config"
	"sundial/engine/store"
)

// Run states, as IDM names them.
const (
	StateActive   = "ACTIVE"
	StateSuccess  = "SUCCESS"
	StateFailed   = "FAILED"
	StateCanceled = "CANCELED"
)

// stageDescriptions are IDM's descriptions of the stages.
var stageDescriptions = map[string]string{
	"ACTIVE_INITIALIZED":         "initialized",
	"ACTIVE_QUERY_ENTRIES":       "querying source, target and links",
	"ACTIVE_RECONCILING_SOURCE":  "reconciling source entries",
	"ACTIVE_RECONCILING_TARGET":  "reconciling target entries",
	"ACTIVE_PROCESSING_RESULTS":  "processing reconciliation results",
	"ACTIVE_APPLYING_PLAN":       "applying a stored plan",
	"ACTIVE_CANCELING":           "canceling reconciliation",
	"COMPLETED_SUCCESS":          "reconciliation completed.",
	"COMPLETED_CANCELED":         "reconciliation canceled.",
	"COMPLETED_FAILED":           "reconciliation failed.",
	"ACTIVE_RECONCILING_PLANNED": "applying planned entries",
}

// Counts are a run's planned (dry run) or applied changes, and the sizes
// of its source and target sets (-1 when unknown).
type Counts struct {
	Created, Updated, Deleted, Linked, Unlinked int
	SourceTotal, TargetTotal                    int
	// Failed counts entries whose change failed.
	Failed int
}

// Run is one reconciliation.
type Run struct {
	ID      string
	Mapping string
	DryRun  bool
	node    string // the node running it

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	params ReconParams
	planOf string // ApplyPlan: the dry run whose plan this applies

	mu         stdsync.Mutex
	state      string
	stage      string
	err        error
	started    time.Time
	ended      time.Time
	counts     Counts
	situations map[string]int
	status     map[string]int
	srcDone    int
	tgtDone    int
	linksDone  int
	linksTotal int
	durations  map[string]*stat

	// releases free the run's object sets at its end.
	releases []func()

	// pending are entries not yet stored; seq numbers them per kind.
	pending []store.ReconEntry
	seq     map[string]int64
	flushMu stdsync.Mutex
}

type stat struct {
	count              int
	sum, min, max, sq2 float64
}

func (s *Service) newRun(id string, m *config.Mapping, p ReconParams) *Run {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{ID: id, Mapping: m.Name, DryRun: p.DryRun, node: s.cfg.Node, ctx: ctx, cancel: cancel, done: make(chan struct{}), params: p,
		state: StateActive, stage: "ACTIVE_INITIALIZED", started: s.cfg.Now(),
		counts:     Counts{SourceTotal: -1, TargetTotal: -1},
		situations: map[string]int{}, status: map[string]int{"SUCCESS": 0, "FAILURE": 0},
		durations: map[string]*stat{}, seq: map[string]int64{}, linksTotal: -1}
	for _, sit := range config.Situations {
		if sit != "LINK_ONLY" && sit != "ALL_GONE" {
			r.situations[sit] = 0
		}
	}
	return r
}

// onEnd registers a release to run when the run ends (nil: none).
func (r *Run) onEnd(release func()) {
	if release == nil {
		return
	}
	r.mu.Lock()
	r.releases = append(r.releases, release)
	r.mu.Unlock()
}

// release runs, once, what onEnd registered.
func (r *Run) release() {
	r.mu.Lock()
	releases := r.releases
	r.releases = nil
	r.mu.Unlock()
	for _, release := range releases {
		release()
	}
}

// Done is closed when the run has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

// Cancel asks the run to stop; it is checked before each entry.
func (r *Run) Cancel() {
	r.mu.Lock()
	if r.state == StateActive {
		r.stage = "ACTIVE_CANCELING"
	}
	r.mu.Unlock()
	r.cancel()
}

// State is ACTIVE, SUCCESS, FAILED or CANCELED.
func (r *Run) State() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// Err is why a FAILED run failed.
func (r *Run) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Counts returns the planned or applied changes so far.
func (r *Run) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

func (r *Run) setStage(stage string) {
	r.mu.Lock()
	if r.state == StateActive && r.stage != "ACTIVE_CANCELING" {
		r.stage = stage
	}
	r.mu.Unlock()
}

// Summary is the run's summary in IDM's shape.
func (r *Run) Summary() map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	total := func(n int) any {
		if n < 0 {
			return "?"
		}
		return n
	}
	sits := make(map[string]any, len(r.situations))
	for k, v := range r.situations {
		sits[k] = v
	}
	durs := map[string]any{}
	for k, st := range r.durations {
		mean := st.sum / float64(st.count)
		durs[k] = map[string]any{"count": st.count, "sum": round(st.sum), "min": round(st.min), "max": round(st.max), "mean": round(mean),
			"stdDev": round(math.Sqrt(math.Max(0, st.sq2/float64(st.count)-mean*mean)))}
	}
	params := map[string]any{"sourceQuery": map[string]any{"resourceName": "", "_queryId": "query-all-ids"},
		"targetQuery": map[string]any{"resourceName": "", "_queryId": "query-all-ids"}}
	if r.params.SourceID != "" {
		delete(params, "sourceQuery")
		params["sourceIds"] = []any{r.params.SourceID}
	}
	if r.planOf != "" {
		params["plan"] = r.planOf
	}
	m := map[string]any{
		"_id": r.ID, "mapping": r.Mapping, "state": r.state, "stage": r.stage, "stageDescription": stageDescriptions[r.stage],
		"dryRun": r.DryRun, "node": r.node,
		"progress": map[string]any{
			"source": map[string]any{"existing": map[string]any{"processed": r.srcDone, "total": total(r.counts.SourceTotal)}},
			"target": map[string]any{"existing": map[string]any{"processed": r.tgtDone, "total": total(r.counts.TargetTotal)}, "created": r.counts.Created},
			"links":  map[string]any{"existing": map[string]any{"processed": r.linksDone, "total": total(r.linksTotal)}, "created": r.counts.Linked},
		},
		"situationSummary": sits,
		"statusSummary":    map[string]any{"SUCCESS": r.status["SUCCESS"], "FAILURE": r.status["FAILURE"]},
		"durationSummary":  durs,
		"parameters":       params,
		"changes": map[string]any{"created": r.counts.Created, "updated": r.counts.Updated, "deleted": r.counts.Deleted,
			"linked": r.counts.Linked, "unlinked": r.counts.Unlinked, "failed": r.counts.Failed},
		"started": r.started.UTC().Format(time.RFC3339Nano),
		"ended":   "",
	}
	end := r.ended
	if !end.IsZero() {
		m["ended"] = end.UTC().Format(time.RFC3339Nano)
	} else {
		end = time.Now()
	}
	m["duration"] = end.Sub(r.started).Milliseconds()
	if r.err != nil {
		m["error"] = r.err.Error()
	}
	return m
}

func round(ms float64) float64 { return math.Round(ms*1000) / 1000 }

func (r *Run) record() store.ReconRun {
	sum, _ := json.Marshal(r.Summary())
	r.mu.Lock()
	defer r.mu.Unlock()
	return store.ReconRun{ID: r.ID, Mapping: r.Mapping, State: r.state, Started: r.started, Ended: r.ended, Summary: sum}
}

// situationMessage is the audit summary's message: "ABSENT: 1 CONFIRMED: 3 …".
func (r *Run) situationMessage() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]string, 0, len(r.situations))
	for k := range r.situations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %d ", k, r.situations[k])
	}
	return strings.TrimSpace(b.String())
}

func (r *Run) observe(metric string, d time.Duration) {
	ms := float64(d.Microseconds()) / 1000
	r.mu.Lock()
	st := r.durations[metric]
	if st == nil {
		st = &stat{min: ms, max: ms}
		r.durations[metric] = st
	}
	st.count++
	st.sum += ms
	st.sq2 += ms * ms
	st.min, st.max = math.Min(st.min, ms), math.Max(st.max, ms)
	r.mu.Unlock()
}

// entryBatch is how many plan or audit entries are stored at once.
const entryBatch = 500

// add queues an entry of kind; full batches are stored.
func (r *Run) add(ctx context.Context, s *Service, kind string, doc any) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	r.mu.Lock()
	e := store.ReconEntry{ReconID: r.ID, Kind: kind, Seq: r.seq[kind], Doc: b}
	r.seq[kind]++
	r.pending = append(r.pending, e)
	full := len(r.pending) >= entryBatch
	r.mu.Unlock()
	if full {
		return r.flush(ctx, s)
	}
	return nil
}

// flush stores the pending entries.
func (r *Run) flush(ctx context.Context, s *Service) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	batch := r.pending
	r.pending = nil
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	return s.recons.AppendReconEntries(store.WithDeferredSync(ctx), batch)
}

// audit queues an audit/recon entry with IDM's common fields.
func (r *Run) audit(ctx context.Context, s *Service, fields map[string]any) {
	c := r.common(s)
	e := map[string]any{"eventName": c.EventName, "reconId": c.ReconID, "mapping": c.Mapping, "timestamp": c.Timestamp,
		"transactionId": c.TransactionID, "userId": c.UserID}
	for k, v := range fields {
		e[k] = v
	}
	r.addAudit(ctx, s, e)
}

// entryAudit is the audit/recon entry of one object and qualifier, in
// IDM's field names: encoded from a struct, as there is one per object.
type entryAudit struct {
	EventName                string  `json:"eventName"`
	ReconID                  string  `json:"reconId"`
	Mapping                  string  `json:"mapping"`
	Timestamp                string  `json:"timestamp"`
	TransactionID            string  `json:"transactionId"`
	UserID                   string  `json:"userId"`
	EntryType                string  `json:"entryType"`
	Reconciling              string  `json:"reconciling"`
	Situation                string  `json:"situation"`
	Action                   string  `json:"action"`
	LinkQualifier            string  `json:"linkQualifier"`
	Status                   string  `json:"status"`
	Message                  string  `json:"message"`
	Exception                *string `json:"exception"`
	ReconAction              string  `json:"reconAction"`
	SourceObjectID           any     `json:"sourceObjectId"` // nil or a string
	TargetObjectID           any     `json:"targetObjectId"`
	AmbiguousTargetObjectIDs string  `json:"ambiguousTargetObjectIds,omitempty"`
}

// common is an entry with IDM's common fields set.
func (r *Run) common(s *Service) entryAudit {
	return entryAudit{EventName: "recon", ReconID: r.ID, Mapping: r.Mapping, Timestamp: s.cfg.Now().UTC().Format(time.RFC3339Nano),
		TransactionID: r.ID, UserID: r.params.InitiatedBy}
}

// addAudit queues an audit/recon entry.
func (r *Run) addAudit(ctx context.Context, s *Service, doc any) {
	if err := r.add(ctx, s, store.ReconAudit, doc); err != nil {
		s.cfg.Logger.Warn("recording a reconciliation audit entry failed", "recon", r.ID, "err", err)
	}
}

func statusOf(ok bool) string {
	if ok {
		return "SUCCESS"
	}
	return "FAILURE"
}
