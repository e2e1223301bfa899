package memaccounts_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memaccounts"
)

// Every call is idempotent, and lookups ignore the email's case.
func TestCallsAreIdempotent(t *testing.T) {
	ctx := context.Background()
	s := memaccounts.New()
	req := teamscim.AccountRequest{TeamID: "t", MemberID: "m", Email: "Ann@Example.com"}
	for range 2 {
		require.NoError(t, s.CreateAccount(ctx, req))
	}
	a, ok, err := s.FindAccount(ctx, "ann@example.COM")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, []string{"t"}, a.Teams)
	assert.Len(t, s.Accounts(), 1)

	other := s.Add(teamscim.Account{Email: "bob@example.com", Teams: []string{"x", "y"}})
	assert.NotEmpty(t, other.ID)
	for range 2 {
		require.NoError(t, s.Consolidate(ctx, teamscim.AccountRequest{TeamID: "t", Email: "bob@example.com"}))
		require.NoError(t, s.SendInvite(ctx, teamscim.AccountRequest{TeamID: "t", Email: "cy@example.com"}))
	}
	b, _ := s.Account("BOB@example.com")
	assert.Equal(t, []string{"t"}, b.Teams)
	assert.True(t, s.Invited("t", "CY@example.com"))
	assert.False(t, s.Invited("u", "cy@example.com"))

	boom := errors.New("down")
	s.FailWith(func(method string, _ teamscim.AccountRequest) error {
		if method == "SendInvite" {
			return boom
		}
		return nil
	})
	assert.ErrorIs(t, s.SendInvite(ctx, teamscim.AccountRequest{TeamID: "t", Email: "dee@example.com"}), boom)
	assert.False(t, s.Invited("t", "dee@example.com"))
	assert.Len(t, s.Calls(), 6, "failed calls are not recorded")
}
