// Package testwatch stops a test binary that hangs before `go test`'s own
// timeout does, and says where it hangs in a few lines.
//
// `go test`'s timeout prints every goroutine's stack, thousands of lines in
// a package that starts servers and worker pools; a CI log that keeps only
// its tail shows none of the goroutines that matter. Main prints, instead,
// each distinct stack of this module's goroutines once, with how many
// goroutines share it, and repeats the module frames where they block as
// its last lines.
package testwatch
