// Package trigger owns Sundial's trigger math: when a simple or a cron trigger
// fires first and next, how start time, end time and repeat count bound it,
// and what a misfire does to it.
//
// It ports the parts of Quartz 2.3.2 that ForgeRock IDM relies on
// (org.quartz.impl.triggers.SimpleTriggerImpl and CronTriggerImpl:
// computeFirstFireTime, getFireTimeAfter, triggered, updateAfterMisfire; and
// the JobStore misfire test) as pure functions of the time they are given.
// Nothing here reads a clock, sleeps or keeps hidden state: a Spec is the
// immutable definition of a trigger, a State is what Quartz keeps per trigger
// (next and previous fire time, times triggered, and the start time and repeat
// count that a misfire may reset), and every operation takes a State and
// returns the next one. The scheduler owns the States; a store persists them.
//
// The cron calendar itself (engine/cron) is reached through the Calendar
// interface, so this package can be tested without it.
//
// Where Sundial deliberately differs from Quartz it says so next to the code:
// a start time in the past means "start now" (so a schedule file edited after
// its startTime starts at once instead of misfiring), a misfire never
// fires after the end time, and a simple trigger with repeat interval 0 fires
// all its repeats at once (Quartz rejects interval 0).
package trigger
