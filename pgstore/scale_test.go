package pgstore_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/pgtest"
	"github.com/teamscim/teamscim/internal/scaletest"
	"github.com/teamscim/teamscim/pgstore"
)

// TestCostFlatInTeamSize guards pgstore's per-request cost of the identity providers' hot
// requests (scaletest.Ops) against growing with the team: in a team of 10,000 and of 100,000
// users, each request takes the same round trips, and no statement it sends reads the users
// table sequentially (each is EXPLAINed with its arguments, in the large team after ANALYZE).
// Neither depends on the machine, unlike time, which BenchmarkRequest measures.
func TestCostFlatInTeamSize(t *testing.T) {
	pgstore.DSN(t)
	if testing.Short() {
		t.Skip("seeds a team of 100,000 users")
	}
	ctx := t.Context()
	roundTrips := map[string][]int{}
	var names []string
	for _, n := range scaletest.Sizes {
		schema := pgstore.NewSchema(t)
		var wire pgtest.Wire
		pool := pgtest.WiredPool(t, schema, &wire)
		srv, err := teamscim.New(teamscim.Config{Store: pgstore.New(pool)})
		require.NoError(t, err)
		mux := http.NewServeMux()
		mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
		teamID, key := readyTeam(t, replica{srv: srv, h: mux}, "Acme")
		require.NoError(t, pgstore.CopyUsers(ctx, pool, teamID, scaletest.Users(n)))
		plain := pgstore.OpenPool(t, schema) // EXPLAINs go through a pool of their own
		_, err = plain.Exec(ctx, "ANALYZE")
		require.NoError(t, err)

		for _, op := range scaletest.Ops("/scim/v2", n) {
			for range 2 { // pgx prepares the statements; both states of a toggle are reached
				scaletest.Send(t, mux, key.Secret, op.Next())
				idle(t, pool)
			}
			wire.Reset()
			scaletest.Send(t, mux, key.Secret, op.Next())
			idle(t, pool)
			if roundTrips[op.Name] == nil {
				names = append(names, op.Name)
			}
			roundTrips[op.Name] = append(roundTrips[op.Name], wire.RoundTrips())
			for _, s := range wire.Statements() {
				assertNoSeqScan(t, plain, s, "teamscim_users", "%s at %d users", op.Name, n)
			}
		}
	}
	for _, name := range names {
		t.Logf("%-22s round trips at %v users: %v", name, scaletest.Sizes, roundTrips[name])
		assert.Equal(t, roundTrips[name][0], roundTrips[name][1], "%s: round trips", name)
	}
}

// planNode is a node of a plan EXPLAIN (FORMAT JSON) returns.
type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Plans    []planNode `json:"Plans"`
}

// assertNoSeqScan EXPLAINs s on pool, if s is a query or a write, and fails if its plan reads
// table sequentially.
func assertNoSeqScan(t *testing.T, pool *pgxpool.Pool, s pgtest.Statement, table, what string, args ...any) {
	t.Helper()
	switch verb, _, _ := strings.Cut(strings.TrimSpace(s.SQL), " "); strings.ToUpper(verb) {
	case "SELECT", "WITH", "INSERT", "UPDATE", "DELETE":
	default:
		return // BEGIN, SET TRANSACTION, COMMIT: nothing to plan
	}
	var raw []byte
	require.NoError(t, pool.QueryRow(t.Context(), "EXPLAIN (FORMAT JSON) "+s.SQL, s.Args...).Scan(&raw), s.SQL)
	var plans []struct{ Plan planNode }
	require.NoError(t, json.Unmarshal(raw, &plans))
	var walk func(n planNode) bool
	walk = func(n planNode) bool {
		if n.NodeType == "Seq Scan" && n.Relation == table {
			return true
		}
		for _, c := range n.Plans {
			if walk(c) {
				return true
			}
		}
		return false
	}
	for _, p := range plans {
		if walk(p.Plan) {
			t.Errorf("%s: this statement reads %s sequentially:\n%s\nplan: %s", fmt.Sprintf(what, args...), table, s.SQL, raw)
		}
	}
}
