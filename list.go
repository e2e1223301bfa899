package teamscim

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/teamscim/teamscim/store"
)

// Filter limits: longer or deeper filters answer 400 invalidFilter before they are parsed.
const (
	maxFilterLength = 4096
	maxFilterDepth  = 32
	scanChunk       = 1000
)

const listResponseSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

// noCount is the count of a list request that gives none: the page is Config.MaxResults.
const noCount = math.MinInt

// listParams are the parameters of a list or search request.
type listParams struct {
	filter               string
	startIndex, count    int
	attributes, excluded []string
	err                  *scimerrors.ScimError
}

// listParamsFromQuery reads a GET list request's query parameters.
func listParamsFromQuery(r *http.Request) listParams {
	q := r.URL.Query()
	p := listParams{
		filter:     strings.TrimSpace(q.Get("filter")),
		attributes: splitAttrs(q.Get("attributes")),
		excluded:   splitAttrs(q.Get("excludedAttributes")),
	}
	var bad []string
	var err error
	if p.startIndex, err = intParam(q.Get("startIndex"), 1); err != nil {
		bad = append(bad, "startIndex")
	}
	if p.count, err = intParam(q.Get("count"), noCount); err != nil {
		bad = append(bad, "count")
	}
	if len(bad) > 0 {
		p.err = &scimerrors.ScimError{Status: http.StatusBadRequest, ScimType: scimerrors.ScimTypeInvalidValue,
			Detail: "Invalid parameter(s): " + strings.Join(bad, ", ") + " must be integers."}
	}
	return p
}

func intParam(v string, def int) (int, error) {
	if v = strings.TrimSpace(v); v == "" {
		return def, nil
	}
	return strconv.Atoi(v)
}

