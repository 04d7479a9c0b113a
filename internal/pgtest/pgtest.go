// Package pgtest starts a throwaway PostgreSQL server for tests, from the
// binaries installed on the machine (/usr/lib/postgresql/<version>/bin, the
// highest version; $SUNDIAL_PG_BIN overrides). One server runs per test
// binary, in a temporary directory, on a free loopback port, with durability
// turned off for speed; every test gets a fresh database of its own. The
// server is stopped and its directory removed when the tests end.
//
// PostgreSQL refuses to run as root, so when the tests run as root the server
// runs as the "postgres" OS user (its data directory is chowned to it).
// Without PostgreSQL binaries the tests that need a server are skipped with a
// message saying what to install, unless SUNDIAL_REQUIRE_POSTGRES=1 (as CI
// sets it): then they fail, so that a run cannot pass by skipping them.
//
// SUNDIAL_PGTEST_DURABLE=1 keeps fsync, synchronous_commit and
// full_page_writes on, for benchmarks that should pay for durability.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestX(t *testing.T) {
//		dsn := pgtest.DSN(t) // postgres://postgres@127.0.0.1:port/test_N?sslmode=disable
//		...
//	}
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// startTimeout bounds initdb plus the wait for the server to accept
// connections.
const startTimeout = 60 * time.Second

// dirPrefix names the temporary directories, so that stale ones left by a
// killed test binary can be found and removed.
const dirPrefix = "sundial-pgtest-"

var (
	mainCalled atomic.Bool
	once       sync.Once
	shared     *Server
	sharedErr  error
	dbSeq      atomic.Int64
)

// Main runs the tests and then stops the shared server, if one was started.
// Call it from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	mainCalled.Store(true)
	code := m.Run()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	return code
}

// DSN returns the connection string of a fresh, empty database on the shared
// server, starting the server on first use. It skips the test when no
// PostgreSQL is installed and fails it when the server cannot start. The
// database is dropped when the test ends.
func DSN(t testing.TB) string {
	t.Helper()
	s := Shared(t)
	dsn, err := s.CreateDatabase(context.Background(), fmt.Sprintf("test_%d_%d", os.Getpid(), dbSeq.Add(1)))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.DropDatabase(context.Background(), dsn); err != nil {
			t.Logf("pgtest: %v", err)
		}
	})
	return dsn
}

// Shared returns the test binary's server, starting it on first use (see
// DSN for skipping and failing).
func Shared(t testing.TB) *Server {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("pgtest: call os.Exit(pgtest.Main(m)) from TestMain, so that the server is stopped after the tests")
	}
	once.Do(func() {
		bin, err := FindBin()
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = Start(context.Background(), bin)
	})
	if sharedErr != nil {
		unavailable(t, sharedErr, os.Getenv(RequireEnv) == "1")
		return nil
	}
	return shared
}

// RequireEnv names the environment variable that, set to 1, makes a missing
// PostgreSQL fail the tests that need it instead of skipping them.
const RequireEnv = "SUNDIAL_REQUIRE_POSTGRES"

// unavailable ends a test that cannot get a server: a skip when PostgreSQL
// is not installed and not required, a failure otherwise.
func unavailable(t testing.TB, err error, required bool) {
	t.Helper()
	switch {
	case errors.Is(err, ErrNoPostgres) && required:
		t.Fatalf("pgtest: %v; %s=1 requires PostgreSQL: install it (Debian: apt-get install postgresql), or unset %s to skip these tests",
			err, RequireEnv, RequireEnv)
	case errors.Is(err, ErrNoPostgres):
		t.Skipf("pgtest: %v (set %s=1 to make this a failure)", err, RequireEnv)
	default:
		t.Fatalf("pgtest: %v", err)
	}
}

// ErrNoPostgres: no PostgreSQL server binaries were found.
var ErrNoPostgres = errors.New("no PostgreSQL binaries found under /usr/lib/postgresql/*/bin (install Debian's postgresql package, or set SUNDIAL_PG_BIN to a directory holding initdb and postgres)")

// FindBin returns the bin directory of the highest installed PostgreSQL
// version, or $SUNDIAL_PG_BIN when set.
func FindBin() (string, error) {
	if dir := os.Getenv("SUNDIAL_PG_BIN"); dir != "" {
		if !hasServer(dir) {
			return "", fmt.Errorf("SUNDIAL_PG_BIN=%s has no initdb and postgres: %w", dir, ErrNoPostgres)
		}
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	type cand struct {
		dir     string
		version []int
	}
	var cands []cand
	for _, d := range dirs {
		if !hasServer(d) {
			continue
		}
		var v []int
		for _, part := range strings.Split(filepath.Base(filepath.Dir(d)), ".") {
			n, err := strconv.Atoi(part)
			if err != nil {
				break
			}
			v = append(v, n)
		}
		cands = append(cands, cand{d, v})
	}
	if len(cands) == 0 {
		return "", ErrNoPostgres
	}
	sort.Slice(cands, func(i, j int) bool { return lessVersion(cands[j].version, cands[i].version) })
	return cands[0].dir, nil
}

func lessVersion(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

// Server is a running throwaway PostgreSQL.
type Server struct {
	Bin  string // bin directory of the PostgreSQL used
	Dir  string // temporary directory: data/, the log, the owner's pid
	Port int

	cmd    *exec.Cmd
	exited chan struct{} // closed when the server process has exited
	logf   *os.File

	mu      sync.Mutex // serializes CREATE/DROP DATABASE on admin
	admin   *pgx.Conn
	version int // server_version_num, e.g. 150004

	stopOnce sync.Once
	stopErr  error
}

// Start initializes a cluster in a new temporary directory and starts a
// server on a free loopback port, waiting until it accepts connections.
func Start(ctx context.Context, bin string) (*Server, error) {
	removeStale()
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(tempParent(), dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	s := &Server{Bin: bin, Dir: dir, exited: make(chan struct{})}
	if err := s.start(ctx, cred); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, cred *syscall.Credential) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	// The directory must be traversable by the postgres user.
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", s.Dir, err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("write owner pid: %w", err)
	}
	data := filepath.Join(s.Dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if cred != nil {
		if err := os.Chown(data, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("chown data dir to postgres: %w", err)
		}
	}
	logPath := filepath.Join(s.Dir, "postgres.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create log: %w", err)
	}
	s.logf = logf

	initdb := exec.CommandContext(ctx, filepath.Join(s.Bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Env = serverEnv()
	initdb.Dir = s.Dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}

	// A free port can be taken between our probe and the server's bind: retry.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.Port = port
		err = s.launch(ctx, data, cred)
		if err == nil {
			return nil
		}
		if attempt >= 2 || !strings.Contains(s.logTail(), "could not bind") {
			return err
		}
		s.exited = make(chan struct{})
	}
}

func (s *Server) launch(ctx context.Context, data string, cred *syscall.Credential) error {
	args := []string{
		"-D", data,
		"-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=",
		"-c", "max_connections=300",
		"-c", "shared_buffers=64MB",
		"-c", "max_wal_size=1GB",
		"-c", "log_min_messages=warning",
		"-c", "log_min_error_statement=panic",
	}
	if os.Getenv("SUNDIAL_PGTEST_DURABLE") == "" {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	cmd := exec.Command(filepath.Join(s.Bin, "postgres"), args...)
	// Pdeathsig: if the test binary dies (kill -9, timeout), the server gets
	// SIGQUIT (immediate shutdown) instead of living on; removeStale cleans
	// the directory on the next run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	cmd.Env = serverEnv()
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = s.logf, s.logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.cmd = cmd
	exited := s.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()

	// Condition wait: poll until the server accepts a connection, it exits,
	// or the deadline passes.
	var lastErr error
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, s.dsn("postgres"))
		cancel()
		if err == nil {
			s.admin = conn
			var v string
			if err := conn.QueryRow(ctx, "SHOW server_version_num").Scan(&v); err != nil {
				return fmt.Errorf("read server version: %w", err)
			}
			s.version, _ = strconv.Atoi(v)
			return nil
		}
		lastErr = err
		select {
		case <-exited:
			return fmt.Errorf("postgres exited during start-up: %v\n%s", cmd.ProcessState, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections within %s: %w\n%s", startTimeout, lastErr, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Server) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
}

// CreateDatabase creates a database and returns its DSN.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE template0"
	if s.version >= 150000 {
		q += " STRATEGY file_copy" // faster than WAL_LOG for a tiny template with fsync off
	}
	if _, err := s.admin.Exec(ctx, q); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return s.dsn(name), nil
}

// DropDatabase drops the database a DSN from CreateDatabase names,
// disconnecting whoever is still connected.
func (s *Server) DropDatabase(ctx context.Context, dsn string) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q := "DROP DATABASE IF EXISTS " + pgx.Identifier{cfg.Database}.Sanitize()
	if s.version >= 130000 {
		q += " WITH (FORCE)"
	}
	if _, err := s.admin.Exec(ctx, q); err != nil {
		return fmt.Errorf("drop database %s: %w", cfg.Database, err)
	}
	return nil
}

// Stop shuts the server down and removes its directory. It is idempotent.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.admin != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = s.admin.Close(ctx)
			cancel()
		}
		if s.cmd != nil && s.cmd.Process != nil {
			// SIGQUIT: immediate shutdown; the data is thrown away anyway.
			_ = s.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
				<-s.exited
			}
		}
		if s.logf != nil {
			_ = s.logf.Close()
		}
		if err := os.RemoveAll(s.Dir); err != nil {
			s.stopErr = fmt.Errorf("remove %s: %w", s.Dir, err)
		}
	})
	return s.stopErr
}

// logTail returns the end of the server log, for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "postgres.log"))
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// serverCredential returns the credential to run PostgreSQL with: nil (the
// current user) unless running as root, then the postgres user.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses root: need a postgres OS user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: false}, nil
}

func serverEnv() []string {
	return []string{"PATH=/usr/bin:/bin", "LANG=C", "LC_ALL=C", "TZ=UTC"}
}

// tempParent is where the server directory goes: the temp dir, unless running
// as root and one of its ancestors is not traversable by others (the postgres
// user could not reach its data), then /tmp.
func tempParent() string {
	dir := os.TempDir()
	if os.Geteuid() != 0 {
		return dir
	}
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if d == filepath.Dir(d) {
			return dir
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// removeStale removes server directories left behind by test binaries that
// died without stopping their server (the server itself got SIGQUIT through
// Pdeathsig).
func removeStale() {
	for _, parent := range []string{tempParent(), "/tmp"} {
		dirs, _ := filepath.Glob(filepath.Join(parent, dirPrefix+"*"))
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
			if err != nil {
				continue
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid == os.Getpid() || processAlive(pid) {
				continue
			}
			if postmasterAlive(filepath.Join(d, "data")) {
				continue
			}
			_ = os.RemoveAll(d)
		}
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// postmasterAlive reports whether the server of a data directory still runs.
func postmasterAlive(data string) bool {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	return err == nil && processAlive(pid)
}
