package observe

import (
	"context"

	"github.com/stackless-go/stackless/tasklet"
)

// PageSource is a Source that filters and cuts the tasklets table itself.
// A cluster's workers do it where the tasklets live, so that a page of a
// million-tasklet cluster moves fifty rows, not a million (reading them
// all took 20 s and held off the cluster's checkpoints meanwhile).
type PageSource interface {
	Page(ctx context.Context, q PageQuery) (TaskletPage, error)
}

// PageQuery is what the tasklets table asks for.
type PageQuery struct {
	After         tasklet.ID // only IDs above it (0: from the first): the last row of a page before
	Offset, Limit int        // skip Offset matches (above After), then at most Limit rows
	Text          string     // in the ID, state, op or kind; lower case
	State, Kind   string
	Node          int // -1: every node; one no tasklet has (-2 for a number that does not parse) keeps none
}
