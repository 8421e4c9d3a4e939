package cluster

// PidAlive lets the process-level tests tell a running process from one
// that exited (a zombie nobody reaped counts as gone).
var PidAlive = pidAlive
