package teamscim

import (
	"reflect"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fast path must produce what the general parser produces.
func TestParseSimpleEqMatchesParser(t *testing.T) {
	for _, f := range []string{`userName eq "a@example.com"`, `UserName EQ "A \"quoted\" name"`, `name.givenName eq "Ann"`,
		`externalId eq "x y"`, `  id   eq   "42"  `} {
		fast, ok := parseSimpleEq(f)
		require.True(t, ok, f)
		// The general path (forced here by a redundant "and") decodes escapes too.
		slow, err := parseFilter(f + ` and userName pr`)
		require.NoError(t, err, f)
		slow = slow.(*filter.LogicalExpression).Left
		ae := slow.(*filter.AttributeExpression)
		fe := fast.(*filter.AttributeExpression)
		assert.Equal(t, ae.AttributePath.String(), fe.AttributePath.String(), f)
		assert.Equal(t, ae.CompareValue, fe.CompareValue, f)
	}
	for _, f := range []string{`userName eq "a" or userName eq "b"`, `userName eq "a" and active eq true`, `userName eq 5`,
		`urn:x:userName eq "a"`, `.a eq "b"`, `userName ne "a"`, `userName eq "a`} {
		_, ok := parseSimpleEq(f)
		assert.False(t, ok, f)
	}
}

// BenchmarkParseFilter compares the fast path for `userName eq "…"` with the general parser
// it replaces on the IdPs' hottest request.
func BenchmarkParseFilter(b *testing.B) {
	const f = `userName eq "user00005000@example.com"`
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := parseFilter(f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("general", func(b *testing.B) {
		for b.Loop() {
			if _, err := filter.ParseFilter([]byte(f)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// parsePath's fast path builds what the general parser builds, and leaves every other form to
// it.
func TestParsePathFastPathAgrees(t *testing.T) {
	for _, raw := range []string{"active", "name.givenName", "userName", "x-y_z1", "$ref", "a$b", "members", "displayName",
		"emails[type eq \"work\"].value", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
		"name.", ".name", "a.b.c", "1abc", "", "name givenName", "members[value eq \"x\"]"} {
		got, gotErr := parsePath(raw)
		want, wantErr := filter.ParsePath([]byte(raw))
		if (gotErr == nil) != (wantErr == nil) {
			t.Errorf("parsePath(%q): error %v, the parser's %v", raw, gotErr, wantErr)
			continue
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("parsePath(%q) = %#v, the parser gives %#v", raw, got, want)
		}
	}
}
