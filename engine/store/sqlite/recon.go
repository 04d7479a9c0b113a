package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"sundial/engine/store"
	"sundial/engine/store/internal/objquery"
	"sundial/engine/store/internal/sqlcommon"
)

var _ store.Recons = (*Store)(nil)

// CreateLinks inserts the links in one write transaction.
func (s *Store) CreateLinks(ctx context.Context, links []store.Link) ([]store.CreateLinkResult, error) {
	out := make([]store.CreateLinkResult, len(links))
	err := s.write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO sync_links (id, link_type, link_qualifier, first_id, second_id)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, l := range links {
			if l.ID == "" {
				l.ID = objquery.NewID()
			}
			l.Rev = "1"
			res, err := stmt.ExecContext(ctx, l.ID, l.LinkType, l.LinkQualifier, l.FirstID, l.SecondID)
			if err != nil {
				return err
			}
			out[i] = store.CreateLinkResult{Link: l}
			if n, _ := res.RowsAffected(); n == 0 {
				out[i] = store.CreateLinkResult{Err: store.LinkConflict(l)}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create links: %w", err)
	}
	return out, nil
}

// DeleteLinks removes links by id.
func (s *Store) DeleteLinks(ctx context.Context, ids []string) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		n = 0
		stmt, err := tx.PrepareContext(ctx, `DELETE FROM sync_links WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range ids {
			res, err := stmt.ExecContext(ctx, id)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete links: %w", err)
	}
	return n, nil
}

// QueryLinks streams the matching links.
func (s *Store) QueryLinks(ctx context.Context, p store.QueryLinksParams, fn func(store.Link) error) error {
	where, args := []string{"link_type = ?"}, []any{p.LinkType}
	for _, f := range []struct{ col, val string }{{"link_qualifier", p.LinkQualifier}, {"first_id", p.FirstID}, {"second_id", p.SecondID}} {
		if f.val != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.val)
		}
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT id, link_type, link_qualifier, first_id, second_id FROM sync_links WHERE `+
		strings.Join(where, " AND ")+` ORDER BY id`, args...)
	if err != nil {
		return fmt.Errorf("query links of %s: %w", p.LinkType, err)
	}
	defer rows.Close()
	return sqlcommon.Each(rows, "query links of "+p.LinkType, sqlcommon.ScanLink, fn)
}

