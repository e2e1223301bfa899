package teamscim

import (
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
