package pgstore_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/pgstore"
)

// Example wires a Server to PostgreSQL the way each replica of a host's identity service
// does at start-up: open a pool, migrate (idempotent; replicas starting together apply each
// migration once), and serve. It needs a database, so it is compiled but not run by go test;
// the package's tests run the same steps against TEAMSCIM_PG_DSN.
func Example() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL")) // e.g. postgres://teamscim@db.internal/teamscim
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
	if err := pgstore.Migrate(ctx, pool); err != nil {
		log.Fatal(err)
	}
	srv, err := teamscim.New(teamscim.Config{Store: pgstore.New(pool)})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}
