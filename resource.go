package teamscim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/teamscim/teamscim/store"
)

// projection is a request's attributes and excludedAttributes (RFC 7644 §3.9).
type projection struct{ attributes, excluded []string }

func projectionOf(r *http.Request) projection {
	if r.URL.RawQuery == "" {
		return projection{} // the common GET: no query to parse
	}
	q := r.URL.Query()
	return projection{attributes: splitAttrs(q.Get("attributes")), excluded: splitAttrs(q.Get("excludedAttributes"))}
}

func (p projection) none() bool { return len(p.attributes) == 0 && len(p.excluded) == 0 }

// serveGet serves GET /Users/{id} and /Groups/{id}: the resource with its ETag, or 304 when
// If-None-Match names its version.
func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, rq *request, rt routed) {
	var body []byte
	var version int64
	var err error
	p := projectionOf(r)
	if rt.resource == "Groups" {
		var g store.Group
		if g, err = s.readGroup(r.Context(), rq, rt.id); err == nil {
			version = g.Version
			if s.notModified(w, r, version) {
				return
			}
			body, err = s.renderGroup(r.Context(), rq, g, p)
		}
	} else {
		var u store.User
		if u, err = s.readUser(r.Context(), rq, rt.id); err == nil {
			version = u.Version
			if s.notModified(w, r, version) {
				return
			}
			buf := getBuf()
			if body, err = s.appendUser(*buf, u, rq.baseURL, p); err == nil {
				writeJSON(w, http.StatusOK, body)
				putBuf(buf, body)
				return
			}
		}
	}
	if err != nil {
		s.fail(r.Context(), w, rq, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// notModified sets the ETag header of a resource's version and, when If-None-Match names
// it, answers 304.
func (s *Server) notModified(w http.ResponseWriter, r *http.Request, version int64) bool {
	tag := etagOf(version)
	w.Header().Set("ETag", tag)
	if notModified(r, tag) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

func etagOf(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }

// written is the outcome of a write: the status, the rendered resource (none for 204), its
// version for the ETag, and its location for a 201.
type written struct {
	status   int
	body     []byte
	version  int64
	location string
	buf      *[]byte // the pooled buffer body was encoded into (getBuf), if it was
}

// serveWrite serves POST, PUT, PATCH and DELETE of users and groups.
func (s *Server) serveWrite(w http.ResponseWriter, r *http.Request, rq *request, rt routed, body []byte) {
	var out written
	var err error
	if rt.resource == "Groups" {
		out, err = s.writeGroup(r, rq, rt, body)
	} else {
		out, err = s.writeUser(r, rq, rt, body)
	}
	if err != nil {
		s.fail(r.Context(), w, rq, err)
		return
	}
	if out.status == http.StatusNoContent {
		w.Header()["Content-Type"] = scimContentType[:1:1]
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("ETag", etagOf(out.version))
	if out.location != "" {
		w.Header().Set("Location", out.location)
	}
	writeJSON(w, out.status, out.body)
	if out.buf != nil {
		putBuf(out.buf, out.body)
	}
}

// location is the absolute URL of a resource.
func location(baseURL, endpoint, id string) string {
	return baseURL + "/" + endpoint + "/" + url.PathEscape(id)
}

// appendMeta appends a resource's meta (RFC 7643 §3.1), with its location made from baseURL,
// the endpoint and id without building the strings first.
func appendMeta(b []byte, resourceType string, created, modified time.Time, baseURL, endpoint, id string, version int64) []byte {
	b = append(b, `{"resourceType":`...)
	b = appendString(b, resourceType)
	b = append(b, `,"created":"`...)
	b = created.AppendFormat(b, time.RFC3339)
	b = append(b, `","lastModified":"`...)
	b = modified.AppendFormat(b, time.RFC3339)
	b = append(b, `","location":`...)
	if plainJSON(baseURL) && plainJSON(endpoint) {
		// url.PathEscape's output needs no JSON escaping.
		b = append(b, '"')
		b = append(b, baseURL...)
		b = append(b, '/')
		b = append(b, endpoint...)
		b = append(b, '/')
		b = appendPathEscaped(b, id)
		b = append(b, '"')
	} else {
		b = appendString(b, location(baseURL, endpoint, id))
	}
	b = append(b, `,"version":"W/\"`...)
	b = strconv.AppendInt(b, version, 10)
	return append(b, `\""}`...)
}

// appendPathEscaped appends url.PathEscape(s), without allocating when s needs no escaping.
func appendPathEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return append(b, url.PathEscape(s)...)
		}
	}
	return append(b, s...)
}

// withStored adds a stored attributes object to a resource's typed attributes m. Without a
// projection to apply, the values stay encoded and are copied into the answer as they are;
// otherwise they are decoded. A user's extra name sub-attributes join its typed ones.
func (rd *resourceDef) withStored(m map[string]any, raw []byte, decode bool) error {
	if len(raw) == 0 {
		return nil
	}
	if decode {
		rest, err := decodeAttributes(raw)
		if err != nil {
			return err
		}
		typedNumbers(rd, rest)
		for k, v := range rest {
			if nm, ok := v.(map[string]any); ok && k == "name" {
				mergeInto(m, k, nm)
				continue
			}
			m[k] = v
		}
		return nil
	}
	rest, err := rawAttributes(raw)
	if err != nil {
		return err
	}
	for k, v := range rest {
		if k == "name" {
			var nm map[string]any
			if err := json.Unmarshal(v, &nm); err != nil {
				return err
			}
			mergeInto(m, k, nm)
			continue
		}
		m[k] = rawJSON(v)
	}
	return nil
}

// mergeInto adds the members of sub to the object m[k], creating it.
func mergeInto(m map[string]any, k string, sub map[string]any) {
	if len(sub) == 0 {
		return
	}
	into, ok := m[k].(map[string]any)
	if !ok {
		into = make(map[string]any, len(sub))
		m[k] = into
	}
	for sk, sv := range sub {
		into[sk] = sv
	}
}

// schemasOf lists the schemas of a rendered resource: the core schema, and each extension
// the resource has attributes of, in the order the resource type lists them.
func (rd *resourceDef) schemasOf(m map[string]any) []string {
	out := make([]string, 1, 1+len(rd.exts))
	out[0] = rd.core.urn
	for _, e := range rd.exts {
		if _, ok := m[e.urn]; ok {
			out = append(out, e.urn)
		}
	}
	return out
}

// finish adds id, schemas and meta to a resource's attributes and applies the projection and
// the schema's "returned" characteristics.
func (rd *resourceDef) finish(m map[string]any, id string, meta rawJSON, p projection) {
	m["schemas"] = rd.schemasOf(m)
	if !p.none() || rd.special {
		rd.project(m, p)
	}
	m["id"] = id
	m["meta"] = meta
}

// projRef is an entry of attributes or excludedAttributes, resolved: an attribute (of the
// core schema, or of an extension), or a whole extension; with an optional sub-attribute.
type projRef struct {
	schema *schemaDef
	attr   *attrDef // nil: the whole extension
	sub    *attrDef
}

// resolveProj resolves an entry of attributes or excludedAttributes; ok is false for a name
// no schema of the resource defines (which is ignored).
func (rd *resourceDef) resolveProj(entry string) (projRef, bool) {
	entry = strings.TrimSpace(entry)
	if i := strings.IndexByte(entry, '['); i >= 0 {
		entry = entry[:i]
	}
	if sc := rd.schemaOf(entry); sc != nil && sc.ext {
		return projRef{schema: sc}, true
	}
	sc, rest := rd.splitURN(entry)
	attrName, subName, _ := strings.Cut(rest, ".")
	var a *attrDef
	if sc != nil {
		a = sc.attr(attrName)
	} else {
		attrName, subName, _ = strings.Cut(entry, ".")
		sc, a = rd.lookup(attrName)
	}
	if a == nil {
		return projRef{}, false
	}
	ref := projRef{schema: sc, attr: a}
	if subName != "" {
		if ref.sub = a.sub(subName); ref.sub == nil {
			return projRef{}, false
		}
	}
	return ref, true
}

// project applies attributes and excludedAttributes (RFC 7644 §3.9) and the schema's
// "returned" characteristics to a rendered resource (without id and meta, which are always
// returned). Names are case-insensitive and may carry a schema URN, a sub-attribute
// ("name.givenName", "urn:…:User:manager.value") or a value filter (ignored).
func (rd *resourceDef) project(m map[string]any, p projection) {
	named := map[*attrDef]map[*attrDef]bool{} // attribute → sub-attributes asked for (nil: all)
	wholeExt := map[*schemaDef]bool{}
	for _, entry := range p.attributes {
		ref, ok := rd.resolveProj(entry)
		switch {
		case !ok:
		case ref.attr == nil:
			wholeExt[ref.schema] = true
		case ref.sub == nil:
			named[ref.attr] = nil
		default:
			subs, seen := named[ref.attr]
			if seen && subs == nil {
				continue
			}
			if subs == nil {
				subs = map[*attrDef]bool{}
				named[ref.attr] = subs
			}
			subs[ref.sub] = true
		}
	}
	keep := func(s *schemaDef, a *attrDef, v any) (any, bool) {
		if a.returned == "never" || a.mutability == "writeOnly" {
			return nil, false
		}
		subs, asked := named[a]
		switch {
		case a.returned == "always":
			return v, true
		case len(p.attributes) == 0 || wholeExt[s] && s.ext:
			if a.returned == "request" && !asked {
				return nil, false
			}
			return v, true
		case !asked:
			return nil, false
		case subs == nil:
			return v, true
		}
		return onlySubs(v, func(sub *attrDef) bool { return subs[sub] }, a), true
	}
	for k, v := range m {
		if k == "schemas" {
			continue
		}
		if a := rd.core.attr(k); a != nil {
			if nv, ok := keep(rd.core, a, v); ok {
				m[k] = nv
			} else {
				delete(m, k)
			}
			continue
		}
		if e := rd.schemaOf(k); e != nil && e.ext {
			em, ok := v.(map[string]any)
			if !ok {
				continue
			}
			out := map[string]any{}
			for ek, ev := range em {
				if a := e.attr(ek); a != nil {
					if nv, ok := keep(e, a, ev); ok {
						out[ek] = nv
					}
				}
			}
			if len(out) == 0 {
				delete(m, k)
			} else {
				m[k] = out
			}
		}
	}
	for _, entry := range p.excluded {
		ref, ok := rd.resolveProj(entry)
		if !ok {
			continue
		}
		if ref.attr == nil {
			delete(m, ref.schema.urn)
			continue
		}
		if ref.attr.returned == "always" {
			continue
		}
		holder := m
		if ref.schema.ext {
			em, ok := m[ref.schema.urn].(map[string]any)
			if !ok {
				continue
			}
			holder = em
		}
		v, ok := holder[ref.attr.name]
		if !ok {
			continue
		}
		if ref.sub == nil {
			delete(holder, ref.attr.name)
		} else {
			holder[ref.attr.name] = onlySubs(v, func(sub *attrDef) bool { return sub != ref.sub }, ref.attr)
		}
		if ref.schema.ext && len(holder) == 0 {
			delete(m, ref.schema.urn)
		}
	}
}

// onlySubs returns a complex value (or each value of a multi-valued one) with only the
// sub-attributes keep accepts.
func onlySubs(v any, keep func(*attrDef) bool, a *attrDef) any {
	filter := func(el any) any {
		em, ok := el.(map[string]any)
		if !ok {
			return el
		}
		out := make(map[string]any, len(em))
		for k, sv := range em {
			if sub := a.sub(k); sub != nil && keep(sub) {
				out[k] = sv
			}
		}
		return out
	}
	if l, ok := v.([]any); ok {
		out := make([]any, 0, len(l))
		for _, el := range l {
			out = append(out, filter(el))
		}
		return out
	}
	if raw, ok := v.(rawJSON); ok { // a stored value left encoded: decode it to project it
		var dv any
		if json.Unmarshal(raw, &dv) == nil {
			return onlySubs(dv, keep, a)
		}
		return v
	}
	return filter(v)
}

// splitAttrs splits an attributes or excludedAttributes parameter.
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

// wantsMembers reports whether a projection returns a group's members.
func (s *Server) wantsMembers(p projection) bool {
	for _, e := range p.excluded {
		if ref, ok := s.groups.resolveProj(e); ok && ref.attr != nil && ref.attr.name == "members" && ref.sub == nil {
			return false
		}
	}
	if len(p.attributes) == 0 {
		return true
	}
	for _, a := range p.attributes {
		if ref, ok := s.groups.resolveProj(a); ok && ref.attr != nil && ref.attr.name == "members" {
			return true
		}
	}
	return false
}
