package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"sundial/engine/actor"
	"sundial/engine/config"
	"sundial/engine/connector"
	"sundial/engine/script"
	"sundial/engine/store"
)

// ErrChangeFailed is wrapped by the error of a liveSync pass that stopped
// at a change whose sync failed and that the failure handler left to
// retry: the stage's lastException says which, and the next pass starts
// again from it.
var ErrChangeFailed = errors.New("a change failed to synchronize")

// The internal types of the objects store that hold liveSync's state:
// IDM's repo/synchronisation/pooledSyncStage/<ID> and
// repo/synchronisation/deadLetterQueue/<system>/<token> (the store's types
// and ids hold no '/').
const (
	syncStageType        = "repo:synchronisation:pooledSyncStage"
	deadLetterTypePrefix = "repo:synchronisation:deadLetterQueue:"
)

// RepoType is the objects store's type of the repo collection at path
// (under repo/): "synchronisation/pooledSyncStage", or
// "synchronisation/deadLetterQueue/<system>"; ok false for another path.
func RepoType(path string) (typ string, ok bool) {
	if path == "synchronisation/pooledSyncStage" {
		return syncStageType, true
	}
	system, found := strings.CutPrefix(path, "synchronisation/deadLetterQueue/")
	if !found || system == "" || strings.Contains(system, "/") {
		return "", false
	}
	return deadLetterTypePrefix + system, true
}

// LiveSyncParams are one liveSync pass of a source.
type LiveSyncParams struct {
	// Source is system/<name>/<type>, a set with a change stream.
	Source string
	// Handler is the syncFailureHandler of the source's provisioner.
	Handler config.SyncFailureHandler
	// DetailedFailure keeps the failed change (lastException.syncDelta) in
	// the answer.
	DetailedFailure bool
}

// StageID is the id of a source's pooledSyncStage: the source without
// its slashes, upper-cased ("SYSTEMLDAPACCOUNT").
func StageID(source string) string {
	return strings.ToUpper(strings.ReplaceAll(source, "/", ""))
}

// syncStage is a stored pooledSyncStage.
type syncStage struct {
	ConnectorData connector.Token `json:"connectorData"`
	LastException *lastException  `json:"lastException,omitempty"`
}

// lastException is the change a pass stopped at, and why. Failures counts
// that change's failures in a row: the retry counter of maxRetries, kept
// in the store (IDM keeps it in memory, so a restart forgets it).
type lastException struct {
	Throwable map[string]any `json:"throwable"`
	SyncDelta map[string]any `json:"syncDelta"`
	Failures  int            `json:"failures"`
}

