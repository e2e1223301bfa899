package teamscim

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	rd := s.users
	if rt.resource == "Groups" {
		rd = s.groups
	}
	f, err := compileFilter(rd, p.filter)
	if err != nil {
		s.fail(r.Context(), w, rq, err)
		return
	}
	var resources []rawJSON
	var total int
	items := getBuf()
	used := *items
	if rt.resource == "Groups" {
		resources, total, err = s.listGroups(r.Context(), rq, f, p)
	} else {
		resources, total, used, err = s.listUsers(r.Context(), rq, f, p, used)
	}
	if err != nil {
		s.fail(r.Context(), w, rq, err)
		return
	}
	buf := getBuf()
	body := listResponse{
		Schemas:      listResponseSchemas,
		TotalResults: total,
		ItemsPerPage: len(resources),
		StartIndex:   p.startIndex,
		Resources:    resources,
	}.appendTo(*buf)
	writeJSON(w, http.StatusOK, body)
	putBuf(buf, body)
	putBuf(items, used)
}

var listResponseSchemas = []string{listResponseSchema}

// listUsers renders one page of users, appended to buf, which it returns.
func (s *Server) listUsers(ctx context.Context, rq *request, f *compiled, p listParams, buf []byte) ([]rawJSON, int, []byte, error) {
	var users []store.User
	var total int
	err := s.view(ctx, rq, func(ctx context.Context, tx store.Tx) error {
		var err error
		users, total, err = s.queryUsers(ctx, tx, f, p.startIndex-1, p.count)
		return err
	})
	if err != nil {
		return nil, 0, buf, err
	}
	proj := projection{attributes: p.attributes, excluded: p.excluded}
	out := make([]rawJSON, len(users))
	buf = slices.Grow(buf[:0], 700*len(users))
	for i, u := range users {
		start := len(buf)
		if buf, err = s.appendUser(buf, u, rq.baseURL, proj); err != nil {
			return nil, 0, buf, err
		}
		out[i] = rawJSON(buf[start:len(buf):len(buf)])
	}
	return out, total, buf, nil
}

