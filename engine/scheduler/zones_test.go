package scheduler

// The tests compute fire times in named zones: the embedded zone database
// makes them independent of the machine's /usr/share/zoneinfo.
import _ "time/tzdata"
