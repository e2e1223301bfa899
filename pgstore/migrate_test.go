package pgstore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/internal/pgtest"
	"github.com/teamscim/teamscim/store"
)

// A database at version 1 with users migrates to the current version: existing rows get no
// attributes and their emails are found by UsersByEmail, case-insensitively.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := t.Context()
	pool := pgtest.Pool(t, pgtest.Schema(t))
	ms, err := migrations()
	require.NoError(t, err)
	require.Equal(t, 1, ms[0].version)
	_, err = pool.Exec(ctx, `CREATE TABLE teamscim_migrations (version integer PRIMARY KEY, name text NOT NULL,
		applied timestamptz NOT NULL DEFAULT now())`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, ms[0].sql)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO teamscim_migrations (version, name) VALUES (1, $1)`, ms[0].name)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO teamscim_teams (id, name, plan, sso_methods, scim_enabled, verified_domains,
		domain_capture, jit) VALUES ('team-1', 'T', 'enterprise', '{}', true, '{}', false, false)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO teamscim_users (team_id, id, user_name, user_name_key, external_id,
		given_name, family_name, middle_name, formatted, display_name, locale, emails, active, deleted, managed,
		pending, seat, via_groups, roles, version)
		VALUES ('team-1', 'u1', 'ann@example.com', $1, '', 'Ann', 'Lee', '', '', '', '',
		'[{"value":"Ann.Lee@Example.com","type":"work","primary":true},{"value":"ann@home.example"}]',
		true, false, true, false, true, false, '{developer}', 1)`, userNameKey("ann@example.com"))
	require.NoError(t, err)

	require.NoError(t, Migrate(ctx, pool))
	st := New(pool)
	require.NoError(t, st.View(ctx, "team-1", func(ctx context.Context, tx store.Tx) error {
		u, err := tx.GetUser(ctx, "u1")
		require.NoError(t, err)
		assert.Nil(t, u.Attributes, "existing users have no other attributes")
		for _, email := range []string{"ann.lee@example.com", "ANN@HOME.EXAMPLE"} {
			users, err := tx.UsersByEmail(ctx, email)
			require.NoError(t, err)
			assert.Equal(t, []string{"u1"}, ids(users), email)
		}
		return nil
	}))
}

func ids(users []store.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}