// LiveSync runs one liveSync pass of a source: the first pass stores the
// source's latest token and processes nothing, as IDM; the next ones
// send each change since the stored token through the mappings whose
// source it is (Notify), in order, the stored token following each
// change handled. A change that fails goes to the failure handler:
// retried (the pass stops there, the stage records it with its failure
// count, and ErrChangeFailed is returned), or, past maxRetries, ignored
// with a log line or put in the dead-letter queue. It returns the stage
// in IDM's shape, also when the pass stopped at a failed change.
func (s *Service) LiveSync(ctx context.Context, p LiveSyncParams) (map[string]any, error) {
	ctx = actor.With(ctx, actor.Actor{UserID: "liveSync/" + p.Source})
	objs, err := store.ObjectsOf(s.cfg.Store)
	if err != nil {
		return nil, err
	}
	if s.cfg.Resolve == nil {
		return nil, errors.New("no object sets to synchronize")
	}
	set, release, err := s.cfg.Resolve(p.Source)
	if err != nil {
		return nil, fmt.Errorf("liveSync %s: %w", p.Source, err)
	}
	if release != nil {
		defer release()
	}
	syncer, ok := set.(connector.Syncer)
	if !ok {
		return nil, fmt.Errorf("liveSync %s: %w: the set has no change stream", p.Source, connector.ErrNotSupported)
	}
	id := StageID(p.Source)
	var st syncStage
	stored, err := objs.ReadObject(ctx, store.ReadObjectParams{Type: syncStageType, ID: id})
	if errors.Is(err, store.ErrNotFound) {
		tok, err := syncer.LatestToken(ctx)
		if err != nil {
			return nil, fmt.Errorf("liveSync %s: the latest token: %w", p.Source, err)
		}
		st.ConnectorData = tok
		if err := createStage(ctx, objs, id, st); err != nil {
			return nil, err
		}
		return st.answer(p.DetailedFailure), nil
	}
	if err != nil {
		return nil, fmt.Errorf("liveSync %s: read the stage: %w", p.Source, err)
	}
	if err := fromContent(stored.Content, &st); err != nil {
		return nil, fmt.Errorf("liveSync %s: stage %s: %w", p.Source, id, err)
	}
	pass := &livePass{s: s, objs: objs, p: p, id: id, rev: stored.Rev, stage: st}
	var failed error
	next, err := syncer.Sync(ctx, st.ConnectorData, func(d connector.Delta) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return pass.change(ctx, d, &failed)
	})
	if err != nil && failed == nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("liveSync %s: %w: another pass changed the stage meanwhile", p.Source, err)
		}
		return nil, fmt.Errorf("liveSync %s: %w", p.Source, err)
	}
	pass.stage.ConnectorData = next
	if failed == nil {
		pass.stage.LastException = nil
	}
	// A durable write: the deferred ones of the changes are durable with it.
	if err := pass.save(ctx); err != nil {
		return nil, err
	}
	if failed != nil {
		return pass.stage.answer(p.DetailedFailure), fmt.Errorf("liveSync %s: %w: %w", p.Source, ErrChangeFailed, failed)
	}
	return pass.stage.answer(p.DetailedFailure), nil
}

// livePass is one liveSync pass: the stage as stored at revision rev.
type livePass struct {
	s     *Service
	objs  store.Objects
	p     LiveSyncParams
	id    string
	rev   string
	stage syncStage
}

// change handles one change; a change to retry sets *failed and stops the
// stream.
func (lp *livePass) change(ctx context.Context, d connector.Delta, failed *error) error {
	name, typ, _ := strings.Cut(strings.TrimPrefix(lp.p.Source, "system/"), "/")
	n := Notification{Resource: lp.p.Source, ID: d.UID, NewValue: d.Object, Deleted: d.Type == connector.DeltaDelete,
		InitiatedBy: "liveSync/" + lp.p.Source}
	if d.PreviousUID != "" && d.Object != nil {
		// A rename: IDM's new value names the previous id.
		n.PreviousID = d.PreviousUID
		n.NewValue = make(map[string]any, len(d.Object)+1)
		for k, v := range d.Object {
			n.NewValue[k] = v
		}
		n.NewValue[PreviousIDField] = d.PreviousUID
	}
	err := lp.s.Notify(ctx, n)
	if err != nil {
		failures := 1
		if prev := lp.stage.LastException; prev != nil && prev.SyncDelta["uid"] == d.UID && sameJSON(prev.SyncDelta["token"], normalize(tokenJSON(d.Token))) {
			failures = prev.Failures + 1
		}
		retry, herr := lp.handle(ctx, d, name, typ, err, failures)
		if retry {
			lp.stage.LastException = &lastException{Throwable: map[string]any{"message": herr.Error()}, SyncDelta: deltaJSON(d), Failures: failures}
			*failed = herr
			return herr
		}
	}
	lp.stage.ConnectorData = d.Token
	lp.stage.LastException = nil
	return lp.save(store.WithDeferredSync(ctx))
}