func splitAttrs(v string) []string {
	if v == "" {
		return nil
	}
	var out []string
	for _, a := range strings.Split(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// serveSearch serves POST /.search and POST /Users/.search (RFC 7644 §3.4.3).
func (s *Server) serveSearch(w http.ResponseWriter, r *http.Request, rq *request, rt routed) {
	var body struct {
		Filter             string   `json:"filter"`
		StartIndex         *int     `json:"startIndex"`
		Count              *int     `json:"count"`
		Attributes         []string `json:"attributes"`
		ExcludedAttributes []string `json:"excludedAttributes"`
	}
	d := json.NewDecoder(r.Body)
	if err := d.Decode(&body); err != nil {
		writeError(w, *errNotJSON)
		return
	}
	p := listParams{filter: strings.TrimSpace(body.Filter), startIndex: 1, count: noCount,
		attributes: body.Attributes, excluded: body.ExcludedAttributes}
	if body.StartIndex != nil {
		p.startIndex = *body.StartIndex
	}
	if body.Count != nil {
		p.count = *body.Count
	}
	s.serveList(w, r, rq, rt, p)
}

// serveList answers a list or search of users from the store's indexes where it can.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request, rq *request, rt routed, p listParams) {
	if p.err != nil {
		s.fail(r.Context(), w, rq, *p.err)
		return
	}
	if p.startIndex < 1 {
		p.startIndex = 1
	}
	switch {
	case p.count == noCount || p.count > s.cfg.MaxResults:
		p.count = s.cfg.MaxResults
	case p.count < 0:
		p.count = 0 // RFC 7644 §3.4.2.4: a negative count is 0
	}
	expr, err := parseFilter(p.filter)
	if err != nil {
		s.fail(r.Context(), w, rq, err)
		return
	}
	var resources []map[string]any
	var total int
	if rt.resource == "Groups" {
		resources, total, err = s.listGroups(r.Context(), rq, expr, p)
	} else {
		resources, total, err = s.listUsers(r.Context(), rq, expr, p)
	}
	if err != nil {
		s.fail(r.Context(), w, rq, err)
		return
	}
	body, err := listResponse{
		Schemas:      []string{listResponseSchema},
		TotalResults: total,
		ItemsPerPage: len(resources),
		StartIndex:   p.startIndex,
		Resources:    resources,
	}.encode()
	if err != nil {
		s.fail(r.Context(), w, rq, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// listUsers renders one page of users.
func (s *Server) listUsers(ctx context.Context, rq *request, expr filter.Expression, p listParams) ([]map[string]any, int, error) {
	var users []store.User
	var total int
	err := s.view(ctx, rq, func(ctx context.Context, tx store.Tx) error {
		var err error
		users, total, err = queryUsers(ctx, tx, expr, p.startIndex-1, p.count)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	out := make([]map[string]any, len(users))
	for i, u := range users {
		m := userAttributes(u)
		renderCommon(m, u.ID, "User", schema.UserSchema, rq.baseURL+"/Users/"+url.PathEscape(u.ID),
			metaOf(u.Created, u.LastModified, u.Version))
		project(m, p.attributes, p.excluded)
		out[i] = m
	}
	return out, total, nil
}

// listGroups renders one page of groups, with members unless the projection leaves them out.
func (s *Server) listGroups(ctx context.Context, rq *request, expr filter.Expression, p listParams) ([]map[string]any, int, error) {
	var groups []store.Group
	var total int
	err := s.view(ctx, rq, func(ctx context.Context, tx store.Tx) error {
		var err error
		groups, total, err = queryGroups(ctx, tx, expr, p.startIndex-1, p.count)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	withMembers := wantsMembers(p.attributes, p.excluded)
	out := make([]map[string]any, len(groups))
	for i, g := range groups {
		m, err := s.groupAttributes(ctx, rq, g, withMembers)
		if err != nil {
			return nil, 0, err
		}
		renderCommon(m, g.ID, "Group", schema.GroupSchema, rq.baseURL+"/Groups/"+url.PathEscape(g.ID),
			metaOf(g.Created, g.LastModified, g.Version))
		project(m, p.attributes, p.excluded)
		out[i] = m
	}
	return out, total, nil
}

// queryGroups returns one page of the groups that match expr, and how many match.
// displayName eq and id eq are answered from indexes; anything else scans the team's groups.
func queryGroups(ctx context.Context, tx store.Tx, expr filter.Expression, offset, limit int) ([]store.Group, int, error) {
	list := func(o store.ListOptions) (store.Page[store.Group], error) { return tx.ListGroups(ctx, o) }
	if expr == nil {
		return pageStore(list, offset, limit)
	}
	if e, ok := expr.(*filter.AttributeExpression); ok && e.Operator == filter.EQ && e.AttributePath.SubAttribute == nil {
		if v, ok := e.CompareValue.(string); ok {
			var g store.Group
			var err error
			found := true
			switch strings.ToLower(e.AttributePath.AttributeName) {
			case "displayname":
				g, err = tx.GetGroupByDisplayName(ctx, v)
			case "id":
				g, err = tx.GetGroup(ctx, v)
			default:
				found = false
			}
			if found {
				if errors.Is(err, store.ErrNotFound) {
					return []store.Group{}, 0, nil
				}
				if err != nil {
					return nil, 0, err
				}
				return pageOf([]store.Group{g}, offset, limit), 1, nil
			}
		}
	}
	return scan(list, func(g store.Group) bool { return matches(expr, groupDocument(g)) }, offset, limit)
}

// groupDocument is the attribute tree a group filter is evaluated against (members are not
// part of it).
func groupDocument(g store.Group) map[string]any {
	return map[string]any{"id": g.ID, "displayName": g.DisplayName, "externalId": g.ExternalID,
		"meta": map[string]any{"resourceType": "Group", "created": g.Created, "lastModified": g.LastModified}}
}

// listResponse is RFC 7644 §3.4.2's ListResponse, with itemsPerPage the number of resources
// on this page and Resources never null.
type listResponse struct {
	Schemas      []string         `json:"schemas"`
	TotalResults int              `json:"totalResults"`
	ItemsPerPage int              `json:"itemsPerPage"`
	StartIndex   int              `json:"startIndex"`
	Resources    []map[string]any `json:"Resources"`
}

// encode renders the response as encoding/json renders the struct, faster.
func (l listResponse) encode() ([]byte, error) {
	b := make([]byte, 0, 256+len(l.Resources)*512)
	b = append(b, `{"schemas":`...)
	b, _ = appendJSON(b, l.Schemas)
	b = append(b, `,"totalResults":`...)
	b = strconv.AppendInt(b, int64(l.TotalResults), 10)
	b = append(b, `,"itemsPerPage":`...)
	b = strconv.AppendInt(b, int64(l.ItemsPerPage), 10)
	b = append(b, `,"startIndex":`...)
	b = strconv.AppendInt(b, int64(l.StartIndex), 10)
	b = append(b, `,"Resources":`...)
	b, err := appendJSON(b, l.Resources)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// renderCommon adds the common attributes the wrapped library adds to a single resource, so
// that lists and single responses have one shape.
func renderCommon(m map[string]any, id, resourceType, schemaURN, location string, meta scim.Meta) {
	m["id"] = id
	m["schemas"] = []string{schemaURN}
	mm := map[string]any{"resourceType": resourceType, "location": location}
	if meta.Created != nil {
		mm["created"] = meta.Created.Format(time.RFC3339)
	}
	if meta.LastModified != nil {
		mm["lastModified"] = meta.LastModified.Format(time.RFC3339)
	}
	if meta.Version != "" {
		mm["version"] = meta.Version
	}
	m["meta"] = mm
}

// queryUsers returns one page of the visible users that match expr, and how many match.
// Equality on userName, externalId or id (alone or in an "and") is answered from the store's
// indexes; active eq and no filter page in the store; anything else scans the team.
func queryUsers(ctx context.Context, tx store.Tx, expr filter.Expression, offset, limit int) ([]store.User, int, error) {
	listBy := func(f store.UserFilter) func(store.ListOptions) (store.Page[store.User], error) {
		return func(o store.ListOptions) (store.Page[store.User], error) { return tx.ListUsers(ctx, f, o) }
	}
	if expr == nil {
		return pageStore(listBy(store.UserFilter{}), offset, limit)
	}
	if cands, ok, err := indexedCandidates(ctx, tx, expr); ok || err != nil {
		// A lone equality the index answered needs no second evaluation: the index compares
		// exactly as matches does (folded userName, exact id and externalId).
		_, lone := expr.(*filter.AttributeExpression)
		var match []store.User
		for _, u := range cands {
			if !u.Deleted && (lone || matches(expr, userDocument(u))) {
				match = append(match, u)
			}
		}
		return pageOf(match, offset, limit), len(match), err
	}
	if b, ok := activeEq(expr); ok {
		return pageStore(listBy(store.UserFilter{Active: &b}), offset, limit)
	}
	return scan(listBy(store.UserFilter{}), func(u store.User) bool { return matches(expr, userDocument(u)) }, offset, limit)
}

// pageStore asks the store for one page. count=0 asks only for the total (the store reads
// Limit <= 0 as "no limit", so it is asked for one item, which is dropped).
func pageStore[T any](list func(store.ListOptions) (store.Page[T], error), offset, limit int) ([]T, int, error) {
	if limit == 0 {
		pg, err := list(store.ListOptions{Offset: offset, Limit: 1})
		return []T{}, pg.Total, err
	}
	pg, err := list(store.ListOptions{Offset: offset, Limit: limit})
	return pg.Items, pg.Total, err
}

// scan walks every item in chunks and returns one page of those that match, and how many do.
func scan[T any](list func(store.ListOptions) (store.Page[T], error), match func(T) bool, offset, limit int) ([]T, int, error) {
	page := []T{}
	total := 0
	for off := 0; ; off += scanChunk {
		pg, err := list(store.ListOptions{Offset: off, Limit: scanChunk})
		if err != nil {
			return nil, 0, err
		}
		for _, it := range pg.Items {
			if !match(it) {
				continue
			}
			if total >= offset && len(page) < limit {
				page = append(page, it)
			}
			total++
		}
		if len(pg.Items) < scanChunk {
			return page, total, nil
		}
	}
}

func pageOf[T any](items []T, offset, limit int) []T {
	if offset >= len(items) || limit == 0 {
		return []T{}
	}
	items = items[offset:]
	if len(items) > limit {
		items = items[:limit]
	}
	return items
}

// indexedCandidates finds the users an equality on an indexed attribute allows, if expr has
// one at its top level (alone or as a side of "and").
func indexedCandidates(ctx context.Context, tx store.Tx, expr filter.Expression) ([]store.User, bool, error) {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if e.Operator != filter.AND {
			return nil, false, nil
		}
		if c, ok, err := indexedCandidates(ctx, tx, e.Left); ok || err != nil {
			return c, ok, err
		}
		return indexedCandidates(ctx, tx, e.Right)
	case *filter.AttributeExpression:
		v, ok := e.CompareValue.(string)
		if e.Operator != filter.EQ || !ok || e.AttributePath.SubAttribute != nil || !coreURI(e.AttributePath.URI()) {
			return nil, false, nil
		}
		var u store.User
		var err error
		switch strings.ToLower(e.AttributePath.AttributeName) {
		case "username":
			u, err = tx.GetUserByUserName(ctx, v)
		case "externalid":
			// externalId is not unique: every user that has it is a candidate (the caller
			// drops deleted ones).
			users, lookupErr := tx.UsersByExternalID(ctx, v)
			if lookupErr != nil {
				return nil, true, lookupErr
			}
			return users, true, nil
		case "id":
			u, err = tx.GetUser(ctx, v)
		default:
			return nil, false, nil
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, true, nil
		}
		if err != nil {
			return nil, true, err
		}
		return []store.User{u}, true, nil
	}
	return nil, false, nil
}

// activeEq reports whether expr is exactly "active eq <bool>".
func activeEq(expr filter.Expression) (bool, bool) {
	e, ok := expr.(*filter.AttributeExpression)
	if !ok || e.Operator != filter.EQ || e.AttributePath.SubAttribute != nil ||
		!strings.EqualFold(e.AttributePath.AttributeName, "active") || !coreURI(e.AttributePath.URI()) {
		return false, false
	}
	b, ok := stringBool(e.CompareValue).(bool)
	return b, ok
}

func coreURI(uri string) bool { return uri == "" || strings.EqualFold(uri, schema.UserSchema) }

// userDocument is the attribute tree a filter is evaluated against.
func userDocument(u store.User) map[string]any {
	m := userAttributes(u)
	m["id"] = u.ID
	m["meta"] = map[string]any{"resourceType": "User", "created": u.Created, "lastModified": u.LastModified}
	return m
}

var (
	errInvalidFilter = &apiError{status: http.StatusBadRequest, scimType: scimerrors.ScimTypeInvalidFilter,
		detail: "The filter is not valid (RFC 7644 §3.4.2.2)."}
	errFilterTooComplex = &apiError{status: http.StatusBadRequest, scimType: scimerrors.ScimTypeInvalidFilter,
		detail: "The filter is too long or too deeply nested."}
	// valuePathSub matches Entra ID's "emails[type eq "work"].value eq "x"", which RFC 7644's
	// grammar lacks; it is rewritten to "emails[type eq "work" and value eq "x"]".
	valuePathSub = regexp.MustCompile(`^\s*([A-Za-z][\w:.$-]*)\[(.*)\]\.([A-Za-z][\w$-]*)\s+([A-Za-z]{2})\s*(.*)$`)
)

// parseFilter parses a filter within the length and depth limits. The common form
// `attr eq "value"` is parsed without the general parser.
func parseFilter(raw string) (filter.Expression, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	if len(raw) > maxFilterLength || depth(raw) > maxFilterDepth {
		return nil, errFilterTooComplex
	}
	if e, ok := parseSimpleEq(raw); ok {
		return e, nil
	}
	// The parser takes no parentheses inside brackets, so only an and-only inner filter is
	// rewritten; anything else stays invalid.
	if m := valuePathSub.FindStringSubmatch(raw); m != nil && !strings.ContainsAny(m[2], "[]()") &&
		!strings.Contains(strings.ToLower(m[2]), " or ") {
		raw = m[1] + "[" + m[2] + " and " + m[3] + " " + m[4] + " " + m[5] + "]"
	}
	expr, err := filter.ParseFilter([]byte(raw))
	if err != nil || expr == nil {
		return nil, errInvalidFilter
	}
	if err := checkOperators(expr); err != nil {
		return nil, err
	}
	unescapeLiterals(expr)
	return expr, nil
}

// unescapeLiterals decodes JSON escapes in string literals, which the parser keeps verbatim
// (RFC 7644 makes a compare value a JSON string: "a\"b" means a"b).
func unescapeLiterals(expr filter.Expression) {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		unescapeLiterals(e.Left)
		unescapeLiterals(e.Right)
	case *filter.NotExpression:
		unescapeLiterals(e.Expression)
	case *filter.ValuePath:
		unescapeLiterals(e.ValueFilter)
	case *filter.AttributeExpression:
		if v, ok := e.CompareValue.(string); ok && strings.Contains(v, `\`) {
			var out string
			if json.Unmarshal([]byte(`"`+v+`"`), &out) == nil {
				e.CompareValue = out
			}
		}
	}
}

// depth returns the deepest nesting of parentheses and brackets outside string literals.
func depth(s string) int {
	d, max, inStr := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '(' || c == '[':
			d++
			if d > max {
				max = d
			}
		case c == ')' || c == ']':
			d--
		}
	}
	return max
}

// parseSimpleEq parses `attrPath eq "string"` with no other clause, the form IdPs send on
// every existence check, without the cost of the general parser.
func parseSimpleEq(raw string) (filter.Expression, bool) {
	s := strings.TrimSpace(raw)
	i := 0
	for i < len(s) && (isAttrChar(s[i]) || s[i] == '.') {
		i++
	}
	name := s[:i]
	if name == "" || strings.ContainsAny(name, ":") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") ||
		!(s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 'a' && s[0] <= 'z') {
		return nil, false
	}
	rest := strings.TrimLeft(s[i:], " ")
	if len(rest) < 3 || !strings.EqualFold(rest[:2], "eq") || rest[2] != ' ' {
		return nil, false
	}
	lit := strings.TrimSpace(rest[3:])
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return nil, false
	}
	v, ok := plainLiteral(lit)
	if !ok {
		if err := json.Unmarshal([]byte(lit), &v); err != nil {
			return nil, false
		}
	}
	// The literal must be one token: `"a" or "b"` parses as JSON only if it is one string.
	path := filter.AttributePath{AttributeName: name}
	if attr, sub, ok := strings.Cut(name, "."); ok {
		if strings.Contains(sub, ".") {
			return nil, false
		}
		path = filter.AttributePath{AttributeName: attr, SubAttribute: &sub}
	}
	return &filter.AttributeExpression{AttributePath: path, Operator: filter.EQ, CompareValue: v}, true
}

// plainLiteral returns the value of a quoted JSON string that has no escapes, control
// characters or inner quotes and is valid UTF-8: the value json.Unmarshal would decode,
// without its cost.
func plainLiteral(lit string) (string, bool) {
	inner := lit[1 : len(lit)-1]
	for i := 0; i < len(inner); i++ {
		if c := inner[i]; c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	return inner, utf8.ValidString(inner)
}

// parsePath parses a PATCH path (or a key of a path-less PATCH value). The common forms, an
// attribute or attribute.subAttribute ("active", "name.givenName"), are built directly; the
// general parser costs about a thousand allocations a path.
func parsePath(raw string) (filter.Path, error) {
	attr, sub, dotted := strings.Cut(raw, ".")
	simple := attr != "" && (attr[0] >= 'A' && attr[0] <= 'Z' || attr[0] >= 'a' && attr[0] <= 'z') &&
		!(dotted && (sub == "" || strings.Contains(sub, ".")))
	for i := 0; simple && i < len(raw); i++ {
		c := raw[i]
		simple = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
	}
	if !simple {
		return filter.ParsePath([]byte(raw))
	}
	p := filter.Path{AttributePath: filter.AttributePath{AttributeName: attr}}
	if dotted {
		p.AttributePath.SubAttribute = &sub
	}
	return p, nil
}

func isAttrChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '$'
}

// checkOperators refuses comparisons RFC 7644 does not define: ordering on booleans.
func checkOperators(expr filter.Expression) error {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if err := checkOperators(e.Left); err != nil {
			return err
		}
		return checkOperators(e.Right)
	case *filter.NotExpression:
		return checkOperators(e.Expression)
	case *filter.ValuePath:
		return checkOperators(e.ValueFilter)
	case *filter.AttributeExpression:
		if _, isBool := e.CompareValue.(bool); isBool {
			switch e.Operator {
			case filter.EQ, filter.NE:
			default:
				return errInvalidFilter
			}
		}
	}
	return nil
}

// caseExactAttributes are compared case-sensitively; every other string case-insensitively.
var caseExactAttributes = map[string]bool{"id": true, "externalid": true}

// matches evaluates a filter against a resource's attribute tree.
func matches(expr filter.Expression, doc map[string]any) bool {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if e.Operator == filter.AND {
			return matches(e.Left, doc) && matches(e.Right, doc)
		}
		return matches(e.Left, doc) || matches(e.Right, doc)
	case *filter.NotExpression:
		return !matches(e.Expression, doc)
	case *filter.ValuePath:
		v, ok := lookup(doc, e.AttributePath.AttributeName)
		if !ok {
			return false
		}
		for _, el := range asList(v) {
			if m, ok := el.(map[string]any); ok && matches(e.ValueFilter, m) {
				return true
			}
		}
		return false
	case *filter.AttributeExpression:
		name := e.AttributePath.AttributeName
		if uri := e.AttributePath.URI(); uri != "" && !coreURI(uri) {
			ext, ok := lookup(doc, uri)
			m, isMap := ext.(map[string]any)
			if !ok || !isMap {
				return e.Operator == filter.NE
			}
			doc = m
		}
		v, ok := lookup(doc, name)
		sub := e.AttributePath.SubAttributeName()
		var values []any
		for _, el := range asList(v) {
			if m, isMap := el.(map[string]any); isMap {
				key := sub
				if key == "" {
					key = "value"
				}
				if sv, ok := lookup(m, key); ok {
					values = append(values, sv)
				}
			} else if sub == "" {
				values = append(values, el)
			}
		}
		if !ok || len(values) == 0 {
			return e.Operator == filter.NE
		}
		exact := caseExactAttributes[strings.ToLower(name)]
		if e.Operator == filter.NE {
			for _, x := range values {
				if compare(filter.EQ, x, e.CompareValue, exact) {
					return false
				}
			}
			return true
		}
		for _, x := range values {
			if compare(e.Operator, x, e.CompareValue, exact) {
				return true
			}
		}
	}
	return false
}

func lookup(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// compare applies one comparison operator to an attribute value and a filter literal.
func compare(op filter.CompareOperator, attr, lit any, exact bool) bool {
	if op == filter.PR {
		s, isStr := attr.(string)
		return attr != nil && (!isStr || s != "")
	}
	switch a := attr.(type) {
	case bool:
		b, ok := stringBool(lit).(bool)
		return ok && op == filter.EQ && a == b
	case time.Time:
		ls, ok := lit.(string)
		if !ok {
			return false
		}
		t, err := time.Parse(time.RFC3339Nano, ls)
		if err != nil {
			return false
		}
		return ordered(op, a.Compare(t))
	case string:
		ls, ok := lit.(string)
		if !ok {
			return false
		}
		if !exact {
			a, ls = strings.ToLower(a), strings.ToLower(ls)
		}
		switch op {
		case filter.EQ:
			return a == ls
		case filter.CO:
			return strings.Contains(a, ls)
		case filter.SW:
			return strings.HasPrefix(a, ls)
		case filter.EW:
			return strings.HasSuffix(a, ls)
		default:
			return ordered(op, strings.Compare(a, ls))
		}
	}
	return false
}

func ordered(op filter.CompareOperator, c int) bool {
	switch op {
	case filter.EQ:
		return c == 0
	case filter.GT:
		return c > 0
	case filter.GE:
		return c >= 0
	case filter.LT:
		return c < 0
	case filter.LE:
		return c <= 0
	}
	return false
}

// project applies the attributes and excludedAttributes parameters (RFC 7644 §3.9) to a
// rendered resource. id and schemas are always returned. Names are case-insensitive and may
// carry the core schema URN or a sub-attribute ("name.givenName").
func project(m map[string]any, attributes, excluded []string) {
	if len(attributes) > 0 {
		keep := map[string]map[string]bool{} // lower-case attribute -> sub-attributes (nil: all)
		for _, a := range attributes {
			attr, sub := attrName(a)
			if _, seen := keep[attr]; !seen || sub == "" {
				if sub == "" {
					keep[attr] = nil
					continue
				}
				keep[attr] = map[string]bool{}
			}
			if keep[attr] != nil {
				keep[attr][sub] = true
			}
		}
		for k, v := range m {
			lk := strings.ToLower(k)
			if lk == "id" || lk == "schemas" || lk == "meta" {
				continue
			}
			subs, ok := keep[lk]
			if !ok {
				delete(m, k)
				continue
			}
			if sm, isMap := v.(map[string]any); isMap && subs != nil {
				for sk := range sm {
					if !subs[strings.ToLower(sk)] {
						delete(sm, sk)
					}
				}
			}
		}
	}
	for _, a := range excluded {
		attr, sub := attrName(a)
		for k, v := range m {
			lk := strings.ToLower(k)
			if lk != attr || lk == "id" || lk == "schemas" {
				continue
			}
			if sub == "" {
				delete(m, k)
			} else if sm, ok := v.(map[string]any); ok {
				for sk := range sm {
					if strings.EqualFold(sk, sub) {
						delete(sm, sk)
					}
				}
			}
		}
	}
}

// attrName splits an attributes-parameter entry into lower-case attribute and sub-attribute
// names, dropping the core schema URN and any value filter.
func attrName(a string) (string, string) {
	a = strings.TrimSpace(a)
	if i := strings.IndexByte(a, '['); i >= 0 {
		a = a[:i]
	}
	lower := strings.ToLower(a)
	if p := strings.ToLower(schema.UserSchema) + ":"; strings.HasPrefix(lower, p) {
		lower = lower[len(p):]
	}
	attr, sub, _ := strings.Cut(lower, ".")
	return attr, sub
}
