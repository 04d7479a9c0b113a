// Command crontable runs the cron benchmarks of package cronbench and prints
// them as one table: Parse and chained Next for Sundial, robfig/cron/v3 and
// gorhill/cronexpr on the shared workloads, each figure the median of three
// runs, with Sundial's speed-up over robfig/cron/v3.
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

func median(f func() testing.BenchmarkResult) figure {
	var ns []float64
	var allocs int64
	for i := 0; i < runs; i++ {
		r := f()
		ns = append(ns, float64(r.T.Nanoseconds())/float64(r.N))
		allocs = r.AllocsPerOp()
	}
	sort.Float64s(ns)
	return figure{ns[len(ns)/2], allocs}
}

func (f figure) String() string {
	if f.ns == 0 {
		return "n/a (syntax)"
	}
	return fmt.Sprintf("%.0f ns, %d allocs", f.ns, f.allocs)
}

func main() {
	testing.Init()
	_ = flag.Set("test.benchtime", "200ms")
	flag.Parse()

	engines := cronbench.Engines()
	var ratios []float64
	var parseMax float64
	for _, kind := range []string{"Next (chained)", "Parse"} {
		fmt.Printf("\n### %s, median of %d runs\n\n", kind, runs)
		head := []string{"workload"}
		for _, en := range engines {
			head = append(head, en.Name)
		}
		if kind != "Parse" {
			head = append(head, "sundial vs robfig")
		}
		fmt.Println("| " + strings.Join(head, " | ") + " |")
		fmt.Println("|" + strings.Repeat("---|", len(head)))
		for _, w := range cronbench.Workloads() {
			row := []string{w.Name}
			var figs []figure
			for _, en := range engines {
				var fig figure
				if spec := en.Spec(w); spec != "" {
					if kind == "Parse" {
						fig = median(func() testing.BenchmarkResult {
							return testing.Benchmark(func(b *testing.B) { cronbench.BenchParse(b, en, spec) })
						})
					} else {
						fig = median(func() testing.BenchmarkResult {
							return testing.Benchmark(func(b *testing.B) { cronbench.BenchNext(b, en, w) })
						})
					}
				}
				figs = append(figs, fig)
				row = append(row, fig.String())
			}
			if kind == "Parse" {
				parseMax = max(parseMax, figs[0].ns)
			} else if figs[1].ns > 0 {
				r := figs[1].ns / figs[0].ns
				ratios = append(ratios, r)
				row = append(row, fmt.Sprintf("%.1f×", r))
			} else {
				row = append(row, "robfig lacks the syntax")
			}
			fmt.Println("| " + strings.Join(row, " | ") + " |")
		}
	}
	sort.Float64s(ratios)
	med := ratios[len(ratios)/2]
	if len(ratios)%2 == 0 {
		med = (ratios[len(ratios)/2-1] + ratios[len(ratios)/2]) / 2
	}
	fmt.Printf("\nNext: sundial is %.1f× faster than robfig/cron/v3 (median over the %d workloads both support; target ≥ 3×)\n", med, len(ratios))
	fmt.Printf("Parse: slowest sundial parse %.0f ns (target < 2000 ns)\n", parseMax)
	if med < 3 || parseMax >= 2000 {
		fmt.Println("TARGET MISSED")
		os.Exit(1)
	}
}
