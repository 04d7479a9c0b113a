// Package api serves Sundial's ForgeRock-compatible REST API under
// /openidm (the scheduler's jobs and triggers, managed objects), the token
// endpoint, and the authentication in front of them, with CREST's
// conventions (engine/api/crest). It owns no state: it calls the services below.
package api

import (
	"context"

	"sundial/engine/api/crest"
)

// Schedules is the scheduler's REST surface, as the daemon implements it
// over the running scheduler, the conf directory's schedules and the
// schedules created over REST. Errors are *crest.Error where the status
// matters (404 unknown id, 409 a schedule defined by a file, 412 revision
// mismatch, 400 invalid definition); anything else is a 500.
type Schedules interface {
	// Jobs returns every schedule as a job resource, in id order.
	Jobs(ctx context.Context) ([]crest.Resource, error)
	// Job returns one schedule.
	Job(ctx context.Context, id string) (crest.Resource, error)
	// PutJob creates or replaces a schedule created over REST.
	PutJob(ctx context.Context, p PutJob) (job crest.Resource, created bool, err error)
	// DeleteJob deletes a schedule created over REST and returns it as it
	// was.
	DeleteJob(ctx context.Context, p DeleteJob) (crest.Resource, error)
	// TriggerJob fires an enabled schedule now; PauseJob and ResumeJob
	// pause and resume one (every node of a cluster follows).
	TriggerJob(ctx context.Context, id string) error
	PauseJob(ctx context.Context, id string) error
	ResumeJob(ctx context.Context, id string) error
	// PauseAll and ResumeAll are IDM's pauseJobs and resumeJobs.
	PauseAll(ctx context.Context) error
	ResumeAll(ctx context.Context) error
	// Executing returns the normalised configs of the schedules running on
	// this node (listCurrentlyExecutingJobs: no _id).
	Executing(ctx context.Context) ([]map[string]any, error)
	// Triggers returns every trigger resource (/openidm/scheduler/trigger).
	Triggers(ctx context.Context) ([]crest.Resource, error)
	// Trigger returns one trigger by its _id
	// (scheduler-service-group.trigger-<schedule id>).
	Trigger(ctx context.Context, id string) (crest.Resource, error)
}

// PutJob is a PUT /scheduler/job/{id} or a POST ?_action=create.
type PutJob struct {
	// ID is the schedule id; "" for a POST create, which assigns a UUID.
	ID string
	// Body is the request body: the schedule definition in IDM's format.
	Body []byte
	// IfMatch is the revision the client expects ("" or "*": no check).
	IfMatch string
	// CreateOnly: If-None-Match: * (or a POST create); an existing
	// schedule is a 412.
	CreateOnly bool
	// Who made the request, for the audit log.
	ClientID string
}

// DeleteJob is a DELETE /scheduler/job/{id}.
type DeleteJob struct {
	ID       string
	IfMatch  string
	ClientID string
}
