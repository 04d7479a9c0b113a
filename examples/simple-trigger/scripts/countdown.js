// countdown.js — logs the fire time of each of the ten fires.
logger.info("countdown fired at {}", new Date().toISOString());
