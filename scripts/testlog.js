/*
 * testlog.js — run every minute by conf/schedule-testlog.json.
 *
 * Bindings used: `greeting` (a key of the schedule's script block),
 * `object` (invokeContext.input), `logger` (SLF4J-style {} placeholders)
 * and the java.lang.System shims, so scripts written for IDM run unchanged.
 */
var now = java.lang.System.currentTimeMillis();
java.lang.System.out.println(greeting + ": it is working, edit = " + object.edit);
logger.info("testlog fired at {} ms since the epoch (edit {})", now, object.edit);
