package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBootstrap(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "var")
	first, err := Bootstrap(dataDir, "http://127.0.0.1:8080/")
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || first.Client.ID != "openidm-admin" || first.Client.Role != string(RoleAdmin) {
		t.Fatalf("first: %+v", first)
	}
	wantCurl := "curl -u openidm-admin:$(cat " + filepath.Join(dataDir, "admin.secret") + ") 'http://127.0.0.1:8080/openidm/scheduler/job?_queryFilter=true'"
	if first.Curl != wantCurl {
		t.Errorf("curl %q, want %q", first.Curl, wantCurl)
	}
	for path, mode := range map[string]os.FileMode{dataDir: 0o700 | os.ModeDir, first.SecretFile: 0o600, filepath.Join(dataDir, adminHashFile): 0o600} {
		st, err := os.Stat(path)
		if err != nil || st.Mode() != mode {
			t.Errorf("%s: %v, mode %v, want %v", path, err, st.Mode(), mode)
		}
	}
	raw, _ := os.ReadFile(first.SecretFile)
	secret := strings.TrimSpace(string(raw))
	if len(secret) < 40 || !VerifySecret(secret, first.Client.Secret) {
		t.Fatalf("secret %q does not verify against the client", secret)
	}

	second, err := Bootstrap(dataDir, "http://127.0.0.1:8080")
	if err != nil || second.Created || second.Client.Secret.String() != first.Client.Secret.String() {
		t.Fatalf("second start: %v %+v", err, second)
	}

	// A stale hash file (another secret's) is made again from the secret.
	h, _ := HashSecret("something else")
	os.WriteFile(filepath.Join(dataDir, adminHashFile), []byte(h), 0o600)
	third, err := Bootstrap(dataDir, "http://127.0.0.1:8080")
	if err != nil || !VerifySecret(secret, third.Client.Secret) {
		t.Fatalf("after a stale hash: %v", err)
	}

	// The bootstrap client authenticates.
	f := newFixture(t, third.Client)
	if _, b := f.whoami(t, hdr("Authorization", basic("openidm-admin", secret))); b != "openidm-admin openidm-admin" {
		t.Fatalf("bootstrap client: %s", b)
	}

	os.WriteFile(first.SecretFile, []byte("\n"), 0o600)
	if _, err := Bootstrap(dataDir, "http://x"); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty secret file: %v", err)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"var/admin.secret": "var/admin.secret", "/a b/s": "'/a b/s'", "it's": `'it'\''s'`} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
