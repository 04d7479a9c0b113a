package sync

import (
	"context"
	"fmt"
)

// qualifiersOf are the link qualifiers of one source object (its value
// obj, nil when it is gone, and its value before the change, old, when
// known): the mapping's list, or what its linkQualifiers script returns
// for that object with returnAll false. The script with returnAll true
// gives every qualifier (mappingRun.qualifiers), those of the link
// loading and of the target phase.
func (mr *mappingRun) qualifiersOf(ctx context.Context, obj, old map[string]any) ([]string, error) {
	if mr.m.LinkQualifiersScript == nil {
		return mr.qualifiers, nil
	}
	return mr.qualifierScript(ctx, obj, old, false)
}

// qualifierScript runs the mapping's linkQualifiers script.
func (mr *mappingRun) qualifierScript(ctx context.Context, obj, old map[string]any, returnAll bool) ([]string, error) {
	bindings := map[string]any{"mapping": mr.m.Name, "object": nil, "oldValue": nil, "returnAll": returnAll}
	if obj != nil {
		bindings["object"] = obj
	}
	if old != nil {
		bindings["oldValue"] = old
	}
	v, err := mr.run(ctx, mr.m.LinkQualifiersScript, bindings)
	if err != nil {
		return nil, fmt.Errorf("linkQualifiers: %w", err)
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("linkQualifiers: the script returned %v, not a list of names", v)
	}
	out := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, q := range list {
		qs, ok := q.(string)
		if !ok {
			return nil, fmt.Errorf("linkQualifiers: the script returned %v, not a list of names", v)
		}
		if !seen[qs] {
			seen[qs] = true
			out = append(out, qs)
		}
	}
	if returnAll && len(out) == 0 {
		return nil, fmt.Errorf("linkQualifiers: the script returned %v: with returnAll it must name every qualifier", v)
	}
	return out, nil
}
