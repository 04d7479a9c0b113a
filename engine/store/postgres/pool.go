package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// connPool is a small, bounded pool of pgx connections.
//
// Why not pgxpool: it needs github.com/jackc/puddle/v2 and golang.org/x/sync,
// which go.mod does not list yet. The store only needs acquire and release,
// so this stays deliberately small; swapping in pgxpool.Pool later touches
// only Store.withConn.
type connPool struct {
	cfg *pgx.ConnConfig
	// tokens holds one entry per open connection, bounding them to its
	// capacity.
	tokens chan struct{}
	// idle connections, most recently released last.
	idle chan idleConn

	mu     sync.Mutex // guards closed against release's send to idle
	closed bool
}

type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

// idleCheck: a connection idle for longer is pinged before reuse, so that a
// server restart or a dropped connection shows here rather than in a query.
const idleCheck = 30 * time.Second

var errPoolClosed = errors.New("store is closed")

func newConnPool(cfg *pgx.ConnConfig, max int) *connPool {
	return &connPool{cfg: cfg, tokens: make(chan struct{}, max), idle: make(chan idleConn, max)}
}

// acquire returns an idle connection, or opens one when fewer than max are
// open, or waits for one to be released.
func (p *connPool) acquire(ctx context.Context) (*pgx.Conn, error) {
	for {
		var ic idleConn
		select {
		case ic = <-p.idle:
		default:
			select {
			case ic = <-p.idle:
			case p.tokens <- struct{}{}:
				if p.isClosed() {
					<-p.tokens
					return nil, errPoolClosed
				}
				conn, err := pgx.ConnectConfig(ctx, p.cfg)
				if err != nil {
					<-p.tokens
					return nil, err
				}
				return conn, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if ic.conn.IsClosed() {
			<-p.tokens
			continue
		}
		if time.Since(ic.since) > idleCheck {
			if err := ic.conn.Ping(ctx); err != nil {
				p.discard(ic.conn)
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				continue
			}
		}
		return ic.conn, nil
	}
}

// release returns a connection to the pool, or closes it when it is broken,
// still busy or inside a transaction (a cancelled query can leave it so).
func (p *connPool) release(conn *pgx.Conn) {
	if conn.IsClosed() || conn.PgConn().IsBusy() || conn.PgConn().TxStatus() != 'I' {
		p.discard(conn)
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.discard(conn)
		return
	}
	// Never blocks: idle has room for every open connection.
	p.idle <- idleConn{conn: conn, since: time.Now()}
	p.mu.Unlock()
}

func (p *connPool) discard(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_ = conn.Close(ctx)
	cancel()
	<-p.tokens
}

func (p *connPool) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// close closes idle connections now and the others as they are released.
func (p *connPool) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case ic := <-p.idle:
			p.discard(ic.conn)
		default:
			return
		}
	}
}