// LinksOf streams the links of a qualifier with one of the ids at one end,
// a chunk of ids per statement.
func (s *Store) LinksOf(ctx context.Context, p store.LinksOfParams, fn func(store.Link) error) error {
	col, ids, err := sqlcommon.LinksOfColumn(p)
	if err != nil {
		return err
	}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), sqlcommon.LinksOfChunk)]
		ids = ids[len(chunk):]
		args, in := inList([]any{p.LinkType, p.LinkQualifier}, chunk)
		rows, err := s.query(ctx, `SELECT id, first_id, second_id FROM sync_links
			WHERE link_type = ? AND link_qualifier = ? AND `+col+` IN `+in, args...)
		if err != nil {
			return fmt.Errorf("links of %s/%s: %w", p.LinkType, p.LinkQualifier, err)
		}
		err = sqlcommon.Each(rows, "links", sqlcommon.LinkOfScanner(p), fn)
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// PutReconRun upserts a run's record.
func (s *Store) PutReconRun(ctx context.Context, r store.ReconRun) error {
	var ended sql.NullInt64
	if !r.Ended.IsZero() {
		ended = sql.NullInt64{Int64: micros(r.Ended), Valid: true}
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO recon_runs (id, mapping, state, started, ended, summary) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET mapping = excluded.mapping, state = excluded.state, started = excluded.started,
			ended = excluded.ended, summary = excluded.summary`,
			r.ID, r.Mapping, r.State, micros(r.Started), ended, string(r.Summary))
		return err
	})
	if err != nil {
		return fmt.Errorf("record recon run %s: %w", r.ID, err)
	}
	return nil
}

// ReadReconRun reads a run's record.
func (s *Store) ReadReconRun(ctx context.Context, id string) (store.ReconRun, error) {
	runs, err := s.reconRuns(ctx, "WHERE id = ?", id)
	if err != nil {
		return store.ReconRun{}, fmt.Errorf("read recon run %s: %w", id, err)
	}
	if len(runs) == 0 {
		return store.ReconRun{}, fmt.Errorf("read recon run %s: %w", id, store.ErrNotFound)
	}
	return runs[0], nil
}

// ListReconRuns lists the runs, oldest first.
func (s *Store) ListReconRuns(ctx context.Context) ([]store.ReconRun, error) {
	runs, err := s.reconRuns(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("list recon runs: %w", err)
	}
	return runs, nil
}

func (s *Store) reconRuns(ctx context.Context, where string, args ...any) ([]store.ReconRun, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT id, mapping, state, started, ended, summary FROM recon_runs `+where+` ORDER BY started, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ReconRun
	for rows.Next() {
		var r store.ReconRun
		var started int64
		var ended sql.NullInt64
		var summary string
		if err := rows.Scan(&r.ID, &r.Mapping, &r.State, &started, &ended, &summary); err != nil {
			return nil, err
		}
		r.Started = time.UnixMicro(started).UTC()
		r.Ended = fromMicros(ended)
		r.Summary = []byte(summary)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteReconRuns removes old runs with their entries.
func (s *Store) DeleteReconRuns(ctx context.Context, p store.DeleteReconRunsParams) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM recon_runs WHERE ended IS NOT NULL AND ended < ?
			ORDER BY ended DESC, id DESC LIMIT -1 OFFSET ?`, micros(p.EndedBefore), max(p.KeepNewest, 0))
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `DELETE FROM recon_entries WHERE recon_id = ?`, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM recon_runs WHERE id = ?`, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete recon runs: %w", err)
	}
	return n, nil
}

// entryRows is how many entries one INSERT of AppendReconEntries holds:
// a statement per entry costs about as much as the entry's row.
const entryRows = 64

// AppendReconEntries inserts entries in one write transaction, entryRows
// to a statement.
func (s *Store) AppendReconEntries(ctx context.Context, entries []store.ReconEntry) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var full *sql.Stmt
		defer func() {
			if full != nil {
				full.Close()
			}
		}()
		args := make([]any, 0, 4*entryRows)
		for len(entries) > 0 {
			chunk := entries[:min(len(entries), entryRows)]
			entries = entries[len(chunk):]
			args = args[:0]
			for _, e := range chunk {
				args = append(args, e.ReconID, e.Kind, e.Seq, string(e.Doc))
			}
			q := `INSERT INTO recon_entries (recon_id, kind, seq, doc) VALUES (?, ?, ?, ?)` + strings.Repeat(", (?, ?, ?, ?)", len(chunk)-1)
			var err error
			switch {
			case len(chunk) < entryRows:
				_, err = tx.ExecContext(ctx, q, args...)
			case full == nil:
				if full, err = tx.PrepareContext(ctx, q); err == nil {
					_, err = full.ExecContext(ctx, args...)
				}
			default:
				_, err = full.ExecContext(ctx, args...)
			}
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: an entry of %s/%s from seq %d to %d exists", store.ErrConflict, chunk[0].ReconID, chunk[0].Kind, chunk[0].Seq, chunk[len(chunk)-1].Seq)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append recon entries: %w", err)
	}
	return nil
}

// ReadReconEntries streams a run's entries of one kind.
func (s *Store) ReadReconEntries(ctx context.Context, p store.ReadReconEntriesParams, fn func(store.ReconEntry) error) error {
	rows, err := s.reader.QueryContext(ctx, `SELECT seq, doc FROM recon_entries WHERE recon_id = ? AND kind = ? ORDER BY seq`, p.ReconID, p.Kind)
	if err != nil {
		return fmt.Errorf("read %s entries of recon %s: %w", p.Kind, p.ReconID, err)
	}
	defer rows.Close()
	return sqlcommon.Each(rows, fmt.Sprintf("read %s entries of recon %s", p.Kind, p.ReconID), sqlcommon.ReconEntryScanner(p), fn)
}
