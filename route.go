package teamscim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
)

type routeKind int

const (
	routeDelegate routeKind = iota // handed to the wrapped library
	routeList                      // GET on a resource collection, served by the Server
	routeSearch                    // POST .search, served by the Server
	routeConfig                    // GET /ServiceProviderConfig, served by the Server
	routeGet                       // GET of one resource: read by its handler, rendered by the Server
)

// routed is where a request goes after its path has been made canonical.
type routed struct {
	kind     routeKind
	path     string // canonical path, without the /v2 prefix
	resource string // "Users" for resource routes
	allow    string // set when the method is not allowed: the methods that are
	prepare  func([]byte, *request) ([]byte, *scimerrors.ScimError)
}

// canonicalSegments maps lower-cased first path segments to their canonical spelling, so that
// resource paths are case-insensitive.
var canonicalSegments = map[string]string{
	"users":                 "Users",
	"groups":                "Groups",
	"schemas":               "Schemas",
	"resourcetypes":         "ResourceTypes",
	"serviceproviderconfig": "ServiceProviderConfig",
	// Microsoft's reference collection reads the config from this non-standard path.
	"serviceconfiguration": "ServiceProviderConfig",
	".search":              ".search",
	"me":                   "Me",
}

// route resolves a method and path (as the Server sees it, after the host's prefix) to a
// route. It returns false for paths that name no endpoint.
func route(method, path string) (routed, bool) {
	if len(path) >= 3 && strings.EqualFold(path[:3], "/v2") && (len(path) == 3 || path[3] == '/') {
		path = path[3:]
	}
	path = strings.TrimPrefix(path, "/")
	path = strings.TrimSuffix(path, "/")
	if path == "" {
		return routed{}, false
	}
	first, rest, hasRest := strings.Cut(path, "/")
	canon, ok := canonicalSegments[strings.ToLower(first)]
	if !ok {
		return routed{}, false
	}
	only := func(allowed string, rt routed) (routed, bool) {
		for _, m := range strings.Split(allowed, ", ") {
			if m == method {
				return rt, true
			}
		}
		return routed{allow: allowed}, true
	}
	switch canon {
	case "Users", "Groups":
		prepare := prepareUser
		if canon == "Groups" {
			prepare = prepareGroup
		}
		switch {
		case !hasRest:
			if method == http.MethodGet {
				return routed{kind: routeList, path: "/" + canon, resource: canon}, true
			}
			return only("GET, POST", routed{path: "/" + canon, resource: canon, prepare: prepare})
		case strings.EqualFold(rest, ".search"):
			return only("POST", routed{kind: routeSearch, path: "/" + canon + "/.search", resource: canon})
		default:
			rt := routed{path: "/" + canon + "/" + rest, resource: canon}
			switch method {
			case http.MethodGet:
				rt.kind = routeGet
			case http.MethodPut:
				rt.prepare = prepare
			case http.MethodPatch:
				rt.prepare = preparePatch
			}
			return only("GET, PUT, PATCH, DELETE", rt)
		}
	case ".search":
		if hasRest {
			return routed{}, false
		}
		return only("POST", routed{kind: routeSearch, path: "/.search", resource: "Users"})
	case "Me":
		return routed{path: "/Me"}, true
	case "ServiceProviderConfig":
		if hasRest {
			return routed{}, false
		}
		return only("GET", routed{kind: routeConfig, path: "/ServiceProviderConfig"})
	default: // Schemas, ResourceTypes
		p := "/" + canon
		if hasRest {
			p += "/" + rest
		}
		return only("GET", routed{path: p})
	}
}

var (
	errNotJSON = &scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
		Detail: "The request body is not a valid JSON object."}
	errBadPatch = &scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
		Detail: "The request body is not a valid PatchOp message."}
)

// scim10UserURN is the SCIM 1.0 core URN that old OneLogin templates still send.
const scim10UserURN = "urn:scim:schemas:core:1.0"

// prepareUser makes a POST or PUT /Users body acceptable to the wrapped validator without
// changing its meaning: it makes sure the core schema URN is listed, drops read-only id and
// meta and the write-only password, and turns "True"/"False" strings into booleans. The
// groups attribute (read-only to the wrapped library, Postman's "groups to join" on create)
// moves to rq.
func prepareUser(body []byte, rq *request) ([]byte, *scimerrors.ScimError) {
	m, serr := decodeBody(body)
	if serr != nil {
		return nil, serr
	}
	ensureSchema(m, schema.UserSchema)
	for k, v := range m {
		switch strings.ToLower(k) {
		case "groups":
			refs, serr := readGroupRefs(v)
			if serr != nil {
				return nil, serr
			}
			rq.groups = refs
			delete(m, k)
		case "id", "meta", "password":
			delete(m, k)
		case "active":
			m[k] = stringBool(v)
		case "emails":
			if list, ok := v.([]any); ok {
				for _, e := range list {
					if em, ok := e.(map[string]any); ok {
						for ek, ev := range em {
							if strings.EqualFold(ek, "primary") {
								em[ek] = stringBool(ev)
							}
						}
					}
				}
			}
		}
	}
	return encode(m)
}

