// Package ldaptest starts throwaway OpenLDAP servers for tests: the slapd
// installed on the machine (/usr/sbin/slapd, Debian's slapd package;
// $SUNDIAL_SLAPD overrides), one per call of Start, with a slapd.conf and
// an MDB database in the test's temporary directory, listening on a free
// loopback port. The suffix is dc=example,dc=com, with the core, cosine,
// inetorgperson and nis schemas; the root DN is "cn=Directory Manager"
// with the password "password", as IDM's LDAP samples expect. An LDIF given
// to Start is loaded with slapadd before the server starts (entries outside
// the suffix, such as Example.ldif's dc=com, are left out), so entries get
// entryUUID and the create and modify timestamps (those the LDIF gives are
// kept). The samples' LDIF was written for OpenDJ, which lets a
// groupOfUniqueNames have no member; OpenLDAP requires one, so such a
// group is given the empty DN as its member (the usual OpenLDAP idiom). The server is killed and
// its directory removed when the test ends.
//
// With Options.TLS the server also listens for ldaps on a second port and
// answers StartTLS on the first, with a certificate for 127.0.0.1 signed
// by a CA made for the server at start (its PEM in Server.CAFile, trusted
// nowhere else).
//
// Without slapd the test is skipped with a message saying what to install,
// unless SUNDIAL_REQUIRE_SLAPD=1 (as CI sets it): then it fails.
//
//	srv := ldaptest.Start(t, ldaptest.Options{LDIF: exampleLDIF})
//	conn, err := ldap.DialURL(srv.URL)
package ldaptest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The directory every server holds.
const (
	Suffix   = "dc=example,dc=com"
	RootDN   = "cn=Directory Manager"
	RootPass = "password"
)

// startTimeout bounds the wait for slapd to accept connections.
const startTimeout = 30 * time.Second

// Server is a running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:<port>.
	URL  string
	Host string
	Port int
	// Dir holds slapd.conf, the database and slapd's log.
	Dir string
	// With Options.TLS: LDAPSURL is ldaps://127.0.0.1:<LDAPSPort>, and
	// CAFile the PEM of the CA that signed the server's certificate.
	LDAPSURL  string
	LDAPSPort int
	CAFile    string
}

// Options configure a server.
type Options struct {
	// LDIF is loaded before the server starts; "" starts with the suffix
	// entry alone.
	LDIF string
	// Schemas are more schema files to include (paths).
	Schemas []string
	// Suffixes are more naming contexts, each an empty database that the
	// root DN manages (its entries are added over LDAP).
	Suffixes []string
	// RootDSE is an LDIF of attributes to add to the root DSE (slapd's
	// rootDSE directive), e.g. a changelog's.
	RootDSE string
	// TLS adds an ldaps listener and StartTLS (see the package doc).
	TLS bool
}

// Binary returns slapd's path, or "" when it is not installed.
func Binary() string {
	if p := os.Getenv("SUNDIAL_SLAPD"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/sbin/slapd"); err == nil {
		return "/usr/sbin/slapd"
	}
	if p, err := exec.LookPath("slapd"); err == nil {
		return p
	}
	return ""
}

// schemaDir holds OpenLDAP's schema files.
const schemaDir = "/etc/ldap/schema"

// Start starts a server for t and stops it when t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		const msg = "slapd is not installed: apt-get install slapd ldap-utils (or set SUNDIAL_SLAPD)"
		if os.Getenv("SUNDIAL_REQUIRE_SLAPD") == "1" {
			t.Fatal(msg + "; SUNDIAL_REQUIRE_SLAPD=1 makes this a failure")
		}
		t.Skip("SKIPPED: " + msg)
	}
	dir := t.TempDir()
	s, stop, err := start(bin, dir, opts)
	if err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	t.Cleanup(stop)
	return s
}

