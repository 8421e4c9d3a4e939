package tasklet

import "strconv"

// A behavior's fields say where it resumes only as numbers (PC), which a
// person debugging a stuck tasklet cannot read. Stackless Python users read
// the source line of each suspended frame; behaviors lowered by stackless
// gen know those lines at generation time, so they answer from their PC
// fields. Asking costs nothing until someone asks: no step records anything.

// Frame is one active frame of a suspended tasklet: the function and the
// source position of the point it is suspended at.
type Frame struct {
	Function string `json:"function"` // package path and name, as runtime.Frame.Function has it
	File     string `json:"file"`     // the source file's base name
	Line     int    `json:"line"`
	Point    string `json:"point"` // what it waits in: "t.Recv", "call of sumN", ... (and " named NAME")
}

// String is "function file:line (point)".
func (f Frame) String() string {
	return f.Function + " " + f.File + ":" + strconv.Itoa(f.Line) + " (" + f.Point + ")"
}

// Framer is a behavior that can say where it is suspended: the behaviors
// stackless gen writes implement it. Where lists the active frames,
// outermost first, and nothing for a tasklet that has not started yet.
// Call it between steps only (the scheduler's goroutine, or a decoded
// copy): it reads the behavior's fields.
type Framer interface {
	Where() []Frame
}
