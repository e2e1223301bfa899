package teamscim

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"sync"

	"github.com/elimity-com/scim"
)

// appendJSON appends the JSON encoding of v to b, exactly as encoding/json encodes it with HTML
// escaping off (object keys sorted, the same string escaping), for the values resources are rendered
// from: maps of strings to values, slices, strings, booleans and numbers. Anything else is
// handed to encoding/json. It exists because rendering a resource with encoding/json's
// reflection over maps was the largest cost of the IdPs' hottest requests (GET by id and the
// userName eq existence check).
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case json.Number:
		if x == "" {
			return append(b, '0'), nil
		}
		return append(b, x...), nil
	case map[string]any:
		return appendObject(b, x)
	case scim.ResourceAttributes:
		return appendObject(b, x)
	case rawJSON:
		return append(b, x...), nil
	case []any:
		b = append(b, '[')
		for i, el := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, el); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []string:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']'), nil
	case []map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, m := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendObject(b, m); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	raw, err := marshalNoHTML(v)
	if err != nil {
		return nil, err
	}
	return append(b, raw...), nil
}

// bufs holds response buffers between requests: a GET or a list page is encoded into one and
// written, and io.Writer's contract (Write must not retain its argument) lets the next
// request reuse it. Buffers that grew past maxPooledBuf are left to the collector.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxPooledBuf = 1 << 20

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

// putBuf returns b, which now holds used, to the pool.
func putBuf(b *[]byte, used []byte) {
	if cap(used) <= maxPooledBuf {
		*b = used[:0]
		bufs.Put(b)
	}
}

// rawJSON is an already encoded JSON value.
type rawJSON []byte

// MarshalJSON returns r as it is, so that encoding/json encodes a rawJSON as appendJSON does.
func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

func appendObject(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendJSON(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendString appends s as a JSON string, as encoding/json encodes it with HTML escaping
// off (so that "<key>" stays "<key>", not "\u003ckey\u003e"). Printable ASCII is copied;
// any other string goes through encoding/json, so the output is identical.
func appendString(b []byte, s string) []byte {
	if !plainJSON(s) {
		var buf bytes.Buffer
		e := json.NewEncoder(&buf)
		e.SetEscapeHTML(false)
		_ = e.Encode(s) // a string always encodes
		return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSON reports whether s is printable ASCII without a quote or a backslash: a JSON
// string's content as it is.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte[s[i]] {
			return false
		}
	}
	return true
}

// plainByte tells the bytes plainJSON accepts.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// marshalNoHTML is json.Marshal with HTML escaping off, as appendJSON encodes.
func marshalNoHTML(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
