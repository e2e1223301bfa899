package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/pgtest"
	"github.com/teamscim/teamscim/memstore"
)

// waitFor bounds every wait of these tests.
const waitFor = 10 * time.Second

// syncBuffer is a goroutine-safe bytes.Buffer for the server's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// instance is an example server started by start.
type instance struct {
	base, key string
	stderr    *syncBuffer
	// rotated receives the keys printed after the first one (-rotate-key).
	rotated chan string
}

// start runs the server with args (plus -addr 127.0.0.1:0) until the test ends, and returns
// the base URL and key it printed. The cleanup cancels the server and checks that run returns
// nil promptly.
func start(t *testing.T, args ...string) instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), pw, stderr)
		pw.Close()
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v after cancel, want nil", err)
			}
		case <-time.After(waitFor):
			t.Errorf("run did not return within %v of cancel", waitFor)
		}
	})

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var in instance
	in.stderr = stderr
	deadline := time.After(waitFor)
	for in.base == "" || in.key == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("stdout closed before the base URL and key were printed; stderr:\n%s", stderr)
			}
			if v, ok := strings.CutPrefix(line, "SCIM base URL: "); ok {
				in.base = v
			}
			if v, ok := strings.CutPrefix(line, "SCIM API key: "); ok {
				in.key = v
			}
		case <-deadline:
			t.Fatalf("no base URL and key printed within %v; stderr:\n%s", waitFor, stderr)
		}
	}
	in.rotated = make(chan string, 16)
	go func() { // keep draining stdout so that run never blocks on it
		for line := range lines {
			if v, ok := strings.CutPrefix(line, "SCIM API key: "); ok {
				select {
				case in.rotated <- v:
				default:
				}
			}
		}
	}()
	if !strings.HasPrefix(in.base, "http://127.0.0.1:") || !strings.HasSuffix(in.base, "/scim/v2") ||
		strings.HasSuffix(in.base, ":0/scim/v2") {
		t.Fatalf("base URL %q, want http://127.0.0.1:<bound port>/scim/v2", in.base)
	}
	return in
}

var client = &http.Client{Timeout: waitFor}

// do sends a request with the key (when not empty) and returns the status, headers and body.
func do(t *testing.T, method, url, key, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, b
}

func userBody(userName string) string {
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + userName +
		`","name":{"givenName":"Ann","familyName":"Lee"},"active":true}`
}