// handle runs the failure handler on a change that failed for the
// failures-th time in a row: retry, or the post-retry action (then the
// change counts as done).
func (lp *livePass) handle(ctx context.Context, d connector.Delta, system, objectType string, cause error, failures int) (retry bool, err error) {
	h := lp.p.Handler
	log := lp.s.cfg.Logger.With("source", lp.p.Source, "uid", d.UID, "failures", failures, "err", cause)
	if h.MaxRetries < 0 || failures <= h.MaxRetries {
		log.Warn("liveSync: a change failed; it is retried on the next pass")
		return true, cause
	}
	switch h.PostRetryAction {
	case "logged-ignore":
		log.Warn("liveSync: a change failed past its retries; ignored (logged-ignore)")
		return false, nil
	case "dead-letter-queue":
		return lp.deadLetter(ctx, d, system, objectType, cause, log)
	case "script":
		return lp.failureScript(ctx, d, system, objectType, cause, log)
	}
	// IDM ignores the change without a word; here the audit/sync entry
	// and this line record it.
	log.Warn("liveSync: a change failed past its retries; ignored (no post-retry action)", "postRetryAction", h.PostRetryAction)
	return false, nil
}

// failureRecord is IDM's syncFailure: the change that failed.
func failureRecord(d connector.Delta, system, objectType string) map[string]any {
	return map[string]any{"token": tokenJSON(d.Token), "systemIdentifier": system, "objectType": objectType, "uid": d.UID,
		"failedRecord": deltaJSON(d)}
}

// deadLetter puts a change that failed in the dead-letter queue; a queue
// that refuses it means a retry.
func (lp *livePass) deadLetter(ctx context.Context, d connector.Delta, system, objectType string, cause error, log *slog.Logger) (retry bool, err error) {
	tok := fmt.Sprint(d.Token.Value)
	doc := failureRecord(d, system, objectType)
	doc["failureCause"] = cause.Error()
	typ := deadLetterTypePrefix + system
	res, werr := lp.objs.CreateObjects(ctx, store.CreateObjectsParams{Type: typ, Objects: []store.NewObject{{ID: tok, Content: doc}}})
	if werr == nil && errors.Is(res[0].Err, store.ErrConflict) {
		// Changes of one pass may share a token (a CSV snapshot's).
		res, werr = lp.objs.CreateObjects(ctx, store.CreateObjectsParams{Type: typ, Objects: []store.NewObject{{ID: tok + "-" + d.UID, Content: doc}}})
	}
	if werr == nil {
		werr = res[0].Err
	}
	if werr != nil {
		log.Error("liveSync: a failed change could not be put in the dead-letter queue; it is retried", "queue", werr)
		return true, fmt.Errorf("%w (and the dead-letter queue refused it: %w)", cause, werr)
	}
	log.Warn("liveSync: a change failed past its retries; put in the dead-letter queue", "queue", "repo/synchronisation/deadLetterQueue/"+system+"/"+idOf(res[0].Object.Content))
	return false, nil
}

// failureScriptPrelude defines, on one line so that the script's own
// lines keep their numbers, the script's failureHandlers: loggedIgnore
// and deadLetterQueue, each callable as a function or through its invoke
// (IDM's handler objects), which record the call for the daemon to carry
// out once the script returned; and failureCause's getMessage.
const failureScriptPrelude = `var __sundialFailureHandlers = []; var failureHandlers = (function () { ` +
	`function handler(name) { var h = function () { __sundialFailureHandlers.push(name); }; h.invoke = h; return h; } ` +
	`return {loggedIgnore: handler("loggedIgnore"), deadLetterQueue: handler("deadLetterQueue")}; })(); ` +
	`failureCause.getMessage = function () { return failureCause.message; }; failureCause.toString = failureCause.getMessage; `

