package teamscim

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
)

// The typed fast path of a user PATCH gives the user the general path gives, for every
// operation it takes.
func TestPatchTypedMatchesGeneralPath(t *testing.T) {
	s, err := New(Config{Store: memstore.New()})
	require.NoError(t, err)
	old := store.User{ID: "u1", UserName: "ann@example.com", ExternalID: "e", GivenName: "Ann", FamilyName: "Lee",
		MiddleName: "M", Formatted: "Ann Lee", DisplayName: "Ann", Locale: "en", Active: true, Version: 3,
		Attributes: []byte(`{"name":{"honorificPrefix":"Dr."},"title":"T"}`)}
	bare := store.User{ID: "u2", UserName: "bob@example.com", Active: false}
	paths := []string{"active", "userName", "externalId", "displayName", "locale", "name.givenName", "name.familyName",
		"name.middleName", "name.formatted", "ACTIVE", "Name.GivenName", "DisplayName"}
	values := []any{"new@example.com", "", "x", true, false, "True", "false", nil}
	n := 0
	for _, u := range []store.User{old, bare} {
		for _, path := range paths {
			for _, op := range []string{"add", "replace", "remove"} {
				for _, v := range values {
					for _, pathless := range []bool{false, true} {
						o := patchOp{op: op, path: path, value: v, hasValue: v != nil}
						if pathless {
							if op == "remove" {
								continue
							}
							o = patchOp{op: op, value: map[string]any{path: v}, hasValue: true}
						}
						fast, ok, ferr := s.patchTyped(u, []patchOp{o})
						if !ok || ferr != nil {
							continue
						}
						n++
						general, gerr := s.patchGeneral(u, []patchOp{o})
						name := fmt.Sprintf("%s %s %q %v (path-less %v)", u.ID, op, path, v, pathless)
						if !assert.NoError(t, gerr, name) {
							continue
						}
						assert.Equal(t, general, fast, name)
					}
				}
			}
		}
	}
	assert.Greater(t, n, 200, "cases the fast path took")
}
