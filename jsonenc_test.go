package teamscim

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// appendJSON must produce exactly what encoding/json produces with HTML escaping off.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, v := range []any{
		nil, "", "plain", `quote " backslash \ <tag> & amp`, "tab\tnew\nline\x00", "é ü 日本 \u2028 \u2029", "bad \xff utf8",
		true, false, 0, -42, int64(1) << 60, 3.25, json.Number("12"),
		[]any{}, []any{nil, "a", 1, true, map[string]any{}}, []string(nil), []string{}, []string{"b", "a<"},
		map[string]any(nil), map[string]any{},
		map[string]any{"z": 1, "a": []any{map[string]any{"value": "x", "primary": true}}, "M": "m", "émoji": "😀"},
		[]map[string]any(nil), []map[string]any{{"b": 1, "a": 2}},
		map[string]any{"time": time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), "bools": map[string]bool{"x": true}},
	} {
		want, err := marshalNoHTML(v)
		require.NoError(t, err)
		got, err := appendJSON(nil, v)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "%#v", v)
	}
	_, err := appendJSON(nil, map[string]any{"f": func() {}})
	assert.Error(t, err)
}

// FuzzAppendJSON checks appendJSON against encoding/json on decoded random documents.
func FuzzAppendJSON(f *testing.F) {
	f.Add(`{"a":[1,"x",{"b":null}],"c":true}`)
	f.Add(`"\u003c\ud800"`)
	f.Fuzz(func(t *testing.T, doc string) {
		var v any
		if json.Unmarshal([]byte(doc), &v) != nil {
			return
		}
		want, err := marshalNoHTML(v)
		require.NoError(t, err)
		got, err := appendJSON(nil, v)
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	})
}

// A ListResponse encodes as encoding/json encodes the struct.
func TestListResponseEncode(t *testing.T) {
	for _, l := range []listResponse{
		{Schemas: []string{listResponseSchema}, Resources: []map[string]any{}},
		{Schemas: []string{listResponseSchema}, TotalResults: 250, ItemsPerPage: 2, StartIndex: 11,
			Resources: []map[string]any{{"id": "a", "meta": map[string]any{"version": `W/"1"`}}, {"id": "b<", "active": false}}},
	} {
		want, err := marshalNoHTML(l)
		require.NoError(t, err)
		got, err := l.encode()
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
	}
}
