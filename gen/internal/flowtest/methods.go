package flowtest

import (
	"fmt"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

// Sentry is an entity whose behavior is a method: the tasklet holds its
// own copy of the receiver, saved with it.
type Sentry struct {
	Name string
	HP   int
	Log  []string
}

// Watch is a tasklet with a value receiver that calls method flows: one
// with a value receiver handing its copy back, one with a pointer receiver
// read only before its point (the caller's local, addressed implicitly),
// one on a value reached through a pointer, and one of another type.
//
//stackless:tasklet kind=flowtest.methods version=1
func (s Sentry) Watch(t *tasklet.Flow, out channel.ID) error {
	s.HP += 100
	_ = t.Yield()
	var left int
	s, left = s.patrol(t, 3) // where: Watch calls patrol
	healed := s.heal(t, 5)   // where: Watch calls heal
	healed += s.heal(t, 1)
	ps := &Sentry{Name: "p", HP: 2}
	_, far := ps.patrol(t, 2)
	team := Team{Sentries: []Sentry{s, {Name: "b", HP: 7}}}
	total := team.count(t)
	return t.Send(out, fmt.Sprint(s, left, healed, far, total))
}

// patrol works on its own copy and hands it back.
func (s Sentry) patrol(t *tasklet.Flow, n int) (Sentry, int) {
	for i := range n {
		_ = t.Yield() // where: patrol yields
		s.HP -= i
		s.Log = append(s.Log, fmt.Sprint("p", i))
	}
	return s, s.HP
}

// heal writes through its pointer receiver before its only point.
func (s *Sentry) heal(t *tasklet.Flow, by int) int {
	s.HP += by
	_ = t.Yield() // where: heal yields
	return by
}

// Team holds sentries.
type Team struct {
	Sentries []Sentry
}

func (m Team) count(t *tasklet.Flow) int {
	n := 0
	for _, s := range m.Sentries {
		_ = t.Yield()
		n += s.HP
	}
	return n
}
