//go:build !race

package cli

// raceBuild: see race_on_test.go.
const raceBuild = false
