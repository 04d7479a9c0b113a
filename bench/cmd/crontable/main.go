// Command crontable runs the cron benchmarks of package cronbench and prints
// them as one table: chained Next and Parse for Sundial, robfig/cron/v3 and
// gorhill/cronexpr on the shared workloads in UTC and America/New_York, each
// figure the median of three runs taken in turn. Before timing, every engine's answers are
// checked against the truth; a peer that answers a workload wrong is marked
// so, listed below the table, and left out of the speed comparison.
//
// It exits with status 1 when Sundial misses a target: Next no slower than
// the fastest right peer on every workload ("every second" within 1.2× of
// robfig/cron/v3) with no allocation, a median speed-up of at least 3× over
// robfig/cron/v3, and every Parse under 2 µs.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"sundial/bench/cronbench"
)

const runs = 3

type figure struct {
	ns     float64
	allocs int64
}

// medians runs each benchmark runs times, taking turns so that a change in
// the machine's load falls on every engine alike, and returns each one's
// median time and its allocations.
func medians(benches []func(*testing.B)) []figure {
	ns := make([][]float64, len(benches))
	figs := make([]figure, len(benches))
	for range runs {
		for i, bench := range benches {
			r := testing.Benchmark(bench)
			ns[i] = append(ns[i], float64(r.T.Nanoseconds())/float64(r.N))
			figs[i].allocs = r.AllocsPerOp()
		}
	}
	for i := range figs {
		sort.Float64s(ns[i])
		figs[i].ns = ns[i][len(ns[i])/2]
	}
	return figs
}

func (f figure) String() string { return fmt.Sprintf("%.0f ns, %d allocs", f.ns, f.allocs) }

// slack is how much slower than the fastest right peer Sundial may be on a
// workload: not at all, except on "every second", up to 1.2× robfig/cron/v3:
// there every engine does little more than add a second, and Sundial also
// makes sure that no DST transition is near.
func slack(w cronbench.Workload) (peer string, factor float64) {
	if w.Name == "every second" {
		return cronbench.Robfig, 1.2
	}
	return "", 1
}

func main() {
	testing.Init()
	_ = flag.Set("test.benchtime", "200ms")
	flag.Parse()

	engines := cronbench.Engines()
	var missed []string
	var wrongs []string
	var robfigRatios []float64

	fmt.Printf("\n### Next (chained), median of %d runs\n\n", runs)
	head := []string{"workload", "zone"}
	for _, en := range engines {
		head = append(head, en.Name)
	}
	head = append(head, "fastest right peer ÷ sundial")
	fmt.Println("| " + strings.Join(head, " | ") + " |")
	fmt.Println("|" + strings.Repeat("---|", len(head)))
	for _, w := range cronbench.Workloads() {
		row := []string{w.Name, w.Zone()}
		var sundial figure
		best, bestNs, bestName := 0.0, 0.0, ""
		var benches []func(*testing.B)
		for _, en := range engines {
			if en.Spec(w) != "" {
				benches = append(benches, func(b *testing.B) { cronbench.BenchNext(b, en, w) })
			}
		}
		figs := medians(benches)
		for _, en := range engines {
			if en.Spec(w) == "" {
				row = append(row, "n/a (syntax)")
				continue
			}
			wrong, err := cronbench.Wrong(en, w)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			fig := figs[0]
			figs = figs[1:]
			cell := fig.String()
			switch {
			case wrong != "":
				cell += " (wrong answer)"
				why := "not declared in PeerFaults"
				if f, ok := cronbench.FaultOf(en, w); ok {
					why = f.Why
				}
				wrongs = append(wrongs, fmt.Sprintf("- %s on %q in %s: %s (%s)", en.Name, w.Name, w.Zone(), wrong, why))
				if en.Name == cronbench.Sundial {
					missed = append(missed, fmt.Sprintf("sundial answers %q in %s wrong", w.Name, w.Zone()))
				}
			case en.Name == cronbench.Sundial:
				sundial = fig
				if fig.allocs != 0 {
					missed = append(missed, fmt.Sprintf("sundial allocates on %q in %s", w.Name, w.Zone()))
				}
			default:
				limit := fig.ns
				if peer, factor := slack(w); peer == en.Name {
					limit *= factor
				}
				if bestName == "" || limit < best {
					best, bestNs, bestName = limit, fig.ns, en.Name
				}
				if en.Name == cronbench.Robfig {
					robfigRatios = append(robfigRatios, fig.ns/sundial.ns)
				}
			}
			row = append(row, cell)
		}
		switch {
		case sundial.ns == 0:
			row = append(row, "sundial wrong")
		case bestName == "":
			row = append(row, "no right peer")
		default:
			label := fmt.Sprintf("%.2f× (%s)", bestNs/sundial.ns, bestName)
			if peer, factor := slack(w); peer == bestName {
				label = fmt.Sprintf("%.2f× (%s; target ≥ %.2f×)", bestNs/sundial.ns, bestName, 1/factor)
			}
			row = append(row, label)
			if best < sundial.ns {
				missed = append(missed, fmt.Sprintf("sundial is too slow against %s on %q in %s", bestName, w.Name, w.Zone()))
			}
		}
		fmt.Println("| " + strings.Join(row, " | ") + " |")
	}
	if len(wrongs) > 0 {
		fmt.Printf("\nWrong answers (checked against Quartz over the %d fires each Next run covers; not compared for speed):\n\n", cronbench.Chain)
		fmt.Println(strings.Join(wrongs, "\n"))
	}

	fmt.Printf("\n### Parse, median of %d runs\n\n", runs)
	head = []string{"workload", "zone"}
	for _, en := range engines {
		head = append(head, en.Name)
	}
	fmt.Println("| " + strings.Join(head, " | ") + " |")
	fmt.Println("|" + strings.Repeat("---|", len(head)))
	var parseMax float64
	for _, w := range cronbench.Workloads() {
		if w.Zone() != "UTC" && w.Name != "02:30 daily, DST gap" {
			continue // parsing does not depend on the zone
		}
		row := []string{w.Name, "any"}
		var benches []func(*testing.B)
		for _, en := range engines {
			if spec := en.Spec(w); spec != "" {
				benches = append(benches, func(b *testing.B) { cronbench.BenchParse(b, en, spec) })
			}
		}
		figs := medians(benches)
		for _, en := range engines {
			if en.Spec(w) == "" {
				row = append(row, "n/a (syntax)")
				continue
			}
			fig := figs[0]
			figs = figs[1:]
			if en.Name == cronbench.Sundial {
				parseMax = max(parseMax, fig.ns)
			}
			row = append(row, fig.String())
		}
		fmt.Println("| " + strings.Join(row, " | ") + " |")
	}

	sort.Float64s(robfigRatios)
	med := 0.0
	if n := len(robfigRatios); n > 0 {
		med = robfigRatios[n/2]
		if n%2 == 0 {
			med = (robfigRatios[n/2-1] + robfigRatios[n/2]) / 2
		}
	}
	fmt.Printf("\nNext: sundial is %.1f× faster than robfig/cron/v3 (median over the %d workloads robfig answers right; target ≥ 3×)\n", med, len(robfigRatios))
	fmt.Printf("Parse: slowest sundial parse %.0f ns (target < 2000 ns)\n", parseMax)
	if med < 3 {
		missed = append(missed, "median speed-up over robfig/cron/v3 under 3×")
	}
	if parseMax >= 2000 {
		missed = append(missed, "a parse takes 2 µs or more")
	}
	if len(missed) > 0 {
		fmt.Println("TARGET MISSED:\n- " + strings.Join(missed, "\n- "))
		os.Exit(1)
	}
}
