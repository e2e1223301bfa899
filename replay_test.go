package teamscim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/scimtest"
	"github.com/teamscim/teamscim/store"
)

// TestIdPFlows replays every recorded IdP flow of package scimtest (the files it embeds)
// through the public handler, each on a fresh team: scimtest checks every response, and the
// steps' "state" is checked against the store after every step. The flows' clean-up must then
// leave the team without members or groups.
func TestIdPFlows(t *testing.T) {
	require.NotEmpty(t, scimtest.All)
	for _, f := range scimtest.All {
		t.Run(f.ID(), func(t *testing.T) {
			e := newEnv(t)
			scimtest.Run(t, e.target(t), f)
			assert.Zero(t, e.seatsInUse(), "seats in use after the clean-up")
			assert.Zero(t, e.countVisibleUsers(), "users left after the clean-up")
			assert.Zero(t, e.countGroups(), "groups left after the clean-up")
		})
	}
}

// target is the env's handler as a scimtest target that checks each step's state in the
// store. userNames are emails, as the env's server requires.
func (e *env) target(t *testing.T) scimtest.Target {
	return scimtest.Target{
		Handler: e.h, URL: "http://scim.example.com/scim/v2", Token: e.key, EmailUserNames: true,
		AfterStep: func(_ context.Context, r scimtest.StepResult) error {
			e.assertState(t, r.Step.Name, r.State)
			return nil
		},
	}
}

// stepState is what a flow step's "state" says about the store.
type stepState struct {
	// User names a user by "id" and gives the stored fields to compare: userName, givenName,
	// familyName, externalId, active, deleted, managed, seat, viaGroups.
	User map[string]any `json:"user"`
	// Group names a group by "id" and gives its displayName, externalId, members (ids) or
	// "gone": true once it is deleted.
	Group     map[string]any `json:"group"`
	UserCount *int           `json:"userCount"` // stored users, deleted ones included
	Seats     *int           `json:"seats"`     // seats in use
}

func (e *env) assertState(t *testing.T, step string, raw json.RawMessage) {
	t.Helper()
	if len(raw) == 0 {
		return
	}
	var s stepState
	require.NoError(t, json.Unmarshal(raw, &s), step)
	if s.User != nil {
		assertStoredUser(t, step, e, s.User)
	}
	if s.Group != nil {
		assertStoredGroup(t, step, e, s.Group)
	}
	if s.UserCount != nil {
		assert.Equal(t, *s.UserCount, e.countUsers(), "%s: stored users", step)
	}
	if s.Seats != nil {
		assert.Equal(t, *s.Seats, e.seatsInUse(), "%s: seats in use", step)
	}
}

// assertStoredUser compares the stored user want["id"] with the other fields of want.
func assertStoredUser(t *testing.T, where string, e *env, want map[string]any) {
	t.Helper()
	id, _ := want["id"].(string)
	require.NotEmpty(t, id, where)
	u := e.user(id)
	if attrs, ok := want["attributes"]; ok {
		var stored any
		require.NoError(t, json.Unmarshal(u.Attributes, &stored), where)
		assertSubset(t, where+": stored attributes", attrs, stored)
	}
	got := map[string]any{"userName": u.UserName, "givenName": u.GivenName, "familyName": u.FamilyName,
		"externalId": u.ExternalID, "active": u.Active, "deleted": u.Deleted, "managed": u.Managed,
		"seat": u.Seat, "viaGroups": u.ViaGroups}
	for k, v := range want {
		if k == "id" || k == "attributes" {
			continue
		}
		gv, ok := got[k]
		require.True(t, ok, "%s: unknown stored user field %q", where, k)
		assert.Equal(t, v, gv, "%s: stored %s", where, k)
	}
}

// assertStoredGroup compares the stored group want["id"] with want: its displayName,
// externalId, members (ids), or "gone": true once it is deleted.
func assertStoredGroup(t *testing.T, where string, e *env, want map[string]any) {
	t.Helper()
	id, _ := want["id"].(string)
	require.NotEmpty(t, id, where)
	g, err := e.group(id)
	if gone, _ := want["gone"].(bool); gone {
		assert.ErrorIs(t, err, store.ErrNotFound, "%s: the group must be gone", where)
		return
	}
	require.NoError(t, err, where)
	for k, v := range want {
		switch k {
		case "id":
		case "displayName":
			assert.Equal(t, v, g.DisplayName, "%s: stored displayName", where)
		case "externalId":
			assert.Equal(t, v, g.ExternalID, "%s: stored externalId", where)
		case "members":
			ids := []string{}
			for _, m := range v.([]any) {
				ids = append(ids, m.(string))
			}
			assert.Equal(t, sorted(ids...), e.members(id), "%s: stored members", where)
		default:
			t.Fatalf("%s: unknown stored group field %q", where, k)
		}
	}
}

// countVisibleUsers counts the env team's users that are not deleted.
func (e *env) countVisibleUsers() int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.st.View(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		var err error
		n, err = tx.CountUsers(ctx, store.UserFilter{})
		return err
	}))
	return n
}

// countGroups counts the env team's groups.
func (e *env) countGroups() int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.st.View(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		pg, err := tx.ListGroups(ctx, store.ListOptions{})
		n = pg.Total
		return err
	}))
	return n
}

// assertSubset checks that every key of want is in got with a matching value; lists must
// have the same length and match element by element.
func assertSubset(t *testing.T, where string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !assert.True(t, ok, "%s: want an object, got %v", where, got) {
			return
		}
		for k, v := range w {
			gv, ok := g[k]
			if assert.True(t, ok, "%s: missing %q in %v", where, k, g) {
				assertSubset(t, where+"."+k, v, gv)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !assert.True(t, ok, "%s: want a list, got %v", where, got) || !assert.Len(t, g, len(w), where) {
			return
		}
		for i := range w {
			assertSubset(t, fmt.Sprintf("%s[%d]", where, i), w[i], g[i])
		}
	default:
		assert.Equal(t, want, got, where)
	}
}
