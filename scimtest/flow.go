package scimtest

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
)

// A Flow is one recorded conversation of an identity provider with a SCIM server: the requests
// it sends, in order, and what each must get back. Flows are data (see the package
// documentation for the JSON format); Load and LoadFS read them.
type Flow struct {
	// IdP names the identity provider, in lower case ("okta", "entra", "onelogin", or a name
	// of the host's own).
	IdP string `json:"idp"`
	// Name names the flow within its IdP ("users", "groups").
	Name string `json:"name"`
	// Description says what the flow covers and where its requests come from.
	Description string `json:"description"`
	// Steps are the requests, in the order the IdP sends them.
	Steps []Step `json:"steps"`
}

// ID is the flow's "<idp>/<name>".
func (f Flow) ID() string { return f.IdP + "/" + f.Name }

// A Step is one request of a flow and what the server must answer. Strings may hold
// placeholders ({{run}}, {{uid}}, ...: see the package documentation).
type Step struct {
	// Name says what the IdP is doing, unique within the flow.
	Name string `json:"name"`
	// Expect says, in words, what the server must do.
	Expect string `json:"expect"`
	// Consequence says what goes wrong in the IdP when the server does not.
	Consequence string `json:"consequence"`
	// Tags mark steps that a generic server may leave out: TagProduct marks a Postman
	// (teamscim) product rule, TagAttributes the full attribute set an IdP sends; Target.Skip
	// leaves tagged steps out.
	Tags []string `json:"tags,omitempty"`

	// Method is the HTTP method: GET, POST, PUT, PATCH or DELETE.
	Method string `json:"method"`
	// Path is the request path and query below the SCIM base URL, starting with "/".
	Path string `json:"path"`
	// ContentType of Body; default application/scim+json.
	ContentType string `json:"contentType,omitempty"`
	// Auth, when set, is sent as the Authorization header instead of "Bearer <token>".
	Auth *string `json:"auth,omitempty"`
	// Headers are further request headers (Accept, User-Agent, ...).
	Headers map[string]string `json:"headers,omitempty"`
	// Body is the request body, a JSON value.
	Body json.RawMessage `json:"body,omitempty"`

	// Status lists the statuses that pass (in JSON a number or an array of numbers).
	Status Statuses `json:"status"`
	// Response, when set, must match the response body (see "Matching" in the package
	// documentation). It is checked whenever the response has a body.
	Response json.RawMessage `json:"response,omitempty"`
	// Absent lists strings that must not occur in the response body (compared case-insensitively).
	Absent []string `json:"absent,omitempty"`
	// Capture names the response's "id", for later steps to use as {{name}}.
	Capture string `json:"capture,omitempty"`
	// State is free-form data for Target.AfterStep, with placeholders expanded; scimtest itself
	// does not read it. A host whose hook can read its store puts the expected stored state here.
	State json.RawMessage `json:"state,omitempty"`
}

// TagProduct marks a step that checks a Postman product rule (as teamscim implements it)
// rather than RFC 7644 behaviour, for example "group members must be provisioned first". A
// generic SCIM server skips it with Target.Skip = []string{TagProduct}.
const TagProduct = "product"

// TagAttributes marks a step that checks the server keeps, returns and patches every
// attribute of an IdP's default attribute mapping (Entra's title, phoneNumbers, addresses,
// preferredLanguage, the enterprise extension's employeeNumber, department and manager, ...),
// beyond userName, name, emails, active and externalId. RFC 7643 defines them all, but many
// servers keep only what their product uses; such a server skips these steps with
// Target.Skip = []string{TagAttributes}.
const TagAttributes = "attributes"

// Statuses are the HTTP statuses a step accepts. In JSON a single status may be written as a
// number.
type Statuses []int

// UnmarshalJSON accepts a number or an array of numbers.
func (s *Statuses) UnmarshalJSON(b []byte) error {
	var one int
	if err := json.Unmarshal(b, &one); err == nil {
		*s = Statuses{one}
		return nil
	}
	var many []int
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("status must be a number or an array of numbers")
	}
	*s = many
	return nil
}

// MarshalJSON writes a single status as a number.
func (s Statuses) MarshalJSON() ([]byte, error) {
	if len(s) == 1 {
		return json.Marshal(s[0])
	}
	return json.Marshal([]int(s))
}

// String lists the statuses: "200 or 204".
func (s Statuses) String() string {
	parts := make([]string, len(s))
	for i, c := range s {
		parts[i] = fmt.Sprint(c)
	}
	return strings.Join(parts, " or ")
}

// Load reads one flow from JSON and checks it (see Flow.Validate).
func Load(data []byte) (Flow, error) {
	var f Flow
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Flow{}, fmt.Errorf("scimtest: %w", err)
	}
	if dec.More() {
		return Flow{}, errors.New("scimtest: data after the flow")
	}
	if err := f.Validate(); err != nil {
		return Flow{}, err
	}
	return f, nil
}

