package store

import (
	"context"
	"fmt"

	"sundial/engine/query"
)

// Objects stores managed objects: JSON documents addressed as
// managed/<type>/<id>, each carrying its "_id" and its revision "_rev" (a
// decimal string that grows with every write), in the same database as the
// rest of the store. Both backends implement it; ObjectsOf finds it behind
// a Store.
//
// Errors wrap ErrNotFound (no such object), ErrConflict (the object exists
// on create, or its revision is not IfRev) or ErrInvalid.
type Objects interface {
	// CreateObjects inserts new objects in one transaction, one result per
	// item in input order: an item whose id exists already (or repeats an
	// earlier item's) has Err wrapping ErrConflict and is not written; an
	// item without an id gets a new UUID (version 7: time-ordered, so that
	// new rows append to the id index). The others are written at
	// revision "1", all in one commit.
	CreateObjects(ctx context.Context, params CreateObjectsParams) ([]CreateObjectResult, error)
	// ReadObject returns one object.
	ReadObject(ctx context.Context, params ReadObjectParams) (Object, error)
	// ReadObjects returns the objects of one type among IDs that exist,
	// in the order of IDs, each once: a missing id is left out rather
	// than failing the call.
	ReadObjects(ctx context.Context, params ReadObjectsParams) ([]Object, error)
	// UpdateObject replaces an object's content (keeping its id) if its
	// revision is IfRev (any revision when IfRev is ""), at the next
	// revision, and returns it as stored.
	UpdateObject(ctx context.Context, params UpdateObjectParams) (Object, error)
	// ModifyObject is a read-modify-write in one transaction: it reads the
	// object, checks IfRev, calls Modify with its content (without _id and
	// _rev; Modify may change it in place or return another), and writes
	// the result at the next revision, unless Modify fails, in which case
	// nothing is written and its error is returned.
	ModifyObject(ctx context.Context, params ModifyObjectParams) (Object, error)
	// ModifyObjects is ModifyObject on several objects of one type in one
	// transaction and one commit, one result per item in input order: an
	// item whose object is missing (ErrNotFound), whose revision is not
	// its IfRev (ErrConflict) or whose Modify fails has that Err and is not
	// written; the others are. The objects are locked in id order, so two
	// concurrent calls on overlapping ids do not deadlock. An error of the
	// call itself means nothing was written.
	ModifyObjects(ctx context.Context, params ModifyObjectsParams) ([]ModifyObjectResult, error)
	// CommitObjectUnits writes units of work in one transaction and one
	// commit, one error per unit in input order: a unit is all or
	// nothing, and fails (its error wrapping ErrConflict, ErrNotFound or
	// ErrInvalid) when any object it writes is not at the revision the
	// unit expects, or exists when it creates it; the other units are
	// written. Units are applied in input order, so a later unit sees an
	// earlier one's writes (and conflicts with them if it expected the
	// revision before). An error of the call itself means nothing was
	// written.
	CommitObjectUnits(ctx context.Context, params CommitObjectUnitsParams) ([]error, error)
	// DeleteObject removes an object if its revision is IfRev (any when
	// IfRev is "") and returns it as it was.
	DeleteObject(ctx context.Context, params DeleteObjectParams) (Object, error)
	// QueryObjects returns one page of the objects of a type that match
	// Filter, in SortKeys order. What the database can decide exactly is
	// decided in SQL; the rest is decided by engine/query's matcher on the
	// rows SQL let through, so the answer is always the matcher's.
	QueryObjects(ctx context.Context, params QueryObjectsParams) (QueryObjectsResult, error)
}

// Object is one managed object. Content holds every field, "_id" and
// "_rev" included, decoded with json.Decoder.UseNumber (numbers are
// json.Number), as engine/query matches it.
type Object struct {
	Type    string
	ID      string
	Rev     string
	Content map[string]any
}

// CreateObjectsParams are new objects of one type.
type CreateObjectsParams struct {
	Type    string
	Objects []NewObject
}

// NewObject is an object to create. Content's "_id" and "_rev" are
// ignored.
type NewObject struct {
	ID      string // "" for a new UUID
	Content map[string]any
}

