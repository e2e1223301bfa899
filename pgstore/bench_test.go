package pgstore_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/scaletest"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/pgstore"
	"github.com/teamscim/teamscim/store"
)

// The benchmarks drive a Server's handler with the identity providers' hot requests
// (scaletest.Ops), on pgstore and, for comparison, on memstore, in a team seeded through the
// store (COPY for pgstore) with 10,000 and with 100,000 users.

// benchEnv is a Server on a store, with one ready team seeded with n users.
type benchEnv struct {
	h   http.Handler
	key string
}

func newBenchEnv(b *testing.B, kind string, n int) benchEnv {
	b.Helper()
	ctx := context.Background()
	var st store.Store
	var seed func(teamID string, users []store.User) error
	switch kind {
	case "memstore":
		ms := memstore.New()
		st = ms
		seed = func(teamID string, users []store.User) error {
			return ms.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
				for _, u := range users {
					if err := tx.CreateUser(ctx, u); err != nil {
						return err
					}
				}
				return nil
			})
		}
	case "pgstore":
		pool := pgstore.OpenPool(b, pgstore.NewSchema(b))
		st = pgstore.New(pool)
		seed = func(teamID string, users []store.User) error {
			if err := pgstore.CopyUsers(ctx, pool, teamID, users); err != nil {
				return err
			}
			_, err := pool.Exec(ctx, "ANALYZE")
			return err
		}
	}
	srv, err := teamscim.New(teamscim.Config{Store: st})
	require.NoError(b, err)
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
	teamID, key := readyTeam(b, replica{srv: srv, h: mux}, "Acme")
	require.NoError(b, seed(teamID, scaletest.Users(n)))
	return benchEnv{h: mux, key: key.Secret}
}

// BenchmarkRequest is each hot request on memstore and on pgstore (skipped without a
// database) in a team of 10,000 and of 100,000 users.
func BenchmarkRequest(b *testing.B) {
	for _, kind := range []string{"memstore", "pgstore"} {
		for _, n := range scaletest.Sizes {
			b.Run(fmt.Sprintf("store=%s/users=%d", kind, n), func(b *testing.B) {
				if kind == "pgstore" {
					pgstore.DSN(b)
				}
				e := newBenchEnv(b, kind, n)
				for _, op := range scaletest.Ops("/scim/v2", n) {
					b.Run(op.Name, func(b *testing.B) {
						for b.Loop() {
							scaletest.Send(b, e.h, e.key, op.Next())
						}
					})
				}
			})
		}
	}
}
