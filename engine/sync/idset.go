package sync

import (
	"bytes"
	"slices"
	"strings"
	stdsync "sync"

	"github.com/google/uuid"
)

// idSet is a set of object ids kept compactly: an id in the canonical
// lower-case UUID form as its 16 bytes, any other as its string. Ids are
// added, then the set is sealed once, then asked.
type idSet struct {
	mu     stdsync.Mutex
	uuids  []uuid.UUID
	others []string
}

// canonicalUUID parses id when it is a UUID in canonical lower-case
// form, the one form that parsing and printing give back unchanged.
func canonicalUUID(id string) (uuid.UUID, bool) {
	if len(id) != 36 || strings.ContainsAny(id, "ABCDEF") {
		return uuid.UUID{}, false
	}
	u, err := uuid.Parse(id)
	return u, err == nil
}

func (s *idSet) add(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if u, ok := canonicalUUID(id); ok {
			s.uuids = append(s.uuids, u)
		} else {
			s.others = append(s.others, id)
		}
	}
}

// seal sorts the set and drops its duplicates; add may not follow.
func (s *idSet) seal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	slices.SortFunc(s.uuids, compareUUID)
	s.uuids = slices.Clip(slices.Compact(s.uuids))
	slices.Sort(s.others)
	s.others = slices.Clip(slices.Compact(s.others))
}

// has reports whether id is in the sealed set.
func (s *idSet) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := canonicalUUID(id); ok {
		_, found := slices.BinarySearchFunc(s.uuids, u, compareUUID)
		return found
	}
	_, found := slices.BinarySearch(s.others, id)
	return found
}

func compareUUID(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }
