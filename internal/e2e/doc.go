// Package e2e holds Sundial's end-to-end tests: real `sundial serve`
// processes (the binary is built once per test run) on temporary conf
// directories and real databases (SQLite files, a throwaway PostgreSQL from
// internal/pgtest), killed with SIGKILL and restarted. The tests check the
// run history the processes recorded in the database and what their scripts
// printed, and wait on those, never on fixed sleeps.
//
// The package has no code of its own; see the _test.go files.
package e2e
