/*
 * sunset.js — run by the task scanner on each managed user whose sunset date
 * has passed. `input` is the user, `objectID` its path (managed/user/<id>).
 * Returning true marks the task completed for that user.
 */
logger.info("sunset: deactivating {} ({})", input.userName, objectID);
openidm.patch(objectID, null, [
    { "operation" : "replace", "field" : "/accountStatus", "value" : "inactive" }
]);
true;
