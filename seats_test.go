package teamscim_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/mocks"
	"github.com/teamscim/teamscim/store"
)

func withSeats(p teamscim.SeatPolicy) func(*teamscim.Config) {
	return func(c *teamscim.Config) { c.Seats = p }
}

// postUser provisions userName and returns the response.
func (e *env) postUser(userName string) response {
	e.t.Helper()
	return e.req(http.MethodPost, "/Users", map[string]any{
		"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName,
		"name": map[string]any{"givenName": "G", "familyName": "F"}, "active": true})
}

// checkSeats asserts the team's seat invariant: the seats in use are exactly the members
// who hold a seat by the rules (on the team, with a seat-holding role of their own or from
// a group), and the Seat flag of each user says so.
func (e *env) checkSeats() int {
	e.t.Helper()
	holders := 0
	require.NoError(e.t, e.st.View(context.Background(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		users, err := tx.ListUsers(ctx, store.UserFilter{IncludeDeleted: true}, store.ListOptions{})
		if err != nil {
			return err
		}
		for _, u := range users.Items {
			roles := append([]string(nil), u.Roles...)
			groups, err := tx.GroupsOf(ctx, u.ID)
			if err != nil {
				return err
			}
			for _, g := range groups {
				gr, err := tx.GetGroup(ctx, g)
				if err != nil {
					return err
				}
				roles = append(roles, gr.Roles...)
			}
			want := u.Active && !u.Deleted && (contains(roles, teamscim.RoleDeveloper) || contains(roles, teamscim.RoleSuperAdmin))
			assert.Equal(e.t, want, u.Seat, "seat flag of %s (%+v)", u.UserName, u)
			if want {
				holders++
			}
		}
		return nil
	}))
	assert.Equal(e.t, holders, e.seatsInUse(), "seats in use = seat holders")
	return holders
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// R19, R28, R29: a seat limit refuses the create that needs one seat too many, with 403 and
// nothing stored; a deactivation frees a seat; a reactivation needs one like a create.
func TestSeatLimit(t *testing.T) {
	e := newEnv(t, withSeats(teamscim.SeatLimit(3)))
	ids := []string{e.createUser("a@example.com"), e.createUser("b@example.com"), e.createUser("c@example.com")}
	assert.Equal(t, 3, e.seatsInUse())

	res := e.postUser("d@example.com")
	requireSCIMError(t, res, http.StatusForbidden, "")
	assert.Equal(t, "no available seats", res.str("detail"))
	assert.Equal(t, 3, e.countUsers(), "a refused create stores nothing")
	assert.Empty(t, listIDs(t, e.req(http.MethodGet, filterPath(`userName eq "d@example.com"`), nil)))

	// A deactivation frees a seat, which the next create takes.
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+ids[0], deactivateOkta(false)).Code)
	assert.Equal(t, 2, e.seatsInUse())
	d := e.createUser("d@example.com")
	assert.Equal(t, 3, e.seatsInUse())

	// Reactivating needs a seat: refused, the member stays inactive.
	for _, body := range []any{deactivateOkta(true),
		map[string]any{"userName": "a@example.com", "name": map[string]any{"givenName": "G", "familyName": "F"}, "active": true}} {
		method := http.MethodPatch
		if _, put := body.(map[string]any)["userName"]; put {
			method = http.MethodPut
		}
		res = e.req(method, "/Users/"+ids[0], body)
		requireSCIMError(t, res, http.StatusForbidden, "")
		u := e.user(ids[0])
		assert.False(t, u.Active, "%s: a refused reactivation leaves the member inactive", method)
		assert.False(t, u.Seat)
	}

	// DELETE frees the seat too; the re-linking POST needs one.
	require.Equal(t, http.StatusNoContent, e.req(http.MethodDelete, "/Users/"+d, nil).Code)
	assert.Equal(t, 2, e.seatsInUse())
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+ids[0], deactivateOkta(true)).Code)
	assert.True(t, e.user(ids[0]).Seat)
	requireSCIMError(t, e.postUser("d@example.com"), http.StatusForbidden, "")
	assert.True(t, e.user(d).Deleted, "a refused re-link leaves the member hidden")
	e.checkSeats()

	// An idempotent repeat takes nothing.
	require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+ids[1], deactivateOkta(true)).Code)
	assert.Equal(t, 3, e.checkSeats())
}

