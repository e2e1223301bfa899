package teamscim_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/scaletest"
	"github.com/teamscim/teamscim/store"
)

// readStore counts, for the cost tests, the transactions a Server opens and the reads that
// can return many records (lists, counts, the users sharing an externalId, a user's groups,
// a group's members, jobs, overage records) with the records they return: every other Tx
// method reads or writes one record by a key.
type readStore struct {
	store.Store
	txs, reads, records atomic.Int64
}

func (s *readStore) wrap(fn func(context.Context, store.Tx) error) func(context.Context, store.Tx) error {
	s.txs.Add(1)
	return func(ctx context.Context, tx store.Tx) error { return fn(ctx, readTx{tx, s}) }
}

func (s *readStore) View(ctx context.Context, teamID string, fn func(context.Context, store.Tx) error) error {
	return s.Store.View(ctx, teamID, s.wrap(fn))
}

func (s *readStore) ViewByKey(ctx context.Context, d [32]byte, check func(store.Access) error, fn func(context.Context, store.Tx) error) error {
	return s.Store.ViewByKey(ctx, d, check, s.wrap(fn))
}

func (s *readStore) Update(ctx context.Context, teamID string, fn func(context.Context, store.Tx) error) error {
	return s.Store.Update(ctx, teamID, s.wrap(fn))
}

type readTx struct {
	store.Tx
	s *readStore
}

func (x readTx) read(n int) { x.s.reads.Add(1); x.s.records.Add(int64(n)) }

func (x readTx) ListUsers(ctx context.Context, f store.UserFilter, o store.ListOptions) (store.Page[store.User], error) {
	p, err := x.Tx.ListUsers(ctx, f, o)
	x.read(len(p.Items))
	return p, err
}

func (x readTx) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	x.read(0)
	return x.Tx.CountUsers(ctx, f)
}

func (x readTx) UsersByExternalID(ctx context.Context, externalID string) ([]store.User, error) {
	us, err := x.Tx.UsersByExternalID(ctx, externalID)
	x.read(len(us))
	return us, err
}

func (x readTx) ListGroups(ctx context.Context, o store.ListOptions) (store.Page[store.Group], error) {
	p, err := x.Tx.ListGroups(ctx, o)
	x.read(len(p.Items))
	return p, err
}

func (x readTx) ListMembers(ctx context.Context, groupID string, o store.ListOptions) (store.Page[string], error) {
	p, err := x.Tx.ListMembers(ctx, groupID, o)
	x.read(len(p.Items))
	return p, err
}

func (x readTx) GroupsOf(ctx context.Context, userID string) ([]string, error) {
	ids, err := x.Tx.GroupsOf(ctx, userID)
	x.read(len(ids))
	return ids, err
}

func (x readTx) ListOverages(ctx context.Context, f store.OverageFilter, o store.ListOptions) (store.Page[store.Overage], error) {
	p, err := x.Tx.ListOverages(ctx, f, o)
	x.read(len(p.Items))
	return p, err
}

func (x readTx) ListJobs(ctx context.Context, userID string) ([]store.Job, error) {
	js, err := x.Tx.ListJobs(ctx, userID)
	x.read(len(js))
	return js, err
}

// requestCost is what one request costs, on average over a run of requests.
type requestCost struct {
	allocs, txs, reads, records float64
}

// TestCostFlatInTeamSize guards the per-request cost of the identity providers' hot requests
// (scaletest.Ops) against growing with the team: in a team of 10,000 and of 100,000 users,
// each request must open the same transactions, make the same many-record reads and get the
// same number of records back from them, and allocate as much (within 10% and 5 allocations,
// for the amortised growth of the store's maps). These costs do not depend on the machine,
// unlike time, which BenchmarkRequest measures.
func TestCostFlatInTeamSize(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a team of 100,000 users")
	}
	costs := map[string][]requestCost{}
	var names []string
	for _, n := range scaletest.Sizes {
		e := newEnv(t)
		seed(t, e, n)
		st := &readStore{Store: e.st}
		srv, err := teamscim.New(teamscim.Config{Store: st})
		require.NoError(t, err)
		mux := http.NewServeMux()
		mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
		for _, op := range scaletest.Ops("/scim/v2", n) {
			for range 4 { // the key's first use is recorded; both states of a toggle are reached
				scaletest.Send(t, mux, e.key, op.Next())
			}
			const runs = 40
			txs, reads, records := st.txs.Load(), st.reads.Load(), st.records.Load()
			allocs := testing.AllocsPerRun(runs, func() { scaletest.Send(t, mux, e.key, op.Next()) })
			per := func(after, before int64) float64 { return float64(after-before) / (runs + 1) }
			if costs[op.Name] == nil {
				names = append(names, op.Name)
			}
			costs[op.Name] = append(costs[op.Name], requestCost{allocs: allocs,
				txs: per(st.txs.Load(), txs), reads: per(st.reads.Load(), reads), records: per(st.records.Load(), records)})
		}
	}
	for _, name := range names {
		small, large := costs[name][0], costs[name][1]
		t.Logf("%-22s users=%d: %+v; users=%d: %+v", name, scaletest.Small, small, scaletest.Large, large)
		assert.Equal(t, small.txs, large.txs, "%s: transactions per request", name)
		assert.Equal(t, small.reads, large.reads, "%s: many-record reads per request", name)
		assert.Equal(t, small.records, large.records, "%s: records those reads return per request", name)
		assert.LessOrEqual(t, large.allocs, small.allocs*1.1+5, "%s: allocations per request at %d users (%v at %d)",
			name, scaletest.Large, small.allocs, scaletest.Small)
	}
}
