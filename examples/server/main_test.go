package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
	go func() { // keep draining stdout so that run never blocks on it
		for range lines {
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

func TestNotImplementedFlagsWarn(t *testing.T) {
	in := start(t, "-seats", "5", "-seat-policy", "autoflex")
	if code, _, body := do(t, http.MethodGet, in.base+"/Users", in.key, ""); code != http.StatusOK {
		t.Errorf("GET /Users: %d %s, want 200", code, body)
	}
	s := in.stderr.String()
	if !strings.Contains(s, "seat policies are not implemented") {
		t.Errorf("stderr does not warn about the unimplemented flags:\n%s", s)
	}

	quiet := start(t)
	if s := quiet.stderr.String(); strings.Contains(s, "not implemented") {
		t.Errorf("stderr warns with default flags:\n%s", s)
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
		{"-api-key", "has a space in the middle"},
		{"-base-url", "scim.example.com/scim/v2"},
		{"-no-such-flag"},
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
	for _, f := range []string{"-addr", "-api-key", "-seats", "-seat-policy", "-rate-limit", "-require-email", "NOT IMPLEMENTED", "postman"} {
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
