package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHandler sends arbitrary requests through the whole handler: it must
// answer every one without panicking, with a JSON body.
func FuzzHandler(f *testing.F) {
	f.Add("GET", "/openidm/scheduler/job?_queryFilter=true&_sortKeys=-a/0", "", "resource=2.0", "")
	f.Add("PUT", "/openidm/scheduler/job/x", `{"a":1}`, "protocol=2.1", `"1"`)
	f.Add("POST", "/openidm/scheduler/job?_action=validateQuartzCronExpression", `{"cronExpression":"0 0 * * * ?"}`, "", "")
	f.Add("POST", "/openidm/scheduler/x/y?_action=validateQuartzCronExpression", `{"cronExpression":5}`, "", "*")
	f.Fuzz(func(t *testing.T, method, target, body, version, ifMatch string) {
		if !strings.HasPrefix(target, "/") {
			return
		}
		r, err := http.NewRequest(method, "http://h"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("X-Test-Client", "admin")
		r.Header.Set("Accept-API-Version", version)
		r.Header.Set("If-Match", ifMatch)
		rec := httptest.NewRecorder()
		h := newHarness()
		h.h.ServeHTTP(rec, r)
		if strings.Contains(h.log.String(), "panic") {
			t.Fatalf("%s %s: %s", method, target, h.log)
		}
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
		}
	})
}
