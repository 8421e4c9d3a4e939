package tasklet

// Effects are how a tasklet does I/O without blocking the scheduler's
// goroutine: the scheduler runs a registered function (fetch a URL, read a
// file, query a database) on a pool of goroutines it owns while the
// tasklet waits, as it would wait on a channel. The call is plain data (an
// effect name and a request value), so a tasklet waiting on an effect saves,
// restores and re-issues like any other blocked tasklet. Package scheduler
// registers effects and runs them (scheduler.RegisterEffect).

// DoCase is a select case that runs the effect registered as name with
// request req and fires with its response (t.Value) or its error (t.Err).
// In a select with channel cases and a timeout, the first to complete wins
// and the effects of the other cases are cancelled (their context ends).
func DoCase(name string, req any) Case { return Case{Dir: DirDo, Effect: name, Value: req} }

// Do runs the effect registered as name with request req and waits for it;
// the next step reads the response with Value, or the effect's error with
// Err. It is a select of the one case [DoCase], so Chosen is 0 after it.
func (t *T) Do(name string, req any) Op {
	c := [1]Case{DoCase(name, req)}
	t.rec().SetSelect(c[:])
	return Op{kind: OpSelect}
}
