package memaccounts_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/loadtest"
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

// Joining and leaving a team, and an email change, are idempotent; an email change onto an
// email another account has moves the team's membership to that account.
func TestMirrorCallsAreIdempotent(t *testing.T) {
	ctx := context.Background()
	s := memaccounts.New()
	ann := s.Add(teamscim.Account{Email: "ann@example.com", Teams: []string{"x"}})
	req := teamscim.AccountRequest{TeamID: "t", Email: "Ann@example.com"}
	for range 2 {
		require.NoError(t, s.AddToTeam(ctx, req))
	}
	a, _ := s.Account("ann@example.com")
	assert.Equal(t, []string{"x", "t"}, a.Teams)
	for range 2 {
		require.NoError(t, s.RemoveFromTeam(ctx, req))
	}
	a, _ = s.Account("ann@example.com")
	assert.Equal(t, []string{"x"}, a.Teams)
	require.NoError(t, s.RemoveFromTeam(ctx, teamscim.AccountRequest{TeamID: "t", Email: "nobody@example.com"}))
	_, ok := s.Account("nobody@example.com")
	assert.False(t, ok, "leaving creates no account")

	require.NoError(t, s.AddToTeam(ctx, req))
	move := teamscim.AccountRequest{TeamID: "t", Email: "ann@new.example", PreviousEmail: "ann@example.com"}
	for range 2 {
		require.NoError(t, s.ChangeEmail(ctx, move))
	}
	_, ok = s.Account("ann@example.com")
	assert.False(t, ok)
	a, ok = s.Account("ANN@new.example")
	require.True(t, ok)
	assert.Equal(t, teamscim.Account{ID: ann.ID, Email: "ann@new.example", Teams: []string{"x", "t"}}, a)

	// Someone else has the new email already: the membership moves to that account.
	bob := s.Add(teamscim.Account{Email: "bob@new.example"})
	require.NoError(t, s.AddToTeam(ctx, teamscim.AccountRequest{TeamID: "t", Email: "bob@example.com"}))
	merge := teamscim.AccountRequest{TeamID: "t", Email: "bob@new.example", PreviousEmail: "bob@example.com"}
	for range 2 {
		require.NoError(t, s.ChangeEmail(ctx, merge))
	}
	b, _ := s.Account("bob@new.example")
	assert.Equal(t, teamscim.Account{ID: bob.ID, Email: "bob@new.example", Teams: []string{"t"}}, b)
	old, _ := s.Account("bob@example.com")
	assert.Empty(t, old.Teams)

	s.RemoveTeam("t")
	for _, a := range s.Accounts() {
		assert.NotContains(t, a.Teams, "t", a.Email)
	}
}

// seed adds n accounts on team "t".
func seed(ctx context.Context, tb testing.TB, s *memaccounts.Service, n int) {
	for i := range n {
		if err := s.CreateAccount(ctx, teamscim.AccountRequest{TeamID: "t", Email: fmt.Sprintf("member-%d@example.com", i)}); err != nil {
			tb.Fatal(err)
		}
	}
}

// cycle is what a member's provisioning costs the service: the lookup and the new account,
// a deactivation and a reactivation, and an email change.
func cycle(ctx context.Context, tb testing.TB, s *memaccounts.Service, i int) {
	req := teamscim.AccountRequest{TeamID: "t", Email: fmt.Sprintf("new-%d@example.com", i)}
	if _, found, err := s.FindAccount(ctx, req.Email); err != nil || found {
		tb.Fatal(found, err)
	}
	move := req
	move.Email, move.PreviousEmail = fmt.Sprintf("new-%d@new.example", i), req.Email
	for _, err := range []error{s.CreateAccount(ctx, req), s.RemoveFromTeam(ctx, req), s.AddToTeam(ctx, req), s.ChangeEmail(ctx, move)} {
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkMemberCycle measures one member's account calls (see cycle) with 1k, 10k and 100k
// accounts on the team. The time per cycle must not grow with the number of accounts.
func BenchmarkMemberCycle(b *testing.B) {
	ctx := context.Background()
	loadtest.BenchTeamSizes(b, "accounts", func(b *testing.B, n int) func(int) {
		s := memaccounts.New()
		seed(ctx, b, s, n)
		return func(i int) { cycle(ctx, b, s, i) }
	})
}

// The service keeps the latest KeptCalls calls, not every one.
func TestCallsAreBounded(t *testing.T) {
	ctx := context.Background()
	s := memaccounts.New()
	for i := range 3*memaccounts.KeptCalls + 7 {
		require.NoError(t, s.AddToTeam(ctx, teamscim.AccountRequest{TeamID: "t", Email: fmt.Sprintf("m%d@example.com", i)}))
	}
	calls := s.Calls()
	require.Len(t, calls, memaccounts.KeptCalls)
	assert.Equal(t, fmt.Sprintf("m%d@example.com", 3*memaccounts.KeptCalls+6), calls[len(calls)-1].Req.Email, "the latest last")
	assert.Equal(t, fmt.Sprintf("m%d@example.com", 2*memaccounts.KeptCalls+7), calls[0].Req.Email)
}
