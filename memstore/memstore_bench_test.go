package memstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
)

// benchTeam returns a store whose team "t" has n active users with random (UUID) IDs, all
// members of group "g", and the users.
func benchTeam(b *testing.B, n int) (*memstore.Store, []store.User) {
	b.Helper()
	ctx := context.Background()
	s := memstore.New()
	if err := s.CreateTeam(ctx, store.Team{ID: "t"}); err != nil {
		b.Fatal(err)
	}
	users := make([]store.User, n)
	ids := make([]string, n)
	for i := range users {
		ids[i] = uuid.NewString()
		users[i] = store.User{ID: ids[i], UserName: fmt.Sprintf("User%d@Example.com", i), Active: true, Roles: []string{"developer"}}
	}
	err := s.Update(ctx, "t", func(ctx context.Context, tx store.Tx) error {
		for _, u := range users {
			if err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		if err := tx.CreateGroup(ctx, store.Group{ID: "g", DisplayName: "Everyone"}); err != nil {
			return err
		}
		_, err := tx.AddMembers(ctx, "g", ids)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, users
}

var sizes = []int{10_000, 100_000}

// BenchmarkGetUserByUserName is one View with one lookup by userName (in other casing).
// It must not grow with the team.
func BenchmarkGetUserByUserName(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			s, users := benchTeam(b, n)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				name := store.Fold(users[i%n].UserName)
				i++
				err := s.View(ctx, "t", func(ctx context.Context, tx store.Tx) error {
					_, err := tx.GetUserByUserName(ctx, name)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUpdateCreateUser is one Update creating one user with a random ID (so that it
// lands anywhere in the ordered ID list) and adding it to a group holding the whole team.
// It must not grow with the team.
func BenchmarkUpdateCreateUser(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			s, _ := benchTeam(b, n)
			ctx := context.Background()
			ids := make([]string, 0, 1<<16)
			for range cap(ids) {
				ids = append(ids, uuid.NewString())
			}
			i := 0
			for b.Loop() {
				id := ids[i%len(ids)]
				if i >= len(ids) {
					id = uuid.NewString()
				}
				i++
				err := s.Update(ctx, "t", func(ctx context.Context, tx store.Tx) error {
					err := tx.CreateUser(ctx, store.User{ID: id, UserName: id + "@example.com", Active: true, Roles: []string{"developer"}})
					if err != nil {
						return err
					}
					_, err = tx.AddMembers(ctx, "g", []string{id})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkListUsersFirstPage lists the first page of 100 users.
func BenchmarkListUsersFirstPage(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			s, _ := benchTeam(b, n)
			ctx := context.Background()
			for b.Loop() {
				err := s.View(ctx, "t", func(ctx context.Context, tx store.Tx) error {
					_, err := tx.ListUsers(ctx, store.UserFilter{}, store.ListOptions{Limit: 100})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
