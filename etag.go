package teamscim

import (
	"net/http"
	"strconv"
	"strings"
)

// Resource versions (RFC 7644 §3.14). Every User and Group carries meta.version, the weak
// entity tag W/"<store version>", and single-resource responses carry it as the ETag header.
// The version increases with every change of the resource.
//
//   - If-Match on PUT, PATCH or DELETE of /Users/{id} or /Groups/{id} is compared with the
//     version read inside the same store Update that applies the change, so no concurrent
//     write can slip between the check and the write. A mismatch answers 412 Precondition
//     Failed with no scimType, as RFC 7644 §3.14's example does ("invalidVers" is a 400
//     scimType for a version carried in the body, which teamscim ignores), and changes
//     nothing. "*" matches any existing resource.
//   - If-None-Match on GET of /Users/{id} or /Groups/{id} answers 304 Not Modified, with the
//     ETag and no body, when it names the current version (or is "*").
//
// Entity tags are compared weakly (RFC 9110 §8.8.3.2): W/"3", "3" and a bare 3 all name
// version 3. A list of tags matches if any of them does.

// errVersionMismatch is a failed If-Match precondition.
var errVersionMismatch = &apiError{status: http.StatusPreconditionFailed,
	detail: "Failed to update: the resource changed on the server (If-Match does not name its current version)."}

// checkIfMatch enforces the request's If-Match precondition against version, the version of
// the resource the handler has just read in the Update that will change it. It returns nil
// when the request has no If-Match header.
func (s *Server) checkIfMatch(r *http.Request, version int64) error {
	values := r.Header.Values("If-Match")
	if !hasTags(values) || tagsMatch(values, version) {
		return nil
	}
	return errVersionMismatch
}

// hasTags reports whether a conditional header carries anything (an empty header is ignored).
func hasTags(values []string) bool {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			return true
		}
	}
	return false
}

// tagsMatch reports whether a list of entity tags (header values, each comma-separated)
// names version, or is "*".
func tagsMatch(values []string, version int64) bool {
	want := strconv.FormatInt(version, 10)
	for _, v := range values {
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || opaqueTag(tag) == want {
				return true
			}
		}
	}
	return false
}

// opaqueTag strips the weak prefix and the quotes of an entity tag.
func opaqueTag(tag string) string {
	tag = strings.TrimSpace(tag)
	if len(tag) >= 2 && (tag[:2] == "W/" || tag[:2] == "w/") {
		tag = tag[2:]
	}
	if len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' {
		tag = tag[1 : len(tag)-1]
	}
	return tag
}

// notModified reports whether a GET's If-None-Match names etag, the resource's current entity
// tag (W/"<n>").
func notModified(r *http.Request, etag string) bool {
	values := r.Header.Values("If-None-Match")
	if !hasTags(values) {
		return false
	}
	v, err := strconv.ParseInt(opaqueTag(etag), 10, 64)
	return err == nil && tagsMatch(values, v)
}
