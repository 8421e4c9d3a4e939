package p

import (
	"fmt"
	"os"

	"github.com/stackless-go/stackless/channel"
	"github.com/stackless-go/stackless/tasklet"
)

//stackless:tasklet kind=p.x version=1
func X(t *tasklet.Flow, ch channel.ID) error {
	xs := []int{1, 2}
	defer fmt.Println(xs)
	defer fmt.Println([][]int{xs}) // a fresh slice holding xs's array
	f, err := os.Open("x")
	if err != nil {
		return err
	}
	defer f.Close()
	xs[0] = 5
	return t.Send(ch, xs)
}
