package objquery

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"sundial/engine/store"
)

// ErrExists is the conflict of creating an object that exists.
func ErrExists(typ, id string) error {
	return fmt.Errorf("managed/%s/%s: %w: the object already exists", typ, id, store.ErrConflict)
}

// ErrMissing is the error of an object that does not exist.
func ErrMissing(typ, id string) error {
	return fmt.Errorf("managed/%s/%s: %w", typ, id, store.ErrNotFound)
}

// CheckRev checks a write's expected revision ("" for any) against the
// stored one.
func CheckRev(typ, id, ifRev string, rev int64) error {
	if ifRev == "" {
		return nil
	}
	if n, ok := ParseRev(ifRev); !ok || n != rev {
		return fmt.Errorf("managed/%s/%s: %w: revision is %d, not %q", typ, id, store.ErrConflict, rev, ifRev)
	}
	return nil
}

// NewDocs are the documents and ids of new objects (random UUIDs for those
// without an id).
func NewDocs(p store.CreateObjectsParams) (docs [][]byte, ids []string, err error) {
	docs = make([][]byte, len(p.Objects))
	ids = make([]string, len(p.Objects))
	for i, o := range p.Objects {
		id := o.ID
		if id == "" {
			id = NewID()
		} else if err := CheckID(id); err != nil {
			return nil, nil, err
		}
		if docs[i], err = Encode(id, 1, o.Content); err != nil {
			return nil, nil, err
		}
		ids[i] = id
	}
	return docs, ids, nil
}

// CheckID checks an object id given by a client.
func CheckID(id string) error {
	for _, r := range id {
		if r == '/' || r == 0 {
			return store.Invalidf("object id %q: want no '/' or NUL", id)
		}
	}
	return nil
}

// Modify applies p.Modify to the stored row r after checking the revision,
// and returns the row to write at the next revision.
func Modify(p store.ModifyObjectParams, r Row) (Row, error) {
	if err := CheckRev(p.Type, p.ID, p.IfRev, r.Rev); err != nil {
		return r, err
	}
	content, err := DecodeContent(r.Doc)
	if err != nil {
		return r, fmt.Errorf("managed/%s/%s: stored document: %w", p.Type, p.ID, err)
	}
	delete(content, "_id")
	delete(content, "_rev")
	content, err = p.Modify(content)
	if err != nil {
		return r, err
	}
	next := Row{ID: r.ID, Rev: r.Rev + 1}
	if next.Doc, err = Encode(r.ID, next.Rev, content); err != nil {
		return r, err
	}
	return next, nil
}

// NewID is a new UUID for an object or a link: version 7 (RFC 9562), its
// first 48 bits the time in milliseconds and the next 12 a counter within
// the millisecond, so that the ids one process makes grow and their rows
// append to the id indexes instead of landing on random pages; the last
// 62 bits are random.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	ms, seq := idClock.next(time.Now().UnixMilli())
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	b[6] = 0x70 | byte(seq>>8)
	b[7] = byte(seq)
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// idClock orders the ids of this process: the millisecond and counter of
// the last one.
var idClock orderedClock

type orderedClock struct {
	mu  sync.Mutex
	ms  int64
	seq int64
}

// next returns the millisecond and counter of a new id made at now: now
// and 0 after the last id's millisecond, else the last's with the next
// counter (moving to the next millisecond when the 12 bits are spent).
func (c *orderedClock) next(now int64) (ms, seq int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case now > c.ms:
		c.ms, c.seq = now, 0
	case c.seq < 0xfff:
		c.seq++
	default:
		c.ms, c.seq = c.ms+1, 0
	}
	return c.ms, c.seq
}

// LockOrder is the order ModifyObjects visits its items in: by id (input
// order among equal ids), so concurrent calls lock rows in one order.
func LockOrder(items []store.ModifyItem) []int {
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(items[a].ID, items[b].ID) })
	return order
}
