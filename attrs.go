package teamscim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
)

// How a resource's attributes are checked (checkResource).
type checkMode int

const (
	// checkWrite checks a POST or PUT body: read-only values are dropped, required attributes
	// must be present, at most one value of a multi-valued attribute may be primary.
	checkWrite checkMode = iota
	// checkPatched checks a resource after PATCH operations: read-only values (the stored
	// ones; operations on them were refused) are kept, required attributes must be present.
	checkPatched
)

// maxNameInDetail bounds an attribute name a client sent when an error detail repeats it (a
// schema URN and an attribute name fit).
const maxNameInDetail = 160

// quoteName quotes a name from the request for an error detail, shortened if long.
func quoteName(s string) string {
	if len(s) > maxNameInDetail {
		s = s[:maxNameInDetail] + "…"
	}
	return strconv.Quote(s)
}

// checkResource checks a resource's attributes (a decoded body, or a patched resource)
// against rd and returns them canonical: core attributes under their schema names, each
// extension's in an object under its URN, values of the schema's types (strings, booleans,
// int for integers, float64 for decimals, lists and objects), nulls and empty values left out.
//
// Lenient as DESIGN.md §4 says: names in any case; "True"/"False" strings for booleans;
// schemas, id and meta ignored; attributes no schema defines ignored, and so are extension
// URNs the Server does not have; an extension's attributes also accepted flat
// ("urn:…:User:department"); a single value where a list is expected; a complex value given
// as a one-element list, or as a string for its "value" sub-attribute (Entra's manager).
//
// Refused with 400 and a detail naming the attribute and what it must be (never the value):
// a value of the wrong type, a sub-attribute the attribute does not have, a missing required
// attribute, two names that differ only in case.
func checkResource(rd *resourceDef, body map[string]any, mode checkMode) (map[string]any, error) {
	out := make(map[string]any, len(body))
	seen := make(map[string]string, len(body)) // canonical path → the spelling that set it
	set := func(key, spelled string, v any, put func(any)) error {
		if prev, ok := seen[key]; ok {
			return badRequest(scimerrors.ScimTypeInvalidSyntax, "%s is given twice (as %s and %s); attribute names are case-insensitive.",
				key, quoteName(prev), quoteName(spelled))
		}
		seen[key] = spelled
		if v != nil {
			put(v)
		}
		return nil
	}
	for _, k := range sortedKeys(body) { // sorted, so that the first error is always the same
		v := body[k]
		lk := strings.ToLower(k)
		if lk == "schemas" || lk == "id" || lk == "meta" {
			continue
		}
		if a := rd.core.attr(k); a != nil {
			if slices.Contains(rd.dropped, a.name) {
				continue // accepted and never kept
			}
			cv, err := checkValue(a, v, mode)
			if err != nil {
				return nil, err
			}
			if err := set(a.name, k, cv, func(cv any) { out[a.name] = cv }); err != nil {
				return nil, err
			}
			continue
		}
		if ext := rd.schemaOf(k); ext != nil && ext.ext {
			if v == nil {
				continue
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s must be an object of the extension's attributes.", ext.urn)
			}
			for _, ek := range sortedKeys(m) {
				ev := m[ek]
				a := ext.attr(ek)
				if a == nil {
					continue // an attribute the extension does not define
				}
				cv, err := checkValue(a, ev, mode)
				if err != nil {
					return nil, err
				}
				if err := set(ext.urn+":"+a.name, ek, cv, func(cv any) { extObject(out, ext.urn)[a.name] = cv }); err != nil {
					return nil, err
				}
			}
			continue
		}
		if sc, rest := rd.splitURN(k); sc != nil {
			// "urn:…:User:department" (an extension's attribute, flat) or the core URN before
			// a core attribute.
			a := sc.attr(rest)
			if a == nil {
				continue
			}
			cv, err := checkValue(a, v, mode)
			if err != nil {
				return nil, err
			}
			key, put := a.name, func(cv any) { out[a.name] = cv }
			if sc.ext {
				key, put = sc.urn+":"+a.name, func(cv any) { extObject(out, sc.urn)[a.name] = cv }
			}
			if err := set(key, k, cv, put); err != nil {
				return nil, err
			}
		}
		// Anything else (an attribute no schema defines, an extension the Server does not
		// have) is ignored.
	}
	for _, e := range rd.exts {
		if m, ok := out[e.urn].(map[string]any); ok && len(m) == 0 {
			delete(out, e.urn)
		}
	}
	return out, checkRequired(rd, out)
}

