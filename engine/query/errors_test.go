package query

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestErrorsGolden pins the message and the character offset of each kind
// of syntax error.
func TestErrorsGolden(t *testing.T) {
	filters := []string{
		``, `   `, `()`, `(/a pr`, `/a pr)`, `!`, `!!(/a pr)`, `!true`, `/a`, `/a eq`, `/a eq"x"`,
		`/a eq 'x`, `/a eq "x\`, `"a" eq 1`, `/a eq x`, `/a eq 1e5`, `/a eq 1.2.3`, `/a eq 9223372036854775808`,
		`/a my-op 1`, `/a == 1`, `/a pr /b pr`, `true false`, `/a% pr`, `/a"b pr`, "/a\tb pr", "/a\u00a0b pr",
		`/x/${Time.now} pr`, `/a eq 1 and`, `/ é eq "x" or /b%zz pr`, strings.Repeat("(", 64) + "/a pr" + strings.Repeat(")", 64),
	}
	var b strings.Builder
	for _, f := range filters {
		_, err := Parse(f)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Fatalf("Parse(%q) = %v, want a *SyntaxError", f, err)
		}
		b.WriteString(se.Error())
		b.WriteString("\n")
	}
	const golden = "testdata/errors.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("error messages differ from %s (go test -run TestErrorsGolden -update):\n%s", golden, got)
	}
}
