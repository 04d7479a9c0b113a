// Package e2e holds Sundial's end-to-end tests: real `sundial serve`
// processes (the binary is built once per test run) on temporary conf
// directories and real databases (SQLite files, a throwaway PostgreSQL from
// internal/pgtest), killed with SIGKILL and restarted. The tests check the
// run history the processes recorded in the database and what their scripts
// printed, and wait on those, never on fixed sleeps.
//
// The browser_*_test.go files drive the web page under /ui/ of such a
// process in a real headless Chromium (internal/browsertest): signing in
// with the clients of an access.json, following live rows, pausing, a
// reader's page without actions, a task scan's progress, an invalid conf
// file; and, on demand, the screenshots under docs/.
//
// The package has no code of its own; see the _test.go files.
package e2e
