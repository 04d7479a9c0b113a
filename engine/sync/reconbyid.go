package sync

import (
	"context"

	"sundial/engine/connector"
)

// querySource runs the source phase's query: the whole source set (within
// the mapping's sourceQuery), or, for a reconById, the one id asked for,
// which sourceEntry then reads.
func (mr *mappingRun) querySource(ctx context.Context, q connector.Query, fn func(connector.Object) error) error {
	if id := mr.r.params.SourceID; id != "" {
		return fn(connector.Object{"_id": id})
	}
	return mr.source.Query(ctx, q, fn)
}

// assessSource assesses a source entry of the source phase. A source id
// without an object (a reconById of a deleted object, or one deleted
// during the run) is assessed as IDM assesses a source without an object:
// its link's target is SOURCE_MISSING (LINK_ONLY when gone too), no link
// is ALL_GONE.
func (mr *mappingRun) assessSource(ctx context.Context, e *entry) (*Change, error) {
	if e.source != nil {
		return mr.sourceSituation(ctx, e)
	}
	err := mr.deletedSituation(ctx, e, nil)
	mr.touch(e.targetID)
	return nil, err
}