// LoadFS reads every *.json file under fsys (in lexical order of their paths) as a flow.
func LoadFS(fsys fs.FS) ([]Flow, error) {
	var flows []Flow
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		f, err := Load(data)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		flows = append(flows, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(flows) == 0 {
		return nil, errors.New("scimtest: no *.json flows found")
	}
	return flows, nil
}

var methods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// Validate checks that the flow can run: names present and unique, known methods, statuses,
// JSON bodies, and placeholders that name a built-in value or an earlier step's capture. A step
// may use the capture of a tagged step only if it carries the same tags, so that skipping a
// tag never leaves a step without its input.
func (f Flow) Validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("scimtest: flow %q: %s", f.ID(), fmt.Sprintf(format, args...))
	}
	if !isSlug(f.IdP) || !isSlug(f.Name) {
		return fail("idp and name must be non-empty lower-case words (a-z, 0-9, -)")
	}
	if len(f.Steps) == 0 {
		return fail("no steps")
	}
	names := map[string]bool{}
	captures := map[string][]string{} // capture name -> tags of the step that made it
	for i, st := range f.Steps {
		at := func(format string, args ...any) error {
			return fail("step %d (%s): %s", i+1, st.Name, fmt.Sprintf(format, args...))
		}
		switch {
		case st.Name == "":
			return fail("step %d has no name", i+1)
		case names[st.Name]:
			return at("the name is used twice")
		case st.Expect == "" || st.Consequence == "":
			return at("expect and consequence are required")
		case !slices.Contains(methods, st.Method):
			return at("method must be one of %s", strings.Join(methods, ", "))
		case !strings.HasPrefix(st.Path, "/"):
			return at("path must start with /")
		case len(st.Status) == 0:
			return at("status is required")
		case st.Capture != "" && (builtin(st.Capture) || captures[st.Capture] != nil):
			return at("capture %q is a built-in or already captured", st.Capture)
		}
		names[st.Name] = true
		for _, c := range st.Status {
			if c < 100 || c > 599 {
				return at("status %d is not an HTTP status", c)
			}
		}
		for _, t := range st.Tags {
			if !isSlug(t) {
				return at("tag %q must be a lower-case word", t)
			}
		}
		for k := range st.Headers {
			if strings.EqualFold(k, "Authorization") {
				return at("set Authorization with auth, not headers")
			}
		}
		for field, raw := range map[string]json.RawMessage{"body": st.Body, "response": st.Response, "state": st.State} {
			if len(raw) > 0 && !json.Valid(raw) {
				return at("%s is not valid JSON", field)
			}
		}
		if st.Response != nil {
			var want any
			if err := json.Unmarshal(st.Response, &want); err != nil {
				return at("response: %v", err)
			}
			if err := validPattern(want); err != nil {
				return at("response: %v", err)
			}
		}
		// A step may read its own capture in response and state, never in its request.
		request := []string{st.Path, string(st.Body), derefOr(st.Auth, "")}
		for _, v := range st.Headers {
			request = append(request, v)
		}
		after := append([]string{string(st.Response), string(st.State)}, st.Absent...)
		for _, s := range request {
			if err := checkRefs(s, captures, st.Tags); err != nil {
				return at("%v", err)
			}
		}
		if st.Capture != "" {
			captures[st.Capture] = append([]string{}, st.Tags...)
		}
		for _, s := range after {
			if err := checkRefs(s, captures, st.Tags); err != nil {
				return at("%v", err)
			}
		}
	}
	return nil
}

// checkRefs checks that every placeholder in s is a built-in or a capture whose step's tags
// are all among tags.
func checkRefs(s string, captures map[string][]string, tags []string) error {
	for _, ref := range placeholders(s) {
		if builtin(ref) {
			continue
		}
		needs, ok := captures[ref]
		if !ok {
			return fmt.Errorf("{{%s}} is neither a built-in nor captured by an earlier step", ref)
		}
		for _, t := range needs {
			if !slices.Contains(tags, t) {
				return fmt.Errorf("{{%s}} comes from a step tagged %q, so this step needs that tag too", ref, t)
			}
		}
	}
	return nil
}

func isSlug(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

//go:embed flows
var embedded embed.FS

// The flows recorded from each identity provider, as shipped in this package (directory
// flows/<idp>/). They are read once at start-up; treat them as read-only.
var (
	// Okta: the OIN template app (SCIM 2.0 with PATCH): credential test, existence checks,
	// create, profile PUT, path-less deactivate and reactivate, password sync, Okta's
	// spec-test 401/404/409 checks, group push, full membership push, rename, member
	// removal by filter, unassignment and group delete.
	Okta []Flow
	// Entra: Microsoft Entra ID's provisioning service, with and without the aadOptscim062020
	// flag: Test Connection, userName and externalId probes, create, capitalised and flag-form
	// PATCH, "True"/"False" strings, the soft-delete tombstone, hard DELETE, and groups with
	// excludedAttributes=members, Add/Remove by value array and by members[value eq ...].
	Entra []Flow
	// OneLogin: the SCIM Provisioner app: probe, template artefacts, PUT updates and suspend,
	// DELETE, and group membership by value array.
	OneLogin []Flow
	// All is every flow above, in the order Okta, Entra, OneLogin.
	All []Flow
)

func init() {
	sub, err := fs.Sub(embedded, "flows")
	if err != nil {
		panic(err)
	}
	flows, err := LoadFS(sub)
	if err != nil {
		panic(err)
	}
	for _, f := range flows {
		switch f.IdP {
		case "okta":
			Okta = append(Okta, f)
		case "entra":
			Entra = append(Entra, f)
		case "onelogin":
			OneLogin = append(OneLogin, f)
		default:
			panic("scimtest: embedded flow of unknown IdP " + f.IdP)
		}
	}
	// Clipped, so that append(scimtest.Okta, ...) copies instead of writing into All.
	Okta, Entra, OneLogin = slices.Clip(Okta), slices.Clip(Entra), slices.Clip(OneLogin)
	All = slices.Clip(slices.Concat(Okta, Entra, OneLogin))
}
