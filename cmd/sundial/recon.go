package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"

	"github.com/spf13/cobra"

	"sundial/engine/apiclient"
)

func init() { register(newReconCmd) }

func newReconCmd() *cobra.Command {
	var dryRun bool
	var sourceID string
	cmd := &cobra.Command{
		Use:   "recon [flags] MAPPING",
		Short: "Reconcile a mapping of sync.json on a running daemon, or plan it with --dry-run",
		Long: `Recon asks the running daemon to reconcile MAPPING (POST /openidm/recon?_action=recon,
waiting for the end) and prints the run's summary: its state, the situations found and
the changes made. With --dry-run the daemon computes every situation and the changes it
would make and stores that plan under the run's id, changing nothing else. With --id
only that source object is reconciled (IDM's reconById), without the target phase.`,
		Example: "  sundial recon systemCsvAccounts_managedUser --api-secret-file var/admin.secret\n" +
			"  sundial recon --dry-run -o json systemCsvAccounts_managedUser --api-secret-file var/admin.secret\n" +
			"  sundial recon --id bjensen systemCsvAccounts_managedUser --api-secret-file var/admin.secret",
		Args: exactArgs(1),
	}
	f := addAPIFlags(cmd.Flags())
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "plan the changes and store the plan; change nothing")
	cmd.Flags().StringVar(&sourceID, "id", "", "reconcile only this source object (reconById)")
	cmd.RunE = apiCommand(f, func(ctx context.Context, c *apiclient.Client, args []string, out io.Writer) error {
		q := url.Values{"_action": {"recon"}, "mapping": {args[0]}, "waitForCompletion": {"true"}}
		if dryRun {
			q.Set("dryRun", "true")
		}
		if sourceID != "" {
			q.Set("_action", "reconById")
			q.Set("ids", sourceID)
		}
		resp, err := c.Post(ctx, "/openidm/recon", q, nil)
		if err != nil {
			return err
		}
		var started struct {
			ID string `json:"_id"`
		}
		if err := json.Unmarshal(resp.Body, &started); err != nil || started.ID == "" {
			return fmt.Errorf("recon %s: unexpected answer %s", args[0], resp.Body)
		}
		resp, err = c.Get(ctx, "/openidm/recon/"+url.PathEscape(started.ID), nil)
		if err != nil {
			return err
		}
		if f.output == "json" {
			return writeAnswer(out, resp.Body)
		}
		return writeReconSummary(out, resp.Body)
	})
	return cmd
}

// writeReconSummary prints a run's summary as a few lines.
func writeReconSummary(out io.Writer, body []byte) error {
	var s struct {
		ID         string         `json:"_id"`
		Mapping    string         `json:"mapping"`
		State      string         `json:"state"`
		DryRun     bool           `json:"dryRun"`
		Duration   int64          `json:"duration"`
		Situations map[string]int `json:"situationSummary"`
		Status     map[string]int `json:"statusSummary"`
		Changes    map[string]int `json:"changes"`
		Error      string         `json:"error"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("unexpected summary %s: %w", body, err)
	}
	kind := "reconciliation"
	if s.DryRun {
		kind = "dry run (plan stored under its id)"
	}
	fmt.Fprintf(out, "%s %s of %s: %s in %d ms\n", kind, s.ID, s.Mapping, s.State, s.Duration)
	if s.Error != "" {
		fmt.Fprintf(out, "error: %s\n", s.Error)
	}
	names := make([]string, 0, len(s.Situations))
	for k, n := range s.Situations {
		if n > 0 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(out, "  %-22s %d\n", k, s.Situations[k])
	}
	fmt.Fprintf(out, "changes: created %d, updated %d, deleted %d, linked %d, unlinked %d; entries failed %d\n",
		s.Changes["created"], s.Changes["updated"], s.Changes["deleted"], s.Changes["linked"], s.Changes["unlinked"], s.Status["FAILURE"])
	return nil
}