func TestServesSCIM(t *testing.T) {
	in := start(t)

	code, _, body := do(t, http.MethodGet, in.base+"/Users?startIndex=1&count=2", in.key, "")
	if code != http.StatusOK {
		t.Fatalf("GET /Users with key: %d %s, want 200", code, body)
	}
	var list struct {
		Schemas      []string `json:"schemas"`
		TotalResults int      `json:"totalResults"`
		StartIndex   int      `json:"startIndex"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatalf("GET /Users: %v in %s", err, body)
	}
	if len(list.Schemas) != 1 || list.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:ListResponse" ||
		list.TotalResults != 0 || list.StartIndex != 1 {
		t.Errorf("GET /Users: %s, want an empty ListResponse starting at 1", body)
	}

	code, hdr, body := do(t, http.MethodGet, in.base+"/Users?startIndex=1&count=2", "", "")
	if code != http.StatusUnauthorized {
		t.Errorf("GET /Users without key: %d %s, want 401", code, body)
	}
	if hdr.Get("WWW-Authenticate") == "" {
		t.Errorf("GET /Users without key: no WWW-Authenticate header")
	}
	if code, _, body := do(t, http.MethodGet, in.base+"/Users", "not-the-key-0123456789", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /Users with a wrong key: %d %s, want 401", code, body)
	}

	code, hdr, body = do(t, http.MethodPost, in.base+"/Users", in.key, userBody("ann@example.com"))
	if code != http.StatusCreated {
		t.Fatalf("POST /Users: %d %s, want 201", code, body)
	}
	var user struct {
		ID       string `json:"id"`
		UserName string `json:"userName"`
	}
	if err := json.Unmarshal(body, &user); err != nil || user.ID == "" || user.UserName != "ann@example.com" {
		t.Fatalf("POST /Users: body %s (%v)", body, err)
	}
	if loc, want := hdr.Get("Location"), in.base+"/Users/"+user.ID; loc != want {
		t.Errorf("POST /Users: Location %q, want %q", loc, want)
	}
	if code, _, body := do(t, http.MethodGet, in.base+"/Users/"+user.ID, in.key, ""); code != http.StatusOK {
		t.Errorf("GET the created user: %d %s, want 200", code, body)
	}
	if code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody("ANN@example.com")); code != http.StatusConflict {
		t.Errorf("POST the same userName in another case: %d %s, want 409", code, body)
	}

	// The default requires an email as userName.
	if code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody("bjensen")); code != http.StatusBadRequest {
		t.Errorf("POST a non-email userName by default: %d %s, want 400", code, body)
	}
}

func TestRequireEmailFalse(t *testing.T) {
	in := start(t, "-require-email=false")
	if code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody("bjensen")); code != http.StatusCreated {
		t.Errorf("POST a non-email userName with -require-email=false: %d %s, want 201", code, body)
	}
}

func TestAPIKeyFlag(t *testing.T) {
	const secret = "example-server-test-secret-0123456789"
	in := start(t, "-api-key", secret)
	if in.key != secret {
		t.Errorf("printed key %q, want the -api-key value %q", in.key, secret)
	}
	if code, _, body := do(t, http.MethodGet, in.base+"/Users", secret, ""); code != http.StatusOK {
		t.Errorf("GET /Users with the -api-key secret: %d %s, want 200", code, body)
	}
}

func TestRandomKeysDiffer(t *testing.T) {
	a, b := start(t), start(t)
	if a.key == b.key {
		t.Errorf("two servers printed the same random key %q", a.key)
	}
	if code, _, _ := do(t, http.MethodGet, a.base+"/Users", b.key, ""); code != http.StatusUnauthorized {
		t.Errorf("server A accepted server B's key: %d, want 401", code)
	}
}

// -rate-limit postman limits the demo team to 300 reads per minute: a burst of reads meets a
// 429 with Retry-After and a SCIM error body; without the flag nothing is limited.
func TestRateLimitFlag(t *testing.T) {
	reads := func(in instance, n int) (int, http.Header, []byte) {
		for i := 0; i < n; i++ {
			code, h, body := do(t, http.MethodGet, in.base+"/Users?count=1", in.key, "")
			if code != http.StatusOK {
				return code, h, body
			}
		}
		return http.StatusOK, nil, nil
	}
	limited := start(t, "-rate-limit", "postman")
	code, h, body := reads(limited, 1000)
	if code != http.StatusTooManyRequests {
		t.Fatalf("1,000 reads with -rate-limit postman: last status %d %s, want a 429", code, body)
	}
	if secs, err := strconv.Atoi(h.Get("Retry-After")); err != nil || secs < 1 {
		t.Errorf("Retry-After = %q, want an integer >= 1", h.Get("Retry-After"))
	}
	if !strings.Contains(string(body), `"status":"429"`) || !strings.Contains(string(body), "urn:ietf:params:scim:api:messages:2.0:Error") {
		t.Errorf("429 body is not a SCIM error: %s", body)
	}
	if code, _, body := reads(start(t), 400); code != http.StatusOK {
		t.Errorf("400 reads without -rate-limit: %d %s, want 200", code, body)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-seat-policy", "bogus"},
		{"-rate-limit", "always"},
		{"-seats", "-1"},
		{"-seats", "many"},
		{"-require-email=maybe"},
		{"-api-key", "short"},
		{"-key-ttl", "-1h"},
		{"-rotate-key", "soon"},
		{"-keep-previous-key"},
		{"-api-key", "has a space in the middle"},
		{"-base-url", "scim.example.com/scim/v2"},
		{"-no-such-flag"},
		{"-store", "mysql://db.example/teamscim"},
		{"-store", "disk"},
		{"extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr syncBuffer
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			err := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), &stdout, &stderr)
			var ue usageError
			if !errors.As(err, &ue) {
				t.Fatalf("run(%q) = %v, want a usage error", args, err)
			}
			if !strings.Contains(stderr.String(), "Usage:") {
				t.Errorf("stderr has no usage message:\n%s", stderr.String())
			}
			if stdout.String() != "" {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr syncBuffer
	err := run(context.Background(), []string{"-h"}, &stdout, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run(-h) = %v, want flag.ErrHelp", err)
	}
	for _, f := range []string{"-addr", "-api-key", "-key-ttl", "-rotate-key", "-keep-previous-key", "-seats", "-seat-policy", "-rate-limit", "-require-email", "-store", "postman"} {
		if !strings.Contains(stderr.String(), f) {
			t.Errorf("usage does not mention %s:\n%s", f, stderr.String())
		}
	}
}

func TestAddrInUse(t *testing.T) {
	in := start(t)
	addr := strings.TrimSuffix(strings.TrimPrefix(in.base, "http://"), "/scim/v2")
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := run(ctx, []string{"-addr", addr}, &stdout, &stderr)
	var ue usageError
	if err == nil || errors.As(err, &ue) {
		t.Fatalf("run on a busy address = %v, want a listen error", err)
	}
}

func TestCancelStopsPromptly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"-addr", "127.0.0.1:0"}, pw, &stderr)
		pw.Close()
		done <- err
	}()
	var base, key string
	lines := bufio.NewScanner(pr)
	read := make(chan struct{})
	go func() {
		defer close(read)
		for lines.Scan() {
			if v, ok := strings.CutPrefix(lines.Text(), "SCIM base URL: "); ok {
				base = v
			}
			if v, ok := strings.CutPrefix(lines.Text(), "SCIM API key: "); ok {
				key = v
				return
			}
		}
	}()
	select {
	case <-read:
	case <-time.After(waitFor):
		t.Fatalf("no key printed within %v; stderr:\n%s", waitFor, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	// An open keep-alive connection must not delay the shutdown.
	if code, _, body := do(t, http.MethodGet, base+"/Users", key, ""); code != http.StatusOK {
		t.Fatalf("GET /Users: %d %s", code, body)
	}

	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v after cancel, want nil", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("run took %v to return after cancel", d)
		}
	case <-time.After(waitFor):
		t.Fatalf("run did not return within %v of cancel", waitFor)
	}
	if _, err := client.Get(base + "/Users"); err == nil {
		t.Errorf("the server still answers after run returned")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("stderr does not log the shutdown:\n%s", stderr.String())
	}
}

// -seats 3 -seat-policy limit refuses the 4th member with 403 "no available seats"; a
// deactivation frees a seat. /debug/seats shows the report.
func TestSeatFlags(t *testing.T) {
	in := start(t, "-seats", "3", "-seat-policy", "limit")
	var ids []string
	for _, name := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody(name))
		if code != http.StatusCreated {
			t.Fatalf("POST %s: %d %s, want 201", name, code, body)
		}
		var u struct{ ID string }
		_ = json.Unmarshal(body, &u)
		ids = append(ids, u.ID)
	}
	code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody("d@example.com"))
	if code != http.StatusForbidden || !strings.Contains(string(body), "no available seats") {
		t.Fatalf("POST the 4th member: %d %s, want 403 no available seats", code, body)
	}
	if code, _, body := do(t, http.MethodPatch, in.base+"/Users/"+ids[0], in.key, deactivateBody); code != http.StatusOK {
		t.Fatalf("deactivate: %d %s", code, body)
	}
	if code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody("d@example.com")); code != http.StatusCreated {
		t.Fatalf("POST the 4th member after a deactivation: %d %s, want 201", code, body)
	}
	code, _, body = do(t, http.MethodGet, strings.TrimSuffix(in.base, "/scim/v2")+"/debug/seats", "", "")
	var rep struct{ Licensed, InUse int }
	if code != http.StatusOK || json.Unmarshal(body, &rep) != nil || rep.Licensed != 3 || rep.InUse != 3 {
		t.Errorf("GET /debug/seats: %d %s, want 3 bought, 3 in use", code, body)
	}
}

const deactivateBody = `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`

// Auto-Flex admits beyond -seats and the report lists the overage seat with its date.
func TestSeatFlagsAutoFlex(t *testing.T) {
	in := start(t, "-seats", "1", "-seat-policy", "autoflex")
	for _, name := range []string{"a@example.com", "b@example.com"} {
		if code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody(name)); code != http.StatusCreated {
			t.Fatalf("POST %s: %d %s, want 201", name, code, body)
		}
	}
	code, _, body := do(t, http.MethodGet, strings.TrimSuffix(in.base, "/scim/v2")+"/debug/seats", "", "")
	var rep struct {
		InUse, OpenOverage int
		Overage            []struct{ Added string }
	}
	if code != http.StatusOK || json.Unmarshal(body, &rep) != nil || rep.InUse != 2 || rep.OpenOverage != 1 ||
		len(rep.Overage) != 1 || rep.Overage[0].Added == "" {
		t.Errorf("GET /debug/seats: %d %s, want 2 in use, 1 overage seat with its date", code, body)
	}
}

// A provisioned member gets demo workspaces; deactivating them makes the team the admin of
// their internal workspace, the plan is listed, and the audit event is logged.
func TestDebugWorkspaces(t *testing.T) {
	in := start(t)
	code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody("ann@example.com"))
	if code != http.StatusCreated {
		t.Fatalf("POST: %d %s", code, body)
	}
	var u struct{ ID string }
	_ = json.Unmarshal(body, &u)
	if code, _, body := do(t, http.MethodPatch, in.base+"/Users/"+u.ID, in.key, deactivateBody); code != http.StatusOK {
		t.Fatalf("deactivate: %d %s", code, body)
	}
	code, _, body = do(t, http.MethodGet, strings.TrimSuffix(in.base, "/scim/v2")+"/debug/workspaces", "", "")
	var got struct {
		Workspaces []struct {
			ID        string
			TeamAdmin bool
		}
		Applied []struct{ Reason string }
	}
	if code != http.StatusOK || json.Unmarshal(body, &got) != nil {
		t.Fatalf("GET /debug/workspaces: %d %s", code, body)
	}
	admins := map[string]bool{}
	for _, w := range got.Workspaces {
		admins[w.ID] = w.TeamAdmin
	}
	if !admins[u.ID+"/internal"] || admins[u.ID+"/personal"] || len(got.Applied) != 1 || got.Applied[0].Reason != "deactivation" {
		t.Errorf("GET /debug/workspaces: %s, want the team admin of the internal workspace and one deactivation plan", body)
	}
	if !strings.Contains(in.stderr.String(), "scim.user.deprovisioned") {
		t.Errorf("the audit event is not logged:\n%s", in.stderr.String())
	}
}

// nextKey waits for the next rotated key.
func (in instance) nextKey(t *testing.T) string {
	t.Helper()
	select {
	case k := <-in.rotated:
		return k
	case <-time.After(waitFor):
		t.Fatalf("no rotated key printed within %v; stderr:\n%s", waitFor, in.stderr)
		return ""
	}
}

func status(t *testing.T, in instance, key string) int {
	t.Helper()
	code, _, _ := do(t, http.MethodGet, in.base+"/Users?startIndex=1&count=2", key, "")
	return code
}

// -rotate-key prints a new key; the key it replaced answers 401 from then on.
func TestRotateKey(t *testing.T) {
	in := start(t, "-rotate-key", "50ms")
	first := in.key
	second := in.nextKey(t)
	if second == first {
		t.Fatalf("the rotated key equals the first one")
	}
	if c := status(t, in, first); c != http.StatusUnauthorized {
		t.Errorf("the key before the rotation: %d, want 401", c)
	}
	third := in.nextKey(t)
	if c := status(t, in, second); c != http.StatusUnauthorized {
		t.Errorf("a replaced key: %d, want 401", c)
	}
	s := in.stderr.String()
	for _, want := range []string{"regenerated the demo SCIM API key", "event=scim.key.regenerated", "event=scim.key.revoked"} {
		if !strings.Contains(s, want) {
			t.Errorf("stderr lacks %q:\n%s", want, s)
		}
	}
	for _, k := range []string{first, second, third} {
		if strings.Contains(s, k) {
			t.Errorf("stderr contains a key secret")
		}
	}
}

// rotate, driven tick by tick: without -keep-previous-key only the newest key works; with it,
// the newest and the one before.
func TestRotateSemantics(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprint("keep-previous=", keep), func(t *testing.T) {
			ctx := t.Context()
			srv, err := teamscim.New(teamscim.Config{Store: memstore.New()})
			if err != nil {
				t.Fatal(err)
			}
			team, err := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "T", Plan: teamscim.PlanEnterprise})
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.ConfigureSSO(ctx, team.ID, admin, "saml"); err != nil {
				t.Fatal(err)
			}
			if err := srv.EnableSCIM(ctx, team.ID, admin); err != nil {
				t.Fatal(err)
			}
			k, err := srv.GenerateKey(ctx, team.ID, admin, teamscim.KeyOptions{Name: "Demo key"})
			if err != nil {
				t.Fatal(err)
			}
			code := func(secret string) int {
				r := httptest.NewRequest(http.MethodGet, "/Users", nil)
				r.Header.Set("Authorization", "Bearer "+secret)
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, r)
				return w.Code
			}

			tick := make(chan time.Time)
			pr, pw := io.Pipe()
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				rotate(rctx, srv, team.ID, k.Key.ID, options{keepPrevious: keep}, tick, pw, slog.New(slog.DiscardHandler))
			}()
			defer func() { cancel(); <-done }()
			sc := bufio.NewScanner(pr)
			secrets := []string{k.Secret}
			for range 3 {
				tick <- time.Now()
				if !sc.Scan() {
					t.Fatal("rotate printed nothing")
				}
				v, ok := strings.CutPrefix(sc.Text(), "SCIM API key: ")
				if !ok {
					t.Fatalf("rotate printed %q", sc.Text())
				}
				secrets = append(secrets, v)
				n := len(secrets)
				for i, s := range secrets {
					want := http.StatusUnauthorized
					if i == n-1 || (keep && i == n-2) {
						want = http.StatusOK
					}
					if got := code(s); got != want {
						t.Errorf("after rotation %d, key %d answers %d, want %d", n-1, i, got, want)
					}
				}
			}
			keys, err := srv.ListKeys(ctx, team.ID, admin)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 4 {
				t.Errorf("ListKeys: %d keys, want 4", len(keys))
			}
			for _, k := range keys {
				if k.Name != "Demo key" {
					t.Errorf("a rotated key is named %q, want the original name", k.Name)
				}
			}
		})
	}
}

// Without rotation the log says how to rotate; the key's metadata is logged, its secret not.
func TestKeyAdministrationLogged(t *testing.T) {
	in := start(t, "-key-ttl", "1h")
	s := in.stderr.String()
	for _, want := range []string{"demo SCIM API key", "created_by=org:examples/server", "-rotate-key", "event=scim.key.created", "event=scim.enabled"} {
		if !strings.Contains(s, want) {
			t.Errorf("stderr lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "expires=never") {
		t.Errorf("-key-ttl 1h logged a key that never expires:\n%s", s)
	}
	if strings.Contains(s, in.key) {
		t.Errorf("stderr contains the key secret")
	}
}

// The three outcomes of a create, and the 409 for another team's member, with the demo
// accounts.
func TestCreateOutcomes(t *testing.T) {
	in := start(t)
	root := strings.TrimSuffix(in.base, "/scim/v2")
	for _, c := range []struct {
		userName string
		code     int
	}{{"someone.new@example.com", http.StatusCreated}, {"known@example.com", http.StatusCreated},
		{"guest@partner.test", http.StatusCreated}, {"busy@elsewhere.test", http.StatusConflict}} {
		if code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody(c.userName)); code != c.code {
			t.Errorf("POST %s: %d %s, want %d", c.userName, code, body, c.code)
		}
	}
	code, _, body := do(t, http.MethodGet, root+"/debug/accounts", "", "")
	var got struct {
		Calls []struct {
			Method string
			Req    struct{ Email string }
		}
	}
	if code != http.StatusOK || json.Unmarshal(body, &got) != nil {
		t.Fatalf("GET /debug/accounts: %d %s", code, body)
	}
	calls := map[string]string{}
	for _, c := range got.Calls {
		calls[c.Req.Email] = c.Method
	}
	want := map[string]string{"someone.new@example.com": "CreateAccount", "guest@partner.test": "SendInvite"}
	if len(calls) != 2 || calls["someone.new@example.com"] != want["someone.new@example.com"] || calls["guest@partner.test"] != want["guest@partner.test"] {
		t.Errorf("account calls %v, want %v", calls, want)
	}
	code, _, body = do(t, http.MethodPost, root+"/debug/accept?email=guest@partner.test", "", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"pending": false`) {
		t.Errorf("POST /debug/accept: %d %s", code, body)
	}
	if code, _, _ := do(t, http.MethodPost, root+"/debug/accept?email=guest@partner.test", "", ""); code != http.StatusNotFound {
		t.Errorf("accepting twice: %d, want 404", code)
	}
}

