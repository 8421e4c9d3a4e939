// Package lockholder names the process that holds a file lock, so that "the
// file is locked by another process" can say which: "PID 1234 (stackless
// demo longtask)". It reads the kernel's table of locks, so it is a best
// effort for error messages only: on another system, or when the table
// cannot be read, it names nobody.
package lockholder
