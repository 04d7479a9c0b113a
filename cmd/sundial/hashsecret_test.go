package main

import (
	"bytes"
	"strings"
	"testing"

	"sundial/engine/auth"
	"sundial/engine/config"
)

func runWithStdin(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func TestHashSecret(t *testing.T) {
	for _, tc := range []struct{ stdin, secret string }{
		{"s3cret\n", "s3cret"},
		{"s3cret\r\n", "s3cret"},
		{"s3cret", "s3cret"},
		{" two words \n\n", " two words \n"},
	} {
		out, _, err := runWithStdin(t, tc.stdin, "hash-secret")
		if err != nil {
			t.Fatalf("%q: %v", tc.stdin, err)
		}
		h, err := config.ParseSecretHash(strings.TrimSuffix(out, "\n"))
		if err != nil {
			t.Fatalf("%q: output %q: %v", tc.stdin, out, err)
		}
		if !auth.VerifySecret(tc.secret, h) || auth.VerifySecret(tc.secret+"x", h) {
			t.Errorf("%q: the hash does not verify %q", tc.stdin, tc.secret)
		}
	}
	for _, stdin := range []string{"", "\n", strings.Repeat("x", maxSecretLen+1)} {
		if out, _, err := runWithStdin(t, stdin, "hash-secret"); err == nil || out != "" {
			t.Errorf("%.10q: accepted (%q)", stdin, out)
		}
	}
	if _, _, err := runWithStdin(t, "x", "hash-secret", "extra"); err == nil {
		t.Error("an argument was accepted")
	}
}
