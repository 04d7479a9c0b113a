package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"sundial/engine/store"
	"sundial/engine/store/internal/objquery"
	"sundial/engine/store/internal/sqlcommon"
)

var _ store.Recons = (*Store)(nil)

// CreateLinks inserts the links in one transaction.
func (s *Store) CreateLinks(ctx context.Context, links []store.Link) ([]store.CreateLinkResult, error) {
	out := make([]store.CreateLinkResult, len(links))
	for i := range links {
		if links[i].ID == "" {
			links[i].ID = objquery.NewID()
		}
		links[i].Rev = "1"
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, l := range links {
			b.Queue(`INSERT INTO sync_links (id, link_type, link_qualifier, first_id, second_id)
				VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, l.ID, l.LinkType, l.LinkQualifier, l.FirstID, l.SecondID)
		}
		br := tx.SendBatch(ctx, b)
		for i, l := range links {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			out[i] = store.CreateLinkResult{Link: l}
			if tag.RowsAffected() == 0 {
				out[i] = store.CreateLinkResult{Err: store.LinkConflict(l)}
			}
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("create links: %w", err)
	}
	return out, nil
}

// DeleteLinks removes links by id.
func (s *Store) DeleteLinks(ctx context.Context, ids []string) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM sync_links WHERE id = ANY($1)`, ids)
		n = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete links: %w", err)
	}
	return n, nil
}

// QueryLinks streams the matching links.
func (s *Store) QueryLinks(ctx context.Context, p store.QueryLinksParams, fn func(store.Link) error) error {
	where, args := []string{"link_type = $1"}, []any{p.LinkType}
	for _, f := range []struct{ col, val string }{{"link_qualifier", p.LinkQualifier}, {"first_id", p.FirstID}, {"second_id", p.SecondID}} {
		if f.val != "" {
			args = append(args, f.val)
			where = append(where, fmt.Sprintf("%s = $%d", f.col, len(args)))
		}
	}
	rows, err := s.pool.Query(ctx, `SELECT id, link_type, link_qualifier, first_id, second_id FROM sync_links WHERE `+
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
		rows, err := s.pool.Query(ctx, `SELECT id, first_id, second_id FROM sync_links
			WHERE link_type = $1 AND link_qualifier = $2 AND `+col+` = ANY($3)`, p.LinkType, p.LinkQualifier, chunk)
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
	var ended *time.Time
	if !r.Ended.IsZero() {
		ended = &r.Ended
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO recon_runs (id, mapping, state, started, ended, summary) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
			ON CONFLICT (id) DO UPDATE SET mapping = excluded.mapping, state = excluded.state, started = excluded.started,
			ended = excluded.ended, summary = excluded.summary`,
			r.ID, r.Mapping, r.State, r.Started, ended, string(r.Summary))
		return err
	})
	if err != nil {
		return fmt.Errorf("record recon run %s: %w", r.ID, err)
	}
	return nil
}

// ReadReconRun reads a run's record.
func (s *Store) ReadReconRun(ctx context.Context, id string) (store.ReconRun, error) {
	runs, err := s.reconRuns(ctx, "WHERE id = $1", id)
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
	rows, err := s.pool.Query(ctx, `SELECT id, mapping, state, started, ended, summary::text FROM recon_runs `+where+` ORDER BY started, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ReconRun
	for rows.Next() {
		var r store.ReconRun
		var ended *time.Time
		var summary string
		if err := rows.Scan(&r.ID, &r.Mapping, &r.State, &r.Started, &ended, &summary); err != nil {
			return nil, err
		}
		r.Started = r.Started.UTC()
		if ended != nil {
			r.Ended = ended.UTC()
		}
		r.Summary = []byte(summary)
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteReconRuns removes old runs with their entries.
func (s *Store) DeleteReconRuns(ctx context.Context, p store.DeleteReconRunsParams) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM recon_runs WHERE ended IS NOT NULL AND ended < $1
			ORDER BY ended DESC, id DESC OFFSET $2`, p.EndedBefore, max(p.KeepNewest, 0))
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recon_entries WHERE recon_id = ANY($1)`, ids); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM recon_runs WHERE id = ANY($1)`, ids); err != nil {
			return err
		}
		n = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete recon runs: %w", err)
	}
	return n, nil
}

// AppendReconEntries inserts entries in one transaction.
func (s *Store) AppendReconEntries(ctx context.Context, entries []store.ReconEntry) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows := make([][]any, len(entries))
		for i, e := range entries {
			rows[i] = []any{e.ReconID, e.Kind, e.Seq, string(e.Doc)}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"recon_entries"}, []string{"recon_id", "kind", "seq", "doc"}, pgx.CopyFromRows(rows))
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: %w", store.ErrConflict, err)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("append recon entries: %w", err)
	}
	return nil
}

// ReadReconEntries streams a run's entries of one kind.
func (s *Store) ReadReconEntries(ctx context.Context, p store.ReadReconEntriesParams, fn func(store.ReconEntry) error) error {
	rows, err := s.pool.Query(ctx, `SELECT seq, doc::text FROM recon_entries WHERE recon_id = $1 AND kind = $2 ORDER BY seq`, p.ReconID, p.Kind)
	if err != nil {
		return fmt.Errorf("read %s entries of recon %s: %w", p.Kind, p.ReconID, err)
	}
	defer rows.Close()
	return sqlcommon.Each(rows, fmt.Sprintf("read %s entries of recon %s", p.Kind, p.ReconID), sqlcommon.ReconEntryScanner(p), fn)
}
