// Package web serves the operator's web page under /ui/: the schedules
// with their state and counts, one schedule's detail, a timeline of the
// fires to come, the configuration and its reloads, the task scans, the
// reconciliations and the cluster's nodes. Pages are html/template, embedded with the CSS and the
// one small script; live rows come by server-sent events (/ui/events)
// with a polling fallback (/ui/poll).
//
// The page holds no power of its own: it signs in with a client id and
// secret of access.json (auth.Authenticator.SignIn, throttled as the token
// endpoint is), keeps the bearer token it gets in an HttpOnly,
// SameSite=Strict cookie, authenticates every request with it as the REST
// API does, and performs actions through the REST API's services
// (api.Schedules, api.TaskScans, api.Recons) under the roles the API enforces. Every
// POST carries a CSRF token derived from the session; every answer sends a
// strict Content-Security-Policy.
package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"sundial/engine/api"
	"sundial/engine/auth"
	"sundial/engine/clock"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options are what New needs.
type Options struct {
	Source    Source
	Schedules api.Schedules
	// Scans serves the task scans page; nil shows no scans.
	Scans api.TaskScans
	// Recons serves the reconciliations page, Mappings the mappings it
	// offers to start; nil Recons shows no reconciliations.
	Recons   api.Recons
	Mappings func() []MappingView
	// ReconEntries lists a run's entries on its page; nil lists none.
	ReconEntries ReconEntries
	Auth         *auth.Authenticator
	// Secure marks the cookies Secure (the listener serves TLS).
	Secure bool
	// EventInterval is how often the event stream looks for changes;
	// zero: one second.
	EventInterval time.Duration
	Clock         clock.Clock
	Logger        *slog.Logger
}

// Cookie names.
const (
	sessionCookie = "sundial_session"
	loginCookie   = "sundial_login"
)

// maxForm bounds a form body.
const maxForm = 64 << 10

type server struct {
	Options
	pages map[string]*template.Template
	rows  *template.Template // the fragments the event stream sends
}

// New returns the handler of /ui/ and everything under it.
func New(o Options) http.Handler {
	if o.Source == nil || o.Schedules == nil || o.Auth == nil {
		panic("web.New: Options.Source, Options.Schedules and Options.Auth are required")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.EventInterval <= 0 {
		o.EventInterval = time.Second
	}
	s := &server{Options: o, pages: map[string]*template.Template{}}
	base := template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/rows.html"))
	s.rows = base
	for _, p := range []string{"login", "schedules", "schedule", "timeline", "config", "scans", "recons", "recon", "cluster", "error"} {
		s.pages[p] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+p+".html"))
	}
	static, _ := fs.Sub(staticFS, "static")
	mux := http.NewServeMux()
	mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /ui/login", s.loginPage)
	mux.HandleFunc("POST /ui/login", s.login)
	mux.HandleFunc("POST /ui/logout", s.authed(auth.PermRead, s.logout))
	mux.HandleFunc("GET /ui/{$}", s.authed(auth.PermRead, s.schedulesPage))
	mux.HandleFunc("GET /ui/schedules", s.authed(auth.PermRead, s.schedulesPage))
	mux.HandleFunc("GET /ui/schedules/{id}", s.authed(auth.PermRead, s.schedulePage))
	mux.HandleFunc("POST /ui/schedules/{id}/{action}", s.authed(auth.PermOperate, s.scheduleAction))
	mux.HandleFunc("POST /ui/schedules/bulk", s.authed(auth.PermOperate, s.bulkAction))
	mux.HandleFunc("GET /ui/timeline", s.authed(auth.PermRead, s.timelinePage))
	mux.HandleFunc("GET /ui/config", s.authed(auth.PermRead, s.configPage))
	mux.HandleFunc("GET /ui/scans", s.authed(auth.PermRead, s.scansPage))
	mux.HandleFunc("POST /ui/scans/execute", s.authed(auth.PermOperate, s.scanExecute))
	mux.HandleFunc("POST /ui/scans/{id}/cancel", s.authed(auth.PermOperate, s.scanCancel))
	mux.HandleFunc("GET /ui/recons", s.authed(auth.PermRead, s.reconsPage))
	mux.HandleFunc("GET /ui/recons/{id}", s.authed(auth.PermRead, s.reconPage))
	mux.HandleFunc("POST /ui/recons/start", s.authed(auth.PermOperate, s.reconStart))
	mux.HandleFunc("POST /ui/recons/{id}/cancel", s.authed(auth.PermOperate, s.reconCancel))
	mux.HandleFunc("GET /ui/cluster", s.authed(auth.PermRead, s.clusterPage))
	mux.HandleFunc("GET /ui/events", s.authed(auth.PermRead, s.events))
	mux.HandleFunc("GET /ui/poll", s.authed(auth.PermRead, s.poll))
	mux.HandleFunc("/ui/", s.authed(auth.PermRead, func(w http.ResponseWriter, r *http.Request, _ session) {
		s.fail(w, r, http.StatusNotFound, "no such page: "+r.URL.Path)
	}))
	return securityHeaders(mux)
}

