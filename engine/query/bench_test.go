package query

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// The seed's three task-scanner filters (conf/schedule-taskscan_activate.json,
// conf/schedule-taskscan_expire.json, examples/sunset-taskscan), with their
// macros resolved at one instant.
var benchFilters = []struct {
	name, text string
	goMatch    func(obj map[string]any, now string) bool
}{
	{"sunset", `((/sunset/date lt "${Time.now}") AND !(/sunset/task-completed pr))`, sunsetGo},
	{"activate", `((/activeDate le "${Time.nowWithOffset}") AND (!(/inactiveDate pr) or /inactiveDate ge "${Time.nowWithOffset}"))`, activateGo},
	{"expire", `((/inactiveDate lt "${Time.nowWithOffset}") AND (!(/activeDate pr) or /activeDate le "${Time.nowWithOffset}"))`, expireGo},
}

var benchNow = time.Date(2024, 5, 1, 10, 15, 30, 0, time.UTC)

// The hand-written Go predicates for the same filters, with the same string
// comparison, on the object shapes the benchmark uses.
func sunsetGo(obj map[string]any, now string) bool {
	sunset, _ := obj["sunset"].(map[string]any)
	date, ok := sunset["date"].(string)
	if !ok || compareIgnoreCase(date, now) >= 0 {
		return false
	}
	return sunset["task-completed"] == nil
}

func activateGo(obj map[string]any, now string) bool {
	active, ok := obj["activeDate"].(string)
	if !ok || compareIgnoreCase(active, now) > 0 {
		return false
	}
	inactive, present := obj["inactiveDate"]
	if !present || inactive == nil {
		return true
	}
	s, ok := inactive.(string)
	return ok && compareIgnoreCase(s, now) >= 0
}

func expireGo(obj map[string]any, now string) bool {
	inactive, ok := obj["inactiveDate"].(string)
	if !ok || compareIgnoreCase(inactive, now) >= 0 {
		return false
	}
	active, present := obj["activeDate"]
	if !present || active == nil {
		return true
	}
	s, ok := active.(string)
	return ok && compareIgnoreCase(s, now) <= 0
}

// benchUsers returns n managed users decoded by encoding/json, about half of
// which match each filter.
func benchUsers(tb testing.TB, n int) []map[string]any {
	tb.Helper()
	users := make([]map[string]any, n)
	for i := range users {
		day := func(d int) string { return benchNow.AddDate(0, 0, d).Format(isoMillisUTC) }
		completed := "null"
		if i%4 == 0 {
			completed = `"` + day(-1) + `"`
		}
		doc := fmt.Sprintf(`{"_id":"u%06d","_rev":"%d","userName":"user%d","givenName":"Given%d","sn":"Surname%d",
			"mail":"user%d@example.com","telephoneNumber":"+1 555 %04d","accountStatus":"active",
			"postalAddress":"%d Main Street","city":"Springfield","country":"US","preferences":{"updates":false,"marketing":true},
			"effectiveRoles":[{"_ref":"internal/role/openidm-authorized"}],"activeDate":"%s","inactiveDate":"%s",
			"sunset":{"date":"%s","task-started":null,"task-completed":%s}}`,
			i, i%7, i, i, i, i, i%10000, i, day(i%11-5), day(i%13-6), day(i%9-4), completed)
		if err := json.Unmarshal([]byte(doc), &users[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return users
}

func benchProgram(tb testing.TB, text string) (*Program, string) {
	tb.Helper()
	expanded, _, err := ExpandMacros(text, MacroContext{Now: benchNow})
	if err != nil {
		tb.Fatal(err)
	}
	return compileText(tb, expanded), benchNow.Format(isoMillisUTC)
}

// TestBenchPredicatesAgree keeps the hand-written predicates honest: they
// answer as the compiled programs do on the benchmark's users.
func TestBenchPredicatesAgree(t *testing.T) {
	users := benchUsers(t, 500)
	for _, bf := range benchFilters {
		p, now := benchProgram(t, bf.text)
		matched := 0
		for _, u := range users {
			got, want := p.Match(u), bf.goMatch(u, now)
			if got != want {
				t.Fatalf("%s on %v: program %v, Go %v", bf.name, u["_id"], got, want)
			}
			if got {
				matched++
			}
		}
		if matched == 0 || matched == len(users) {
			t.Errorf("%s matches %d of %d users: the benchmark would be one-sided", bf.name, matched, len(users))
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bf := range benchFilters {
		expanded, _, _ := ExpandMacros(bf.text, MacroContext{Now: benchNow})
		b.Run(bf.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(expanded); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, bf := range benchFilters {
		expanded, _, _ := ExpandMacros(bf.text, MacroContext{Now: benchNow})
		f, err := Parse(expanded)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bf.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compile(f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMatch is the cost per object of a compiled program (with a
// worker's Matcher, and with Program.Match's pooled VM) against the
// hand-written Go predicate.
func BenchmarkMatch(b *testing.B) {
	users := benchUsers(b, 1024)
	for _, bf := range benchFilters {
		p, now := benchProgram(b, bf.text)
		b.Run(bf.name+"/expr", func(b *testing.B) {
			m := p.Matcher()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				m.Match(users[i&1023])
				i++
			}
		})
		b.Run(bf.name+"/expr-pooled", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.Match(users[i&1023])
				i++
			}
		})
		b.Run(bf.name+"/go", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				bf.goMatch(users[i&1023], now)
				i++
			}
		})
	}
}

// BenchmarkMatchParallel reports objects per second for the sunset filter
// with one Matcher per goroutine, on every core GOMAXPROCS allows.
func BenchmarkMatchParallel(b *testing.B) {
	users := benchUsers(b, 1024)
	p, _ := benchProgram(b, benchFilters[0].text)
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		m := p.Matcher()
		i := 0
		for pb.Next() {
			m.Match(users[i&1023])
			i++
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "objects/s")
}

// BenchmarkMatchVsGo alternates batches of the 1024 users through the
// compiled program and through the hand-written predicate, and reports the
// fastest batch of each per object and their ratio: on a shared, loaded
// machine the fastest batches are the ones least disturbed.
func BenchmarkMatchVsGo(b *testing.B) {
	users := benchUsers(b, 1024)
	for _, bf := range benchFilters {
		p, now := benchProgram(b, bf.text)
		b.Run(bf.name, func(b *testing.B) {
			m := p.Matcher()
			bestExpr, bestGo := time.Duration(1<<62), time.Duration(1<<62)
			for b.Loop() {
				start := time.Now()
				for _, u := range users {
					m.Match(u)
				}
				bestExpr = min(bestExpr, time.Since(start))
				start = time.Now()
				for _, u := range users {
					bf.goMatch(u, now)
				}
				bestGo = min(bestGo, time.Since(start))
			}
			b.ReportMetric(float64(bestExpr.Nanoseconds())/float64(len(users)), "expr-ns/object")
			b.ReportMetric(float64(bestGo.Nanoseconds())/float64(len(users)), "go-ns/object")
			b.ReportMetric(float64(bestExpr)/float64(bestGo), "expr/go")
			b.ReportMetric(1e9*float64(len(users))/float64(bestExpr.Nanoseconds()), "objects/s/core")
		})
	}
}