// failureScript runs a postRetryAction script (bindings syncFailure,
// failureCause, failureHandlers): a throw means a retry; a return means
// the change is done, after the built-in handlers the script called
// (a dead-letter queue that refuses the change means a retry too).
func (lp *livePass) failureScript(ctx context.Context, d connector.Delta, system, objectType string, cause error, log *slog.Logger) (retry bool, err error) {
	v, err := lp.runFailureScript(ctx, d, system, objectType, cause)
	if err != nil {
		log.Warn("liveSync: the failure handler's script failed; the change is retried on the next pass", "script", err)
		return true, fmt.Errorf("issue with handling the failure during synchronize %s object: %w; failure handling reported %w", d.UID, cause, err)
	}
	calls, _ := normalize(v).([]any)
	for _, call := range calls {
		switch call {
		case "loggedIgnore":
			log.Warn("liveSync: a change failed past its retries; ignored (logged-ignore, by the failure handler's script)")
		case "deadLetterQueue":
			if retry, err := lp.deadLetter(ctx, d, system, objectType, cause, log); retry {
				return true, err
			}
		}
	}
	if len(calls) == 0 {
		log.Info("liveSync: a change failed past its retries; the failure handler's script took it")
	}
	return false, nil
}

// runFailureScript runs the handler's script and returns the built-in
// handlers it called.
func (lp *livePass) runFailureScript(ctx context.Context, d connector.Delta, system, objectType string, cause error) (any, error) {
	var sc config.Script
	if err := json.Unmarshal(lp.p.Handler.PostRetryScript, &sc); err != nil {
		return nil, err
	}
	spec, err := lp.s.wrapped(sc, failureScriptPrelude, "\n;__sundialFailureHandlers")
	if err != nil {
		return nil, err
	}
	return lp.s.scripts().Run(ctx, spec, script.Request{Name: "syncFailureHandler", Resources: lp.s.cfg.Resources,
		Bindings: map[string]any{"syncFailure": failureRecord(d, system, objectType), "failureCause": map[string]any{"message": cause.Error()}}})
}

// save stores the stage at the next revision.
func (lp *livePass) save(ctx context.Context) error {
	o, err := lp.objs.UpdateObject(ctx, store.UpdateObjectParams{Type: syncStageType, ID: lp.id, IfRev: lp.rev, Content: toContent(lp.stage)})
	if err != nil {
		return fmt.Errorf("liveSync %s: store the stage: %w", lp.p.Source, err)
	}
	lp.rev = o.Rev
	return nil
}

// createStage stores a source's first stage; a pass that created it
// meanwhile makes this one fail.
func createStage(ctx context.Context, objs store.Objects, id string, st syncStage) error {
	res, err := objs.CreateObjects(ctx, store.CreateObjectsParams{Type: syncStageType, Objects: []store.NewObject{{ID: id, Content: toContent(st)}}})
	if err == nil {
		err = res[0].Err
	}
	if err != nil {
		return fmt.Errorf("liveSync: create the stage %s: %w", id, err)
	}
	return nil
}

// answer is the stage as IDM answers it: without the failed change
// unless detailed.
func (st syncStage) answer(detailed bool) map[string]any {
	out := map[string]any{"connectorData": tokenJSON(st.ConnectorData)}
	if le := st.LastException; le != nil {
		e := map[string]any{"throwable": le.Throwable, "failures": le.Failures}
		if detailed {
			e["syncDelta"] = le.SyncDelta
		}
		out["lastException"] = e
	}
	return out
}

func tokenJSON(t connector.Token) map[string]any {
	return map[string]any{"syncToken": t.Value, "nativeType": t.NativeType}
}

// deltaJSON is a change as IDM writes a SyncDelta.
func deltaJSON(d connector.Delta) map[string]any {
	out := map[string]any{"token": tokenJSON(d.Token), "deltaType": string(d.Type), "uid": d.UID, "object": d.Object}
	if d.PreviousUID != "" {
		out["previousUid"] = d.PreviousUID
	}
	return normalize(out).(map[string]any)
}

func toContent(v any) map[string]any {
	m, _ := normalize(v).(map[string]any)
	return m
}

func fromContent(m map[string]any, v any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}
