package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"sundial/engine/auth"
)

func init() { register(newHashSecretCmd) }

// maxSecretLen bounds the secret hash-secret reads.
const maxSecretLen = 4096

func newHashSecretCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hash-secret",
		Short: "Read an API client's secret from stdin and print its argon2id hash for access.json",
		Long: `hash-secret reads a secret from standard input and prints its argon2id hash in
PHC form, the "secretHash" of a client in access.json. On a terminal it asks
twice without echo; otherwise it reads standard input whole, less one final
newline. The secret itself must never be written in a file of the conf
directory.`,
		Example: "  sundial hash-secret\n  openssl rand -base64 32 | tee ops.secret | sundial hash-secret",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret, err := readSecret(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			h, err := auth.HashSecret(secret)
			if err != nil {
				return fmt.Errorf("%w: nothing to hash", err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), h)
			return err
		},
	}
}

// readSecret reads the secret: without echo, twice, from a terminal;
// whole, less one final newline, from anything else.
func readSecret(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "secret: ")
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		fmt.Fprint(prompt, "again: ")
		second, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		if !bytes.Equal(first, second) {
			return "", errors.New("the two secrets differ")
		}
		return string(first), nil
	}
	b, err := io.ReadAll(io.LimitReader(in, maxSecretLen+1))
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	if len(b) > maxSecretLen {
		return "", fmt.Errorf("secret longer than %d bytes", maxSecretLen)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return string(b), nil
}
