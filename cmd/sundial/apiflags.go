package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"sundial/engine/apiclient"
)

// defaultAPIURL is where `sundial serve` listens by default.
const defaultAPIURL = "http://127.0.0.1:8080"

// apiFlags are the flags of every command that talks to a running daemon.
type apiFlags struct {
	url        string
	clientID   string
	secret     string
	secretFile string
	timeout    time.Duration
	output     string
	// hasSecret is set by client: a secret was given, by flag or variable.
	hasSecret bool
}

// addAPIFlags registers the API flags on fs, their defaults taken from the
// SUNDIAL_API_* variables.
func addAPIFlags(fs *pflag.FlagSet) *apiFlags {
	f := &apiFlags{}
	fs.StringVar(&f.url, "api-url", envOr("SUNDIAL_API_URL", defaultAPIURL), "the daemon's address (env SUNDIAL_API_URL)")
	fs.StringVar(&f.clientID, "api-client-id", envOr("SUNDIAL_API_CLIENT_ID", "openidm-admin"), "API client id (env SUNDIAL_API_CLIENT_ID)")
	// The secret's variables are read when the flags are not given, not
	// as defaults: --help would print them.
	fs.StringVar(&f.secret, "api-secret", "", "API client secret (env SUNDIAL_API_SECRET)")
	fs.StringVar(&f.secretFile, "api-secret-file", "", "file holding the API client secret, e.g. var/admin.secret (env SUNDIAL_API_SECRET_FILE)")
	fs.DurationVar(&f.timeout, "api-timeout", apiclient.DefaultTimeout, "how long one request may take")
	fs.StringVarP(&f.output, "output", "o", "table", "output format: table, or json (the daemon's answer as is)")
	return f
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// client checks the flags and returns a client of the daemon: a malformed
// flag is a usage error, an unreadable secret file an error.
func (f *apiFlags) client() (*apiclient.Client, error) {
	if f.output != "table" && f.output != "json" {
		return nil, usageError(fmt.Errorf("-o %q: want table or json", f.output))
	}
	if f.timeout <= 0 {
		return nil, usageError(fmt.Errorf("--api-timeout %s: must be positive", f.timeout))
	}
	if f.secret != "" && f.secretFile != "" {
		return nil, usageError(errors.New("--api-secret and --api-secret-file: give one of them"))
	}
	secret, secretFile := f.secret, f.secretFile
	if secret == "" && secretFile == "" {
		if secret = os.Getenv("SUNDIAL_API_SECRET"); secret == "" {
			secretFile = os.Getenv("SUNDIAL_API_SECRET_FILE")
		}
	}
	if secretFile != "" {
		data, err := os.ReadFile(secretFile)
		if err != nil {
			return nil, fmt.Errorf("--api-secret-file: %w", err)
		}
		secret = strings.TrimSpace(string(data))
	}
	f.hasSecret = secret != ""
	clientID := f.clientID
	if secret == "" {
		// Without a secret no credentials are sent: the daemon answers 401.
		clientID = ""
	}
	c, err := apiclient.New(apiclient.Options{BaseURL: f.url, ClientID: clientID, Secret: secret, Timeout: f.timeout})
	if err != nil {
		return nil, usageError(fmt.Errorf("--api-url: %w", err))
	}
	return c, nil
}

// apiError adds a hint to the errors an operator can act on.
func apiError(err error, f *apiFlags) error {
	var e *apiclient.Error
	if errors.As(err, &e) && e.Code == http.StatusUnauthorized && !f.hasSecret {
		return fmt.Errorf("%w (no credentials given: set --api-secret-file var/admin.secret, --api-secret or SUNDIAL_API_SECRET)", err)
	}
	return err
}

// apiCommand wraps a command's work: a client from the flags, a context
// ending with the command's, and the hints on its errors.
func apiCommand(f *apiFlags, work func(ctx context.Context, c *apiclient.Client, args []string, out io.Writer) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := f.client()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		return apiError(work(ctx, c, args, cmd.OutOrStdout()), f)
	}
}

// writeAnswer prints a daemon's answer as it came, with a final newline.
func writeAnswer(out io.Writer, body []byte) error {
	if _, err := out.Write(body); err != nil {
		return err
	}
	if len(body) == 0 || body[len(body)-1] != '\n' {
		_, err := io.WriteString(out, "\n")
		return err
	}
	return nil
}

// decodeAnswer decodes a daemon's answer, naming what it was.
func decodeAnswer(body []byte, what string, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: the daemon's answer is not what was expected: %w", what, err)
	}
	return nil
}