// prepareGroup makes a POST or PUT /Groups body acceptable to the wrapped validator: the
// core Group URN listed (Entra ID adds Microsoft's own URN), read-only id and meta dropped.
func prepareGroup(body []byte, _ *request) ([]byte, *scimerrors.ScimError) {
	m, serr := decodeBody(body)
	if serr != nil {
		return nil, serr
	}
	ensureSchema(m, schema.GroupSchema)
	for k := range m {
		switch strings.ToLower(k) {
		case "id", "meta":
			delete(m, k)
		}
	}
	return encode(m)
}

// ensureSchema makes sure the "schemas" list of m names core (the wrapped validator refuses
// a body without it) and drops the SCIM 1.0 URN. Unknown URNs are kept and ignored.
func ensureSchema(m map[string]any, core string) {
	key := "schemas"
	for k := range m {
		if strings.EqualFold(k, "schemas") {
			key = k
		}
	}
	list, _ := m[key].([]any)
	out := make([]any, 0, len(list)+1)
	found := false
	for _, v := range list {
		s, ok := v.(string)
		if !ok || s == scim10UserURN {
			continue
		}
		if strings.EqualFold(s, core) {
			s, found = core, true
		}
		out = append(out, s)
	}
	if !found {
		out = append(out, core)
	}
	delete(m, key)
	m["schemas"] = out
}

// preparePatch normalises a PatchOp body: string booleans for active, the write-only password
// dropped, and extension objects in path-less values flattened to "urn:...:attr" keys (the
// wrapped validator refuses the nested form).
func preparePatch(body []byte, _ *request) ([]byte, *scimerrors.ScimError) {
	m, serr := decodeBody(body)
	if serr != nil {
		return nil, serr
	}
	for k, v := range m {
		if !strings.EqualFold(k, "operations") {
			continue
		}
		ops, ok := v.([]any)
		if !ok {
			return nil, errBadPatch
		}
		for _, o := range ops {
			op, ok := o.(map[string]any)
			if !ok {
				return nil, errBadPatch
			}
			preparePatchOp(op)
		}
	}
	return encode(m)
}

func preparePatchOp(op map[string]any) {
	var path string
	var pathKey, valueKey string
	for k, v := range op {
		switch strings.ToLower(k) {
		case "path":
			path, _ = v.(string)
			pathKey = k
		case "value":
			valueKey = k
		}
	}
	path = strings.TrimSpace(path)
	switch {
	case strings.EqualFold(path, "active"):
		if valueKey != "" {
			op[valueKey] = stringBool(op[valueKey])
		}
	case strings.EqualFold(path, "password"):
		delete(op, pathKey)
		op["value"] = map[string]any{}
		if valueKey != "value" {
			delete(op, valueKey)
		}
	case path == "" && valueKey != "":
		val, ok := op[valueKey].(map[string]any)
		if !ok {
			return
		}
		for k, v := range val {
			switch {
			case strings.EqualFold(k, "active"):
				val[k] = stringBool(v)
			case strings.EqualFold(k, "password"):
				delete(val, k)
			case strings.HasPrefix(strings.ToLower(k), "urn:"):
				if ext, ok := v.(map[string]any); ok {
					delete(val, k)
					for ek, ev := range ext {
						val[k+":"+ek] = ev
					}
				}
			}
		}
	}
}

// stringBool turns "true"/"false" in any case into a boolean and leaves anything else as is.
func stringBool(v any) any {
	if s, ok := v.(string); ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true
		case "false":
			return false
		}
	}
	return v
}

// errNUL answers a body with a NUL character in a string: no store can be asked to keep one
// (PostgreSQL text cannot), so every store refuses it alike.
var errNUL = &scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue,
	Detail: "Strings may not contain the NUL character (U+0000)."}

// decodeBody decodes a request body that must be a JSON object without NUL characters in its
// strings (values or names).
func decodeBody(body []byte) (map[string]any, *scimerrors.ScimError) {
	m, err := decodeObject(body)
	if err != nil {
		return nil, errNotJSON
	}
	if hasNUL(m) {
		return nil, errNUL
	}
	return m, nil
}

// hasNUL reports whether a decoded JSON value holds a NUL character in a string or a name.
func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || hasNUL(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	}
	return false
}

func decodeObject(body []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil || d.More() {
		return nil, errNotJSON
	}
	return m, nil
}

func encode(m map[string]any) ([]byte, *scimerrors.ScimError) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, errNotJSON
	}
	return b, nil
}
