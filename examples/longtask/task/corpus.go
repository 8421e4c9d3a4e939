package task

import (
	"sort"
	"strings"
)

// vocabulary is the fixed word list of the generated corpus, most frequent
// first: word i is drawn with weight 1/(i+1) (Zipf's law), so "the" leads
// as in real English text.
var vocabulary = strings.Fields(`
the of and to a in is it you that he was for on are with as his they be
at one have this from or had by hot word but what some we can out other were
all there when up use your how said an each she which do their time if will
way about many then them write would like so these her long make thing see him
two has look more day could go come did number sound no most people my over
know water than call first who may down side been now find any new work part
take get place made live where after back little only round man year came show
every good me give our under name very through just form sentence great think
say help low line differ turn cause much mean before move right boy old too
same tell does set three want air well also play small end put home read hand
port large spell add even land here must big high such follow act why ask men
change went light kind off need house picture try us again animal point mother
world near build self earth father head stand own page should country found
answer school grow study still learn plant cover food sun four between state
keep eye never last let thought city tree cross farm hard start might story saw
far sea draw left late run while press close night real life few north open`)

// cumulative[i] is the total weight of words 0..i; total is the last one.
var cumulative, total = weights()

func weights() ([]uint64, uint64) {
	c := make([]uint64, len(vocabulary))
	var sum uint64
	for i := range vocabulary {
		sum += 1_000_000 / uint64(i+1)
		c[i] = sum
	}
	return c, sum
}

// rng is splitmix64: tiny, fast and the same on every platform and Go
// version, so a seed always gives the same corpus.
type rng struct{ x uint64 }

func (r *rng) next() uint64 {
	r.x += 0x9e3779b97f4a7c15
	z := r.x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Document returns document n of the corpus of seed: 200 to 799 words in
// sentences of 4 to 15 words, each starting with a capital letter and
// ending with a full stop. It depends only on (seed, n), so a producer that
// resumes at document n goes on with exactly the text an unbroken run
// would have produced.
func Document(seed uint64, n int) string {
	r := rng{x: seed*0x2545f4914f6cdd1d ^ uint64(n)*0x9e3779b97f4a7c15}
	words := 200 + int(r.next()%600)
	var b strings.Builder
	b.Grow(words * 6)
	left := 0 // words left in the current sentence
	for i := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		w := vocabulary[pick(r.next()%total)]
		if left == 0 { // a new sentence: capitalize its first word
			left = 4 + int(r.next()%12)
			b.WriteByte(w[0] - 'a' + 'A')
			w = w[1:]
		}
		b.WriteString(w)
		if left--; left == 0 || i == words-1 {
			b.WriteByte('.')
		}
	}
	return b.String()
}

// pick returns the word index whose cumulative weight bucket holds x.
func pick(x uint64) int {
	return sort.Search(len(cumulative), func(i int) bool { return cumulative[i] > x })
}
