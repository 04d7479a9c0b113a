package script

import (
	"context"
	"errors"
	"fmt"
)

// ServiceName is the invokeService short name of the script service.
const ServiceName = "script"

// InvokeSchedule runs one fire of a schedule with invokeService "script": it
// parses invokeContext.script and runs it with these bindings:
//
//   - context: runContext (fireId, scheduledFireTime, actualFireTime,
//     nextFireTime, as the scheduler provides them);
//   - object: invokeContext.input, when present (as IDM 5 binds it);
//   - input: also invokeContext.input, unless the script block has its own
//     input key or global, because older ForgeRock samples put "input" beside
//     the script block and read it as input (schedule-script.json);
//   - the script block's own extra keys and globals (see ParseSpec).
//
// The script's logger records, and its console.log and println lines when
// Config.Stdout is nil, carry the attributes schedule (scheduleID) and
// fireId (from runContext).
//
// logLevel is the schedule's invokeLogLevel. The script's value is ignored, as
// IDM's script service ignores it. A bad block fails with an error wrapping
// a *SpecError, and a failed run with the *Error of the run.
func (e *Engine) InvokeSchedule(ctx context.Context, scheduleID, logLevel string, invokeContext, runContext map[string]any) error {
	raw, ok := invokeContext["script"]
	if !ok {
		return errors.New("invokeContext has no script")
	}
	block, ok := raw.(map[string]any)
	if !ok {
		return fmt.Errorf("invokeContext.script must be an object, got %s", typeName(raw))
	}
	spec, err := ParseSpec(block)
	if err != nil {
		return fmt.Errorf("invokeContext.script: %w", err)
	}
	bindings := make(map[string]any, 3)
	if runContext != nil {
		bindings["context"] = runContext
	}
	if input, ok := invokeContext["input"]; ok {
		bindings["object"] = input
		_, inBlock := spec.Bindings["input"]
		_, inGlobals := spec.Globals["input"]
		if !inBlock && !inGlobals {
			bindings["input"] = input
		}
	}
	logger := e.logger.With("schedule", scheduleID)
	if id, ok := runContext["fireId"]; ok {
		logger = logger.With("fireId", id)
	}
	_, err = e.Run(ctx, spec, Request{Name: scheduleID, LogLevel: logLevel, Bindings: bindings, Logger: logger, Resources: e.scheduleRes})
	return err
}
