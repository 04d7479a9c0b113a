package sync

import (
	"context"
	"fmt"

	"sundial/engine/store"
)

// PreviousIDField is the field liveSync adds to a renamed object's new
// value, naming its id before the rename (IDM's _previous-id).
const PreviousIDField = "_previous-id"

// renameLinks gives a renamed source object the links of its previous id,
// in each qualifier where the new id has none, so that the rename is
// assessed on its linked target (CONFIRMED, then UPDATE) instead of as a
// new object (ABSENT, then a second target). A link is replaced by
// deleting it and creating it again (one link per target); when the
// second step fails, the old link is put back.
func (mr *mappingRun) renameLinks(ctx context.Context, previous, id string) error {
	if !mr.links.enabled || previous == id {
		return nil
	}
	if err := mr.links.loadSource(ctx, mr.qualifiers, previous); err != nil {
		return err
	}
	st := mr.s.recons
	for _, q := range mr.qualifiers {
		old := mr.links.bySource(q, previous)
		if old == nil || mr.links.bySource(q, id) != nil {
			continue
		}
		target := mr.links.targetOf(old)
		if _, err := st.DeleteLinks(ctx, []string{old.ID}); err != nil {
			return fmt.Errorf("move the link of %s to %s: %w", previous, id, err)
		}
		res, err := st.CreateLinks(ctx, []store.Link{mr.links.newLink(q, id, target)})
		if err == nil {
			err = res[0].Err
		}
		if err != nil {
			if _, rerr := st.CreateLinks(ctx, []store.Link{*old}); rerr != nil {
				return fmt.Errorf("move the link of %s to %s: %w (and the old link could not be put back: %w)", previous, id, err, rerr)
			}
			return fmt.Errorf("move the link of %s to %s: %w", previous, id, err)
		}
		mr.links.remove(q, old)
		mr.links.put(nil, q, id, target, res[0].Link.ID)
	}
	return nil
}
