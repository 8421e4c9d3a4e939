package task

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
)

// TopN is how many of the most frequent words a Result lists.
const TopN = 5

// WordCount is a word and how often it occurs.
type WordCount struct {
	Word  string `json:"word"`
	Count int    `json:"count"`
}

// Result is the outcome of a finished run.
type Result struct {
	Docs     int         `json:"docs"`
	Words    int64       `json:"words"`
	Distinct int         `json:"distinct"`
	Top      []WordCount `json:"top"`
	Checksum string      `json:"checksum"` // FNV-1a 64 of every word count, in word order
	Seed     uint64      `json:"seed"`
	Workers  int         `json:"workers"`
}

// Summarize turns merged counts into a Result. The checksum covers every
// count, so two runs agree on it only if they counted exactly the same.
func Summarize(cfg Config, words int64, counts map[string]int) Result {
	all := make([]WordCount, 0, len(counts))
	for w, c := range counts {
		all = append(all, WordCount{w, c})
	}
	slices.SortFunc(all, func(a, b WordCount) int { return strings.Compare(a.Word, b.Word) })
	h := fnv.New64a()
	fmt.Fprintf(h, "docs=%d words=%d\n", cfg.Docs, words)
	for _, wc := range all {
		fmt.Fprintf(h, "%s:%d\n", wc.Word, wc.Count)
	}
	slices.SortStableFunc(all, func(a, b WordCount) int { return cmp.Compare(b.Count, a.Count) })
	return Result{
		Docs: cfg.Docs, Words: words, Distinct: len(all), Top: all[:min(TopN, len(all))],
		Checksum: fmt.Sprintf("%016x", h.Sum64()), Seed: cfg.Seed, Workers: cfg.Workers,
	}
}

// String is the result line: docs, words, distinct words, the top words
// with their counts and the checksum.
func (r Result) String() string {
	top := make([]string, len(r.Top))
	for i, wc := range r.Top {
		top[i] = wc.Word + ":" + strconv.Itoa(wc.Count)
	}
	return fmt.Sprintf("result: docs=%d words=%d distinct=%d top=[%s] checksum=%s",
		r.Docs, r.Words, r.Distinct, strings.Join(top, " "), r.Checksum)
}