// C1 with seats: 30 concurrent creates with 5 free seats: exactly 5 succeed, 25 get 403.
func TestConcurrentCreatesAtSeatLimit(t *testing.T) {
	e := newEnv(t, withSeats(teamscim.SeatLimit(7)))
	e.createUser("x@example.com")
	e.createUser("y@example.com")
	const n = 30
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			codes[i] = e.postUser(fmt.Sprintf("user%02d@example.com", i)).Code
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	assert.Equal(t, map[int]int{http.StatusCreated: 5, http.StatusForbidden: 25}, count)
	assert.Equal(t, 7, e.countUsers())
	assert.Equal(t, 7, e.checkSeats())
}

// C6 for seats: a storm of creates, deactivations, reactivations and deletes from 8 goroutines
// leaves seats in use equal to the seat holders, and the overage records consistent with them.
func TestSeatStorm(t *testing.T) {
	for _, policy := range []teamscim.SeatPolicy{teamscim.SeatLimit(10), teamscim.AutoFlex(10)} {
		t.Run(fmt.Sprint(policy), func(t *testing.T) {
			e := newEnv(t, withSeats(policy))
			var mu sync.Mutex
			var ids []string
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 7))
					for i := range 40 {
						mu.Lock()
						var id string
						if len(ids) > 0 {
							id = ids[rng.IntN(len(ids))]
						}
						mu.Unlock()
						switch op := rng.IntN(4); {
						case op == 0 || id == "":
							res := e.postUser(fmt.Sprintf("w%d-%02d@example.com", w, i))
							assert.Contains(t, []int{http.StatusCreated, http.StatusForbidden}, res.Code, res.Body.String())
							if res.Code == http.StatusCreated {
								mu.Lock()
								ids = append(ids, res.str("id"))
								mu.Unlock()
							}
						case op == 1:
							res := e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(false))
							assert.Contains(t, []int{http.StatusOK, http.StatusNotFound}, res.Code, res.Body.String())
						case op == 2:
							res := e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(true))
							assert.Contains(t, []int{http.StatusOK, http.StatusForbidden, http.StatusNotFound}, res.Code, res.Body.String())
						default:
							res := e.req(http.MethodDelete, "/Users/"+id, nil)
							assert.Contains(t, []int{http.StatusNoContent, http.StatusNotFound}, res.Code, res.Body.String())
						}
					}
				})
			}
			wg.Wait()
			inUse := e.checkSeats()
			rep, err := e.srv.SeatReport(t.Context(), e.teamID)
			require.NoError(t, err)
			assert.Equal(t, inUse, rep.InUse)
			assert.Equal(t, max(0, inUse-10), rep.OpenOverage, "open overage seats = seats beyond the licence")
			if fmt.Sprint(policy) == "limit(10)" {
				assert.LessOrEqual(t, inUse, 10)
				assert.Empty(t, rep.Overage)
			}
		})
	}
}

