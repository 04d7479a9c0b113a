// The role model task of the nightly job.
logger.info("computing the role model");
