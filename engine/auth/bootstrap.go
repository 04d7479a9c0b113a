package auth

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"sundial/engine/config"
)

// BootstrapClientID is the client made on a first start without clients.
const BootstrapClientID = "openidm-admin"

// The files Bootstrap keeps in the data directory.
const (
	AdminSecretFile = "admin.secret"      // the secret, in clear, mode 0600
	adminHashFile   = "admin.secret.hash" // its argon2id hash, so a restart need not rehash
)

// BootstrapResult is what Bootstrap made or found.
type BootstrapResult struct {
	Client     config.Client // openidm-admin, role openidm-admin, to give to SetClients
	SecretFile string        // the path of the clear secret
	Created    bool          // whether this call made a new secret
	Curl       string        // a ready-to-paste command that lists the schedules
}

// Bootstrap gives the admin client to use when access.json defines no
// client: openidm-admin, whose secret is in <dataDir>/admin.secret. The
// first call makes a random secret and writes it there (mode 0600; dataDir
// is created 0700 when missing), with its hash beside it; later calls read
// both, so the same secret keeps working across restarts (a missing or
// stale hash file is made again from the secret). baseURL is the API's
// address for the curl line, e.g. http://127.0.0.1:8080.
func Bootstrap(dataDir, baseURL string) (BootstrapResult, error) {
	secretPath := filepath.Join(dataDir, AdminSecretFile)
	hashPath := filepath.Join(dataDir, adminHashFile)
	res := BootstrapResult{
		SecretFile: secretPath,
		Curl: fmt.Sprintf("curl -u %s:$(cat %s) '%s/openidm/scheduler/job?_queryFilter=true'",
			BootstrapClientID, shellQuote(secretPath), strings.TrimSuffix(baseURL, "/")),
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return res, fmt.Errorf("bootstrap admin client: %w", err)
	}
	secret, err := readSecretFile(secretPath)
	if errors.Is(err, fs.ErrNotExist) {
		secret, err = createSecretFile(secretPath)
		res.Created = err == nil
	}
	if err != nil {
		return res, fmt.Errorf("bootstrap admin client: %w", err)
	}
	h, err := readHashFile(hashPath)
	if err != nil || !VerifySecret(secret, h) {
		if h, err = newHash(secret); err != nil {
			return res, fmt.Errorf("bootstrap admin client: %s: %w", secretPath, err)
		}
		if err := writeFileAtomic(hashPath, []byte(h.String()+"\n")); err != nil {
			return res, fmt.Errorf("bootstrap admin client: %w", err)
		}
	}
	res.Client = config.Client{ID: BootstrapClientID, Secret: h, Role: string(RoleAdmin), File: secretPath}
	return res, nil
}

func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty: delete it to make a new secret", path)
	}
	return s, nil
}

func createSecretFile(path string) (string, error) {
	raw := make([]byte, 32)
	rand.Read(raw)
	secret := base64.RawURLEncoding.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return "", err
	}
	return secret, nil
}

func readHashFile(path string) (config.SecretHash, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return config.SecretHash{}, err
	}
	return config.ParseSecretHash(strings.TrimSpace(string(b)))
}

// writeFileAtomic writes a 0600 file through a temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// shellQuote quotes a path for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
