// Package cron parses Quartz 2.3.2 cron expressions and computes their fire
// times. Quartz is the contract: the same expressions are accepted and
// rejected, and Next returns the same instants, DST gaps and overlaps
// included, as org.quartz.CronExpression.getNextValidTimeAfter.
//
// An Expression is immutable and safe for concurrent use. Next does not
// allocate, except on the first search in a location, which lists the
// location's zone periods once for every later search (see zone.go).
package cron
