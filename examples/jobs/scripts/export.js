// An export task: the real one would write the source's CSV file.
logger.info("exporting {}", source);
