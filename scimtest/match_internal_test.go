package scimtest

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v), s)
	return v
}

func TestMatch(t *testing.T) {
	got := decode(t, `{"userName":"Ann","Active":false,"totalResults":3,"members":[{"value":"b"},{"value":"a","display":"A"}],"emails":[]}`)
	for _, tc := range []struct {
		want string
		diff []string
	}{
		{`{"userName":"Ann","active":false}`, nil}, // attribute names compare case-insensitively
		{`{"members":[{"value":"a"},{"value":"b"}]}`, nil},
		{`{"members":{"$has":[{"value":"a"}]},"totalResults":{"$gte":3},"userName":"$any"}`, nil},
		{`{"emails":{"$empty":true},"groups":{"$empty":true},"totalResults":{"$lte":3}}`, nil},
		{`{"active":"False"}`, []string{`response.active: got false, want "False"`}},
		{`{"totalResults":{"$gte":4}}`, []string{`response.totalResults: got 3, want a number >= 4`}},
		{`{"members":[{"value":"a"}]}`, []string{`response.members: got 2 element(s) [{"value":"b"},{"display":"A","value":"a"}], want 1 matching [{"value":"a"}]`}},
		{`{"members":[{"value":"a"},{"value":"c"}]}`, []string{`response.members: no element matches {"value":"c"}; got [{"value":"b"},{"display":"A","value":"a"}]`}},
		{`{"members":[{"value":"a"},{"value":"a"}]}`, []string{`response.members: got [{"value":"b"},{"display":"A","value":"a"}], want elements matching [{"value":"a"},{"value":"a"}] one to one`}},
		{`{"members":{"$has":[{"value":"z"}]}}`, []string{`response.members: no element matches {"value":"z"}; got [{"value":"b"},{"display":"A","value":"a"}]`}},
		{`{"members":{"$empty":true}}`, []string{`response.members: got [{"value":"b"},{"display":"A","value":"a"}], want none`}},
		{`{"id":"x"}`, []string{`response.id: missing`}},
		{`{"userName":{"first":"Ann"}}`, []string{`response.userName: got "Ann", want an object`}},
	} {
		assert.Equal(t, tc.diff, match("response", decode(t, tc.want), got), tc.want)
	}
}

func TestValidPattern(t *testing.T) {
	for pattern, msg := range map[string]string{
		`{"a":{"$gte":"1"}}`:          "$gte needs a number",
		`{"a":{"$empty":false}}`:      "$empty must be true",
		`{"a":{"$has":{}}}`:           "$has needs an array",
		`{"a":{"$nope":1}}`:           "unknown matcher $nope",
		`{"a":{"$gte":1,"b":2}}`:      "matcher $gte must be the object's only key",
		`[{"a":{"$has":[{"$x":1}]}}]`: "unknown matcher $x",
	} {
		err := validPattern(decode(t, pattern))
		if assert.Error(t, err, pattern) {
			assert.Equal(t, msg, err.Error(), pattern)
		}
	}
	assert.NoError(t, validPattern(decode(t, `{"a":[{"$has":[1]},{"$lte":2},"$any"]}`)))
}

func TestExpand(t *testing.T) {
	v := newVars("pre", "example.org", false)
	v.ids["uid"] = `a b/"c"`
	assert.Regexp(t, `^pre-[a-z0-9]{6}$`, v.run)

	got, missing := v.expand("{{run}}|{{RUN}}|{{domain}}|{{DOMAIN}}|{{login:ann}}|{{uid}}|{{gid}}", noEscape)
	assert.Equal(t, v.run+"|"+strings.ToUpper(v.run)+"|example.org|EXAMPLE.ORG|"+v.run+`.ann|a b/"c"|{{gid}}`, got)
	assert.Equal(t, []string{"gid"}, missing)

	a, _ := v.expand("{{uuid:x}}", noEscape)
	b, _ := v.expand("{{uuid:x}} {{uuid:y}}", noEscape)
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, a)
	assert.Equal(t, a, b[:len(a)], "the same name gives the same UUID within a run")
	assert.NotEqual(t, a, b[len(a)+1:])

	v.emailUserNames = true
	got, _ = v.expand("{{login:ann}}", noEscape)
	assert.Equal(t, v.run+".ann@example.org", got)

	j, _ := v.expand(`{"id":"{{uid}}"}`, jsonEscape)
	assert.JSONEq(t, `{"id":"a b/\"c\""}`, j)
	fr := &flowRun{vars: v}
	p, _ := fr.expandPath(`/Users/{{uid}}?filter=id eq "{{uid}}"`)
	assert.Equal(t, "/Users/"+url.PathEscape(`a b/"c"`)+"?filter=id eq \""+url.QueryEscape(`a b/"c"`)+`"`, p)
}
