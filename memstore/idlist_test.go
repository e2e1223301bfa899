package memstore

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamscim/teamscim/store"
)

// TestIDListAgainstModel checks idList against a sorted slice under random inserts and
// removes, across many block splits.
func TestIDListAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var l idList
	var model []string
	for step := range 6000 {
		id := fmt.Sprintf("%05d", rng.IntN(4000))
		if rng.IntN(3) == 0 {
			i, present := slices.BinarySearch(model, id)
			require.Equal(t, present, l.Remove(id), "step %d: Remove(%s)", step, id)
			if present {
				model = slices.Delete(model, i, i+1)
			}
		} else {
			i, present := slices.BinarySearch(model, id)
			require.Equal(t, !present, l.Insert(id), "step %d: Insert(%s)", step, id)
			if !present {
				model = slices.Insert(model, i, id)
			}
		}
		require.Equal(t, len(model), l.Len())
		if step%500 == 0 {
			require.Equal(t, model, slices.Collect(l.All()), "step %d", step)
		}
	}
	assert.Equal(t, model, slices.Collect(l.All()))
	for _, b := range l.blocks {
		assert.NotEmpty(t, b)
		assert.LessOrEqual(t, len(b), maxBlock)
	}
	assert.Greater(t, len(l.blocks), 2, "the test must exercise block splits")

	extra := []string{"", "00000x", "zzz"}
	want := slices.Sorted(slices.Values(append(slices.Clone(model), extra...)))
	assert.Equal(t, want, slices.Collect(ascend(&l, extra)))
	// Early stop.
	var first []string
	for id := range ascend(&l, extra) {
		first = append(first, id)
		if len(first) == 3 {
			break
		}
	}
	assert.Equal(t, want[:3], first)
}

func TestIDSetSortsLazily(t *testing.T) {
	var s idSet
	for _, id := range []string{"b", "c", "a"} {
		s.add(id)
	}
	assert.Equal(t, []string{"a", "b", "c"}, s.sorted())
	s.add("d")
	assert.Equal(t, []string{"a", "b", "c", "d"}, s.sorted())
	s.add("0")
	assert.Equal(t, []string{"0", "a", "b", "c", "d"}, s.sorted())
}

// counts.count evaluates store.UserFilter through its two flags only. If UserFilter gains a
// field, the counts (and this test) must change.
func TestUserFilterShape(t *testing.T) {
	typ := reflect.TypeFor[store.UserFilter]()
	var names []string
	for f := range typ.Fields() {
		names = append(names, f.Name)
	}
	assert.Equal(t, []string{"Active", "Seat", "IncludeDeleted"}, names,
		"store.UserFilter changed: update counts.count and ListUsers in memstore")
}
