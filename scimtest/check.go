package scimtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Target is the SCIM endpoint the flows run against, and how to run them.
type Target struct {
	// URL is the SCIM base URL, up to and including the version (for example
	// https://scim.example.com/scim/v2). With Handler it is the URL the handler is mounted at
	// (default http://scimtest.local, the handler's root).
	URL string
	// Token is the bearer token, sent as "Authorization: Bearer <Token>". It never appears in a
	// Report: every occurrence is masked.
	Token string
	// Handler, when set, serves the requests in process (with httptest.ResponseRecorder)
	// instead of sending them over the network.
	Handler http.Handler
	// Client sends the requests when Handler is nil. Default: a client with a 60 s timeout
	// (Okta's) that does not follow redirects.
	Client *http.Client
	// Skip lists step tags to leave out, for example TagProduct on a server that does not
	// implement Postman's product rules.
	Skip []string
	// Prefix starts every run id, and so every userName and group name a flow creates
	// (default "scimtest"): lower-case letters, digits and hyphens.
	Prefix string
	// Domain is the email domain of the userNames flows create (default "example.com").
	Domain string
	// EmailUserNames makes {{login:x}} userNames emails too. Set it for a server that requires
	// email userNames (teamscim by default, as Postman does) and an IdP set up to send them:
	// OneLogin sends its Username unless the admin maps scimusername to the email.
	EmailUserNames bool
	// AfterStep, when set, is called after every step that ran, with the response; an error
	// fails the step. A host that can read its store checks the stored state here (the step's
	// State says what it should be).
	AfterStep func(ctx context.Context, r StepResult) error
}

// StepResult is what AfterStep is given: the step, its State with placeholders expanded, and
// the response.
type StepResult struct {
	Flow Flow // the flow being run
	Step Step // the step, as written
	// State is Step.State with its placeholders expanded (ids, run id, ...).
	State json.RawMessage
	// Status, Header and Body are the response (Body unmasked: the hook is the host's code).
	Status int
	Header http.Header
	Body   []byte
}

// requestTimeout bounds each request when the default client is used (Okta's socket timeout).
const requestTimeout = 60 * time.Second

// maxBody is the most of a response body that is read.
const maxBody = 4 << 20

