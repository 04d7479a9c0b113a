package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"sundial/engine/config"
	"sundial/engine/sync"
)

// connectorReports lists the provisioners by name.
func connectorReports(d *config.Desired) []connectorReport {
	out := []connectorReport{}
	for _, p := range d.Provisioners {
		cr := connectorReport{Name: p.Name, File: p.File, Connector: p.ConnectorRef.ConnectorName, Runnable: p.Runnable, ObjectTypes: []string{}}
		for t := range p.ObjectTypes {
			cr.ObjectTypes = append(cr.ObjectTypes, t)
		}
		sort.Strings(cr.ObjectTypes)
		out = append(out, cr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// mappingReports lists the mappings in file order, each with the action
// every situation takes and what runs it: schedules and job tasks that
// reconcile it by name, and liveSync schedules of its source.
func mappingReports(d *config.Desired) []mappingReport {
	runners := mappingRunners(d)
	out := []mappingReport{}
	for _, m := range d.Mappings {
		mr := mappingReport{Name: m.Name, File: m.File, Line: m.Line, Source: m.Source, Target: m.Target,
			Properties: len(m.Properties), Situations: []policyReport{}, ScheduledBy: []string{}}
		for _, sit := range config.Situations {
			mr.Situations = append(mr.Situations, situationPolicy(m, sit))
		}
		mr.ScheduledBy = append(mr.ScheduledBy, runners.recon[m.Name]...)
		if m.EnableSync {
			mr.ScheduledBy = append(mr.ScheduledBy, runners.liveSync[m.Source]...)
		}
		out = append(out, mr)
	}
	return out
}

// situationPolicy is what a situation does under the mapping: the first
// policy naming it, or IDM's default action when none does.
func situationPolicy(m *config.Mapping, situation string) policyReport {
	for _, p := range m.Policies {
		if p.Situation != situation {
			continue
		}
		pr := policyReport{Situation: situation, Action: p.Action, Conditional: !p.Condition.IsZero()}
		if p.ActionScript != nil {
			pr.Action, pr.Conditional = "script", true
		}
		return pr
	}
	return policyReport{Situation: situation, Action: sync.DefaultActions[situation], Default: true}
}

// runners are what invokes the mappings: recon by mapping name, liveSync
// by source.
type runners struct {
	recon, liveSync map[string][]string
}

func mappingRunners(d *config.Desired) runners {
	r := runners{recon: map[string][]string{}, liveSync: map[string][]string{}}
	// Only the sync and provisioner services' contexts are decoded: a
	// directory of many script schedules decodes none.
	add := func(who, service string, ic config.InvokeContext) {
		switch service {
		case "sync":
			if name, ok := ic.Map()["mapping"].(string); ok {
				r.recon[name] = append(r.recon[name], who)
			}
		case "provisioner":
			ctx := ic.Map()
			if src, ok := ctx["source"].(string); ok && ctx["action"] == "liveSync" {
				r.liveSync[src] = append(r.liveSync[src], who+" (liveSync)")
			}
		}
	}
	for _, id := range d.IDs() {
		s := d.Schedules[id]
		if s.Enabled {
			add("schedule "+id, s.InvokeService, s.InvokeContext)
		}
	}
	for _, id := range d.JobIDs() {
		for _, t := range d.Jobs[id].Tasks {
			add("job "+id+" task "+t.ID, t.InvokeService, t.InvokeContext)
		}
	}
	return r
}

// printSync writes the connectors and mappings of the report.
func printSync(w io.Writer, r report) {
	for _, c := range r.Connectors {
		fmt.Fprintf(w, "\nconnector %s  (%s)\n", c.Name, c.File)
		runs := ""
		if !c.Runnable {
			runs = ", not run by Sundial"
		}
		fmt.Fprintf(w, "  %s%s\n", c.Connector, runs)
		for _, t := range c.ObjectTypes {
			fmt.Fprintf(w, "  system/%s/%s\n", c.Name, t)
		}
	}
	for _, m := range r.Mappings {
		fmt.Fprintf(w, "\nmapping %s  (%s:%d)\n", m.Name, m.File, m.Line)
		fmt.Fprintf(w, "  %s -> %s, %s\n", m.Source, m.Target, plural(m.Properties, "property mapping"))
		var set, defaults []string
		for _, p := range m.Situations {
			a := p.Situation + " " + p.Action
			if p.Conditional {
				a += " (conditional)"
			}
			if p.Default {
				defaults = append(defaults, a)
			} else {
				set = append(set, a)
			}
		}
		if len(set) > 0 {
			fmt.Fprintf(w, "  policies: %s\n", strings.Join(set, ", "))
		}
		fmt.Fprintf(w, "  defaults: %s\n", strings.Join(defaults, ", "))
		if len(m.ScheduledBy) == 0 {
			fmt.Fprintln(w, "  run by:   no enabled schedule or job (sundial recon, or POST /openidm/recon)")
		} else {
			fmt.Fprintf(w, "  run by:   %s\n", strings.Join(m.ScheduledBy, ", "))
		}
	}
}
