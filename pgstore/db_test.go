package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// This file gives the tests of this package and of pgstore_test their database. It is a
// _test.go file of package pgstore so that the exported helpers reach both.

// EnvDSN names the environment variable that holds the connection string of the PostgreSQL
// database the tests use, for example postgres://postgres@/postgres?host=/tmp&port=55432.
// Each test works in a schema of its own, which it drops when it ends.
const EnvDSN = "TEAMSCIM_PG_DSN"

// DSN returns the tests' connection string. Without one the test is skipped, with a message
// that says how to run it; with CI=true it fails instead, so that CI never passes without
// having run the tests.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn != "" {
		return dsn
	}
	const how = EnvDSN + " is not set. To run the PostgreSQL tests, point it at a database the tests may create " +
		"schemas in, for example:\n" +
		"  " + EnvDSN + "='postgres://postgres@127.0.0.1:5432/postgres' go test ./pgstore/\n" +
		"(.ci/run starts a throwaway cluster and runs them; see README.md, PostgreSQL)"
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true and " + how)
	}
	t.Skip(how)
	return ""
}

// connect opens a single connection to the tests' database.
func connect(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, DSN(t))
	if err != nil {
		t.Fatalf("connect to %s: %v", EnvDSN, err)
	}
	return conn
}

// NewSchema creates an empty schema, migrates it with Migrate, drops it when the test ends,
// and returns its name.
func NewSchema(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "teamscim_test_" + hex.EncodeToString(b)
	conn := connect(t)
	ctx := context.Background()
	_, err := conn.Exec(ctx, "CREATE SCHEMA "+schema)
	conn.Close(ctx)
	if err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn := connect(t)
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	pool := OpenPool(t, schema)
	if err := Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	return schema
}

// OpenPool returns a pool on the tests' database whose connections work in schema. It is
// closed when the test ends.
func OpenPool(t testing.TB, schema string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(DSN(t))
	if err != nil {
		t.Fatalf("%s: %v", EnvDSN, err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}
