package scimtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// faults are the mistakes the test server can be told to make, each one seen in real SCIM
// servers.
type faults struct {
	noLocation          bool // a 201 has no Location header
	noConflict          bool // a duplicate userName is created instead of answering 409
	caseSensitiveFilter bool // userName eq compares case-sensitively
	strictBooleans      bool // the strings "True" and "False" are refused where a boolean goes
	ignorePathless      bool // a PATCH operation without a path is answered but not applied
	ignoreMemberFilter  bool // remove with path members[value eq "x"] is answered but not applied
	delete200           bool // DELETE answers 200 with the deleted resource instead of 204
	plain401            bool // a bad token gets a plain-text 401 instead of a SCIM error
}

// testServer is a small, correct SCIM 2.0 server in memory (not teamscim): users and groups
// as the IdPs' flows use them, the eq filters they send, PATCH with and without paths,
// capitalised ops and string booleans, paging and excludedAttributes. It implements no
// Postman product rule, so it passes every flow with scimtest.TagProduct skipped, unless a
// fault is switched on. It serves at its root.
type testServer struct {
	token  string
	faults faults

	mu     sync.Mutex
	seq    int
	users  map[string]*tsUser
	groups map[string]*tsGroup
}

type tsUser struct {
	id, userName, externalID, displayName, locale string
	name                                          map[string]string // givenName, familyName, middleName, formatted
	emails                                        []map[string]any
	active                                        bool
}

type tsGroup struct {
	id, displayName, externalID string
	members                     []string
}

const (
	userURN     = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN    = "urn:ietf:params:scim:schemas:core:2.0:Group"
	errorURN    = "urn:ietf:params:scim:api:messages:2.0:Error"
	listURN     = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	patchURN    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	enterprise  = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	testToken   = "test-server-token-0123456789"
	maxPageSize = 100
)

func newTestServer(f faults) *testServer {
	return &testServer{token: testToken, faults: f, users: map[string]*tsUser{}, groups: map[string]*tsGroup{}}
}

// scimErr is an error answered with a SCIM error body.
type scimErr struct {
	status   int
	scimType string
	detail   string
}

func (e *scimErr) Error() string { return e.detail }

func bad(scimType, format string, args ...any) *scimErr {
	return &scimErr{http.StatusBadRequest, scimType, fmt.Sprintf(format, args...)}
}

