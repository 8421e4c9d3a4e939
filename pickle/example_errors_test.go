package pickle_test

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/stackless-go/stackless/pickle"
)

// ErrQuota is a sentinel a program tests for with errors.Is.
var ErrQuota = errors.New("quota exceeded")

// LimitError is an error type a program looks for with errors.As.
type LimitError struct{ Limit int }

func (e *LimitError) Error() string { return fmt.Sprintf("over the limit of %d", e.Limit) }

// An error comes back from a save with its message and what errors.Is and
// errors.As look for in its chain: registered sentinels, errors of
// registered types, and the standard library's sentinels.
func ExampleRegistry_RegisterError() {
	reg := pickle.NewRegistry()
	reg.RegisterError("app.quota", ErrQuota)
	if err := pickle.RegisterValue[LimitError](reg, "app.limit"); err != nil {
		panic(err)
	}
	saved := fmt.Errorf("job 7: %w (%w)", ErrQuota, &LimitError{Limit: 10})
	b, err := reg.AppendError(nil, saved)
	if err != nil {
		panic(err)
	}
	back, err := reg.LoadError(b)
	if err != nil {
		panic(err)
	}
	var limit *LimitError
	fmt.Println(back)
	fmt.Println(errors.Is(back, ErrQuota), errors.As(back, &limit), limit.Limit)

	b, _ = reg.AppendError(nil, fmt.Errorf("open config: %w", fs.ErrNotExist))
	back, _ = reg.LoadError(b)
	fmt.Println(errors.Is(back, fs.ErrNotExist))
	// Output:
	// job 7: quota exceeded (over the limit of 10)
	// true true 10
	// true
}
