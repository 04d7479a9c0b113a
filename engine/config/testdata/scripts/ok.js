logger.info("ok {}", 1);