// R20: Auto-Flex and True-up admit beyond the licence and record each extra seat with the time
// it was added; freeing a seat releases the newest one.
func TestOveragePolicies(t *testing.T) {
	for _, c := range []struct {
		policy teamscim.SeatPolicy
		name   string
	}{{teamscim.AutoFlex(2), "autoflex"}, {teamscim.TrueUp(2), "trueup"}} {
		t.Run(c.name, func(t *testing.T) {
			clock := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			e := newEnv(t, withSeats(c.policy), func(cfg *teamscim.Config) {
				cfg.Now = func() time.Time { clock = clock.Add(time.Minute); return clock }
			})
			var ids []string
			for i := range 4 {
				ids = append(ids, e.createUser(fmt.Sprintf("u%d@example.com", i)))
			}
			rep, err := e.srv.SeatReport(t.Context(), e.teamID)
			require.NoError(t, err)
			assert.Equal(t, 2, rep.Licensed)
			assert.Equal(t, 4, rep.InUse)
			assert.Equal(t, 2, rep.OpenOverage)
			require.Len(t, rep.Overage, 2)
			assert.Equal(t, []string{ids[2], ids[3]}, []string{rep.Overage[0].UserID, rep.Overage[1].UserID})
			assert.Equal(t, c.name, rep.Overage[0].Policy)
			assert.True(t, rep.Overage[0].Added.Before(rep.Overage[1].Added), "each overage seat has the time it was added")
			assert.Equal(t, fmt.Sprintf("%s(2)", c.name), rep.Policy)

			require.Equal(t, http.StatusOK, e.req(http.MethodPatch, "/Users/"+ids[0], deactivateOkta(false)).Code)
			rep, err = e.srv.SeatReport(t.Context(), e.teamID)
			require.NoError(t, err)
			assert.Equal(t, 3, rep.InUse)
			assert.Equal(t, 1, rep.OpenOverage)
			assert.True(t, rep.Overage[0].Released.IsZero())
			assert.False(t, rep.Overage[1].Released.IsZero(), "the newest overage seat is released first")
			e.checkSeats()
		})
	}
}

// Unlimited is the default; SeatPolicyFunc adapts a host's own rule.
func TestSeatPolicyFunc(t *testing.T) {
	var seen []teamscim.SeatUsage
	e := newEnv(t, withSeats(teamscim.SeatPolicyFunc(func(ctx context.Context, u teamscim.SeatUsage) (teamscim.SeatDecision, error) {
		seen = append(seen, u)
		if u.InUse >= 1 {
			return teamscim.SeatRefused, nil
		}
		return teamscim.SeatAdmitted, nil
	})))
	e.createUser("a@example.com")
	requireSCIMError(t, e.postUser("b@example.com"), http.StatusForbidden, "")
	require.Len(t, seen, 2)
	assert.Equal(t, 0, seen[0].InUse)
	assert.Equal(t, 1, seen[1].InUse)
	assert.Equal(t, e.teamID, seen[1].Team.ID)

	d := newEnv(t)
	for i := range 5 {
		d.createUser(fmt.Sprintf("u%d@example.com", i))
	}
	rep, err := d.srv.SeatReport(t.Context(), d.teamID)
	require.NoError(t, err)
	assert.Equal(t, teamscim.SeatReport{TeamID: d.teamID, Policy: "unlimited", InUse: 5, Overage: []store.Overage{}}, rep)
}

// A policy error becomes a 500 with the generic detail, and nothing is stored.
func TestSeatPolicyErrorIs500(t *testing.T) {
	ctrl := gomock.NewController(t)
	policy := mocks.NewMockSeatPolicy(ctrl)
	policy.EXPECT().Admit(gomock.Any(), gomock.Any()).Return(teamscim.SeatRefused, errors.New("billing service down: token=sekrit"))
	e := newEnv(t, withSeats(policy))
	res := e.postUser("a@example.com")
	requireSCIMError(t, res, http.StatusInternalServerError, "")
	assert.NotContains(t, res.Body.String(), "billing")
	assert.NotContains(t, res.Body.String(), "sekrit")
	assert.Equal(t, 0, e.countUsers())
	assert.Equal(t, 0, e.seatsInUse())
}

