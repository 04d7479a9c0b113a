package crest

// Resource is one CREST resource: its id and revision, which are written
// first in the body ("_id", "_rev") and as the ETag, and its other fields.
type Resource struct {
	ID  string
	Rev string // "" for resources without revisions: no "_rev", no ETag
	// Fields are the resource's other top-level fields; "_id" and "_rev"
	// in it are ignored.
	Fields map[string]any
}