// extObject returns the object of extension urn in m, creating it.
func extObject(m map[string]any, urn string) map[string]any {
	o, ok := m[urn].(map[string]any)
	if !ok {
		o = map[string]any{}
		m[urn] = o
	}
	return o
}

// checkRequired refuses a resource without one of its required attributes.
func checkRequired(rd *resourceDef, m map[string]any) error {
	missing := func(path string) error {
		return badRequest(scimerrors.ScimTypeInvalidValue, "%s is required.", path)
	}
	for _, a := range rd.core.attrs {
		if a.required && a.mutability != "readOnly" && a.name != "id" && m[a.name] == nil {
			return missing(a.name)
		}
	}
	for _, e := range rd.exts {
		em, present := m[e.urn].(map[string]any)
		if !present {
			if e.required {
				return badRequest(scimerrors.ScimTypeInvalidValue, "The extension %s is required.", e.urn)
			}
			continue
		}
		for _, a := range e.attrs {
			if a.required && a.mutability != "readOnly" && em[a.name] == nil {
				return missing(e.urn + ":" + a.name)
			}
		}
	}
	return nil
}

// checkValue checks one attribute's value and returns it canonical (nil: no value).
func checkValue(a *attrDef, v any, mode checkMode) (any, error) {
	if v == nil || (a.mutability == "readOnly" && mode == checkWrite) {
		return nil, nil
	}
	if !a.multi {
		return checkSingle(a, v, mode)
	}
	list, ok := v.([]any)
	if !ok {
		list = []any{v} // a single value where a list is expected
	}
	out := make([]any, 0, len(list))
	for _, el := range list {
		if _, isList := el.([]any); isList {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s must be a list of %s.", a.path, kindOf(a))
		}
		cv, err := checkSingle(a, el, mode)
		if err != nil {
			return nil, err
		}
		if cv != nil {
			out = append(out, cv)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	if a.complex() {
		if err := checkValues(a, out, mode); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkValues applies RFC 7643 §2.4 to the values of a multi-valued complex attribute: no two
// with the same type and value, and at most one primary.
func checkValues(a *attrDef, list []any, mode checkMode) error {
	primaries := 0
	for i, el := range list {
		m := el.(map[string]any)
		if p, _ := m["primary"].(bool); p {
			primaries++
		}
		t, hasType := m["type"].(string)
		v, hasValue := m["value"].(string)
		if !hasType || !hasValue {
			continue
		}
		for _, other := range list[:i] {
			o := other.(map[string]any)
			if ot, _ := o["type"].(string); ot == t {
				if ov, _ := o["value"].(string); ov == v {
					return badRequest(scimerrors.ScimTypeInvalidValue, "%s has two values with the same type and value.", a.path)
				}
			}
		}
	}
	if primaries > 1 && mode == checkWrite {
		return badRequest(scimerrors.ScimTypeInvalidValue, "At most one value of %s may be primary.", a.path)
	}
	return nil
}

// checkSingle checks one value of an attribute (one element of a multi-valued one).
func checkSingle(a *attrDef, v any, mode checkMode) (any, error) {
	if v == nil {
		return nil, nil
	}
	if !a.complex() {
		return checkSimple(a, v)
	}
	m, ok := v.(map[string]any)
	if !ok {
		switch x := v.(type) {
		case []any: // Entra sends a one-element list for a singular complex attribute (manager)
			if len(x) == 1 && !a.multi {
				if inner, isMap := x[0].(map[string]any); isMap {
					m, ok = inner, true
				}
			}
		case string: // Entra sends the manager's id alone
			if !a.multi && a.sub("value") != nil {
				m, ok = map[string]any{"value": x}, true
			}
		}
		if !ok {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s must be %s.", a.path, kindOf(a))
		}
	}
	out := make(map[string]any, len(m))
	for _, k := range sortedKeys(m) {
		sv := m[k]
		sub := a.sub(k)
		if sub == nil {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s has no sub-attribute %s.", a.path, quoteName(k))
		}
		if _, dup := out[sub.name]; dup {
			return nil, badRequest(scimerrors.ScimTypeInvalidSyntax, "%s is given twice; attribute names are case-insensitive.", sub.path)
		}
		if sv == nil || (sub.mutability == "readOnly" && mode == checkWrite) {
			continue
		}
		if sub.multi {
			cv, err := checkValue(sub, sv, mode)
			if err != nil {
				return nil, err
			}
			if cv != nil {
				out[sub.name] = cv
			}
			continue
		}
		cv, err := checkSimple(sub, sv)
		if err != nil {
			return nil, err
		}
		out[sub.name] = cv
	}
	if len(out) == 0 {
		return nil, nil
	}
	for _, sub := range a.subs {
		if sub.required && sub.mutability != "readOnly" && out[sub.name] == nil {
			return nil, badRequest(scimerrors.ScimTypeInvalidValue, "%s is required.", sub.path)
		}
	}
	return out, nil
}

// checkSimple checks a value of a simple attribute.
func checkSimple(a *attrDef, v any) (any, error) {
	bad := func() error {
		return badRequest(scimerrors.ScimTypeInvalidValue, "%s must be %s.", a.path, kindOf(a))
	}
	switch a.typ {
	case "string", "reference":
		if s, ok := v.(string); ok {
			return s, nil
		}
	case "boolean":
		if b, ok := stringBool(v).(bool); ok {
			return b, nil
		}
	case "integer":
		switch n := v.(type) {
		case json.Number:
			if i, err := strconv.ParseInt(string(n), 10, 64); err == nil && i >= math.MinInt && i <= math.MaxInt {
				return int(i), nil
			}
		case int:
			return n, nil
		case int64:
			return int(n), nil
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				return int(n), nil
			}
		}
	case "decimal":
		switch n := v.(type) {
		case json.Number:
			if f, err := n.Float64(); err == nil && !math.IsInf(f, 0) {
				return f, nil
			}
		case float64:
			return n, nil
		case int:
			return float64(n), nil
		}
	case "dateTime", "binary":
		if s, ok := v.(string); ok {
			if _, err := a.core.ValidateSingular(s); err == nil {
				return s, nil
			}
		}
	}
	return nil, bad()
}

// kindOf says what a value of a must be, for error details.
func kindOf(a *attrDef) string {
	if a.multi {
		switch a.typ {
		case "complex":
			return "a list of objects"
		default:
			return "a list of " + strings.TrimPrefix(strings.TrimPrefix(singleKind(a), "a "), "an ") + " values"
		}
	}
	return singleKind(a)
}

func singleKind(a *attrDef) string {
	switch a.typ {
	case "string":
		return "a string"
	case "reference":
		return "a string (a reference)"
	case "boolean":
		return "a boolean (true or false)"
	case "integer":
		return "an integer"
	case "decimal":
		return "a number"
	case "dateTime":
		return "a dateTime string such as 2024-01-02T03:04:05Z"
	case "binary":
		return "a base64 string"
	case "complex":
		names := make([]string, 0, len(a.subs))
		for _, s := range a.subs {
			names = append(names, s.name)
		}
		return "an object with the sub-attributes " + strings.Join(names, ", ")
	}
	return "a value of type " + a.typ
}

// ---- attributes kept as JSON (store.User.Attributes, store.Group.Attributes) ----

// encodeAttributes encodes the attributes a store keeps as JSON: a compact object with sorted
// keys, or nil when m is empty.
func encodeAttributes(m map[string]any) ([]byte, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, err := appendObject(nil, m)
	if err != nil {
		return nil, fmt.Errorf("encode attributes: %w", err)
	}
	return b, nil
}

// decodeAttributes decodes a stored attributes object (nil for none) with numbers as
// json.Number; typedNumbers turns them into the schema's types.
func decodeAttributes(raw []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode stored attributes: %w", err)
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// rawAttributes splits a stored attributes object into its members, left encoded.
func rawAttributes(raw []byte) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode stored attributes: %w", err)
	}
	return m, nil
}

// typedNumbers turns the json.Number values of a decoded resource into int for integer
// attributes and float64 for decimal ones (as checkResource writes them), so that the
// wrapped library's PATCH filters compare them.
func typedNumbers(rd *resourceDef, m map[string]any) {
	for k, v := range m {
		if a := rd.core.attr(k); a != nil {
			m[k] = numbersOf(a, v)
		} else if e := rd.schemaOf(k); e != nil && e.ext {
			if em, ok := v.(map[string]any); ok {
				for ek, ev := range em {
					if a := e.attr(ek); a != nil {
						em[ek] = numbersOf(a, ev)
					}
				}
			}
		}
	}
}

func numbersOf(a *attrDef, v any) any {
	switch x := v.(type) {
	case json.Number:
		if cv, err := checkSimple(a, x); err == nil {
			return cv
		}
	case []any:
		for i, el := range x {
			x[i] = numbersOf(a, el)
		}
	case map[string]any:
		for k, sv := range x {
			if sub := a.sub(k); sub != nil {
				x[k] = numbersOf(sub, sv)
			}
		}
	}
	return v
}

// without returns the attributes of m other than names (a copy of the top level).
func without(m map[string]any, names ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !slices.Contains(names, k) {
			out[k] = v
		}
	}
	return out
}