// -store postgres://... keeps the data in PostgreSQL: a restart with the same -api-key serves
// the same team with its users; a start without -api-key makes a team of its own.
func TestPostgresStore(t *testing.T) {
	dsn := pgtest.URL(t, pgtest.Schema(t)) // skips without TEAMSCIM_PG_DSN (fails with CI=true)
	const secret = "example-server-postgres-secret-0123456789"
	var userID string
	t.Run("first start", func(t *testing.T) {
		in := start(t, "-store", dsn, "-api-key", secret)
		code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody("ann@example.com"))
		if code != http.StatusCreated {
			t.Fatalf("POST /Users: %d %s, want 201", code, body)
		}
		var u struct{ ID string }
		if err := json.Unmarshal(body, &u); err != nil || u.ID == "" {
			t.Fatalf("POST /Users: %s (%v)", body, err)
		}
		userID = u.ID
		if s := in.stderr.String(); !strings.Contains(s, "store=postgres") || strings.Contains(s, dsn) {
			t.Errorf("stderr must name the store and never the URL:\n%s", s)
		}
	})
	if userID == "" {
		t.FailNow()
	}
	t.Run("restart with the same key", func(t *testing.T) {
		in := start(t, "-store", dsn, "-api-key", secret)
		if code, _, body := do(t, http.MethodGet, in.base+"/Users/"+userID, in.key, ""); code != http.StatusOK {
			t.Errorf("GET the user created before the restart: %d %s, want 200", code, body)
		}
		if code, _, body := do(t, http.MethodPost, in.base+"/Users", in.key, userBody("ANN@example.com")); code != http.StatusConflict {
			t.Errorf("POST the stored userName again: %d %s, want 409", code, body)
		}
	})
	t.Run("start with a random key", func(t *testing.T) {
		in := start(t, "-store", dsn)
		if code, _, body := do(t, http.MethodGet, in.base+"/Users/"+userID, in.key, ""); code != http.StatusNotFound {
			t.Errorf("GET another demo team's user: %d %s, want 404", code, body)
		}
	})
}

// An unreachable database fails the start with an error that does not repeat the URL.
func TestPostgresStoreUnreachable(t *testing.T) {
	const dsn = "postgres://teamscim:hunter2-secret@127.0.0.1:1/teamscim?connect_timeout=2"
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err := run(ctx, []string{"-addr", "127.0.0.1:0", "-store", dsn}, &stdout, &stderr)
	var ue usageError
	if err == nil || errors.As(err, &ue) {
		t.Fatalf("run with an unreachable database = %v, want an error", err)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(stderr.String(), "hunter2") {
		t.Errorf("the password reached the error or the log: %v\n%s", err, stderr.String())
	}
	if stdout.String() != "" {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
}
