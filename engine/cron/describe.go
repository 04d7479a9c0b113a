package cron

// Describe returns a short English description of the expression.
func (e *Expression) Describe() string { return e.String() }
