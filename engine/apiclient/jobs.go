package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"sundial/engine/store"
)

// JobInstance and TaskInstance are /openidm/jobs' instances as the daemon
// sends them.
type (
	JobInstance  = store.JobInstance
	TaskInstance = store.TaskInstance
)

// JobStep is one task's launch order in a job definition.
type JobStep struct {
	Task  string `json:"task"`
	Order int    `json:"order"`
}

// JobDefinition is what GET /openidm/jobs/job/{id} answers, in part.
type JobDefinition struct {
	ID          string    `json:"id"`
	DisplayName string    `json:"displayName"`
	Steps       []JobStep `json:"steps"`
}

func decode[T any](resp *Response, err error, what string) (T, error) {
	var v T
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(resp.Body, &v); err != nil {
		return v, fmt.Errorf("%s: unexpected answer: %w", what, err)
	}
	return v, nil
}

// Job reads a job definition.
func (c *Client) Job(ctx context.Context, id string) (JobDefinition, error) {
	resp, err := c.Get(ctx, "/openidm/jobs/job/"+url.PathEscape(id), nil)
	return decode[JobDefinition](resp, err, "job "+id)
}

// StartJob launches a job with options (engine/jobs' StartOptions as a
// JSON object) and returns the new instance.
func (c *Client) StartJob(ctx context.Context, id string, options any) (JobInstance, error) {
	body, err := json.Marshal(options)
	if err != nil {
		return JobInstance{}, err
	}
	resp, err := c.Action(ctx, "/openidm/jobs/job/"+url.PathEscape(id), "run", body)
	return decode[JobInstance](resp, err, "start job "+id)
}

func instancePath(id int64) string { return "/openidm/jobs/instance/" + strconv.FormatInt(id, 10) }

// JobInstance reads a job instance.
func (c *Client) JobInstance(ctx context.Context, id int64) (JobInstance, error) {
	resp, err := c.Get(ctx, instancePath(id), nil)
	return decode[JobInstance](resp, err, "job instance")
}

// JobInstances queries the job instances with a CREST filter, newest
// first.
func (c *Client) JobInstances(ctx context.Context, filter string) ([]JobInstance, error) {
	resp, err := c.Get(ctx, "/openidm/jobs/instance", url.Values{"_queryFilter": {filter}})
	page, err := decode[struct {
		Result []JobInstance `json:"result"`
	}](resp, err, "job instances")
	return page.Result, err
}

// ResumeJob resumes a blocked job instance.
func (c *Client) ResumeJob(ctx context.Context, id int64) (JobInstance, error) {
	resp, err := c.Action(ctx, instancePath(id), "resume", nil)
	return decode[JobInstance](resp, err, "resume job instance")
}

// CancelJob asks a running job instance to stop.
func (c *Client) CancelJob(ctx context.Context, id int64) (JobInstance, error) {
	resp, err := c.Action(ctx, instancePath(id), "cancel", nil)
	return decode[JobInstance](resp, err, "cancel job instance")
}

// TaskInstances lists a job instance's task instances.
func (c *Client) TaskInstances(ctx context.Context, jobInstanceID int64) ([]TaskInstance, error) {
	resp, err := c.Get(ctx, instancePath(jobInstanceID)+"/tasks", url.Values{"_queryFilter": {"true"}})
	page, err := decode[struct {
		Result []TaskInstance `json:"result"`
	}](resp, err, "task instances")
	return page.Result, err
}

// TaskInstance reads a task instance.
func (c *Client) TaskInstance(ctx context.Context, id int64) (TaskInstance, error) {
	resp, err := c.Get(ctx, "/openidm/jobs/task-instance/"+strconv.FormatInt(id, 10), nil)
	return decode[TaskInstance](resp, err, "task instance")
}
