package pgstore

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/teamscim/teamscim/internal/pgtest"
	"github.com/teamscim/teamscim/store"
)

// Helpers of the tests of this package and of pgstore_test (a _test.go file of package
// pgstore, so that the exported names reach both): a migrated schema per test, on the
// database pgtest takes from TEAMSCIM_PG_DSN.

// DSN returns the tests' connection string, or skips (fails with CI=true); see pgtest.DSN.
func DSN(t testing.TB) string { return pgtest.DSN(t) }

// connect opens a single connection to the tests' database.
func connect(t testing.TB) *pgx.Conn { return pgtest.Connect(t) }

// NewSchema creates an empty schema, migrates it with Migrate, drops it when the test ends,
// and returns its name.
func NewSchema(t testing.TB) string {
	t.Helper()
	schema := pgtest.Schema(t)
	if err := Migrate(context.Background(), pgtest.Pool(t, schema)); err != nil {
		t.Fatal(err)
	}
	return schema
}

// OpenPool returns a pool whose connections work in schema, closed when the test ends.
func OpenPool(t testing.TB, schema string) *pgxpool.Pool { return pgtest.Pool(t, schema) }

// CopyUsers writes users into team teamID with COPY, in one statement, as CreateUser would
// have stored them (the count triggers fire for COPY too). It is for seeding benchmarks.
func CopyUsers(ctx context.Context, pool *pgxpool.Pool, teamID string, users []store.User) error {
	cols := []string{"team_id", "user_name_key", "external_id_key", "id", "user_name", "external_id", "given_name",
		"family_name", "middle_name", "formatted", "display_name", "locale", "emails", "active", "deleted", "managed",
		"pending", "seat", "via_groups", "roles", "created", "last_modified", "version", "attributes", "email_keys"}
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"teamscim_users"}, cols, pgx.CopyFromSlice(len(users), func(i int) ([]any, error) {
		u := users[i]
		return []any{teamID, userNameKey(u.UserName), externalIDKey(u.ExternalID), u.ID, u.UserName, u.ExternalID,
			u.GivenName, u.FamilyName, u.MiddleName, u.Formatted, u.DisplayName, u.Locale, toEmails(u.Emails),
			u.Active, u.Deleted, u.Managed, u.Pending, u.Seat, u.ViaGroups, strs(u.Roles), ts(u.Created),
			ts(u.LastModified), u.Version, toAttributes(u.Attributes), emailKeys(u.Emails)}, nil
	}))
	return err
}
