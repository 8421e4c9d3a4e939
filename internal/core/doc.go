// Package core holds a tasklet's record: the data the scheduler keeps for
// each tasklet and the methods it uses to keep it.
//
// The record lives here, not in package tasklet, so that tasklet.T, which
// is the record seen from a behavior, shows a behavior author only what is
// theirs. tasklet.T is declared as this record type (type T core.Rec[...]),
// so a *tasklet.T and a *Rec convert into each other at no cost, and the
// scheduler (and package channel) reach the methods below through that
// conversion; being internal, nothing outside this module can.
//
// The type parameters are tasklet's Behavior, Host and Case: they are
// parameters only because this package cannot import tasklet (tasklet
// imports it). IDs, channel IDs and states are stored as their underlying
// integers for the same reason; the scheduler converts.
package core
