package teamscim_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
)

// The 401 detail shows "<key>" as written, not HTML-escaped into \u003ckey\u003e.
func TestUnauthorizedDetailIsNotHTMLEscaped(t *testing.T) {
	e := newEnv(t)
	res := e.reqAuth(http.MethodGet, "/Users", nil, "Bearer wrong")
	requireSCIMError(t, res, http.StatusUnauthorized, "")
	assert.Contains(t, res.Body.String(), "Authorization: Bearer <key>")
	assert.NotContains(t, res.Body.String(), `\u003c`)
}

// Errors of the team-admin API say "teamscim:" once, however deep the cause.
func TestGoErrorsCarryThePrefixOnce(t *testing.T) {
	srv, err := teamscim.New(teamscim.Config{Store: memstore.New()})
	require.NoError(t, err)
	ctx := context.Background()
	team, err := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "T", Plan: teamscim.PlanEnterprise})
	require.NoError(t, err)
	admin := teamscim.Actor{MemberID: "m", OrgManager: true}
	err = srv.EnableSCIM(ctx, team.ID, admin) // no SSO yet
	require.ErrorIs(t, err, teamscim.ErrSSORequired)
	assert.Equal(t, 1, strings.Count(err.Error(), "teamscim:"), err.Error())
	_, err = srv.GenerateKey(ctx, "no-such-team", admin, teamscim.KeyOptions{Name: "k"})
	require.Error(t, err)
	assert.LessOrEqual(t, strings.Count(err.Error(), "teamscim:"), 1, err.Error())
	_, err = teamscim.New(teamscim.Config{Store: memstore.New(), UserExtensions: []teamscim.Extension{{URN: "not a urn"}}})
	require.Error(t, err)
	assert.Equal(t, 1, strings.Count(err.Error(), "teamscim:"), err.Error())
	err = srv.EnableSCIM(ctx, "no-such-team", admin)
	assert.True(t, errors.Is(err, store.ErrNotFound), "wrapped causes stay visible to errors.Is: %v", err)
	assert.Equal(t, 1, strings.Count(err.Error(), "teamscim:"), err.Error())
}
