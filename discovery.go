package teamscim

import (
	"encoding/json"

	"github.com/elimity-com/scim"
)

// serviceProviderConfigSchema is the schema URN of /ServiceProviderConfig (RFC 7643 §5).
const serviceProviderConfigSchema = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

// serviceProviderConfig renders /ServiceProviderConfig (RFC 7643 §5). The Server serves it
// itself because the wrapped library hard-codes etag.supported false: the fields are the ones
// the library renders, with etag on (see etag.go), bulk's limits at 0 (there is no /Bulk) and a
// meta with the resource type and location.
func (s *Server) serviceProviderConfig(baseURL string) ([]byte, error) {
	c := s.args.ServiceProviderConfig
	schemes := make([]map[string]any, 0, len(c.AuthenticationSchemes))
	for _, a := range c.AuthenticationSchemes {
		schemes = append(schemes, authScheme(a))
	}
	doc := map[string]any{
		"schemas":               []string{serviceProviderConfigSchema},
		"documentationUri":      c.DocumentationURI.Value(),
		"patch":                 map[string]bool{"supported": c.SupportPatch},
		"bulk":                  map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":                map[string]any{"supported": c.SupportFiltering, "maxResults": c.MaxResults},
		"changePassword":        map[string]bool{"supported": false},
		"sort":                  map[string]bool{"supported": false},
		"etag":                  map[string]bool{"supported": true},
		"authenticationSchemes": schemes,
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     baseURL + "/ServiceProviderConfig",
		},
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, wrapErr(err, "render ServiceProviderConfig")
	}
	return body, nil
}

func authScheme(a scim.AuthenticationScheme) map[string]any {
	return map[string]any{
		"type":             a.Type,
		"name":             a.Name,
		"description":      a.Description,
		"specUri":          a.SpecURI.Value(),
		"documentationUri": a.DocumentationURI.Value(),
		"primary":          a.Primary,
	}
}