// Check runs flows against target, each flow with a run id of its own, and returns what
// happened. Steps that fail are in the Report, not the error: err is non-nil only when the
// flows could not be run (an invalid Target or Flow, or ctx done), and the Report then holds
// what ran before.
func Check(ctx context.Context, target Target, flows ...Flow) (Report, error) {
	r, err := newRunner(target)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Target: r.describe()}
	for _, f := range flows {
		if err := f.Validate(); err != nil {
			return rep, err
		}
	}
	for _, f := range flows {
		fr := r.runFlow(ctx, f)
		rep.add(fr)
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// Run runs flows against target like Check and reports through t: every failed step is an
// error naming the flow, the step, what went wrong and what it breaks in the IdP; steps that
// passed or were skipped, and the clean-up, are logged.
func Run(t testing.TB, target Target, flows ...Flow) {
	t.Helper()
	rep, err := Check(t.Context(), target, flows...)
	if err != nil {
		t.Fatalf("scimtest: %v", err)
	}
	for _, fr := range rep.Flows {
		for _, s := range fr.Steps {
			switch s.Outcome {
			case Failed:
				var b strings.Builder
				s.writeDetail(&b, fr.IdP, "  ")
				t.Errorf("%s (run %s): step %q failed:\n%s", fr.ID(), fr.Run, s.Name, b.String())
			default:
				t.Logf("%s %s: %s%s", s.Outcome, fr.ID(), s.Name, s.skipReason())
			}
		}
		for _, c := range fr.Cleanup {
			t.Logf("%s clean-up %s %s: %s", fr.ID(), c.Resource, c.Name, c.Detail)
		}
	}
}

type runner struct {
	t      Target
	base   string
	client *http.Client
}

func newRunner(t Target) (*runner, error) {
	if t.Prefix == "" {
		t.Prefix = "scimtest"
	}
	if t.Domain == "" {
		t.Domain = "example.com"
	}
	if !isSlug(t.Prefix) || len(t.Prefix) > 40 {
		return nil, errors.New("scimtest: Target.Prefix must be lower-case letters, digits and hyphens")
	}
	if !validDomain(t.Domain) {
		return nil, errors.New("scimtest: Target.Domain must be a domain name")
	}
	base := strings.TrimRight(t.URL, "/")
	if t.Handler != nil && base == "" {
		base = "http://scimtest.local"
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, errors.New("scimtest: Target.URL must be an absolute http(s) URL without a query")
	}
	r := &runner{t: t, base: base, client: t.Client}
	if r.client == nil {
		r.client = &http.Client{
			Timeout:       requestTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return r, nil
}

func validDomain(d string) bool {
	if d == "" || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || !strings.Contains(d, ".") {
		return false
	}
	for _, c := range d {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func (r *runner) describe() string {
	if r.t.Handler != nil {
		return "in-process handler at " + r.base
	}
	return r.base
}

// flowRun is the state of one flow's run.
type flowRun struct {
	*runner
	flow    Flow
	vars    *vars
	secrets []string   // masked in everything reported
	created []resource // what the flow created and has not deleted
	down    string     // why the remaining steps cannot run, once the server stopped answering
}

// resource is something a flow created: its path below the base URL and its name.
type resource struct{ path, name string }

func (r *runner) runFlow(ctx context.Context, f Flow) FlowReport {
	fr := &flowRun{runner: r, flow: f, vars: newVars(r.t.Prefix, r.t.Domain, r.t.EmailUserNames)}
	if r.t.Token != "" {
		fr.secrets = append(fr.secrets, r.t.Token)
	}
	for _, st := range f.Steps {
		fr.secrets = append(fr.secrets, passwords(st.Body)...)
	}
	rep := FlowReport{IdP: f.IdP, Name: f.Name, Description: f.Description, Run: fr.vars.run}
	for _, st := range f.Steps {
		rep.Steps = append(rep.Steps, fr.step(ctx, st))
	}
	rep.Cleanup = fr.cleanup(ctx)
	return rep
}

func (fr *flowRun) step(ctx context.Context, st Step) StepReport {
	sr := StepReport{Name: st.Name, Expect: st.Expect, Consequence: st.Consequence, Tags: st.Tags, Outcome: Skipped}
	if tags := fr.skipped(st); len(tags) > 0 {
		sr.Problems = []string{"tag " + strings.Join(tags, ", ") + " skipped"}
		return sr
	}
	if fr.down != "" {
		sr.Problems = []string{fr.down}
		return sr
	}
	if err := ctx.Err(); err != nil {
		sr.Problems = []string{"not run: " + err.Error()}
		return sr
	}
	path, missing := fr.expandPath(st.Path)
	body, m2 := fr.vars.expand(string(st.Body), jsonEscape)
	auth, m3 := fr.vars.expand(derefOr(st.Auth, ""), noEscape)
	headers := http.Header{}
	for k, v := range st.Headers {
		val, m := fr.vars.expand(v, noEscape)
		headers.Set(k, val)
		missing = append(missing, m...)
	}
	// The response pattern and absent strings are expanded when the response is in, but a
	// capture they need must exist before the request goes.
	_, m4 := fr.vars.expand(string(st.Response)+strings.Join(st.Absent, ""), noEscape)
	if missing = slices.Concat(missing, m2, m3, m4); len(missing) > 0 {
		sr.Problems = []string{fmt.Sprintf("not run: needs {{%s}}, which an earlier step did not capture", missing[0])}
		return sr
	}
	switch {
	case st.Auth != nil:
		headers.Set("Authorization", auth)
	case fr.t.Token != "":
		headers.Set("Authorization", "Bearer "+fr.t.Token)
	}
	if len(st.Body) > 0 {
		ct := st.ContentType
		if ct == "" {
			ct = "application/scim+json"
		}
		headers.Set("Content-Type", ct)
	}
	sr.Request = &RequestExcerpt{Method: st.Method, Path: fr.mask(path), Body: fr.maskBody([]byte(body))}

	ex, err := fr.send(ctx, st.Method, path, headers, []byte(body))
	if err != nil {
		sr.Outcome = Failed
		sr.Problems = []string{fr.mask("no answer: " + err.Error())}
		if ctx.Err() == nil {
			fr.down = "not run: the server did not answer an earlier step"
		}
		return sr
	}
	sr.Retried = ex.retried
	sr.Response = &ResponseExcerpt{Status: ex.status, Location: fr.mask(ex.header.Get("Location")), Body: fr.maskBody(ex.body)}
	fr.track(st, path, ex)

	problems := fr.evaluate(st, path, ex)
	if fr.t.AfterStep != nil {
		state, missing := fr.vars.expand(string(st.State), jsonEscape)
		if len(missing) == 0 {
			res := StepResult{Flow: fr.flow, Step: st, State: json.RawMessage(state), Status: ex.status, Header: ex.header, Body: ex.body}
			if err := fr.t.AfterStep(ctx, res); err != nil {
				problems = append(problems, "after the step: "+err.Error())
			}
		}
	}
	sr.Outcome = Passed
	if len(problems) > 0 {
		sr.Outcome = Failed
		for _, p := range problems {
			sr.Problems = append(sr.Problems, fr.mask(p))
		}
	}
	return sr
}

// skipped returns the step's tags that the target skips.
func (fr *flowRun) skipped(st Step) []string {
	var out []string
	for _, t := range st.Tags {
		if slices.Contains(fr.t.Skip, t) {
			out = append(out, t)
		}
	}
	return out
}

// expandPath expands a step's path, escaping values for the path and for the query.
func (fr *flowRun) expandPath(p string) (string, []string) {
	pathPart, query, hasQuery := strings.Cut(p, "?")
	out, missing := fr.vars.expand(pathPart, url.PathEscape)
	if hasQuery {
		q, m := fr.vars.expand(query, url.QueryEscape)
		out, missing = out+"?"+q, append(missing, m...)
	}
	return out, missing
}

func noEscape(s string) string { return s }

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// exchange is a response.
type exchange struct {
	status  int
	header  http.Header
	body    []byte
	retried int
}

// send sends a request, retrying a 429 up to 3 times after its Retry-After (at most 60 s), as
// Okta and Entra do.
func (fr *flowRun) send(ctx context.Context, method, path string, header http.Header, body []byte) (*exchange, error) {
	for attempt := 0; ; attempt++ {
		ex, err := fr.sendOnce(ctx, method, path, header, body)
		if err != nil || ex.status != http.StatusTooManyRequests || attempt == 3 {
			if ex != nil {
				ex.retried = attempt
			}
			return ex, err
		}
		wait, err := strconv.Atoi(strings.TrimSpace(ex.header.Get("Retry-After")))
		if err != nil || wait < 0 || wait > 60 {
			ex.retried = attempt
			return ex, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(wait)*time.Second + 100*time.Millisecond):
		}
	}
}

func (fr *flowRun) sendOnce(ctx context.Context, method, path string, header http.Header, body []byte) (*exchange, error) {
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, fr.base+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	var res *http.Response
	if fr.t.Handler != nil {
		req.RequestURI = req.URL.RequestURI()
		req.RemoteAddr = "192.0.2.1:1234"
		rec := httptest.NewRecorder()
		fr.t.Handler.ServeHTTP(rec, req)
		res = rec.Result()
	} else if res, err = fr.client.Do(req); err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, err
	}
	return &exchange{status: res.StatusCode, header: res.Header, body: data}, nil
}

// evaluate checks a response against its step and captures the id the step names.
func (fr *flowRun) evaluate(st Step, path string, ex *exchange) []string {
	var problems []string
	var doc any
	hasBody := len(bytes.TrimSpace(ex.body)) > 0
	if hasBody {
		if err := json.Unmarshal(ex.body, &doc); err != nil {
			problems = append(problems, fmt.Sprintf("the %d response's body is not JSON: %s", ex.status, cut(string(ex.body), 120)))
		}
	}
	obj, _ := doc.(map[string]any)
	id, _ := obj["id"].(string)
	if st.Capture != "" && id != "" {
		fr.vars.ids[st.Capture] = id
	}

	if !slices.Contains(st.Status, ex.status) {
		msg := fmt.Sprintf("status %d, want %s", ex.status, st.Status)
		if ex.status == http.StatusOK && hasBody && slices.Contains(st.Status, http.StatusNoContent) {
			msg = fmt.Sprintf("status 200 with a body, want %s (204 No Content has no body)", st.Status)
		}
		if d, _ := obj["detail"].(string); d != "" {
			msg += fmt.Sprintf(" (detail: %q)", cut(d, 200))
		}
		return append(problems, msg)
	}
	if ex.status == http.StatusNoContent && hasBody {
		problems = append(problems, "204 No Content with a body")
	}
	if hasBody {
		mt, _, _ := mime.ParseMediaType(ex.header.Get("Content-Type"))
		if mt != "application/scim+json" {
			problems = append(problems, fmt.Sprintf("Content-Type %q, want application/scim+json (RFC 7644 §3.1)", ex.header.Get("Content-Type")))
		}
	}
	if ex.status >= 400 {
		problems = append(problems, scimError(ex.status, obj)...)
	}
	if ex.status == http.StatusCreated {
		problems = append(problems, created(path, ex, obj, id)...)
	}
	if st.Capture != "" && id == "" {
		problems = append(problems, fmt.Sprintf("no \"id\" in the response to use as {{%s}}", st.Capture))
	}
	if len(st.Response) > 0 && hasBody && doc != nil {
		raw, _ := fr.vars.expand(string(st.Response), jsonEscape)
		var want any
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			problems = append(problems, "the step's response pattern is not valid JSON after expansion")
		} else {
			problems = append(problems, match("response", want, doc)...)
		}
	}
	lower := strings.ToLower(string(ex.body))
	for _, a := range st.Absent {
		s, _ := fr.vars.expand(a, noEscape)
		if strings.Contains(lower, strings.ToLower(s)) {
			problems = append(problems, fmt.Sprintf("the response contains %q, which must not be returned", s))
		}
	}
	return problems
}

// scimError checks an error response's body (RFC 7644 §3.12).
func scimError(status int, obj map[string]any) []string {
	want := fmt.Sprintf("want a SCIM error body (schemas [%q], status %q)", errorURN, strconv.Itoa(status))
	if obj == nil {
		return []string{fmt.Sprintf("%d without a SCIM error body: %s", status, want)}
	}
	schemas, _ := obj["schemas"].([]any)
	s, _ := obj["status"].(string)
	if !slices.Contains(schemas, any(errorURN)) || s != strconv.Itoa(status) {
		return []string{fmt.Sprintf("%d without a SCIM error body (got schemas %s, status %s): %s", status, excerpt(obj["schemas"]), excerpt(obj["status"]), want)}
	}
	return nil
}

const errorURN = "urn:ietf:params:scim:api:messages:2.0:Error"

// created checks a 201: a body with an id, and a Location naming the new resource (RFC 7644
// §3.3).
func created(path string, ex *exchange, obj map[string]any, id string) []string {
	if id == "" {
		return []string{"201 Created without the new resource's id in the body"}
	}
	loc := ex.header.Get("Location")
	if loc == "" {
		return []string{"201 Created without a Location header (RFC 7644 §3.3)"}
	}
	collection, _, _ := strings.Cut(path, "?")
	if !strings.HasSuffix(strings.TrimRight(loc, "/"), "/"+url.PathEscape(id)) {
		return []string{fmt.Sprintf("Location %q does not name the new resource (…%s/%s)", loc, collection, id)}
	}
	if meta, _ := obj["meta"].(map[string]any); meta != nil {
		if ml, _ := meta["location"].(string); ml != "" && ml != loc {
			return []string{fmt.Sprintf("Location %q differs from meta.location %q", loc, ml)}
		}
	}
	return nil
}

// track records what a POST created and forgets what a DELETE removed, for the clean-up.
func (fr *flowRun) track(st Step, path string, ex *exchange) {
	collection, _, _ := strings.Cut(path, "?")
	collection = strings.TrimRight(collection, "/")
	switch {
	case st.Method == http.MethodPost && ex.status == http.StatusCreated:
		var doc struct {
			ID          string `json:"id"`
			UserName    string `json:"userName"`
			DisplayName string `json:"displayName"`
		}
		if json.Unmarshal(ex.body, &doc) != nil || doc.ID == "" {
			return
		}
		p := collection + "/" + url.PathEscape(doc.ID)
		if !slices.ContainsFunc(fr.created, func(r resource) bool { return strings.EqualFold(r.path, p) }) {
			name := doc.UserName
			if name == "" {
				name = doc.DisplayName
			}
			fr.created = append(fr.created, resource{path: p, name: name})
		}
	case st.Method == http.MethodDelete && ex.status >= 200 && ex.status < 300:
		fr.created = slices.DeleteFunc(fr.created, func(r resource) bool { return strings.EqualFold(r.path, collection) })
	}
}

// cleanup deletes what the flow created, groups first; users are deactivated before they are
// deleted. It carries on after ctx is done, for at most 30 s.
func (fr *flowRun) cleanup(ctx context.Context) []Cleanup {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	isGroup := func(r resource) bool { return strings.HasPrefix(strings.ToLower(r.path), "/groups/") }
	order := slices.Concat(
		slices.DeleteFunc(slices.Clone(fr.created), func(r resource) bool { return !isGroup(r) }),
		slices.DeleteFunc(slices.Clone(fr.created), isGroup))
	header := http.Header{}
	if fr.t.Token != "" {
		header.Set("Authorization", "Bearer "+fr.t.Token)
	}
	var out []Cleanup
	for _, res := range order {
		c := Cleanup{Resource: res.path, Name: res.name, OK: true}
		var done []string
		try := func(method, verb string, h http.Header, body []byte) {
			ex, err := fr.send(ctx, method, res.path, h, body)
			switch {
			case err != nil:
				c.OK, done = false, append(done, verb+": "+err.Error())
			case ex.status == http.StatusNotFound || ex.status < 300:
				done = append(done, verb+"d")
			default:
				c.OK, done = false, append(done, fmt.Sprintf("%s answered %d", verb, ex.status))
			}
		}
		if strings.HasPrefix(strings.ToLower(res.path), "/users/") {
			h := header.Clone()
			h.Set("Content-Type", "application/scim+json")
			try(http.MethodPatch, "deactivate", h, []byte(deactivate))
		}
		try(http.MethodDelete, "delete", header, nil)
		c.Detail = fr.mask(strings.Join(done, ", "))
		out = append(out, c)
	}
	return out
}

const deactivate = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`

// mask replaces the token and the flow's passwords with "***".
func (fr *flowRun) mask(s string) string {
	for _, sec := range fr.secrets {
		s = strings.ReplaceAll(s, sec, "***")
	}
	return s
}

// maskBody is a body for a report: password values masked, secrets masked, cut to 1 KiB.
func (fr *flowRun) maskBody(b []byte) string {
	if len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	s := string(b)
	if dec.Decode(&doc) == nil {
		if out, err := json.Marshal(maskPasswords(doc)); err == nil {
			s = string(out)
		}
	}
	return cut(fr.mask(s), 1024)
}

func maskPasswords(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if strings.EqualFold(k, "password") {
				x[k] = "***"
			} else {
				x[k] = maskPasswords(e)
			}
		}
	case []any:
		for i, e := range x {
			x[i] = maskPasswords(e)
		}
	}
	return v
}

// passwords returns the password values in a JSON body, at any depth: the values of
// "password" keys, and of PATCH operations whose path is password.
func passwords(body json.RawMessage) []string {
	var doc any
	if len(body) == 0 || json.Unmarshal(body, &doc) != nil {
		return nil
	}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			path, _ := x["path"].(string)
			for k, e := range x {
				s, ok := e.(string)
				if ok && s != "" && (strings.EqualFold(k, "password") || k == "value" && strings.EqualFold(path, "password")) {
					out = append(out, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	return out
}
