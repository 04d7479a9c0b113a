// Command sundial is the Sundial scheduler daemon and its command-line tools.
// main stays thin: each subcommand lives in its own file and returns an error.
//
// Exit status: 0 success; 1 the command line was understood but what it names
// is invalid or cannot be read (a cron expression, a time zone, a conf
// directory with errors, a store that cannot be opened); 2 a usage error (an
// unknown command or flag, a wrong number of arguments, a flag value of the
// wrong form or out of range). exitError carries a status other than 1.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	_ "time/tzdata" // zones work in minimal containers without /usr/share/zoneinfo
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "sundial:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "sundial:", err)
	return 1
}

// exitError is an error that asks for a particular exit status. A nil err
// means the command already reported what went wrong.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is exit status 2: unknown commands or flags, wrong arguments,
// malformed flag values.
func usageError(err error) error { return &exitError{code: 2, err: err} }
