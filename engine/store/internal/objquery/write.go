package objquery

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strings"

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

// NewID is a random (version 4) UUID, as IDM gives new objects.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
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
