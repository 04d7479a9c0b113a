package daemon_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/api"
	"sundial/engine/api/crest"
)

func restBody(enabled string) string {
	return `{"enabled": ` + enabled + `, "type": "cron", "schedule": "0 0 3 * * ?", "persisted": false,
  "invokeService": "script", "invokeContext": {"script": {"type": "text/javascript", "source": "1"}}}`
}

func wantCode(t *testing.T, what string, err error, code int) {
	t.Helper()
	var ce *crest.Error
	if !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("%s: err %v, want a %d", what, err, code)
	}
}

// REST schedules are created, replaced and deleted; files are guarded; a
// file reload keeps them; disabling empties the triggers and the dates.
func TestRESTSchedules_Lifecycle(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{"schedule-file.json": dailySchedule(1), "schedule-broken.json": `{"schedule": "nope"}`})
	b := start(t, conf, scripts)
	ctx := context.Background()
	svc := b.d.Schedules()

	job, created, err := svc.PutJob(ctx, api.PutJob{ID: "r", Body: []byte(restBody("true"))})
	if err != nil || !created {
		t.Fatalf("create: %v created=%t", err, created)
	}
	if again, _ := svc.Job(ctx, "r"); again.Rev != job.Rev {
		t.Errorf("rev changed between two reads: %s then %s", job.Rev, again.Rev)
	}
	trs, _ := job.Fields["triggers"].([]any)
	if len(trs) != 1 || job.Fields["nextRunDate"] == nil || job.Rev == "" {
		t.Fatalf("created job = %+v, want one trigger and a next run date", job)
	}
	_, _, err = svc.PutJob(ctx, api.PutJob{ID: "r", Body: []byte(restBody("true")), CreateOnly: true})
	wantCode(t, "create-only over an existing one", err, 412)
	_, _, err = svc.PutJob(ctx, api.PutJob{ID: "r", Body: []byte(restBody("true")), IfMatch: "nope"})
	wantCode(t, "If-Match mismatch", err, 412)

	// Disabled: no trigger, both dates null; trigger is refused.
	job, created, err = svc.PutJob(ctx, api.PutJob{ID: "r", Body: []byte(restBody("false")), IfMatch: job.Rev})
	if err != nil || created {
		t.Fatalf("replace: %v created=%t", err, created)
	}
	if trs, _ := job.Fields["triggers"].([]any); len(trs) != 0 || job.Fields["nextRunDate"] != nil || job.Fields["previousRunDate"] != nil {
		t.Fatalf("disabled job = %+v, want triggers [] and null dates", job.Fields)
	}
	wantCode(t, "trigger a disabled job", svc.TriggerJob(ctx, "r"), 400)
	job, _, err = svc.PutJob(ctx, api.PutJob{ID: "r", Body: []byte(restBody("true"))})
	if trs, _ := job.Fields["triggers"].([]any); err != nil || len(trs) != 1 || job.Fields["nextRunDate"] == nil {
		t.Fatalf("re-enabled job = %+v (%v), want its trigger and next run date back", job.Fields, err)
	}

	// The file's schedule: 409 naming the file; pause and resume work.
	_, _, err = svc.PutJob(ctx, api.PutJob{ID: "file", Body: []byte(restBody("true"))})
	wantCode(t, "PUT over a file's schedule", err, 409)
	if !strings.Contains(err.Error(), "schedule-file.json") {
		t.Errorf("409 %q does not name the file", err)
	}
	_, _, err = svc.PutJob(ctx, api.PutJob{ID: "broken", Body: []byte(restBody("true"))})
	wantCode(t, "PUT over a file that fails validation", err, 409)
	_, err = svc.DeleteJob(ctx, api.DeleteJob{ID: "file"})
	wantCode(t, "DELETE of a file's schedule", err, 409)
	if err := svc.PauseJob(ctx, "file"); err != nil {
		t.Fatal(err)
	}
	if job, _ := svc.Job(ctx, "file"); job.Fields["triggers"].([]any)[0].(map[string]any)["state"] != "PAUSED" {
		t.Errorf("paused file schedule: %+v", job.Fields["triggers"])
	}
	wantCode(t, "pause an unknown id", svc.PauseJob(ctx, "none"), 404)

	// A file reload keeps the REST schedule.
	mark := b.mark()
	writeFile(t, filepath.Join(conf, "schedule-other.json"), dailySchedule(2))
	b.reload <- struct{}{}
	b.waitApplied(t, mark, "invalid")
	jobs, _ := svc.Jobs(ctx)
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	if strings.Join(ids, ",") != "file,other,r" {
		t.Fatalf("jobs after a file reload = %v, want file,other,r", ids)
	}

	// POST create gets a UUID; delete returns the job as it was.
	job, _, err = svc.PutJob(ctx, api.PutJob{Body: []byte(restBody("true")), CreateOnly: true})
	if err != nil || len(job.ID) != 36 {
		t.Fatalf("POST create: %v id %q", err, job.ID)
	}
	was, err := svc.DeleteJob(ctx, api.DeleteJob{ID: "r"})
	if err != nil || was.ID != "r" {
		t.Fatalf("delete: %v %+v", err, was)
	}
	_, err = svc.Job(ctx, "r")
	wantCode(t, "read after delete", err, 404)
	// A REST id that a file then defines: the file's version runs.
	if _, _, err := svc.PutJob(ctx, api.PutJob{ID: "later", Body: []byte(restBody("true"))}); err != nil {
		t.Fatal(err)
	}
	mark = b.mark()
	writeFile(t, filepath.Join(conf, "schedule-later.json"), dailySchedule(3))
	b.reload <- struct{}{}
	b.waitApplied(t, mark, "invalid")
	if job, err := svc.Job(ctx, "later"); err != nil || job.Fields["description"] != "version 3" {
		t.Errorf("shadowed REST schedule = %+v (%v), want the file's version", job.Fields, err)
	}
	if !logged(b, "level=WARN", "now defined by a file too") {
		t.Error("no warning about the REST schedule a file now defines")
	}
	_, _, err = svc.PutJob(ctx, api.PutJob{ID: "bad", Body: []byte(`{"schedule": "nope", "invokeService": "script"}`)})
	wantCode(t, "invalid body", err, 400)
}