// listGroups renders one page of groups, with members unless the projection leaves them out.
func (s *Server) listGroups(ctx context.Context, rq *request, f *compiled, p listParams) ([]rawJSON, int, error) {
	var groups []store.Group
	var total int
	err := s.view(ctx, rq, func(ctx context.Context, tx store.Tx) error {
		var err error
		groups, total, err = s.queryGroups(ctx, tx, f, p.startIndex-1, p.count)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	proj := projection{attributes: p.attributes, excluded: p.excluded}
	out := make([]rawJSON, len(groups))
	for i, g := range groups {
		if out[i], err = s.renderGroup(ctx, rq, g, proj); err != nil {
			return nil, 0, err
		}
	}
	return out, total, nil
}

// queryGroups returns one page of the groups that match f, and how many match.
// displayName eq and id eq are answered from indexes, members.value eq from the member's
// groups; anything else scans the team's groups, within Config.MaxFilterScan.
func (s *Server) queryGroups(ctx context.Context, tx store.Tx, f *compiled, offset, limit int) ([]store.Group, int, error) {
	list := func(o store.ListOptions) (store.Page[store.Group], error) { return tx.ListGroups(ctx, o) }
	if f == nil {
		return pageStore(list, offset, limit)
	}
	if cands, ok, err := groupCandidates(ctx, tx, f.expr); ok || err != nil {
		if err != nil {
			return nil, 0, err
		}
		var match []store.Group
		for _, g := range cands {
			ok, err := s.groupMatches(ctx, tx, f, g)
			if err != nil {
				return nil, 0, err
			}
			if ok {
				match = append(match, g)
			}
		}
		return pageOf(match, offset, limit), len(match), nil
	}
	pg, err := tx.ListGroups(ctx, store.ListOptions{Limit: 1})
	if err != nil {
		return nil, 0, err
	}
	if pg.Total > s.cfg.MaxFilterScan {
		return nil, 0, s.errScanTooLarge("groups")
	}
	var scanErr error
	page, total, err := scan(list, func(g store.Group) string { return g.ID }, func(g store.Group) bool {
		ok, err := s.groupMatches(ctx, tx, f, g)
		if err != nil && scanErr == nil {
			scanErr = err
		}
		return ok
	}, offset, limit)
	if scanErr != nil {
		return nil, 0, scanErr
	}
	return page, total, err
}

// groupCandidates finds the groups an equality on an indexed attribute allows, if the filter
// has one at its top level (alone or as a side of "and").
func groupCandidates(ctx context.Context, tx store.Tx, expr filter.Expression) ([]store.Group, bool, error) {
	return candidates(expr, func(expr filter.Expression) ([]store.Group, bool, error) {
		switch e := expr.(type) {
		case *filter.ValuePath:
			if v, ok := eqValue(e.ValueFilter, "value"); ok && e.AttributePath.AttributeName == "members" {
				return groupsOfMember(ctx, tx, v)
			}
		case *filter.AttributeExpression:
			v, ok := e.CompareValue.(string)
			if e.Operator != filter.EQ || !ok || e.AttributePath.URIPrefix != nil {
				return nil, false, nil
			}
			switch e.AttributePath.AttributeName + "." + e.AttributePath.SubAttributeName() {
			case "displayName.":
				return found(tx.GetGroupByDisplayName(ctx, v))
			case "id.":
				return found(tx.GetGroup(ctx, v))
			case "members.value":
				return groupsOfMember(ctx, tx, v)
			}
		}
		return nil, false, nil
	})
}

// candidates applies leaf to expr, or to the sides of a top-level "and" until one answers
// (ok): the candidates of an index lookup, which the whole filter is then evaluated against.
func candidates[T any](expr filter.Expression, leaf func(filter.Expression) ([]T, bool, error)) ([]T, bool, error) {
	if e, ok := expr.(*filter.LogicalExpression); ok {
		if e.Operator != filter.AND {
			return nil, false, nil
		}
		if c, ok, err := candidates(e.Left, leaf); ok || err != nil {
			return c, ok, err
		}
		return candidates(e.Right, leaf)
	}
	return leaf(expr)
}

// found turns the answer of a lookup by a unique key into candidates: none when not found.
func found[T any](v T, err error) ([]T, bool, error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, true, nil
	case err != nil:
		return nil, true, err
	}
	return []T{v}, true, nil
}

// groupsOfMember returns the groups of the user userID.
func groupsOfMember(ctx context.Context, tx store.Tx, userID string) ([]store.Group, bool, error) {
	ids, err := tx.GroupsOf(ctx, userID)
	if err != nil {
		return nil, true, err
	}
	out := make([]store.Group, 0, len(ids))
	for _, id := range ids {
		g, err := tx.GetGroup(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, true, err
		}
		out = append(out, g)
	}
	return out, true, nil
}

// eqValue returns v if expr is, or has as a side of its top-level "and", sub eq "v".
func eqValue(expr filter.Expression, sub string) (string, bool) {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if e.Operator != filter.AND {
			return "", false
		}
		if v, ok := eqValue(e.Left, sub); ok {
			return v, true
		}
		return eqValue(e.Right, sub)
	case *filter.AttributeExpression:
		v, ok := e.CompareValue.(string)
		if ok && e.Operator == filter.EQ && e.AttributePath.AttributeName == sub && e.AttributePath.SubAttribute == nil {
			return v, true
		}
	}
	return "", false
}

// groupMatches evaluates f against g; the members are read only when f names them.
func (s *Server) groupMatches(ctx context.Context, tx store.Tx, f *compiled, g store.Group) (bool, error) {
	doc := map[string]any{"id": g.ID, "displayName": g.DisplayName,
		"meta": map[string]any{"resourceType": "Group", "created": g.Created, "lastModified": g.LastModified}}
	if g.ExternalID != "" {
		doc["externalId"] = g.ExternalID
	}
	if f.rest {
		if err := s.groups.withStored(doc, g.Attributes, true); err != nil {
			return false, err
		}
	}
	if f.members {
		pg, err := tx.ListMembers(ctx, g.ID, store.ListOptions{})
		if err != nil {
			return false, err
		}
		members := make([]any, len(pg.Items))
		for i, id := range pg.Items {
			members[i] = map[string]any{"value": id, "type": "User"}
		}
		doc["members"] = members
	}
	return f.matches(doc), nil
}

// errScanTooLarge answers a filter no index answers in a team with more users (or groups)
// than Config.MaxFilterScan.
func (s *Server) errScanTooLarge(what string) error {
	return badRequest(scimerrors.ScimTypeTooMany,
		"This filter cannot be answered from an index, and the team has more than %d %s to examine. "+
			"Filter on an indexed attribute (userName, externalId, id or emails.value for users; displayName or id for groups).",
		s.cfg.MaxFilterScan, what)
}