// R42: a support user (admin and/or billing only) takes no seat until a group grants them
// the developer role; the grant is refused without a free seat; leaving the group frees it.
func TestSupportUserSeatThroughGroup(t *testing.T) {
	e := newEnv(t, withSeats(teamscim.SeatLimit(2)))
	admin, err := e.srv.AddMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: "admin@example.com", Roles: []string{teamscim.RoleAdmin}})
	require.NoError(t, err)
	assert.False(t, admin.Seat)
	a := e.createUser("a@example.com")
	gid := e.createGroup("Developers")
	assert.Equal(t, 1, e.seatsInUse())

	addAdmin := patchBody(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": admin.ID}}})
	require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+gid, addAdmin).Code)
	assert.True(t, e.user(admin.ID).Seat, "the group's developer role takes a seat")
	assert.Equal(t, 2, e.checkSeats())

	// Leaving the group frees it; the member stays on the team.
	require.Equal(t, http.StatusNoContent, e.req(http.MethodPatch, "/Groups/"+gid,
		patchBody(map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", admin.ID)})).Code)
	u := e.user(admin.ID)
	assert.False(t, u.Seat)
	assert.True(t, u.Active, "leaving a group never deactivates")
	assert.Equal(t, 1, e.checkSeats())

	// Without a free seat the grant is refused and nothing of the request applies.
	e.createUser("b@example.com")
	res := e.req(http.MethodPatch, "/Groups/"+gid, patchBody(
		map[string]any{"op": "replace", "path": "displayName", "value": "Renamed"},
		map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": a}, {"value": admin.ID}}}))
	requireSCIMError(t, res, http.StatusForbidden, "")
	assert.Equal(t, []string{}, e.members(gid))
	g, _ := e.group(gid)
	assert.Equal(t, "Developers", g.DisplayName)
	assert.Equal(t, 2, e.checkSeats())
}

// Postman lets two support users per team go without a seat; a third takes one.
func TestSupportUserCap(t *testing.T) {
	e := newEnv(t, withSeats(teamscim.SeatLimit(2)))
	for i, roles := range [][]string{{teamscim.RoleAdmin}, {teamscim.RoleBilling, teamscim.RoleAdmin}} {
		u, err := e.srv.AddMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: fmt.Sprintf("s%d@example.com", i), Roles: roles})
		require.NoError(t, err)
		assert.False(t, u.Seat, "support user %d takes no seat", i+1)
	}
	third, err := e.srv.AddMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: "s3@example.com", Roles: []string{teamscim.RoleBilling}})
	require.NoError(t, err)
	assert.True(t, third.Seat, "a third support user takes a seat")
	// An admin who also develops holds a seat and is no support user; made admin-only, they
	// are a support user beyond the two and keep their seat.
	dev, err := e.srv.AddMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: "s4@example.com", Roles: []string{teamscim.RoleAdmin, teamscim.RoleDeveloper}})
	require.NoError(t, err)
	assert.True(t, dev.Seat)
	require.NoError(t, e.srv.SetMemberRoles(t.Context(), e.teamID, e.admin, dev.ID, []string{teamscim.RoleAdmin}))
	assert.True(t, e.user(dev.ID).Seat)
	// With both seats taken, a fourth support user is refused like any seat.
	_, err = e.srv.AddMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: "s5@example.com", Roles: []string{teamscim.RoleAdmin}})
	assert.ErrorIs(t, err, teamscim.ErrNoSeat)
	assert.Equal(t, 2, e.seatsInUse())
}

// SetMemberRoles takes and frees seats like any other change.
func TestSetMemberRolesSeats(t *testing.T) {
	e := newEnv(t, withSeats(teamscim.SeatLimit(1)))
	billing, err := e.srv.AddMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: "b@example.com", Roles: []string{teamscim.RoleBilling}})
	require.NoError(t, err)
	dev := e.createUser("d@example.com")
	assert.ErrorIs(t, e.srv.SetMemberRoles(t.Context(), e.teamID, e.admin, billing.ID, []string{teamscim.RoleSuperAdmin}), teamscim.ErrNoSeat)
	assert.False(t, e.user(billing.ID).Seat)
	require.NoError(t, e.srv.SetMemberRoles(t.Context(), e.teamID, e.admin, dev, []string{teamscim.RoleAdmin}))
	require.NoError(t, e.srv.SetMemberRoles(t.Context(), e.teamID, e.admin, billing.ID, []string{teamscim.RoleSuperAdmin}))
	assert.Equal(t, []string{teamscim.RoleSuperAdmin}, e.user(billing.ID).Roles)
	assert.Equal(t, 1, e.checkSeats())
	_, err = e.srv.AddMember(t.Context(), e.teamID, e.admin, teamscim.Member{Email: "x@example.com"})
	assert.ErrorIs(t, err, teamscim.ErrNoSeat, "a host's AddMember needs a seat too")
}