// Jobs sharing one invokeContext (decoded once for the list, written once
// and copied) answer exactly as each one read alone, and filters through
// the shared parts match each job.
func TestRESTSchedules_SharedContextQuery(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, map[string]string{"schedule-a.json": dailySchedule(1), "schedule-b.json": dailySchedule(2)})
	b := start(t, conf, scripts)
	ctx := context.Background()
	svc := b.d.Schedules()
	jobs, err := svc.Jobs(ctx)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("jobs: %d (%v), want 2", len(jobs), err)
	}
	var alone []crest.Resource
	for _, j := range jobs {
		one, err := svc.Job(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		alone = append(alone, one)
	}
	for _, filter := range []string{
		"true",
		`invokeContext/script/type eq "text/javascript"`,
		`triggers/0/serialized/jobDataMap/scheduler.invokeContext/script/source eq "1"`,
		"triggers/0/serialized/jobDataMap/schedule.config/enabled eq true",
		"triggers/0/nodeId pr",
	} {
		p, err := crest.ParseParams(httptest.NewRequest("GET", "/x?_queryFilter="+url.QueryEscape(filter), nil))
		if err != nil {
			t.Fatal(err)
		}
		var answers []string
		for _, rs := range [][]crest.Resource{jobs, alone} {
			out, err := crest.Query(rs, p.Query, p.Fields)
			if err != nil || out.ResultCount != 2 {
				t.Fatalf("%s: %d results (%v), want 2", filter, out.ResultCount, err)
			}
			w := httptest.NewRecorder()
			crest.Writer{Pretty: true}.JSON(w, 200, out)
			answers = append(answers, w.Body.String())
		}
		if answers[0] != answers[1] {
			t.Errorf("%s: the list answers\n%s\nthe jobs read alone\n%s", filter, answers[0], answers[1])
		}
	}
}
