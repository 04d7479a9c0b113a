package daemon

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"

	"sundial/engine/auth"
	"sundial/engine/config"
)

// newAuthenticator makes the REST API's authenticator. Its token signing
// key is the cluster's, kept in the store, so that a token from one node
// works on all; without a store it is random, valid for this process.
func (d *Daemon) newAuthenticator(ctx context.Context) error {
	var key []byte
	if d.opts.DB != nil {
		var err error
		if key, err = d.opts.DB.SigningKey(ctx); err != nil {
			return fmt.Errorf("read the token signing key from the store: %w", err)
		}
	} else {
		key = make([]byte, auth.MinSigningKeyLen)
		_, _ = rand.Read(key)
	}
	a, err := auth.New(auth.Params{SigningKey: key, TokenLifetime: d.opts.TokenLifetime, Clock: d.opts.Clock, Logger: d.log})
	if err != nil {
		return fmt.Errorf("set up the API authentication: %w", err)
	}
	d.auth = a
	return nil
}

// setClients gives the authenticator the clients of the snapshot's
// access.json; while it defines none, the one client is openidm-admin
// with the secret of Options.DataDir's admin.secret (made on the first
// start), and the log says where it is. The bootstrap admin is read once
// while it stays the client, not again at every reload (a read verifies
// its secret: an argon2id hash).
func (d *Daemon) setClients(ctx context.Context, next *config.Desired) {
	if d.auth == nil {
		return
	}
	if len(next.Clients) > 0 {
		if d.bootstrapped {
			d.log.LogAttrs(ctx, slog.LevelInfo, "api clients from the access file replace the bootstrap admin", slog.Int("clients", len(next.Clients)))
			d.bootstrapped = false
		}
		d.auth.SetClients(next.Clients)
		return
	}
	if d.opts.DataDir == "" {
		d.auth.SetClients(nil)
		if !d.warnedNoClients {
			d.log.LogAttrs(ctx, slog.LevelInfo, "the REST API has no client: define them in access.json (sundial hash-secret makes the secret hashes)")
			d.warnedNoClients = true
		}
		return
	}
	if d.bootstrapped {
		return // the authenticator has the bootstrap admin already
	}
	b, err := auth.Bootstrap(d.opts.DataDir, d.baseURL())
	if err != nil {
		d.auth.SetClients(nil)
		d.log.LogAttrs(ctx, slog.LevelError, "the REST API has no client: the bootstrap admin's secret could not be made or read", slog.Any("error", err))
		return
	}
	d.auth.SetClients([]config.Client{b.Client})
	msg := "api client openidm-admin: its secret is in the file; access.json replaces it"
	if b.Created {
		msg = "api client openidm-admin created with a random secret, written to the file; access.json replaces it"
	}
	d.log.LogAttrs(ctx, slog.LevelInfo, msg, slog.String("file", b.SecretFile), slog.String("try", b.Curl))
	d.bootstrapped = true
}

// baseURL is the API's address for the bootstrap's curl line.
func (d *Daemon) baseURL() string {
	scheme := "http"
	if d.opts.TLSCertFile != "" {
		scheme = "https"
	}
	if d.listener == nil {
		return scheme + "://" + d.opts.Listen
	}
	return scheme + "://" + d.listener.Addr().String()
}