// start runs slapd in dir; stop kills it and waits for it to exit.
func start(bin, dir string, opts Options) (s *Server, stop func(), err error) {
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o700); err != nil {
		return nil, nil, err
	}
	conf := filepath.Join(dir, "slapd.conf")
	var c strings.Builder
	for _, s := range []string{"core", "cosine", "inetorgperson", "nis"} {
		fmt.Fprintf(&c, "include %s/%s.schema\n", schemaDir, s)
	}
	for _, sc := range opts.Schemas {
		fmt.Fprintf(&c, "include %s\n", sc)
	}
	if opts.RootDSE != "" {
		p := filepath.Join(dir, "rootdse.ldif")
		if err := os.WriteFile(p, []byte(opts.RootDSE), 0o600); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(&c, "rootDSE %s\n", p)
	}
	fmt.Fprintf(&c, "pidfile %s\nargsfile %s\n", filepath.Join(dir, "slapd.pid"), filepath.Join(dir, "slapd.args"))
	var caFile string
	if opts.TLS {
		files, err := writeCertificates(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("make the TLS certificates: %w", err)
		}
		caFile = files.ca
		fmt.Fprintf(&c, "TLSCACertificateFile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n", files.ca, files.cert, files.key)
	}
	if _, err := os.Stat("/usr/lib/ldap/back_mdb.la"); err == nil {
		c.WriteString("modulepath /usr/lib/ldap\nmoduleload back_mdb\n")
	}
	// OpenLDAP takes a root password only for a root DN under the
	// database's suffix, and IDM's samples bind as cn=Directory Manager:
	// a small database of that suffix holds the password, and the data
	// database lets that DN manage everything.
	dm := filepath.Join(dir, "dm")
	if err := os.Mkdir(dm, 0o700); err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(&c, "sizelimit unlimited\n")
	fmt.Fprintf(&c, "database ldif\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %s\n", RootDN, RootDN, RootPass, dm)
	fmt.Fprintf(&c, "database mdb\nmaxsize 268435456\nsuffix %q\ndirectory %s\n", Suffix, db)
	c.WriteString("index objectClass eq\nindex entryUUID eq\n")
	fmt.Fprintf(&c, "access to * by dn.exact=%q manage by * read\nlimits dn.exact=%q size=unlimited time=unlimited\n", RootDN, RootDN)
	for i, suffix := range opts.Suffixes {
		sdir := filepath.Join(dir, "suffix"+strconv.Itoa(i))
		if err := os.Mkdir(sdir, 0o700); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(&c, "database ldif\nsuffix %q\nrootdn %q\ndirectory %s\n", suffix, RootDN, sdir)
	}
	if err := os.WriteFile(conf, []byte(c.String()), 0o600); err != nil {
		return nil, nil, err
	}
	ldif := "dn: " + Suffix + "\nobjectClass: domain\nobjectClass: top\ndc: example\n"
	if opts.LDIF != "" {
		ldif = withinSuffix(opts.LDIF)
	}
	ldifPath := filepath.Join(dir, "load.ldif")
	if err := os.WriteFile(ldifPath, []byte(ldif), 0o600); err != nil {
		return nil, nil, err
	}
	slapadd := filepath.Join(filepath.Dir(bin), "slapadd")
	if _, err := os.Stat(slapadd); err != nil {
		slapadd = bin // slapadd is slapd under another name
	}
	add := exec.Command(slapadd, "-f", conf, "-b", Suffix, "-l", ldifPath)
	if slapadd == bin {
		add = exec.Command(bin, "-T", "add", "-f", conf, "-b", Suffix, "-l", ldifPath)
	}
	if out, err := add.CombinedOutput(); err != nil {
		return nil, nil, fmt.Errorf("slapadd: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	url := "ldap://127.0.0.1:" + strconv.Itoa(port)
	listen := url + "/"
	s = &Server{URL: url, Host: "127.0.0.1", Port: port, Dir: dir, CAFile: caFile}
	if opts.TLS {
		if s.LDAPSPort, err = freePort(); err != nil {
			return nil, nil, err
		}
		s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(s.LDAPSPort)
		listen += " " + s.LDAPSURL + "/"
	}
	logf, err := os.Create(filepath.Join(dir, "slapd.log"))
	if err != nil {
		return nil, nil, err
	}
	// -d keeps slapd in the foreground, so it is our child to kill.
	cmd := exec.Command(bin, "-f", conf, "-h", listen, "-d", "0")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(startTimeout)
	ports := []int{port}
	if opts.TLS {
		ports = append(ports, s.LDAPSPort)
	}
	for len(ports) > 0 {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(ports[0])), time.Second)
		if err == nil {
			conn.Close()
			ports = ports[1:]
			continue
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logf.Name())
			return nil, nil, fmt.Errorf("slapd exited (%v): %s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, nil, fmt.Errorf("slapd did not accept connections on %s within %s", listen, startTimeout)
		}
	}
	return s, func() {
		_ = cmd.Process.Kill()
		<-exited
	}, nil
}

// withinSuffix keeps the LDIF records whose dn is the suffix or under it.
func withinSuffix(ldif string) string {
	ldif = strings.ReplaceAll(ldif, "\r\n", "\n")
	var out bytes.Buffer
	for _, rec := range strings.Split(ldif, "\n\n") {
		rec = strings.Trim(rec, "\n")
		if rec == "" {
			continue
		}
		dn := ""
		for _, line := range strings.Split(rec, "\n") {
			if v, ok := strings.CutPrefix(line, "dn:"); ok {
				dn = strings.ToLower(strings.TrimSpace(v))
				break
			}
		}
		suffix := strings.ToLower(Suffix)
		if dn != suffix && !strings.HasSuffix(dn, ","+suffix) {
			continue
		}
		out.WriteString(rec)
		lower := strings.ToLower(rec)
		if strings.Contains(lower, "objectclass: groupofuniquenames") && !strings.Contains(lower, "\nuniquemember:") {
			out.WriteString("\nuniqueMember:")
		}
		out.WriteString("\n\n")
	}
	return out.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
