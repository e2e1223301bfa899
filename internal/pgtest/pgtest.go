// Package pgtest gives tests a PostgreSQL database to work in: the connection string comes
// from the environment variable TEAMSCIM_PG_DSN, and each test gets a schema of its own,
// dropped when it ends, so that tests start from an empty database and can run in parallel.
//
// Without TEAMSCIM_PG_DSN a test that asks for the database is skipped, with a message that
// says how to run it; when CI=true it fails instead, so that CI cannot pass without having
// run the PostgreSQL tests. It is a package of its own (rather than test files of pgstore)
// so that the example server's tests use the same rules.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvDSN names the environment variable that holds the connection string of the database
// the tests use, for example postgres://postgres@/postgres?host=/tmp&port=55432. The tests
// create and drop schemas in it.
const EnvDSN = "TEAMSCIM_PG_DSN"

// timeout bounds connecting and the statements this package runs.
const timeout = 30 * time.Second

// DSN returns the tests' connection string. Without one it skips the test, with a message
// that says how to run it; with CI=true it fails the test instead.
func DSN(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	const how = EnvDSN + " is not set. To run the PostgreSQL tests, point it at a database in which the tests " +
		"may create schemas, for example\n" +
		"  " + EnvDSN + "='postgres://postgres@127.0.0.1:5432/postgres' go test ./pgstore/... ./examples/server/\n" +
		"(README.md, section PostgreSQL, shows how to start a throwaway server; .ci/run does it)"
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true, and " + how)
	}
	t.Skip(how)
	return ""
}

// Connect opens one connection to the tests' database. The caller closes it.
func Connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, DSN(t))
	if err != nil {
		t.Fatalf("pgtest: connect to the database of %s: %v", EnvDSN, err)
	}
	return conn
}

// Schema creates an empty schema, drops it (with everything in it) when the test ends, and
// returns its name.
func Schema(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "teamscim_test_" + hex.EncodeToString(b)
	exec(t, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { exec(t, "DROP SCHEMA "+schema+" CASCADE") })
	return schema
}

func exec(t testing.TB, sql string) {
	t.Helper()
	conn := Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Errorf("pgtest: %s: %v", sql, err)
	}
}

// URL returns the tests' connection string with search_path set to schema, for code that
// takes a connection string (pgx passes unknown URL parameters on as run-time parameters).
func URL(t testing.TB, schema string) string {
	t.Helper()
	u, err := url.Parse(DSN(t))
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s must be a postgres:// URL for this test", EnvDSN)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Pool returns a pool on the tests' database whose connections work in schema. It is closed
// when the test ends.
func Pool(t testing.TB, schema string) *pgxpool.Pool {
	t.Helper()
	return pool(t, schema)
}

// pool returns a pool on the tests' database whose connections work in schema, configured
// further by configure, and closes it when the test ends.
func pool(t testing.TB, schema string, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(DSN(t))
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvDSN, err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	// A warning from the server is a mistake of the store's (a SET TRANSACTION outside a
	// transaction block, for one, which PostgreSQL then ignores): the test fails on it.
	var mu sync.Mutex
	var warnings []string
	cfg.ConnConfig.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		if n.Severity == "WARNING" {
			mu.Lock()
			warnings = append(warnings, n.Message)
			mu.Unlock()
		}
	}
	for _, c := range configure {
		c(cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("pgtest: open a pool: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, w := range warnings {
			t.Errorf("pgtest: PostgreSQL warned: %s", w)
		}
	})
	return pool
}

// Wire records what a pool's connections send to the server: the round trips (the times a
// connection sends something after it has received an answer, or for the first time) and
// the statements. Every message the client writes before it next reads an answer belongs to
// one round trip, so a pipelined batch of statements counts once and a statement that waits
// for its result before the next one is sent counts once each. Round trips are counted at
// the socket (net.Conn), under pgx, so they are what the network sees: statement
// preparation, pings and cancel requests included. Statements are recorded by pgx's tracer.
type Wire struct {
	n          atomic.Int64
	mu         sync.Mutex
	statements []Statement
}

// Statement is a statement sent, with its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// RoundTrips returns the round trips counted since the last Reset.
func (w *Wire) RoundTrips() int { return int(w.n.Load()) }

// Statements returns the statements sent since the last Reset.
func (w *Wire) Statements() []Statement {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.statements)
}

// Reset starts counting and recording from nothing.
func (w *Wire) Reset() {
	w.n.Store(0)
	w.mu.Lock()
	w.statements = nil
	w.mu.Unlock()
}

func (w *Wire) record(sql string, args []any) {
	w.mu.Lock()
	w.statements = append(w.statements, Statement{SQL: sql, Args: slices.Clone(args)})
	w.mu.Unlock()
}

// TraceQueryStart implements pgx.QueryTracer.
func (w *Wire) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	w.record(data.SQL, data.Args)
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (w *Wire) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart implements pgx.BatchTracer.
func (w *Wire) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

// TraceBatchQuery implements pgx.BatchTracer.
func (w *Wire) TraceBatchQuery(_ context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	w.record(data.SQL, data.Args)
}

// TraceBatchEnd implements pgx.BatchTracer.
func (w *Wire) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// countingConn is a connection that counts its round trips in w.
type countingConn struct {
	net.Conn
	w *Wire
	// awaiting is set by a write and cleared when an answer arrives: a write while it is
	// clear starts a round trip.
	awaiting atomic.Bool
}

func (c *countingConn) Write(b []byte) (int, error) {
	if !c.awaiting.Swap(true) {
		c.w.n.Add(1)
	}
	return c.Conn.Write(b)
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.awaiting.Store(false)
	}
	return n, err
}

// WiredPool returns a pool like Pool whose connections record what they send in w. So that
// a count depends only on what the code under test sends, the pool has one connection (whose
// prepared statements warm up once), and never pings it when it hands it out (pgxpool pings
// a connection that has been idle for a second by default).
func WiredPool(t testing.TB, schema string, w *Wire) *pgxpool.Pool {
	t.Helper()
	return pool(t, schema, func(cfg *pgxpool.Config) {
		dial := cfg.ConnConfig.DialFunc
		cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, w: w}, nil
		}
		cfg.ConnConfig.Tracer = w
		cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
		cfg.MaxConns = 1
	})
}
