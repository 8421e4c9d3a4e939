package game

// Kind is what an entity is.
type Kind uint8

// Kinds of entity.
const (
	GuardKind Kind = iota
	MonsterKind
	numKinds
)

func (k Kind) String() string {
	if k == GuardKind {
		return "guard"
	}
	return "monster"
}

// State is what an entity is doing: the state of its state machine.
type State uint8

// States. Guards patrol, chase, fight and flee; monsters wander, fight,
// flee and die.
const (
	Patrol State = iota // a guard walks its round of waypoints
	Wander              // a monster roams
	Chase               // a guard runs to a monster it saw or that hit it
	Fight               // trading blows
	Flee                // running away with low health, then resting
	Dead                // a dead monster waiting to be replaced
	numStates
)

var stateNames = [numStates]string{"patrol", "wander", "chase", "fight", "flee", "dead"}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "state?"
}

// statesOf lists the states an entity of kind k can be in, in the order the
// statistics print them.
func statesOf(k Kind) []State {
	if k == GuardKind {
		return []State{Patrol, Chase, Fight, Flee}
	}
	return []State{Wander, Fight, Flee, Dead}
}
