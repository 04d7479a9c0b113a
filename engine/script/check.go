package script

import (
	"errors"
	"fmt"
)

// MaxScriptSize is the largest script Sundial compiles, from a file or
// inline: 1 MiB, the cap on configuration files.
const MaxScriptSize = 1 << 20

var (
	// ErrTooLarge is returned for a script larger than MaxScriptSize.
	ErrTooLarge = errors.New("script is too large")
	// ErrNotRegular is returned for a script file that is not a regular
	// file (a directory, a FIFO, a device).
	ErrNotRegular = errors.New("not a regular file")
)

var errTooLarge = fmt.Errorf("%w: larger than %d bytes (1 MiB)", ErrTooLarge, MaxScriptSize)

// Check compiles src as a run of a script named name would (the same size
// cap, parser options and compiler), without running it. Validation calls
// it for every inline source and script file. A script that does not
// compile fails with an *Error whose Position is the 1-based line and column
// of the syntax error in src; its Err is a *SyntaxError (the parser's
// message alone) or wraps ErrTooLarge.
func Check(name string, src []byte) error {
	_, err := compile(name, string(src))
	return err
}
