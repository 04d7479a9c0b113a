package cron

import (
	"errors"
	"time"
)

// Expression is a parsed Quartz cron expression.
type Expression struct{ spec string }

// Parse parses a Quartz cron expression (STUB: being written).
func Parse(spec string) (*Expression, error) { return nil, errors.New("cron: not implemented yet") }

// Next returns the first fire time strictly after after, in after.Location(),
// or the zero time when the expression never fires again.
func (e *Expression) Next(after time.Time) time.Time { return time.Time{} }

// String returns the normalised expression.
func (e *Expression) String() string { return e.spec }

// Describe returns a short English description.
func (e *Expression) Describe() string { return e.spec }