func (s *testServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		w.Header().Set("WWW-Authenticate", "Bearer")
		if s.faults.plain401 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		writeErr(w, &scimErr{http.StatusUnauthorized, "", "the bearer token is not valid"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	base := "http://" + r.Host
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var (
		status int
		doc    any
		err    error
	)
	switch {
	case len(parts) == 1 && parts[0] == "Users" && r.Method == http.MethodGet:
		status, doc, err = s.listUsers(base, r.URL.Query())
	case len(parts) == 1 && parts[0] == "Users" && r.Method == http.MethodPost:
		status, doc, err = s.createUser(base, r)
	case len(parts) == 2 && parts[0] == "Users":
		status, doc, err = s.user(base, parts[1], r)
	case len(parts) == 1 && parts[0] == "Groups" && r.Method == http.MethodGet:
		status, doc, err = s.listGroups(base, r.URL.Query())
	case len(parts) == 1 && parts[0] == "Groups" && r.Method == http.MethodPost:
		status, doc, err = s.createGroup(base, r)
	case len(parts) == 2 && parts[0] == "Groups":
		status, doc, err = s.group(base, parts[1], r)
	default:
		err = &scimErr{http.StatusNotFound, "", "no such endpoint"}
	}
	if err != nil {
		writeErr(w, err.(*scimErr))
		return
	}
	if status == http.StatusCreated && !s.faults.noLocation {
		w.Header().Set("Location", doc.(map[string]any)["meta"].(map[string]any)["location"].(string))
	}
	if doc == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(doc)
}

func writeErr(w http.ResponseWriter, e *scimErr) {
	body := map[string]any{"schemas": []string{errorURN}, "status": strconv.Itoa(e.status), "detail": e.detail}
	if e.scimType != "" {
		body["scimType"] = e.scimType
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(body)
}

func (s *testServer) newID() string {
	s.seq++
	return fmt.Sprintf("%08d", s.seq)
}

func decodeBody(r *http.Request) (map[string]any, error) {
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil || m == nil {
		return nil, bad("invalidSyntax", "the body is not a JSON object")
	}
	return m, nil
}

// get returns m's value for the attribute name k, compared case-insensitively.
func get(m map[string]any, k string) (any, bool) {
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v, true
		}
	}
	return nil, false
}

func hasSchema(m map[string]any, urn string) bool {
	v, _ := get(m, "schemas")
	list, _ := v.([]any)
	return slices.ContainsFunc(list, func(x any) bool { s, _ := x.(string); return strings.EqualFold(s, urn) })
}

// boolean reads a boolean, or the strings Entra and OneLogin send for one.
func (s *testServer) boolean(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		if !s.faults.strictBooleans {
			switch strings.ToLower(x) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
	}
	return false, bad("invalidValue", "active must be a boolean")
}

// ---- users

func (s *testServer) userDoc(base string, u *tsUser) map[string]any {
	name := map[string]any{}
	for k, v := range u.name {
		name[k] = v
	}
	doc := map[string]any{
		"schemas": []string{userURN}, "id": u.id, "userName": u.userName, "active": u.active, "name": name,
		"meta": map[string]any{"resourceType": "User", "location": base + "/Users/" + u.id},
	}
	for k, v := range map[string]string{"externalId": u.externalID, "displayName": u.displayName, "locale": u.locale} {
		if v != "" {
			doc[k] = v
		}
	}
	if len(u.emails) > 0 {
		doc["emails"] = u.emails
	}
	return doc
}

// setUser applies the attributes of a POST or PUT body to u; unknown attributes are ignored.
func (s *testServer) setUser(u *tsUser, m map[string]any) error {
	if !hasSchema(m, userURN) {
		return bad("invalidSyntax", "schemas must include %s", userURN)
	}
	name, _ := get(m, "userName")
	if n, ok := name.(string); !ok || n == "" {
		return bad("invalidValue", "userName is required")
	}
	for k, v := range m {
		switch strings.ToLower(k) {
		case "username", "externalid", "displayname", "locale", "name", "emails", "active":
			if err := s.setUserAttr(u, k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// setUserAttr sets one attribute, by a PATCH path or a body key.
func (s *testServer) setUserAttr(u *tsUser, path string, v any) error {
	p := strings.ToLower(path)
	if strings.HasPrefix(p, strings.ToLower(enterprise)+":") {
		return nil // the enterprise extension is accepted and not kept
	}
	p = strings.TrimPrefix(p, strings.ToLower(userURN)+":")
	str := func() (string, error) {
		if x, ok := v.(string); ok {
			return x, nil
		}
		return "", bad("invalidValue", "%s must be a string", path)
	}
	var err error
	switch p {
	case "id", "meta", "schemas", "password", "groups", "roles":
		// read-only, write-only or not kept
	case "active":
		u.active, err = s.boolean(v)
	case "username":
		var n string
		if n, err = str(); err == nil && n == "" {
			err = bad("invalidValue", "userName must not be empty")
		}
		if err == nil {
			if other := s.byUserName(n, false); other != nil && other.id != u.id && !s.faults.noConflict {
				return &scimErr{http.StatusConflict, "uniqueness", "userName is taken"}
			}
			u.userName = n
		}
	case "externalid":
		u.externalID, err = str()
	case "displayname":
		u.displayName, err = str()
	case "locale":
		u.locale, err = str()
	case "name":
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("invalidValue", "name must be an object")
		}
		for k, sub := range obj {
			if err := s.setUserAttr(u, "name."+k, sub); err != nil {
				return err
			}
		}
	case "name.givenname", "name.familyname", "name.middlename", "name.formatted":
		var x string
		if x, err = str(); err == nil {
			key := map[string]string{"name.givenname": "givenName", "name.familyname": "familyName",
				"name.middlename": "middleName", "name.formatted": "formatted"}[p]
			if u.name == nil {
				u.name = map[string]string{}
			}
			u.name[key] = x
		}
	case "emails":
		list, ok := v.([]any)
		if !ok {
			return bad("invalidValue", "emails must be an array")
		}
		u.emails = nil
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				u.emails = append(u.emails, m)
			}
		}
	case `emails[type eq "work"].value`:
		var x string
		if x, err = str(); err == nil {
			for _, e := range u.emails {
				if t, _ := get(e, "type"); t == "work" {
					e["value"] = x
					return nil
				}
			}
			u.emails = append(u.emails, map[string]any{"type": "work", "value": x})
		}
	default:
		return bad("invalidPath", "unknown attribute %s", path)
	}
	return err
}

func (s *testServer) byUserName(n string, caseSensitive bool) *tsUser {
	for _, u := range s.users {
		if u.userName == n || !caseSensitive && strings.EqualFold(u.userName, n) {
			return u
		}
	}
	return nil
}

func (s *testServer) createUser(base string, r *http.Request) (int, any, error) {
	m, err := decodeBody(r)
	if err != nil {
		return 0, nil, err
	}
	u := &tsUser{active: true}
	if err := s.setUser(u, m); err != nil {
		return 0, nil, err
	}
	u.id = s.newID()
	s.users[u.id] = u
	return http.StatusCreated, s.userDoc(base, u), nil
}

func (s *testServer) user(base, id string, r *http.Request) (int, any, error) {
	u := s.users[id]
	if u == nil {
		return 0, nil, &scimErr{http.StatusNotFound, "", "no such user"}
	}
	switch r.Method {
	case http.MethodGet:
		return http.StatusOK, s.userDoc(base, u), nil
	case http.MethodPut:
		m, err := decodeBody(r)
		if err != nil {
			return 0, nil, err
		}
		next := *u
		next.name, next.emails = nil, nil
		if err := s.setUser(&next, m); err != nil {
			return 0, nil, err
		}
		*u = next
		return http.StatusOK, s.userDoc(base, u), nil
	case http.MethodPatch:
		next := *u
		next.name = maps(u.name)
		next.emails = slices.Clone(u.emails)
		err := s.patch(r, func(op, path string, value any) error {
			if strings.ToLower(op) == "remove" {
				return bad("invalidValue", "remove is not supported on users")
			}
			if path != "" {
				return s.setUserAttr(&next, path, value)
			}
			obj, ok := value.(map[string]any)
			if !ok {
				return bad("invalidValue", "a PATCH without a path needs an object value")
			}
			for k, v := range obj {
				if err := s.setUserAttr(&next, k, v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, nil, err
		}
		*u = next
		return http.StatusOK, s.userDoc(base, u), nil
	case http.MethodDelete:
		delete(s.users, id)
		for _, g := range s.groups {
			g.members = slices.DeleteFunc(g.members, func(m string) bool { return m == id })
		}
		if s.faults.delete200 {
			return http.StatusOK, s.userDoc(base, u), nil
		}
		return http.StatusNoContent, nil, nil
	}
	return 0, nil, &scimErr{http.StatusMethodNotAllowed, "", "method not allowed"}
}

func maps(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// patch decodes a PatchOp and calls apply for each operation, with the op in any case; an
// operation without a path is skipped under the ignorePathless fault.
func (s *testServer) patch(r *http.Request, apply func(op, path string, value any) error) error {
	var body struct {
		Schemas    []string `json:"schemas"`
		Operations []struct {
			Op    string `json:"op"`
			Path  string `json:"path"`
			Value any    `json:"value"`
		} `json:"Operations"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || !slices.Contains(body.Schemas, patchURN) || len(body.Operations) == 0 {
		return bad("invalidSyntax", "not a PatchOp")
	}
	for _, op := range body.Operations {
		switch strings.ToLower(op.Op) {
		case "add", "replace", "remove":
		default:
			return bad("invalidSyntax", "unknown op %q", op.Op)
		}
		if op.Path == "" && s.faults.ignorePathless {
			continue
		}
		if err := apply(op.Op, op.Path, op.Value); err != nil {
			return err
		}
	}
	return nil
}

// ---- lists

// eqFilter parses `attr eq "value"`, the only filter the IdPs send.
func eqFilter(f string) (string, string, error) {
	attr, rest, ok := strings.Cut(strings.TrimSpace(f), " ")
	op, val, ok2 := strings.Cut(strings.TrimSpace(rest), " ")
	v, err := strconv.Unquote(strings.TrimSpace(val))
	if !ok || !ok2 || !strings.EqualFold(op, "eq") || err != nil {
		return "", "", bad("invalidFilter", "only attr eq \"value\" is supported")
	}
	return strings.ToLower(attr), v, nil
}

// page cuts items per startIndex and count and wraps them in a ListResponse.
func page(q url.Values, items []any) (int, any, error) {
	start, count := 1, maxPageSize
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, nil, bad("invalidValue", "startIndex must be an integer")
		}
		start = max(n, 1)
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, nil, bad("invalidValue", "count must be an integer")
		}
		count = min(max(n, 0), maxPageSize)
	}
	total := len(items)
	from := min(start-1, total)
	to := min(from+count, total)
	return http.StatusOK, map[string]any{"schemas": []string{listURN}, "totalResults": total,
		"startIndex": start, "itemsPerPage": to - from, "Resources": items[from:to]}, nil
}

func (s *testServer) listUsers(base string, q url.Values) (int, any, error) {
	attr, val := "", ""
	if f := q.Get("filter"); f != "" {
		var err error
		if attr, val, err = eqFilter(f); err != nil {
			return 0, nil, err
		}
		if attr != "username" && attr != "externalid" {
			return 0, nil, bad("invalidFilter", "unsupported filter attribute")
		}
	}
	var items []any
	for _, id := range sortedIDs(s.users) {
		u := s.users[id]
		switch {
		case attr == "username" && s.faults.caseSensitiveFilter && u.userName != val:
		case attr == "username" && !strings.EqualFold(u.userName, val):
		case attr == "externalid" && u.externalID != val:
		default:
			items = append(items, s.userDoc(base, u))
		}
	}
	return page(q, items)
}

func sortedIDs[T any](m map[string]T) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ---- groups

func (s *testServer) groupDoc(base string, g *tsGroup, withMembers bool) map[string]any {
	doc := map[string]any{
		"schemas": []string{groupURN}, "id": g.id, "displayName": g.displayName,
		"meta": map[string]any{"resourceType": "Group", "location": base + "/Groups/" + g.id},
	}
	if g.externalID != "" {
		doc["externalId"] = g.externalID
	}
	if withMembers {
		members := []any{}
		for _, m := range g.members {
			member := map[string]any{"value": m, "$ref": base + "/Users/" + m}
			if u := s.users[m]; u != nil {
				member["display"] = u.userName
			}
			members = append(members, member)
		}
		doc["members"] = members
	}
	return doc
}

func withMembers(q url.Values) bool {
	return !strings.Contains(strings.ToLower(q.Get("excludedAttributes")), "members")
}

// memberIDs reads [{"value": id}, ...].
func memberIDs(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok && v != nil {
		return nil, bad("invalidValue", "members must be an array")
	}
	var ids []string
	for _, e := range list {
		m, _ := e.(map[string]any)
		id, _ := get(m, "value")
		s, ok := id.(string)
		if !ok || s == "" {
			return nil, bad("invalidValue", "a member needs a value")
		}
		ids = append(ids, s)
	}
	return ids, nil
}

func (s *testServer) setGroup(g *tsGroup, m map[string]any) error {
	if !hasSchema(m, groupURN) {
		return bad("invalidSyntax", "schemas must include %s", groupURN)
	}
	name, _ := get(m, "displayName")
	n, ok := name.(string)
	if !ok || n == "" {
		return bad("invalidValue", "displayName is required")
	}
	g.displayName = n
	if ext, ok := get(m, "externalId"); ok {
		g.externalID, _ = ext.(string)
	}
	members, _ := get(m, "members")
	ids, err := memberIDs(members)
	g.members = ids
	return err
}

func (s *testServer) createGroup(base string, r *http.Request) (int, any, error) {
	m, err := decodeBody(r)
	if err != nil {
		return 0, nil, err
	}
	g := &tsGroup{}
	if err := s.setGroup(g, m); err != nil {
		return 0, nil, err
	}
	g.id = s.newID()
	s.groups[g.id] = g
	return http.StatusCreated, s.groupDoc(base, g, true), nil
}

func (s *testServer) listGroups(base string, q url.Values) (int, any, error) {
	val, filtered := "", false
	if f := q.Get("filter"); f != "" {
		attr, v, err := eqFilter(f)
		if err != nil {
			return 0, nil, err
		}
		if attr != "displayname" {
			return 0, nil, bad("invalidFilter", "unsupported filter attribute")
		}
		val, filtered = v, true
	}
	var items []any
	for _, id := range sortedIDs(s.groups) {
		if g := s.groups[id]; !filtered || strings.EqualFold(g.displayName, val) {
			items = append(items, s.groupDoc(base, g, withMembers(q)))
		}
	}
	return page(q, items)
}

func (s *testServer) group(base, id string, r *http.Request) (int, any, error) {
	g := s.groups[id]
	if g == nil {
		return 0, nil, &scimErr{http.StatusNotFound, "", "no such group"}
	}
	switch r.Method {
	case http.MethodGet:
		return http.StatusOK, s.groupDoc(base, g, withMembers(r.URL.Query())), nil
	case http.MethodPut:
		m, err := decodeBody(r)
		if err != nil {
			return 0, nil, err
		}
		next := *g
		if err := s.setGroup(&next, m); err != nil {
			return 0, nil, err
		}
		*g = next
		return http.StatusOK, s.groupDoc(base, g, true), nil
	case http.MethodPatch:
		next := *g
		next.members = slices.Clone(g.members)
		if err := s.patch(r, func(op, path string, value any) error { return s.patchGroup(&next, op, path, value) }); err != nil {
			return 0, nil, err
		}
		*g = next
		return http.StatusNoContent, nil, nil
	case http.MethodDelete:
		delete(s.groups, id)
		if s.faults.delete200 {
			return http.StatusOK, s.groupDoc(base, g, true), nil
		}
		return http.StatusNoContent, nil, nil
	}
	return 0, nil, &scimErr{http.StatusMethodNotAllowed, "", "method not allowed"}
}

func (s *testServer) patchGroup(g *tsGroup, op, path string, value any) error {
	op, p := strings.ToLower(op), strings.ToLower(path)
	switch {
	case p == "":
		obj, ok := value.(map[string]any)
		if !ok {
			return bad("invalidValue", "a PATCH without a path needs an object value")
		}
		for k, v := range obj {
			if err := s.patchGroup(g, op, k, v); err != nil {
				return err
			}
		}
	case p == "id":
		if value != g.id {
			return bad("mutability", "id is read-only")
		}
	case p == "displayname":
		n, ok := value.(string)
		if !ok || n == "" {
			return bad("invalidValue", "displayName must be a non-empty string")
		}
		g.displayName = n
	case p == "externalid":
		g.externalID, _ = value.(string)
	case p == "members":
		ids, err := memberIDs(value)
		if err != nil {
			return err
		}
		switch op {
		case "add":
			for _, id := range ids {
				if !slices.Contains(g.members, id) {
					g.members = append(g.members, id)
				}
			}
		case "remove":
			if value == nil {
				g.members = nil
			}
			g.members = slices.DeleteFunc(g.members, func(m string) bool { return slices.Contains(ids, m) })
		default:
			g.members = ids
		}
	case strings.HasPrefix(p, "members[") && strings.HasSuffix(p, "]") && op == "remove":
		attr, val, err := eqFilter(path[len("members[") : len(path)-1])
		if err != nil || attr != "value" {
			return bad("invalidPath", "members filters must be value eq")
		}
		if !s.faults.ignoreMemberFilter {
			g.members = slices.DeleteFunc(g.members, func(m string) bool { return m == val })
		}
	default:
		return bad("invalidPath", "unknown path %s", path)
	}
	return nil
}
