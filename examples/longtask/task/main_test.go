package task_test

import (
	"testing"
	"time"

	"github.com/stackless-go/stackless/internal/testwatch"
)

// A run of these tests hung once in CI until go test's 10-minute timeout,
// whose dump the log cut short; testwatch ends it sooner and says where.
func TestMain(m *testing.M) { testwatch.Main(m, 4*time.Minute) }
