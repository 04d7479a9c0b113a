// An export task: the real one would write the source system's CSV file
// (sourceSystem is a key of the task's script block).
logger.info("exporting {}", sourceSystem);
