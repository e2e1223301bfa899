package pgstore_test

import (
	"testing"

	"github.com/teamscim/teamscim/pgstore"
	"github.com/teamscim/teamscim/store"
	"github.com/teamscim/teamscim/store/storetest"
)

// TestConformance runs the store conformance suite, each subtest in a fresh schema.
func TestConformance(t *testing.T) {
	pgstore.DSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return pgstore.New(pgstore.OpenPool(t, pgstore.NewSchema(t)))
	})
}
