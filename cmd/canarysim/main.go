// Command canarysim benchmarks canary rollback policies on synthetic Istio
// traffic: Flagger-style thresholds, a guide's script, a naive z-test and
// promoter's sequential test, each on exactly the same simulated traffic,
// each driven through promoter's own gate code (internal/gates) with the
// per-tile counts that promoter's Prometheus queries would return.
//
// Usage:
//
//	go run ./cmd/canarysim [-reps 2000] [-quick] [-seed 1] [-alpha 0.05] [-out docs/benchmarks.md]
//
// It prints the tables and, with -out, writes them between the markers
// <!-- canarysim:begin --> and <!-- canarysim:end --> of that file.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

var nan = math.NaN()

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "canarysim: error: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("canarysim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	reps := fs.Int("reps", 2000, "replicates per cell")
	quick := fs.Bool("quick", false, "quick mode: 200 replicates per cell (overrides -reps)")
	seed := fs.Uint64("seed", 1, "random seed")
	alpha := fs.Float64("alpha", 0.05, "alpha of the z-test and the sequential test")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines")
	out := fs.String("out", "", "write the results into this Markdown file between the canarysim markers")
	only := fs.String("scenario", "", "run only scenarios whose name contains this")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *quick {
		*reps = 200
	}
	if *reps < 1 || *workers < 1 {
		return fmt.Errorf("-reps and -workers must be positive")
	}
	var cells []Cell
	for _, sc := range scenarios {
		if *only != "" && !strings.Contains(sc.Name, *only) {
			continue
		}
		for _, rps := range []float64{1, 10, 100} {
			cells = append(cells, Cell{Scenario: sc, RPS: rps})
		}
	}
	pols := policies(*alpha)
	began := time.Now()
	last := time.Now()
	simulate(cells, pols, *reps, *workers, *seed, func(done, total int) {
		if time.Since(last) > 5*time.Second || done == total {
			last = time.Now()
			fmt.Fprintf(stderr, "canarysim: %d/%d replicates\n", done, total)
		}
	})
	elapsed := time.Since(began).Round(time.Second)
	cmd := commandLine(args)
	md := markdown(cells, *reps, *alpha, *seed, cmd, elapsed, *workers)
	fmt.Fprint(stdout, md)
	if *out != "" {
		return writeSection(*out, md)
	}
	return nil
}

// commandLine is the command that reproduces a run.
func commandLine(args []string) string {
	return strings.TrimSpace("go run ./cmd/canarysim " + strings.Join(args, " "))
}

const (
	beginMarker = "<!-- canarysim:begin -->"
	endMarker   = "<!-- canarysim:end -->"
)

// writeSection replaces the text between the markers of path (appending the
// markers when absent), leaving the rest of the file alone.
func writeSection(path, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	body := replaceSection(string(old), section)
	return os.WriteFile(path, []byte(body), 0o644)
}

func replaceSection(doc, section string) string {
	block := beginMarker + "\n" + section + endMarker
	i, j := strings.Index(doc, beginMarker), strings.Index(doc, endMarker)
	if i >= 0 && j > i {
		return doc[:i] + block + doc[j+len(endMarker):]
	}
	if doc != "" && !strings.HasSuffix(doc, "\n") {
		doc += "\n"
	}
	if doc != "" {
		doc += "\n"
	}
	return doc + block + "\n"
}
