// Package scheduler owns the running trigger set: which schedules are armed,
// when each fires next, the worker pool that runs the fires, and the list of
// runs executing now. It turns a config.Desired snapshot into running
// triggers (Reconcile), fires them on time through named Services, and
// applies IDM's and Quartz's rules on misfires, non-concurrent schedules,
// pause and resume. Calendar math lives in engine/trigger; persistence and
// clustering plug in through the StateStore seam.
//
// # Concurrency
//
// One goroutine, the loop, owns every trigger: a heap of next fire times
// indexed by schedule id, and one clock timer armed for the earliest. There is
// no goroutine per trigger. Operations (Reconcile, Pause, TriggerNow, the read
// views, ...) are queued to the loop and wake it with a capacity-1,
// non-blocking send; readers get copies. Fires run on a bounded pool of
// ThreadCount workers. A due fire of a persisted schedule is first claimed
// from the store by one of two claimers, which claim every fire handed to
// them meanwhile in one call; the loop hands them up to 32 fires per idle
// worker, so one round trip claims many fires while the workers are free and
// none while they are all busy. The fires of one schedule are claimed one
// after the other, never two at once. A claimed fire waits for a worker; a
// worker only runs the service and records the end. When nothing can take a
// due fire, it stays in the heap, in scheduled-time order, and is taken as
// workers free up; the wait shows in the fire-delay histogram, and a fire
// that waited past the misfire threshold is a misfire. So is a claimed fire
// that waited as long for a worker: one the misfire instruction would fire
// now runs late, the others (doNothing) are recorded skipped, as is a
// claimed fire whose schedule was paused, disabled or removed meanwhile.
//
// # Memory
//
// A daemon holds, per schedule, the config.Schedule of the snapshot (288
// bytes, plus its hash, and its invokeContext: a Go map costs at least 336
// bytes) and the scheduler's entry: about 220 bytes with its map slot and
// heap item (BenchmarkIdle100k). Entries share their trigger.Spec, and a
// Load shares parsed cron expressions. The heap keeps its keys inline and
// deletes lazily, so a fire sifts an array of keys without touching the
// entries. With the default GOGC the runtime keeps about twice the live heap
// after a reload: a reload parses every file (~17 KB of garbage each), so a
// daemon with many schedules should return that memory with
// debug.FreeOSMemory once a reload is applied (BenchmarkIdle100k reports
// both: rss-MB and rss-released-MB).
//
// # Fires that do not run
//
// Every fire time that does not run is recorded in the run history with a
// Reason (misfire, overlap, paused, disabled, service-not-found,
// store-error), counted in sundial_fires_skipped_total{schedule,reason} and
// logged at warn.
//
// # Lifecycle
//
// New, then Reconcile (before or after Start), Start(ctx), and Stop(grace).
// Start returns once the loop runs and has armed its timer; Stop is idempotent
// and safe before Start: it stops firing, lets running runs finish for up to
// grace on the scheduler's clock, then cancels their contexts.
package scheduler
