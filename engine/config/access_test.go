package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goodHash is the argon2id hash of "s3cret" (m=19456, t=2, p=1).
const goodHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0n1YdE8ZBWLvg0Xk4bB9cqHAtEvA0r5vVS1v2hhrX0M"

func writeConf(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAccessFile(t *testing.T) {
	for _, tc := range []struct {
		name, file, body string
		want             string // error substring, "" for none
	}{
		{"json", "access.json", `{"clients": [{"id": "ops", "secretHash": "` + goodHash + `", "role": "sundial-operator"}]}`, ""},
		{"yaml", "access.yaml", "clients:\n  - id: ops\n    secretHash: \"" + goodHash + "\"\n    role: sundial-reader\n", ""},
		{"unknown key", "access.json", `{"clients": [{"id": "ops", "secret": "x", "secretHash": "` + goodHash + `", "role": "sundial-operator"}]}`, `access.json:1:28: clients.0: unknown key "secret"`},
		{"wrong type", "access.json", `{"clients": {"id": "ops"}}`, "access.json:1:13: clients:"},
		{"bad role", "access.json", `{"clients": [{"id": "ops", "secretHash": "` + goodHash + `", "role": "root"}]}`, "must be openidm-admin, sundial-operator or sundial-reader"},
		{"clear secret", "access.json", "{\"clients\": [\n {\"id\": \"ops\", \"secretHash\": \"hunter2\", \"role\": \"sundial-reader\"}]}", "access.json:2:30: clients.0.secretHash: this looks like a secret in clear, which must never be in a file: put its hash instead, made by `sundial hash-secret`"},
		{"bcrypt", "access.json", `{"clients": [{"id": "ops", "secretHash": "$2a$10$abcdefghijklmnopqrstuv", "role": "sundial-reader"}]}`, "not an argon2id hash"},
		{"bad params", "access.json", `{"clients": [{"id": "ops", "secretHash": "$argon2id$v=19$m=x,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0n1YdE8ZBWLvg0Xk4bB9cqHAtEvA0r5vVS1v2hhrX0M", "role": "sundial-reader"}]}`, `parameter "m=x"`},
		{"bad base64", "access.json", `{"clients": [{"id": "ops", "secretHash": "$argon2id$v=19$m=19456,t=2,p=1$!!$0n1YdE8ZBWLvg0Xk4bB9cqHAtEvA0r5vVS1v2hhrX0M", "role": "sundial-reader"}]}`, "salt: expected unpadded base64"},
		{"duplicate id", "access.json", "{\"clients\": [\n{\"id\": \"ops\", \"secretHash\": \"" + goodHash + "\", \"role\": \"sundial-reader\"},\n{\"id\": \"ops\", \"secretHash\": \"" + goodHash + "\", \"role\": \"sundial-reader\"}]}", `access.json:3:8: clients.1.id: duplicate client id "ops": also at line 2`},
		{"missing role", "access.json", `{"clients": [{"id": "ops", "secretHash": "` + goodHash + `"}]}`, `missing key "role"`},
		{"empty", "access.json", ``, "empty access file"},
		{"syntax", "access.json", `{"clients": [}`, "access.json:1:14: syntax error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeConf(t, dir, map[string]string{tc.file: tc.body})
			d, err := Load(dir, LoadOptions{Env: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			var msgs []string
			for _, e := range d.AllErrors() {
				msgs = append(msgs, strings.TrimPrefix(e.Error(), dir+string(filepath.Separator)))
			}
			got := strings.Join(msgs, "\n")
			if tc.want == "" {
				if got != "" {
					t.Fatalf("errors: %s", got)
				}
				if len(d.Clients) != 1 || d.Clients[0].ID != "ops" || d.Clients[0].Secret.String() != goodHash || d.Clients[0].Line == 0 {
					t.Fatalf("clients %+v", d.Clients)
				}
				return
			}
			if !strings.Contains(got, tc.want) {
				t.Fatalf("errors:\n%s\nwant one containing %q", got, tc.want)
			}
			if strings.Contains(got, "hunter2") {
				t.Errorf("an error shows the secret: %s", got)
			}
			if d.Clients != nil {
				t.Errorf("a bad file gave clients %+v", d.Clients)
			}
		})
	}
}

func TestAccessFileKeepsLastGoodVersion(t *testing.T) {
	dir := t.TempDir()
	writeConf(t, dir, map[string]string{"access.json": `{"clients": [{"id": "ops", "secretHash": "` + goodHash + `", "role": "sundial-operator"}]}`})
	first, err := Load(dir, LoadOptions{Env: noEnv})
	if err != nil || !first.Valid() || len(first.Clients) != 1 {
		t.Fatalf("first load: %v %v %+v", err, first.AllErrors(), first.Clients)
	}
	writeConf(t, dir, map[string]string{"access.json": `{"clients": [{"id": "ops", "secretHash": "oops", "role": "sundial-operator"}]}`})
	second, err := Load(dir, LoadOptions{Env: noEnv, Previous: first})
	if err != nil || second.Valid() {
		t.Fatalf("second load: %v, valid %v", err, second.Valid())
	}
	if len(second.Clients) != 1 || second.Clients[0].Role != "sundial-operator" {
		t.Fatalf("clients after a bad edit: %+v", second.Clients)
	}
	if first.Hash == second.Hash {
		t.Error("the snapshot hash did not change with the access file")
	}
	os.Remove(filepath.Join(dir, "access.json"))
	third, err := Load(dir, LoadOptions{Env: noEnv, Previous: second})
	if err != nil || !third.Valid() || third.Clients != nil {
		t.Fatalf("after removal: %v %v %+v", err, third.AllErrors(), third.Clients)
	}
}

func TestSecretHashRoundTrip(t *testing.T) {
	h, err := ParseSecretHash(goodHash)
	if err != nil {
		t.Fatal(err)
	}
	if h.Memory != 19456 || h.Time != 2 || h.Threads != 1 || h.String() != goodHash {
		t.Fatalf("%+v → %s", h, h.String())
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0n1YdE8ZBWLvg0Xk4bB9cqHAtEvA0r5vVS1v2hhrX0M",
		"$argon2id$v=16$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0n1YdE8ZBWLvg0Xk4bB9cqHAtEvA0r5vVS1v2hhrX0M",
		"$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0n1YdE8ZBWLvg0Xk4bB9cqHAtEvA0r5vVS1v2hhrX0M",
		"$argon2id$v=19$m=19456,t=0,p=1$c29tZXNhbHRzb21lc2FsdA$0n1YdE8ZBWLvg0Xk4bB9cqHAtEvA0r5vVS1v2hhrX0M",
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$c2hvcnQ",
	} {
		if _, err := ParseSecretHash(bad); err == nil {
			t.Errorf("ParseSecretHash(%q) succeeded", bad)
		}
	}
}

func FuzzParseSecretHash(f *testing.F) {
	f.Add(goodHash)
	f.Add("$argon2id$v=19$m=1,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseSecretHash(s)
		if err != nil {
			return
		}
		if h2, err := ParseSecretHash(h.String()); err != nil || h2.String() != h.String() {
			t.Fatalf("%q does not round-trip: %v", s, err)
		}
	})
}
