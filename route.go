package teamscim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	scimerrors "github.com/elimity-com/scim/errors"
)

type routeKind int

const (
	routeDelegate routeKind = iota // handed to the wrapped library: /Schemas, /ResourceTypes, /Me
	routeList                      // GET on a resource collection
	routeSearch                    // POST .search
	routeConfig                    // GET /ServiceProviderConfig
	routeGet                       // GET of one resource
	routeCreate                    // POST on a resource collection
	routeReplace                   // PUT of one resource
	routePatch                     // PATCH of one resource
	routeDelete                    // DELETE of one resource
)

// routed is where a request goes after its path has been made canonical.
type routed struct {
	kind     routeKind
	path     string // canonical path, without the /v2 prefix
	resource string // "Users" for resource routes
	id       string // the resource's id, for routes of one resource
	allow    string // set when the method is not allowed: the methods that are
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
		for rest := allowed; rest != ""; {
			var m string
			m, rest, _ = strings.Cut(rest, ", ")
			if m == method {
				return rt, true
			}
		}
		return routed{allow: allowed}, true
	}
	switch canon {
	case "Users", "Groups":
		switch {
		case !hasRest:
			kind := routeList
			if method == http.MethodPost {
				kind = routeCreate
			}
			return only("GET, POST", routed{kind: kind, path: "/" + canon, resource: canon})
		case strings.EqualFold(rest, ".search"):
			return only("POST", routed{kind: routeSearch, path: "/" + canon + "/.search", resource: canon})
		default:
			id, err := url.PathUnescape(rest)
			if err != nil {
				return routed{}, false
			}
			rt := routed{path: "/" + canon + "/" + rest, resource: canon, id: id}
			switch method {
			case http.MethodGet:
				rt.kind = routeGet
			case http.MethodPut:
				rt.kind = routeReplace
			case http.MethodPatch:
				rt.kind = routePatch
			case http.MethodDelete:
				rt.kind = routeDelete
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

var errNotJSON = &scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidSyntax,
	Detail: "The request body is not a valid JSON object."}

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
