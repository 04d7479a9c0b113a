package cron

import "strings"

// String returns the expression normalised: upper case, fields separated by
// single spaces, anything after the seventh field dropped.
func (e *Expression) String() string { return strings.Join(e.fields, " ") }
