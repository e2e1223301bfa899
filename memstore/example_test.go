package memstore_test

import (
	"context"
	"fmt"

	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
)

func ExampleNew() {
	ctx := context.Background()
	s := memstore.New()
	if err := s.CreateTeam(ctx, store.Team{ID: "team-1", Name: "Acme"}); err != nil {
		panic(err)
	}

	err := s.Update(ctx, "team-1", func(ctx context.Context, tx store.Tx) error {
		return tx.CreateUser(ctx, store.User{ID: "user-1", UserName: "Alice@Example.com", Active: true})
	})
	if err != nil {
		panic(err)
	}

	err = s.View(ctx, "team-1", func(ctx context.Context, tx store.Tx) error {
		u, err := tx.GetUserByUserName(ctx, "alice@EXAMPLE.com") // userNames compare case-insensitively
		if err != nil {
			return err
		}
		fmt.Println(u.ID, u.UserName, u.Active)
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output: user-1 Alice@Example.com true
}