// CreateObjectResult is one item's outcome: Object as stored, or Err.
type CreateObjectResult struct {
	Object Object
	Err    error
}

// ReadObjectParams names an object.
type ReadObjectParams struct {
	Type, ID string
}

// ReadObjectsParams name objects of one type.
type ReadObjectsParams struct {
	Type string
	IDs  []string
}

// UpdateObjectParams replace an object's content.
type UpdateObjectParams struct {
	Type, ID string
	IfRev    string // "" for no check
	Content  map[string]any
}

// ModifyObjectParams change an object in one transaction.
type ModifyObjectParams struct {
	Type, ID string
	IfRev    string // "" for no check
	Modify   func(content map[string]any) (map[string]any, error)
}

// ModifyObjectsParams change several objects of one type in one
// transaction.
type ModifyObjectsParams struct {
	Type  string
	Items []ModifyItem
}

// ModifyItem is one object ModifyObjects changes, as ModifyObjectParams
// says.
type ModifyItem struct {
	ID     string
	IfRev  string // "" for no check
	Modify func(content map[string]any) (map[string]any, error)
}

// ModifyObjectResult is one item's outcome: Object as stored, or Err.
type ModifyObjectResult struct {
	Object Object
	Err    error
}

// CommitObjectUnitsParams are units of work to commit together.
type CommitObjectUnitsParams struct {
	Units []ObjectUnit
}

// ObjectUnit is one unit of work: the final state of every object it
// writes, each object at most once.
type ObjectUnit struct {
	Writes []ObjectWrite
}

// ObjectWrite is one object's final state in a unit. An object that
// exists is written at the revision after Rev; a created one at "1".
type ObjectWrite struct {
	Type, ID string
	// Rev is the revision the object must have when the unit commits; ""
	// when it must not exist (the unit creates it).
	Rev string
	// Content is the object's new content (its "_id" and "_rev" are
	// ignored); nil deletes the object.
	Content map[string]any
}

// DeleteObjectParams name an object to delete.
type DeleteObjectParams struct {
	Type, ID string
	IfRev    string // "" for no check
}

// SortKey is one of a query's sort keys: a field, ascending unless
// Descending. Values order by type first (missing and null, booleans,
// numbers, strings, arrays, objects), then false < true, numbers as
// doubles, strings as the query matcher compares them (Java's
// compareToIgnoreCase); arrays and objects tie. Sorting on anything but
// _id ascending is done in Go over all the matches.
type SortKey struct {
	Field      query.Pointer
	Descending bool
}

// QueryObjectsParams select a page of objects.
type QueryObjectsParams struct {
	Type string
	// Filter selects the objects; nil matches every object.
	Filter query.Filter
	// SortKeys order the result; _id ascending always follows them.
	SortKeys []SortKey
	// PageSize is the most objects returned; 0 or less means all.
	PageSize int
	// Cookie is the previous page's Cookie: the page after it is returned.
	Cookie string
	// CountTotal asks for Total, the number of matches in all pages.
	CountTotal bool
	// IDsOnly asks for objects whose Content holds only _id and _rev
	// (a backend may return more): the documents need not be decoded.
	IDsOnly bool
}

// QueryObjectsResult is one page.
type QueryObjectsResult struct {
	Objects []Object
	// Cookie, when not "", is opaque and reads the next page.
	Cookie string
	// Total is the number of matches in all pages when CountTotal was set,
	// -1 otherwise.
	Total int
}

// ObjectIndexer is a store of managed objects that can index the fields a
// filter compares, for the queries that repeat (a task scan's pages).
type ObjectIndexer interface {
	// IndexObjectFilter creates, unless they exist, the indexes that
	// QueryObjects of Filter on Type can use. Writes go on meanwhile.
	IndexObjectFilter(ctx context.Context, params IndexObjectFilterParams) error
}

// IndexObjectFilterParams name the queries to index.
type IndexObjectFilterParams struct {
	Type   string
	Filter query.Filter
}

// ObjectsOf returns the managed-object store of s.
func ObjectsOf(s Store) (Objects, error) {
	o, ok := s.(Objects)
	if !ok {
		return nil, fmt.Errorf("%w: the %T store does not hold managed objects", ErrInvalid, s)
	}
	return o, nil
}
