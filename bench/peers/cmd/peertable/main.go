// Command peertable reads `go test -bench` output of the peer suite (run
// with -cpu 1,2 and -count N) on stdin and prints, per workload and
// GOMAXPROCS, the median figure of every peer and how far stackless leads
// the best other peer: the table of the README's Benchmarks section.
//
//	go test -p 1 -run '^$' -bench . -cpu 1,2 -count 3 ./... | go run ./cmd/peertable
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// workload says which figure of a benchmark the table shows.
type workload struct {
	name, unit string
	lowerWins  bool
}

var workloads = []workload{
	{"PingPong", "ns/op", true},
	{"FanIn", "Mmsg/s", false},
	{"Spawn", "ns/op", true},
	{"Skynet", "ms", true},
	{"SkynetWarm", "ms", true},
	{"SkynetDepthFirst", "ms", true},
	{"SkynetHugePages", "ms", true},
	{"SkynetWarmHugePages", "ms", true},
	{"IdleActor", "B/actor", true},
}

// peers in the order of the table's columns.
var peers = []string{"stackless", "goroutines", "hollywood", "protoactor"}

// key names one figure: a workload, a peer and a GOMAXPROCS.
type key struct {
	workload, peer string
	procs          int
}

// lineRE matches "BenchmarkX/peer-2   N   v unit   v unit ...". A
// framework that logs while it runs splits that line in two: the name with
// the log line, the figures ("N   v unit ...") on a line of their own, which
// figuresRE matches and which belong to the last name seen.
var (
	lineRE    = regexp.MustCompile(`^Benchmark(\w+)/(\w+)(?:-(\d+))?(?:\s+\d+\s+(\d.*\S))?`)
	figuresRE = regexp.MustCompile(`^\d+\s+(\d.*\S)$`)
)

// parse collects every figure of every run, by key and unit.
func parse(r io.Reader) (map[key]map[string][]float64, error) {
	out := map[key]map[string][]float64{}
	sc := bufio.NewScanner(r)
	var pending []string // a name whose figures have not come yet
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		m := lineRE.FindStringSubmatch(line)
		if m != nil && (m[4] == "" || !strings.Contains(m[4], " ns/op")) {
			pending, m = m, nil // the figures come on a later line
		} else if f := figuresRE.FindStringSubmatch(line); m == nil && f != nil && pending != nil {
			m = slices.Clone(pending)
			m[4], pending = f[1], nil
		}
		if m == nil {
			continue
		}
		pending = nil
		procs := 1
		if m[3] != "" {
			procs, _ = strconv.Atoi(m[3])
		}
		k := key{m[1], m[2], procs}
		f := strings.Fields(m[4])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("benchmark %s/%s: figure %q is not a number: %w", m[1], m[2], f[i], err)
			}
			if out[k] == nil {
				out[k] = map[string][]float64{}
			}
			out[k][f[i+1]] = append(out[k][f[i+1]], v)
		}
	}
	return out, sc.Err()
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func format(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// table renders the medians as a markdown table.
func table(figs map[key]map[string][]float64) string {
	procsSet := map[int]bool{}
	for k := range figs {
		procsSet[k.procs] = true
	}
	var procs []int
	for p := range procsSet {
		procs = append(procs, p)
	}
	sort.Ints(procs)
	var b strings.Builder
	fmt.Fprintf(&b, "| workload | unit | procs | %s | best peer | stackless leads by |\n", strings.Join(peers, " | "))
	fmt.Fprintf(&b, "| --- | --- | --- |%s --- | --- |\n", strings.Repeat(" --- |", len(peers)))
	for _, w := range workloads {
		for _, p := range procs {
			cells := make([]string, len(peers))
			vals := map[string]float64{}
			for i, peer := range peers {
				runs := figs[key{w.name, peer, p}][w.unit]
				if len(runs) == 0 {
					cells[i] = "—"
					continue
				}
				vals[peer] = median(runs)
				cells[i] = format(vals[peer])
			}
			if len(vals) == 0 {
				continue
			}
			best, lead := "—", "—"
			for _, peer := range peers[1:] {
				v, ok := vals[peer]
				if !ok {
					continue
				}
				if b, ok := vals[best]; !ok || (w.lowerWins && v < b) || (!w.lowerWins && v > b) {
					best = peer
				}
			}
			if s, ok := vals["stackless"]; ok && best != "—" && s > 0 && vals[best] > 0 {
				r := vals[best] / s
				if !w.lowerWins {
					r = s / vals[best]
				}
				lead = format(r) + "x"
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s |\n", w.name, w.unit, p, strings.Join(cells, " | "), best, lead)
		}
	}
	return b.String()
}

func main() {
	figs, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "peertable: reading benchmark output: %v\n", err)
		os.Exit(1)
	}
	if len(figs) == 0 {
		fmt.Fprintln(os.Stderr, "peertable: no benchmark lines on stdin; pipe in the output of the peer suite (make bench-peers)")
		os.Exit(1)
	}
	fmt.Print(table(figs))
}
