package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func loadJobDir(t *testing.T, files map[string]string, prev *Desired) *Desired {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Load(dir, LoadOptions{Previous: prev})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const goodJob = `id: nightly
displayName: "10: nightly"
schedule: "0 0 2 * * ?"
timeZone: Europe/Paris
maxParallel: 2
tasks:
  - id: Export_AD
    type: export
    level: 0
    continueOnError: true
    invokeService: script
    invokeContext: {script: {type: text/javascript, source: "1"}}
  - id: Sync_AD
    type: synchronize
    level: 1
    dependsOn: [Export_AD]
    thresholds: {maxDeleted: 10}
    invokeService: sync
    invokeContext: {mapping: csvUser_managedUser}
  - id: Provision
    type: generateProvisioningOrders
    level: 2
    invokeService: sync
    invokeContext: {mapping: managedUser_ldap}
`

func TestJobFile(t *testing.T) {
	d := loadJobDir(t, map[string]string{"job-nightly.yaml": goodJob}, nil)
	if !d.Valid() {
		t.Fatalf("errors: %v", d.AllErrors())
	}
	j := d.Jobs["nightly"]
	if j == nil || len(j.Tasks) != 3 || j.MaxParallel != 2 || j.DisplayName != "10: nightly" {
		t.Fatalf("job %+v", j)
	}
	sync := j.Tasks[1]
	if sync.Thresholds != (Thresholds{100, 100, 10, 5, 5, 5}) || sync.DependsOn[0] != "Export_AD" || sync.Side != "server" {
		t.Errorf("synchronize task %+v: thresholds default to 100/5 %% and take what is written", sync)
	}
	if got := j.Tasks[2].Thresholds; got != (Thresholds{MaxInsertedPercent: 30, MaxUpdatedPercent: 30, MaxDeletedPercent: 30}) {
		t.Errorf("provisioning thresholds %+v, want 30 %% each, absolute off", got)
	}
	if !j.Tasks[0].ContinueOnError || j.Tasks[0].InvokeContext.IsZero() {
		t.Errorf("export task %+v", j.Tasks[0])
	}
	s := d.Schedules[JobScheduleID("nightly")]
	if s == nil || s.InvokeService != "job" || s.InvokeContext.JSON() != `{"job":"nightly"}` || s.MisfirePolicy != MisfireDoNothing || !s.Persisted || s.Location.String() != "Europe/Paris" {
		t.Fatalf("the job's schedule: %+v", s)
	}

	// A broken edit keeps the last good job and its schedule.
	d2 := loadJobDir(t, map[string]string{"job-nightly.yaml": strings.Replace(goodJob, "type: export", "type: exprot", 1)}, d)
	if d2.Valid() || d2.Jobs["nightly"] != j || d2.Schedules[JobScheduleID("nightly")] == nil {
		t.Errorf("a failing file must keep the last good job; errors %v", d2.AllErrors())
	}
}

func TestJobFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"id mismatch", strings.Replace(goodJob, "id: nightly", "id: daily", 1), `job-nightly.yaml:1:5: id "daily" does not match the file name`},
		{"unknown key", strings.Replace(goodJob, "maxParallel", "maxParalel", 1), `job-nightly.yaml:5:1: `},
		{"unknown parent", strings.Replace(goodJob, "dependsOn: [Export_AD]", "dependsOn: [Export_A]", 1), `job-nightly.yaml:16:17: task "Sync_AD" depends on "Export_A", which is not a task of the job (did you mean "Export_AD"?)`},
		{"parent not before", strings.Replace(goodJob, "level: 1\n", "level: 0\n", 1), `depends on "Export_AD", which does not run before it`},
		{"thresholds on a script", strings.Replace(goodJob, "    continueOnError: true\n", "    continueOnError: true\n    thresholds: {maxDeleted: 1}\n", 1), `thresholds are for synchronize and generateProvisioningOrders tasks; task "Export_AD" is a export task`},
		{"continueOnError on sync", strings.Replace(goodJob, "    dependsOn: [Export_AD]\n", "    dependsOn: [Export_AD]\n    continueOnError: true\n", 1), `continueOnError is for export and fulfill tasks`},
		{"levels mixed", strings.Replace(goodJob, "    level: 2\n", "", 1), `task "Provision" has no level while other tasks have one`},
		{"sync without mapping", strings.Replace(goodJob, "{mapping: csvUser_managedUser}", "{}", 1), `the sync service needs invokeContext.mapping`},
		{"bad cron", strings.Replace(goodJob, `"0 0 2 * * ?"`, `"*/15 * * * *"`, 1), `job-nightly.yaml:3:11: `},
		{"bad zone", strings.Replace(goodJob, "Europe/Paris", "Mars/Olympus", 1), `job-nightly.yaml:4:11: `},
		{"script context", strings.Replace(goodJob, `{script: {type: text/javascript, source: "1"}}`, `{}`, 1), `task "Export_AD": `},
		{"duplicate task", strings.Replace(goodJob, "id: Provision", "id: Sync_AD", 1), `task id "Sync_AD" is also task 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := loadJobDir(t, map[string]string{"job-nightly.yaml": tc.body}, nil)
			errs := d.AllErrors()
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Errorf("errors:\n%s\nwant one containing %q", strings.Join(all, "\n"), tc.want)
			}
			if d.Jobs["nightly"] != nil {
				t.Error("an invalid job was loaded")
			}
		})
	}
}

// FuzzJobFile feeds arbitrary bytes to the loader as a YAML and as a JSON
// job file: it must never panic, and it returns either errors or a job
// whose parents all run before their children.
func FuzzJobFile(f *testing.F) {
	f.Add([]byte(goodJob))
	f.Add([]byte("id: nightly\ntasks:\n  - {id: a, type: script, invokeService: script, invokeContext: {script: {type: text/javascript, source: '1'}}}\n"))
	f.Add([]byte(`{"id": "nightly", "tasks": [{"id": "s", "type": "synchronize", "level": 1, "invokeService": "sync", "invokeContext": {"mapping": "a_b"}}]}`))
	env := &scheduleEnv{props: &properties{env: noEnv, defaults: builtinProperties("h")}, loc: time.UTC, zones: &zoneCache{}}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, isYAML := range []bool{false, true} {
			r := parseJob(scheduleInput{id: "nightly", rel: "job-nightly.yaml", display: "job-nightly.yaml", data: data, isYAML: isYAML}, env)
			switch {
			case r.job != nil && len(r.errs) > 0:
				t.Fatalf("both a job and errors: %v", r.errs)
			case r.job == nil && len(r.errs) == 0:
				t.Fatal("neither a job nor errors")
			case r.job != nil && (len(r.job.Tasks) == 0 || (r.job.Schedule != "") != (r.schedule != nil)):
				t.Fatalf("incomplete job %+v", r.job)
			}
			if r.job == nil {
				continue
			}
			index := map[string]int{}
			for i, task := range r.job.Tasks {
				index[task.ID] = i
			}
			for i, task := range r.job.Tasks {
				for _, p := range task.DependsOn {
					if !runsBefore(r.job.Tasks, index[p], i) {
						t.Fatalf("task %s depends on %s, which does not run before it", task.ID, p)
					}
				}
			}
		}
	})
}
