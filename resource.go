package teamscim

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"
)

// serveGet serves GET /Users/{id} and /Groups/{id}. The resource handler reads the resource,
// as it would for the wrapped library; the Server renders the answer itself, in the shape the
// library gives it (the handler's attributes plus id, externalId, schemas and meta, the ETag
// header), so that a matching If-None-Match can answer 304 (the library cannot) and so that
// the IdPs' most frequent single read does not pay for reflection-based JSON encoding.
func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, rt routed) {
	rq := requestOf(r)
	rtype, ok := s.resources[rt.resource]
	id, err := url.PathUnescape(strings.TrimPrefix(rt.path, "/"+rt.resource+"/"))
	if !ok || err != nil {
		s.fail(r.Context(), w, rq, scimerrors.ScimError{Status: http.StatusNotFound, Detail: "Specified endpoint does not exist."})
		return
	}
	res, err := rtype.Handler.Get(r, id)
	if err != nil {
		s.fail(r.Context(), w, rq, err)
		return
	}
	if res.Meta.Version != "" {
		w.Header().Set("ETag", res.Meta.Version)
		if notModified(r, res.Meta.Version) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	body, err := renderResource(res, rtype, rq.baseURL+rtype.Endpoint+"/"+url.PathEscape(res.ID))
	if err != nil {
		s.fail(r.Context(), w, rq, err)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// renderResource encodes a resource as the wrapped library does: its attributes, id,
// externalId when present, the resource type's schemas and a meta with resourceType, created,
// lastModified, location and version.
func renderResource(res scim.Resource, rtype scim.ResourceType, location string) ([]byte, error) {
	m := res.Attributes
	if m == nil {
		m = scim.ResourceAttributes{}
	}
	m["id"] = res.ID
	if res.ExternalID.Present() {
		m["externalId"] = res.ExternalID.Value()
	}
	schemas := make([]string, 0, 1+len(rtype.SchemaExtensions))
	schemas = append(schemas, rtype.Schema.ID)
	for _, ext := range rtype.SchemaExtensions {
		schemas = append(schemas, ext.Schema.ID)
	}
	m["schemas"] = schemas
	var meta []byte
	meta = append(meta, `{"resourceType":`...)
	meta = appendString(meta, rtype.Name)
	if res.Meta.Created != nil {
		meta = append(meta, `,"created":`...)
		meta = appendString(meta, res.Meta.Created.Format(time.RFC3339))
	}
	if res.Meta.LastModified != nil {
		meta = append(meta, `,"lastModified":`...)
		meta = appendString(meta, res.Meta.LastModified.Format(time.RFC3339))
	}
	meta = append(meta, `,"location":`...)
	meta = appendString(meta, location)
	if res.Meta.Version != "" {
		meta = append(meta, `,"version":`...)
		meta = appendString(meta, res.Meta.Version)
	}
	m["meta"] = rawJSON(append(meta, '}'))
	return appendObject(make([]byte, 0, 512), m)
}