// securityHeaders sets the headers every answer carries: no script or
// style but the page's own files, no framing, no sniffing, no caching of
// pages that show live state.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/ui/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// session is a signed-in client.
type session struct {
	auth.Principal
	// csrf is the token every POST of the session must carry.
	csrf string
}

// canOperate says whether the page shows action buttons.
func (s session) CanOperate() bool { return s.Role.Allows(auth.PermOperate) }

// csrfOf derives a session's CSRF token from its bearer token: unknown to
// another site, which cannot read the HttpOnly cookie, and the same on
// every node sharing the signing key.
func csrfOf(token string) string {
	sum := sha256.Sum256([]byte("sundial-ui-csrf|" + token))
	return base64.RawURLEncoding.EncodeToString(sum[:24])
}

// authed wraps a page: without a valid session a GET goes to the sign-in
// page and anything else is a 403; a POST without the session's CSRF
// token, or by a role without perm, is a 403.
func (s *server) authed(perm auth.Perm, h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, ok := s.session(r)
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/ui/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.fail(w, r, http.StatusForbidden, "not signed in, or the session expired: sign in again")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				s.fail(w, r, http.StatusBadRequest, "unreadable form")
				return
			}
			if !sameToken(r.PostForm.Get("csrf"), sess.csrf) {
				s.fail(w, r, http.StatusForbidden, "missing or wrong CSRF token: reload the page and try again")
				return
			}
		}
		if !sess.Role.Allows(perm) {
			s.fail(w, r, http.StatusForbidden, "the role "+string(sess.Role)+" may not do this")
			return
		}
		h(w, r, sess)
	}
}

func sameToken(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// session authenticates the request's session cookie as a bearer token.
func (s *server) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, false
	}
	probe := r.Clone(r.Context())
	probe.Header = http.Header{"Authorization": {"Bearer " + c.Value}}
	p, err := s.Auth.Authenticate(probe)
	if err != nil {
		return session{}, false
	}
	return session{Principal: p, csrf: csrfOf(c.Value)}, true
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, "")
}

func (s *server) renderLogin(w http.ResponseWriter, r *http.Request, code int, msg string) {
	nonce := make([]byte, 18)
	_, _ = rand.Read(nonce)
	tok := base64.RawURLEncoding.EncodeToString(nonce)
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/ui/login", HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	s.render(w, r, code, "login", page{Title: "Sign in", CSRF: tok, Data: loginData{Next: safeNext(r.FormValue("next")), Error: msg}})
}

type loginData struct {
	Next, Error string
}

// safeNext keeps a redirect target on this site's pages.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "/ui//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, "unreadable form")
		return
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostForm.Get("csrf"), c.Value) {
		s.fail(w, r, http.StatusForbidden, "missing or wrong CSRF token: reload the sign-in page and try again")
		return
	}
	p, tok, expiry, err := s.Auth.SignIn(r, r.PostForm.Get("client_id"), r.PostForm.Get("secret"))
	if err != nil {
		msg, code := "wrong client id or secret", http.StatusUnauthorized
		if errors.Is(err, auth.ErrThrottled) {
			msg, code = "too many failed attempts: wait a minute and try again", http.StatusTooManyRequests
			w.Header().Set("Retry-After", "60")
		}
		s.renderLogin(w, r, code, msg)
		return
	}
	// Max-Age rather than Expires: the browser's clock need not agree
	// with this node's.
	maxAge := max(1, int(expiry.Sub(s.Clock.Now()).Seconds()))
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/ui/", MaxAge: maxAge, HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/ui/login", MaxAge: -1, HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteStrictMode})
	s.Logger.Info("web sign-in", "client", p.ClientID, "role", p.Role)
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
}

func (s *server) logout(w http.ResponseWriter, r *http.Request, sess session) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/ui/", MaxAge: -1, HttpOnly: true, Secure: s.Secure, SameSite: http.SameSiteStrictMode})
	s.Logger.Info("web sign-out", "client", sess.ClientID)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}
