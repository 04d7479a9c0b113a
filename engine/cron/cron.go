package cron

// String returns the expression normalised: upper case, fields separated by
// single spaces, anything after the seventh field dropped.
func (e *Expression) String() string { return e.norm }