// C5: 10 concurrent deactivations of one member all answer 200; the seat is freed once and one
// de-provisioned event is recorded.
func TestConcurrentDeactivationsOfOneMember(t *testing.T) {
	e, rec := newEnvEvents(t, withSeats(teamscim.AutoFlex(1)))
	e.createUser("first@example.com")
	u := e.createUser("dana@example.com")
	rec.take()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			res := e.req(http.MethodPatch, "/Users/"+u, deactivateOkta(false))
			assert.Equal(t, http.StatusOK, res.Code, res.Body.String())
		})
	}
	wg.Wait()
	assert.Equal(t, []string{"scim.user.deprovisioned " + u}, summary(rec.take()))
	assert.Equal(t, 1, e.checkSeats())
	rep, err := e.srv.SeatReport(t.Context(), e.teamID)
	require.NoError(t, err)
	require.Len(t, rep.Overage, 1)
	assert.Equal(t, 0, rep.OpenOverage, "the overage seat is released once")
}

// C6: 1,000 random operations (create, deactivate, reactivate, group add, group remove) from 8
// goroutines; afterwards seats in use equal the seat holders, every group member is an active,
// provisioned member of the team, and no membership is stored twice.
func TestRandomOperationsKeepInvariants(t *testing.T) {
	e := newEnv(t, withSeats(teamscim.SeatLimit(40)))
	groups := []string{e.createGroup("A"), e.createGroup("B"), e.createGroup("C")}
	var mu sync.Mutex
	var ids []string
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for i := range 125 {
				mu.Lock()
				id := ""
				if len(ids) > 0 {
					id = ids[rng.IntN(len(ids))]
				}
				mu.Unlock()
				g := groups[rng.IntN(len(groups))]
				ok := []int{http.StatusOK, http.StatusNoContent, http.StatusBadRequest, http.StatusForbidden}
				var res response
				switch op := rng.IntN(5); {
				case op == 0 || id == "":
					res = e.postUser(fmt.Sprintf("w%d-%03d@example.com", w, i))
					if res.Code == http.StatusCreated {
						mu.Lock()
						ids = append(ids, res.str("id"))
						mu.Unlock()
						continue
					}
				case op == 1:
					res = e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(false))
				case op == 2:
					res = e.req(http.MethodPatch, "/Users/"+id, deactivateOkta(true))
				case op == 3:
					res = e.req(http.MethodPatch, "/Groups/"+g, patchBody(map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": id}}}))
				default:
					res = e.req(http.MethodPatch, "/Groups/"+g, patchBody(map[string]any{"op": "remove", "path": fmt.Sprintf("members[value eq %q]", id)}))
				}
				assert.Contains(t, ok, res.Code, res.Body.String())
			}
		})
	}
	wg.Wait()
	inUse := e.checkSeats()
	assert.LessOrEqual(t, inUse, 40)
	require.NoError(t, e.st.View(t.Context(), e.teamID, func(ctx context.Context, tx store.Tx) error {
		for _, g := range groups {
			members, err := tx.ListMembers(ctx, g, store.ListOptions{})
			require.NoError(t, err)
			seen := map[string]bool{}
			for _, m := range members.Items {
				assert.False(t, seen[m], "member %s stored twice in %s", m, g)
				seen[m] = true
				u, err := tx.GetUser(ctx, m)
				if assert.NoError(t, err, "member %s of %s is no user of the team", m, g) {
					assert.True(t, u.Active && !u.Deleted, "member %s of %s is not active", m, g)
				}
			}
			assert.Equal(t, len(members.Items), members.Total)
		}
		return nil
	}))
}
