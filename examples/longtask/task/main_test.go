package task_test

import (
	"testing"
	"time"

	"github.com/stackless-go/stackless/internal/testwatch"
)

// A run of these tests hung once in CI until go test's 10-minute timeout,
// whose dump the log cut short; testwatch ends it sooner and says where.
// Sooner, not at 4 minutes: at a load of 47 on 2 cores a run that was
// making progress took longer than that.
func TestMain(m *testing.M) { testwatch.Main(m, 9*time.Minute) }