// listResponse is RFC 7644 §3.4.2's ListResponse, with itemsPerPage the number of resources
// on this page and Resources never null.
type listResponse struct {
	Schemas      []string  `json:"schemas"`
	TotalResults int       `json:"totalResults"`
	ItemsPerPage int       `json:"itemsPerPage"`
	StartIndex   int       `json:"startIndex"`
	Resources    []rawJSON `json:"Resources"`
}

// appendTo appends the response to b as encoding/json renders the struct, faster.
func (l listResponse) appendTo(b []byte) []byte {
	n := 256
	for _, r := range l.Resources {
		n += len(r) + 1
	}
	b = slices.Grow(b, n)
	b = append(b, `{"schemas":[`...)
	for i, s := range l.Schemas {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	b = append(b, `],"totalResults":`...)
	b = strconv.AppendInt(b, int64(l.TotalResults), 10)
	b = append(b, `,"itemsPerPage":`...)
	b = strconv.AppendInt(b, int64(l.ItemsPerPage), 10)
	b = append(b, `,"startIndex":`...)
	b = strconv.AppendInt(b, int64(l.StartIndex), 10)
	b = append(b, `,"Resources":[`...)
	for i, r := range l.Resources {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	return append(b, "]}"...)
}

// queryUsers returns one page of the visible users that match f, and how many match.
// Equality on userName, externalId, id or emails.value (alone or in an "and") is answered
// from the store's indexes; active eq and no filter page in the store; anything else scans
// the team, within Config.MaxFilterScan.
func (s *Server) queryUsers(ctx context.Context, tx store.Tx, f *compiled, offset, limit int) ([]store.User, int, error) {
	listBy := func(uf store.UserFilter) func(store.ListOptions) (store.Page[store.User], error) {
		return func(o store.ListOptions) (store.Page[store.User], error) { return tx.ListUsers(ctx, uf, o) }
	}
	if f == nil {
		return pageStore(listBy(store.UserFilter{}), offset, limit)
	}
	var evalErr error
	var docs userDocs
	match := func(u store.User) bool {
		doc, err := s.fillDoc(&docs, u, f.rest)
		if err != nil {
			evalErr = err
			return false
		}
		return f.matches(doc)
	}
	if cands, ok, err := userCandidates(ctx, tx, f.expr); ok || err != nil {
		if err != nil {
			return nil, 0, err
		}
		// A lone equality on userName, externalId or id needs no second evaluation: the index
		// compares exactly as the filter does (folded userName, exact id and externalId).
		lone := false
		if e, ok := f.expr.(*filter.AttributeExpression); ok {
			lone = e.AttributePath.AttributeName != "emails"
		}
		var out []store.User
		for _, u := range cands {
			if !u.Deleted && (lone || match(u)) {
				out = append(out, u)
			}
		}
		return pageOf(out, offset, limit), len(out), evalErr
	}
	if b, ok := activeEq(f.expr); ok {
		return pageStore(listBy(store.UserFilter{Active: &b}), offset, limit)
	}
	n, err := tx.CountUsers(ctx, store.UserFilter{})
	if err != nil {
		return nil, 0, err
	}
	if n > s.cfg.MaxFilterScan {
		return nil, 0, s.errScanTooLarge("users")
	}
	page, total, err := scan(listBy(store.UserFilter{}), func(u store.User) string { return u.ID }, match, offset, limit)
	if err == nil {
		err = evalErr
	}
	return page, total, err
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

// scan walks every item in chunks, each after the last ID of the previous one (so that a
// walk costs O(n)), and returns one page of those that match, and how many do.
func scan[T any](list func(store.ListOptions) (store.Page[T], error), id func(T) string, match func(T) bool, offset, limit int) ([]T, int, error) {
	page := []T{}
	total := 0
	after := ""
	for {
		pg, err := list(store.ListOptions{After: after, Limit: scanChunk})
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
		after = id(pg.Items[len(pg.Items)-1])
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

// userCandidates finds the users an equality on an indexed attribute allows, if expr has one
// at its top level (alone or as a side of "and"). expr has canonical names (compileFilter).
func userCandidates(ctx context.Context, tx store.Tx, expr filter.Expression) ([]store.User, bool, error) {
	return candidates(expr, func(expr filter.Expression) ([]store.User, bool, error) {
		switch e := expr.(type) {
		case *filter.ValuePath:
			if v, ok := eqValue(e.ValueFilter, "value"); ok && e.AttributePath.AttributeName == "emails" && e.AttributePath.URIPrefix == nil {
				return usersByEmail(ctx, tx, v)
			}
		case *filter.AttributeExpression:
			v, ok := e.CompareValue.(string)
			if e.Operator != filter.EQ || !ok || e.AttributePath.URIPrefix != nil {
				return nil, false, nil
			}
			switch e.AttributePath.AttributeName + "." + e.AttributePath.SubAttributeName() {
			case "userName.":
				return found(tx.GetUserByUserName(ctx, v))
			case "externalId.":
				// externalId is not unique: every user that has it is a candidate (the caller
				// drops deleted ones).
				users, err := tx.UsersByExternalID(ctx, v)
				return users, true, err
			case "id.":
				return found(tx.GetUser(ctx, v))
			case "emails.value":
				return usersByEmail(ctx, tx, v)
			}
		}
		return nil, false, nil
	})
}

// usersByEmail returns the users with an email value v: those the store's index finds, and
// a user without emails whose userName is v (their implied email).
func usersByEmail(ctx context.Context, tx store.Tx, v string) ([]store.User, bool, error) {
	users, err := tx.UsersByEmail(ctx, v)
	if err != nil {
		return nil, true, err
	}
	u, err := tx.GetUserByUserName(ctx, v)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, true, err
	case len(u.Emails) == 0:
		users = append(users, u)
		slices.SortFunc(users, func(a, b store.User) int { return strings.Compare(a.ID, b.ID) })
	}
	return users, true, nil
}

// activeEq reports whether expr is exactly "active eq <bool>".
func activeEq(expr filter.Expression) (bool, bool) {
	e, ok := expr.(*filter.AttributeExpression)
	if !ok || e.Operator != filter.EQ || e.AttributePath.SubAttribute != nil ||
		e.AttributePath.AttributeName != "active" || e.AttributePath.URIPrefix != nil {
		return false, false
	}
	b, ok := stringBool(e.CompareValue).(bool)
	return b, ok
}

// userDoc is the attribute tree a filter is evaluated against: the typed attributes, id and
// meta, and the stored others when the filter names one (rest).
func (s *Server) userDoc(u store.User, rest bool) (map[string]any, error) {
	var d userDocs
	return s.fillDoc(&d, u, rest)
}

// userDocs holds the maps of the user documents a filter is evaluated against, reused from one
// user to the next of a scan: a document is read only until the next fillDoc.
type userDocs struct {
	doc, name, meta map[string]any
	emails          []any
	email           []map[string]any
}

// fillDoc makes d's document the filter document of u (see userDoc).
func (s *Server) fillDoc(d *userDocs, u store.User, rest bool) (map[string]any, error) {
	if d.doc == nil {
		d.doc, d.name, d.meta = make(map[string]any, 16), make(map[string]any, 6), make(map[string]any, 3)
	}
	m := d.doc
	clear(m)
	clear(d.name)
	m["id"] = u.ID
	putTyped(m, d.name, u)
	emails := u.Emails
	if len(emails) == 0 {
		emails = []store.Email{{Value: u.UserName, Type: "work", Primary: true}}
	}
	d.emails = d.emails[:0]
	for i, e := range emails {
		if i == len(d.email) {
			d.email = append(d.email, make(map[string]any, 4))
		}
		em := d.email[i]
		clear(em)
		putEmail(em, e)
		d.emails = append(d.emails, em)
	}
	m["emails"] = d.emails
	d.meta["resourceType"] = "User"
	d.meta["created"] = u.Created
	d.meta["lastModified"] = u.LastModified
	m["meta"] = d.meta
	if rest {
		if err := s.users.withStored(m, u.Attributes, true); err != nil {
			return nil, err
		}
	}
	return m, nil
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

// compiled is a filter checked against a resource type's schemas, with canonical names.
type compiled struct {
	expr    filter.Expression
	info    map[*filter.AttributeExpression]exprInfo // comparisons that are case-exact or of dateTimes
	rest    bool                                     // names an attribute the store keeps in Attributes
	members bool                                     // names a group's members
}

// exprInfo is what the schema says about a comparison's attribute.
type exprInfo struct{ exact, dateTime bool }

func (f *compiled) matches(doc map[string]any) bool { return match(f.expr, doc, f.info) }

// errUnknownFilterAttr answers a filter naming an attribute no schema defines.
func errUnknownFilterAttr(name string) error {
	return badRequest(scimerrors.ScimTypeInvalidFilter, "The filter names an attribute that no schema of this resource type defines: %s.", quoteName(name))
}

// meta's sub-attributes, which every resource has.
var metaSubs = map[string]string{"resourcetype": "resourceType", "created": "created", "lastmodified": "lastModified",
	"location": "location", "version": "version"}

// typedUserPaths are the user attributes the store holds in fields (filters on them need no
// decoding of store.User.Attributes).
var typedUserPaths = map[string]bool{"userName.": true, "externalId.": true, "displayName.": true, "locale.": true,
	"active.": true, "emails.": true, "emails.value": true, "emails.type": true, "emails.primary": true, "emails.display": true,
	"name.givenName": true, "name.familyName": true, "name.middleName": true, "name.formatted": true}

// compileFilter parses a filter and checks every attribute it names against rd's schemas: an
// attribute of the core schema (or id, meta and its sub-attributes), of an extension by its
// URN (or by its name alone when no other schema has it), a sub-attribute the attribute has.
// Names become canonical, so that evaluation and the index lookups compare names exactly.
// A name no schema defines answers 400 invalidFilter naming it.
func compileFilter(rd *resourceDef, raw string) (*compiled, error) {
	expr, err := parseFilter(raw)
	if err != nil || expr == nil {
		return nil, err
	}
	f := &compiled{expr: expr}
	if err := f.resolve(rd, expr, nil); err != nil {
		return nil, err
	}
	return f, nil
}

// resolve canonicalises the attribute paths of expr; within a value path, in is the
// multi-valued attribute whose sub-attributes the paths name.
func (f *compiled) resolve(rd *resourceDef, expr filter.Expression, in *attrDef) error {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if err := f.resolve(rd, e.Left, in); err != nil {
			return err
		}
		return f.resolve(rd, e.Right, in)
	case *filter.NotExpression:
		return f.resolve(rd, e.Expression, in)
	case *filter.ValuePath:
		if in != nil {
			return errInvalidFilter
		}
		a, err := f.resolvePath(rd, &e.AttributePath)
		if err != nil {
			return err
		}
		if a == nil || !a.multi || !a.complex() || e.AttributePath.SubAttribute != nil {
			return badRequest(scimerrors.ScimTypeInvalidFilter, "A value filter ([…]) applies only to a multi-valued complex attribute.")
		}
		return f.resolve(rd, e.ValueFilter, a)
	case *filter.AttributeExpression:
		var def *attrDef
		if in != nil {
			sub := in.sub(e.AttributePath.AttributeName)
			if sub == nil || e.AttributePath.URIPrefix != nil || e.AttributePath.SubAttribute != nil {
				return errUnknownFilterAttr(in.name + "." + e.AttributePath.String())
			}
			e.AttributePath = filter.AttributePath{AttributeName: sub.name}
			def = sub
		} else {
			a, err := f.resolvePath(rd, &e.AttributePath)
			if err != nil {
				return err
			}
			def = a
		}
		if def != nil && (def.caseExact || def.typ == "dateTime") {
			if f.info == nil {
				f.info = map[*filter.AttributeExpression]exprInfo{}
			}
			f.info[e] = exprInfo{exact: def.caseExact, dateTime: def.typ == "dateTime"}
		}
	}
	return nil
}

// resolvePath canonicalises one attribute path outside a value filter and returns the
// attribute (or sub-attribute) it names; nil for id and meta, which no schema lists.
func (f *compiled) resolvePath(rd *resourceDef, p *filter.AttributePath) (*attrDef, error) {
	var sc *schemaDef
	if p.URIPrefix != nil {
		if sc = rd.schemaOf(*p.URIPrefix); sc == nil {
			return nil, errUnknownFilterAttr(p.String())
		}
	}
	name, subName := p.AttributeName, p.SubAttributeName()
	if sc == nil || !sc.ext {
		switch strings.ToLower(name) {
		case "id":
			if subName != "" {
				return nil, errUnknownFilterAttr(p.String())
			}
			*p = filter.AttributePath{AttributeName: "id"}
			return &attrDef{name: "id", typ: "string", caseExact: true}, nil
		case "meta":
			canon, ok := metaSubs[strings.ToLower(subName)]
			if !ok {
				return nil, errUnknownFilterAttr(p.String())
			}
			*p = filter.AttributePath{AttributeName: "meta", SubAttribute: &canon}
			return nil, nil
		}
	}
	var a *attrDef
	if sc != nil {
		a = sc.attr(name)
	} else {
		sc, a = rd.lookup(name)
	}
	if a == nil {
		if sc == nil && rd.ambiguous(name) {
			return nil, badRequest(scimerrors.ScimTypeInvalidFilter,
				"More than one schema extension has an attribute %s: name it with its schema URN.", quoteName(name))
		}
		return nil, errUnknownFilterAttr(p.String())
	}
	out := filter.AttributePath{AttributeName: a.name}
	if sc.ext {
		urn := sc.urn
		out.URIPrefix = &urn
	}
	def := a
	if subName != "" {
		sub := a.sub(subName)
		if sub == nil {
			return nil, errUnknownFilterAttr(p.String())
		}
		canon := sub.name
		out.SubAttribute = &canon
		def = sub
	}
	*p = out
	switch {
	case sc.ext:
		f.rest = true
	case rd.name == "Group" && a.name == "members":
		f.members = true
	case rd.name == "User" && !typedUserPaths[a.name+"."+out.SubAttributeName()]:
		f.rest = true
	}
	return def, nil
}

// matches evaluates a filter against an attribute tree, comparing strings case-insensitively
// except id and externalId.
func matches(expr filter.Expression, doc map[string]any) bool { return match(expr, doc, nil) }

// caseExactAttributes are the case-exact attributes of a filter matches evaluates without a
// schema.
var caseExactAttributes = map[string]bool{"id": true, "externalid": true}

// match evaluates a filter against a resource's attribute tree; info says which comparisons
// are case-exact or of dateTimes (nil: id and externalId are case-exact).
func match(expr filter.Expression, doc map[string]any, info map[*filter.AttributeExpression]exprInfo) bool {
	switch e := expr.(type) {
	case *filter.LogicalExpression:
		if e.Operator == filter.AND {
			return match(e.Left, doc, info) && match(e.Right, doc, info)
		}
		return match(e.Left, doc, info) || match(e.Right, doc, info)
	case *filter.NotExpression:
		return !match(e.Expression, doc, info)
	case *filter.ValuePath:
		holder, ok := extHolder(doc, e.AttributePath)
		if !ok {
			return false
		}
		v, ok := lookup(holder, e.AttributePath.AttributeName)
		if !ok {
			return false
		}
		for _, el := range asList(v) {
			if m, ok := el.(map[string]any); ok && match(e.ValueFilter, m, info) {
				return true
			}
		}
		return false
	case *filter.AttributeExpression:
		name := e.AttributePath.AttributeName
		holder, ok := extHolder(doc, e.AttributePath)
		if !ok {
			return e.Operator == filter.NE
		}
		v, ok := lookup(holder, name)
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
		var in exprInfo
		if info != nil {
			in = info[e]
		} else {
			in.exact = caseExactAttributes[strings.ToLower(name)]
		}
		if e.Operator == filter.NE {
			for _, x := range values {
				if compare(filter.EQ, x, e.CompareValue, in) {
					return false
				}
			}
			return true
		}
		for _, x := range values {
			if compare(e.Operator, x, e.CompareValue, in) {
				return true
			}
		}
	}
	return false
}

// extHolder returns the object an attribute path's attribute is in: the extension's object
// for a path with an extension URN, doc otherwise.
func extHolder(doc map[string]any, p filter.AttributePath) (map[string]any, bool) {
	uri := p.URI()
	if uri == "" || strings.EqualFold(uri, schema.UserSchema) || strings.EqualFold(uri, schema.GroupSchema) {
		return doc, true
	}
	ext, ok := lookup(doc, uri)
	m, isMap := ext.(map[string]any)
	return m, ok && isMap
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
func compare(op filter.CompareOperator, attr, lit any, in exprInfo) bool {
	if op == filter.PR {
		s, isStr := attr.(string)
		return attr != nil && (!isStr || s != "")
	}
	if n, ok := number(attr); ok {
		l, ok := number(lit)
		if !ok {
			return false
		}
		switch {
		case n < l:
			return ordered(op, -1)
		case n > l:
			return ordered(op, 1)
		}
		return ordered(op, 0)
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
		if in.dateTime {
			at, aerr := time.Parse(time.RFC3339Nano, a)
			lt, lerr := time.Parse(time.RFC3339Nano, ls)
			if aerr == nil && lerr == nil {
				return ordered(op, at.Compare(lt))
			}
		}
		if !in.exact {
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

// number returns a JSON number (decoded, or as the filter parser gives it) as a float64.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
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
