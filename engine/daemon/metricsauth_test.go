package daemon_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sundial/engine/daemon"
)

// TestMetricsAuth: /metrics is open by default; with MetricsAuth it needs
// an API client's credentials, and the probes stay open.
func TestMetricsAuth(t *testing.T) {
	t.Parallel()
	conf, scripts := newDirs(t, nil)
	get := func(b *testBundle, path, secret string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+b.d.Addr()+path, nil)
		if secret != "" {
			req.SetBasicAuth("openidm-admin", secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	open := start(t, conf, scripts)
	if code := get(open, "/metrics", ""); code != http.StatusOK {
		t.Errorf("/metrics by default: %d, want 200", code)
	}
	data := t.TempDir()
	closed := start(t, conf, scripts, func(o *daemon.Options) { o.MetricsAuth, o.DataDir = true, data })
	secret, err := os.ReadFile(filepath.Join(data, "admin.secret"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, secret string
		want         int
	}{
		{"/metrics", "", http.StatusUnauthorized},
		{"/metrics", "wrong", http.StatusUnauthorized},
		{"/metrics", strings.TrimSpace(string(secret)), http.StatusOK},
		{"/healthz", "", http.StatusOK},
	} {
		if code := get(closed, c.path, c.secret); code != c.want {
			t.Errorf("GET %s (secret %q) with MetricsAuth: %d, want %d", c.path, c.secret, code, c.want)
		}
	}
}
