// Package connector defines what Sundial's synchronization reads and writes:
// object sets addressed by IDM's resource names ("system/<name>/<type>" for
// a connector's object type, "managed/<type>" for managed objects), and the
// connectors that provide the system ones, with their change streams for
// liveSync.
//
// Objects are JSON documents (map[string]any as encoding/json decodes them
// with UseNumber) that carry their id under "_id" and, where the set has
// revisions, "_rev".
package connector

import (
	"context"
	"errors"

	"sundial/engine/query"
)

// ErrNotFound is wrapped by errors about an object that does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is wrapped by errors about a write whose object exists already
// (create) or whose revision is not the expected one.
var ErrConflict = errors.New("conflict")

// ErrNotSupported is wrapped by errors about an operation the set cannot do
// (for example liveSync on a set without a change stream).
var ErrNotSupported = errors.New("not supported")

// Object is one object of a set, "_id" included.
type Object = map[string]any

// ObjectSet is the objects of one type: a connector's object type or a
// managed object type. Implementations are safe for concurrent use.
type ObjectSet interface {
	// Resource is the set's IDM name: "system/csv/account", "managed/user".
	Resource() string
	// Create writes a new object. id "" lets the set choose it (a
	// connector may derive it from the object, as LDAP derives a DN).
	// It returns the object as stored, with its "_id".
	Create(ctx context.Context, id string, obj Object) (Object, error)
	// Read returns one object, or an error wrapping ErrNotFound.
	Read(ctx context.Context, id string) (Object, error)
	// Update replaces an object's content if its revision is rev (any
	// when rev is "") and returns it as stored. An object that does not
	// exist is an error wrapping ErrNotFound.
	Update(ctx context.Context, id, rev string, obj Object) (Object, error)
	// Delete removes an object if its revision is rev (any when rev is
	// ""). An object that does not exist is an error wrapping ErrNotFound.
	Delete(ctx context.Context, id, rev string) error
	// Query calls fn with each object that matches q, streaming (a set
	// never holds the whole result in memory), in no particular order,
	// until fn returns an error, which Query returns.
	Query(ctx context.Context, q Query, fn func(Object) error) error
}

// Query selects objects of a set.
type Query struct {
	// Filter selects the objects; nil selects all of them.
	Filter query.Filter
	// IDsOnly asks for objects holding only "_id" (and "_rev" where the
	// set has revisions), as IDM's query-all-ids; a set may return more.
	IDsOnly bool
}

// Syncer is an ObjectSet with a change stream, for liveSync.
type Syncer interface {
	// LatestToken returns the token of the newest change now, without
	// reading any change: a first liveSync stores it and processes
	// nothing.
	LatestToken(ctx context.Context) (Token, error)
	// Sync calls fn with each change after since, oldest first. A change
	// whose fn fails stops the stream: Sync returns the token of the
	// last change fn accepted (since, or a token of the same state, when
	// none) with fn's error. After a clean pass it returns the token to
	// start the next pass from.
	Sync(ctx context.Context, since Token, fn func(Delta) error) (Token, error)
}

// Token is a position in a change stream as IDM stores it in a
// pooledSyncStage: {"syncToken": <value>, "nativeType": <type>}.
type Token struct {
	// Value is a JSON value: a json.Number or a string.
	Value any `json:"syncToken"`
	// NativeType names Value's type the way IDM does ("integer", "long",
	// "string", "JAVA_TYPE_DATE").
	NativeType string `json:"nativeType"`
}

// DeltaType is the kind of one change, as OpenICF names them.
type DeltaType string

// The kinds of change.
const (
	DeltaCreate         DeltaType = "CREATE"
	DeltaUpdate         DeltaType = "UPDATE"
	DeltaCreateOrUpdate DeltaType = "CREATE_OR_UPDATE"
	DeltaDelete         DeltaType = "DELETE"
)

// Delta is one change of a change stream.
type Delta struct {
	Type DeltaType
	// UID is the object's id in the set.
	UID string
	// PreviousUID is the id before a rename, else "".
	PreviousUID string
	// Object is the object after the change; nil for a delete.
	Object Object
	// Token is the stream's position just after this change.
	Token Token
}

// Connector is one provisioner (a provisioner.openicf-<name>.json file):
// a connection to an external system holding object sets of several types.
type Connector interface {
	// Name is the provisioner's name, the <name> of system/<name>/<type>.
	Name() string
	// ObjectTypes are the declared object types, sorted.
	ObjectTypes() []string
	// Set returns the set of one declared object type, or an error
	// wrapping ErrNotFound.
	Set(objectType string) (ObjectSet, error)
	// Test checks that the system answers, for ?_action=test.
	Test(ctx context.Context) error
	// Close releases connections and files.
	Close() error
}
