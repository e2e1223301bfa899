package scimtest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// A pattern is a decoded "response" value. Objects match as subsets, arrays element for
// element in any order, scalars by equality; a few objects and strings are matchers:
//
//	"$any"            present, any value
//	{"$empty": true}  absent, null or []
//	{"$gte": n}       a number >= n
//	{"$lte": n}       a number <= n
//	{"$has": [p...]}  an array with, for each p, an element that matches it (others allowed)

// validPattern checks the matchers inside a pattern.
func validPattern(p any) error {
	switch w := p.(type) {
	case map[string]any:
		if op, arg, ok := matcher(w); ok {
			switch op {
			case "$gte", "$lte":
				if _, ok := arg.(float64); !ok {
					return fmt.Errorf("%s needs a number", op)
				}
			case "$empty":
				if arg != true {
					return fmt.Errorf("$empty must be true")
				}
			case "$has":
				items, ok := arg.([]any)
				if !ok {
					return fmt.Errorf("$has needs an array")
				}
				for _, it := range items {
					if err := validPattern(it); err != nil {
						return err
					}
				}
			default:
				return fmt.Errorf("unknown matcher %s", op)
			}
			return nil
		}
		for k, v := range w {
			if strings.HasPrefix(k, "$") {
				return fmt.Errorf("matcher %s must be the object's only key", k)
			}
			if err := validPattern(v); err != nil {
				return err
			}
		}
	case []any:
		for _, v := range w {
			if err := validPattern(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// matcher returns the operator and argument of a one-key object whose key starts with "$".
func matcher(m map[string]any) (string, any, bool) {
	if len(m) != 1 {
		return "", nil, false
	}
	for k, v := range m {
		if strings.HasPrefix(k, "$") {
			return k, v, true
		}
	}
	return "", nil, false
}

// match compares got with the pattern want and describes every difference, each starting
// with where (a path such as "Resources[0].active").
func match(where string, want, got any) []string {
	switch w := want.(type) {
	case string:
		if w == "$any" {
			return nil
		}
	case map[string]any:
		if op, arg, ok := matcher(w); ok {
			return matchOp(where, op, arg, got)
		}
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want an object", where, excerpt(got))}
		}
		var out []string
		for _, k := range sortedKeys(w) {
			gv, present := lookup(g, k)
			if !present {
				if isEmptyMatcher(w[k]) {
					continue
				}
				out = append(out, fmt.Sprintf("%s: missing", join(where, k)))
				continue
			}
			out = append(out, match(join(where, k), w[k], gv)...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want an array", where, excerpt(got))}
		}
		if len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %d element(s) %s, want %d matching %s", where, len(g), excerpt(g), len(w), excerpt(w))}
		}
		if i := unmatched(w, g); i >= 0 {
			return []string{fmt.Sprintf("%s: no element matches %s; got %s", where, excerpt(w[i]), excerpt(g))}
		}
		if !oneToOne(w, g, make([]bool, len(g)), 0) {
			return []string{fmt.Sprintf("%s: got %s, want elements matching %s one to one", where, excerpt(g), excerpt(w))}
		}
		return nil
	}
	if !equal(want, got) {
		return []string{fmt.Sprintf("%s: got %s, want %s", where, excerpt(got), excerpt(want))}
	}
	return nil
}

func matchOp(where, op string, arg, got any) []string {
	switch op {
	case "$empty":
		if a, ok := got.([]any); got == nil || ok && len(a) == 0 {
			return nil
		}
		return []string{fmt.Sprintf("%s: got %s, want none", where, excerpt(got))}
	case "$gte", "$lte":
		n, ok := got.(float64)
		bound := arg.(float64)
		if !ok || op == "$gte" && n < bound || op == "$lte" && n > bound {
			sign := map[string]string{"$gte": ">=", "$lte": "<="}[op]
			return []string{fmt.Sprintf("%s: got %s, want a number %s %v", where, excerpt(got), sign, bound)}
		}
		return nil
	case "$has":
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want an array", where, excerpt(got))}
		}
		var out []string
		for _, p := range arg.([]any) {
			if !matchesAny(p, g) {
				out = append(out, fmt.Sprintf("%s: no element matches %s; got %s", where, excerpt(p), excerpt(g)))
			}
		}
		return out
	}
	return []string{fmt.Sprintf("%s: unknown matcher %s", where, op)}
}

func isEmptyMatcher(p any) bool {
	m, ok := p.(map[string]any)
	if !ok {
		return false
	}
	op, _, ok := matcher(m)
	return ok && op == "$empty"
}

func matchesAny(p any, g []any) bool {
	for _, e := range g {
		if len(match("", p, e)) == 0 {
			return true
		}
	}
	return false
}

// unmatched returns the index of the first pattern in w that no element of g matches, or -1.
func unmatched(w, g []any) int {
	for i, p := range w {
		if !matchesAny(p, g) {
			return i
		}
	}
	return -1
}

// oneToOne reports whether the patterns w[i:] can each be given a distinct unused element of g.
func oneToOne(w, g []any, used []bool, i int) bool {
	if i == len(w) {
		return true
	}
	for j := range g {
		if !used[j] && len(match("", w[i], g[j])) == 0 {
			used[j] = true
			if oneToOne(w, g, used, i+1) {
				return true
			}
			used[j] = false
		}
	}
	return false
}

// lookup finds key k in g, exactly or else case-insensitively (attribute names are
// case-insensitive, RFC 7643 §2.1).
func lookup(g map[string]any, k string) (any, bool) {
	if v, ok := g[k]; ok {
		return v, true
	}
	for gk, v := range g {
		if strings.EqualFold(gk, k) {
			return v, true
		}
	}
	return nil, false
}

func equal(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func join(where, k string) string {
	if where == "" {
		return k
	}
	return where + "." + k
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// excerpt is v as compact JSON, cut to 200 bytes.
func excerpt(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return cut(string(b), 200)
}

// cut shortens s to at most n bytes (on a rune boundary), marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8Start(s[i]) {
		i--
	}
	return s[:i] + fmt.Sprintf("…(%d bytes)", len(s))
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }
