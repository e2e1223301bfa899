package pgstore_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/internal/pgtest"
	"github.com/teamscim/teamscim/internal/scaletest"
	"github.com/teamscim/teamscim/pgstore"
	"github.com/teamscim/teamscim/store"
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
		w := newWired(t, nil)
		pool, wire, mux, key := w.pool, w.wire, w.h, w.key
		require.NoError(t, pgstore.CopyUsers(ctx, pool, w.teamID, scaletest.Users(n)))
		plain := pgstore.OpenPool(t, w.schema) // EXPLAINs go through a pool of their own
		_, err := plain.Exec(ctx, "ANALYZE")
		require.NoError(t, err)

		for _, op := range scaletest.Ops("/scim/v2", n) {
			for range 2 { // pgx prepares the statements; both states of a toggle are reached
				scaletest.Send(t, mux, key, op.Next())
				idle(t, pool)
			}
			wire.Reset()
			scaletest.Send(t, mux, key, op.Next())
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
		return // BEGIN, COMMIT: nothing to plan
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

// TestPlansMadeOnANewTable guards against plans that PostgreSQL makes while the users table is
// new and nearly empty (no statistics until its first ANALYZE) and keeps in the connection's
// prepared statements: the hot requests run a few times in a team of two users, the team then
// grows to 100,000 users without an ANALYZE, and every query they send is EXPLAINed (ANALYZE,
// BUFFERS) as the connection's own prepared statement, with its cached plan: none may read
// more than a handful of buffers.
func TestPlansMadeOnANewTable(t *testing.T) {
	pgstore.DSN(t)
	if testing.Short() {
		t.Skip("seeds a team of 100,000 users")
	}
	ctx := t.Context()
	n := scaletest.Large
	w := newWired(t, nil)
	pool, wire, mux, key, teamID := w.pool, w.wire, w.h, w.key, w.teamID
	users := scaletest.Users(n)
	addressed := []int{n / 3, n / 2} // the users scaletest.Ops reads and changes
	var first, rest []store.User
	for i, u := range users {
		if slices.Contains(addressed, i) {
			first = append(first, u)
		} else {
			rest = append(rest, u)
		}
	}
	require.NoError(t, pgstore.CopyUsers(ctx, pool, teamID, first))
	ops := scaletest.Ops("/scim/v2", n)
	for _, op := range ops {
		for range 8 { // past the 5 runs after which PostgreSQL may keep a generic plan
			scaletest.Send(t, mux, key, op.Next())
			idle(t, pool)
		}
	}
	require.NoError(t, pgstore.CopyUsers(ctx, pool, teamID, rest))

	for _, op := range ops {
		wire.Reset()
		scaletest.Send(t, mux, key, op.Next())
		idle(t, pool)
		for _, s := range wire.Statements() {
			if verb, _, _ := strings.Cut(strings.TrimSpace(s.SQL), " "); !strings.EqualFold(verb, "SELECT") {
				continue // writes are not run twice; BEGIN has no plan
			}
			blocks := cachedPlanBlocks(t, pool, s)
			assert.LessOrEqual(t, blocks, 20, "%s: with the plan made on a new table, this query reads %d buffers at %d users:\n%s",
				op.Name, blocks, n, s.SQL)
		}
	}
}

// cachedPlanBlocks runs s as the prepared statement pgx made of it on pool's one connection
// (so with the plan PostgreSQL cached for it there), under EXPLAIN (ANALYZE, BUFFERS), and
// returns the buffers it read.
func cachedPlanBlocks(t *testing.T, pool *pgxpool.Pool, s pgtest.Statement) int {
	t.Helper()
	conn, err := pool.Acquire(t.Context())
	require.NoError(t, err)
	defer conn.Release()
	var name string
	require.NoError(t, conn.QueryRow(t.Context(), `SELECT name FROM pg_prepared_statements WHERE statement = $1`, s.SQL).Scan(&name), s.SQL)
	params := make([]string, len(s.Args)) // EXECUTE takes no bind parameters: literals
	for i, a := range s.Args {
		params[i] = literal(t, a)
	}
	var raw []byte
	require.NoError(t, conn.QueryRow(t.Context(), "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE "+name+"("+strings.Join(params, ", ")+")").
		Scan(&raw), s.SQL)
	var plans []struct {
		Plan struct {
			Hit  int `json:"Shared Hit Blocks"`
			Read int `json:"Shared Read Blocks"`
		}
	}
	require.NoError(t, json.Unmarshal(raw, &plans))
	blocks := 0
	for _, p := range plans {
		blocks += p.Plan.Hit + p.Plan.Read
	}
	return blocks
}

// literal is a as an SQL literal, for the argument types of pgstore's queries.
func literal(t *testing.T, a any) string {
	t.Helper()
	switch v := a.(type) {
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case []byte:
		return fmt.Sprintf(`'\x%x'`, v)
	case bool, int, int64:
		return fmt.Sprint(v)
	case *bool:
		if v == nil {
			return "NULL"
		}
		return fmt.Sprint(*v)
	case *int64:
		if v == nil {
			return "NULL"
		}
		return fmt.Sprint(*v)
	}
	t.Fatalf("no literal for %T", a)
	return ""
}
