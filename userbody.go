package teamscim

import (
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/teamscim/teamscim/store"
)

// plainUserBody reads the body most POSTs and PUTs of /Users carry (Okta's create with its
// default mappings, a script's, the load tools') straight into a userInput, without generic
// JSON values and the schema walk: at most schemas (strings), userName, externalId,
// displayName, locale, name (givenName, familyName, middleName, formatted), emails (objects of
// value, type and primary, each with a value) and active, spelled as RFC 7643 spells them,
// holding strings and booleans.
//
// It reports false for any other body: another attribute or spelling, null, a number, a
// repeated name, a string with invalid UTF-8 or a NUL, two primary emails or two equal ones,
// no userName. The caller then takes the general path (decodeBody, checkResource,
// userInputOf), which gives the same result for every body this accepts; FuzzPlainUserBody
// checks exactly that. It serves only a User schema without required extensions or guarded
// attributes (resourceDef.plain), which the general path would otherwise enforce.
func plainUserBody(body []byte) (userInput, bool) {
	var in userInput
	p := bodyScan{b: body}
	var seen uint8
	read := p.object(func(key []byte) bool {
		var bit uint8
		ok := false
		switch string(key) { // compared in place, without a copy
		case "schemas":
			bit, ok = 1<<0, p.stringList()
		case "userName":
			bit, ok = 1<<1, p.strInto(&in.UserName)
		case "externalId":
			bit, ok = 1<<2, p.strInto(&in.ExternalID)
		case "displayName":
			bit, ok = 1<<3, p.strInto(&in.DisplayName)
		case "locale":
			bit, ok = 1<<4, p.strInto(&in.Locale)
		case "name":
			bit, ok = 1<<5, p.name(&in)
		case "emails":
			bit = 1 << 6
			in.Emails, ok = p.emails()
		case "active":
			bit = 1 << 7
			var b bool
			if b, ok = p.boolean(); ok {
				in.Active = &b
			}
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
	p.space()
	if !read || p.i != len(p.b) || in.UserName == nil {
		return userInput{}, false
	}
	return in, true
}

// bodyScan reads the JSON of plainUserBody. Every method reports false for what it does not
// read, and the whole body is then left to encoding/json.
type bodyScan struct {
	b []byte
	i int
}

func (p *bodyScan) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next skips white space and consumes c if it comes next.
func (p *bodyScan) next(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// object reads an object, calling member for each name with the scanner before its value.
func (p *bodyScan) object(member func(key []byte) bool) bool {
	if !p.next('{') {
		return false
	}
	if p.next('}') {
		return true
	}
	for {
		p.space()
		key, ok := p.rawString()
		if !ok || !p.next(':') || !member(key) {
			return false
		}
		if p.next(',') {
			continue
		}
		return p.next('}')
	}
}

// rawString reads a string without escapes or control characters, and returns its bytes.
func (p *bodyScan) rawString() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			return p.b[start:j], true
		case c < 0x20 || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

// str reads a string value. One with escapes is unquoted by encoding/json, as on the general
// path; one with invalid UTF-8 (which encoding/json replaces) or a NUL (which the general path
// refuses) is left to the general path.
func (p *bodyScan) str() (string, bool) {
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	start, escaped := p.i, false
	for j := start + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			p.i = j + 1
			raw := p.b[start+1 : j]
			if !escaped {
				return string(raw), utf8.Valid(raw)
			}
			var s string
			if json.Unmarshal(p.b[start:j+1], &s) != nil || strings.IndexByte(s, 0) >= 0 {
				return "", false
			}
			return s, true
		case c == '\\':
			escaped = true
			j++ // the escaped character; \u's digits are plain characters
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

// strInto reads a string value into *dst.
func (p *bodyScan) strInto(dst **string) bool {
	s, ok := p.str()
	if ok {
		*dst = &s
	}
	return ok
}

func (p *bodyScan) boolean() (bool, bool) {
	p.space()
	rest := p.b[p.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		p.i += 4
		return true, p.literalEnds()
	case len(rest) >= 5 && string(rest[:5]) == "false":
		p.i += 5
		return false, p.literalEnds()
	}
	return false, false
}

// literalEnds reports whether the literal just read is not the start of a longer word.
func (p *bodyScan) literalEnds() bool {
	if p.i == len(p.b) {
		return true
	}
	switch p.b[p.i] {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// array reads an array, calling elem for each element with the scanner before it.
func (p *bodyScan) array(elem func() bool) bool {
	if !p.next('[') {
		return false
	}
	if p.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if p.next(',') {
			continue
		}
		return p.next(']')
	}
}

// stringList reads an array of strings (schemas, which the general path does not read
// either).
func (p *bodyScan) stringList() bool {
	return p.array(func() bool {
		_, ok := p.str()
		return ok
	})
}

func (p *bodyScan) name(in *userInput) bool {
	var seen uint8
	return p.object(func(key []byte) bool {
		var bit uint8
		var dst **string
		switch string(key) {
		case "givenName":
			bit, dst = 1<<0, &in.GivenName
		case "familyName":
			bit, dst = 1<<1, &in.FamilyName
		case "middleName":
			bit, dst = 1<<2, &in.MiddleName
		case "formatted":
			bit, dst = 1<<3, &in.Formatted
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		return p.strInto(dst)
	})
}

// emails reads the emails: each with a non-empty value, at most one primary, and none with a
// type whose type and value an earlier one has (an earlier one without a type has type "", as
// in checkValues; RFC 7643 §2.4, and the general path words the refusals). None is nil.
func (p *bodyScan) emails() ([]store.Email, bool) {
	var out []store.Email
	primaries := 0
	ok := p.array(func() bool {
		var e store.Email
		var seen uint8
		hasType := false
		if !p.object(func(key []byte) bool {
			var bit uint8
			ok := false
			switch string(key) {
			case "value":
				bit = 1 << 0
				e.Value, ok = p.str()
			case "type":
				bit = 1 << 1
				e.Type, ok = p.str()
				hasType = true
			case "primary":
				bit = 1 << 2
				e.Primary, ok = p.boolean()
			default:
				return false
			}
			if seen&bit != 0 {
				return false
			}
			seen |= bit
			return ok
		}) || e.Value == "" {
			return false
		}
		if e.Primary {
			primaries++
		}
		if hasType {
			for _, o := range out {
				if o.Type == e.Type && o.Value == e.Value {
					return false
				}
			}
		}
		out = append(out, e)
		return true
	})
	return out, ok && primaries <= 1
}
