// Package foreign writes a checkpoint database of the test pipeline, whose
// kinds and values the demos do not know: the database another program
// left where a demo keeps its own. (Not in testworld, which the store's
// own tests import.)
package foreign

import (
	"context"
	"errors"

	"github.com/stackless-go/stackless/internal/testworld"
	"github.com/stackless-go/stackless/scheduler"
	"github.com/stackless-go/stackless/store"
)

// Write makes a database at path holding one generation of the pipeline,
// midway.
func Write(path string) error {
	db, err := store.Open(path)
	if err != nil {
		return err
	}
	s := scheduler.New()
	testworld.Pipeline(s, 50, 2, 3)
	_, err = s.RunBudget(context.Background(), 20, scheduler.Total|scheduler.Soft)
	if err == nil {
		ck := store.NewCheckpointer(db, testworld.Registry())
		err = errors.Join(ck.Checkpoint(s), ck.Close())
	}
	return errors.Join(err, db.Close())
}
