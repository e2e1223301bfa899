// Package loadtest drives a real teamscim Server over HTTP the way identity providers do, and
// measures it: throughput and p50/p99 latency per operation, and the heap each user costs.
//
// It starts a *teamscim.Server on memstore (or Options.Store) behind net/http on 127.0.0.1,
// creates a team and a SCIM API key through the Server's Go API, and then sends real HTTP
// requests, with authentication on every one of them:
//
//  1. an initial sync, as Okta and Entra ID run it: for every user an existence check
//     (GET /Users?filter=userName eq "…", a miss) then a POST /Users, from Workers clients;
//  2. at Checkpoint users and again at Users users, a read phase of Duration each for
//     GET /Users/{id} and for the userName eq existence check (a hit);
//  3. after the sync, the heap the store holds per user (runtime.ReadMemStats after a GC,
//     against a baseline taken before the sync);
//  4. a mixed IdP phase of Duration: existence checks, reads, deactivations and
//     reactivations (Okta's PATCH), profile pushes (PUT), group creates and member pushes;
//  5. optionally, Paced: a fixed request rate of Entra ID's traffic (25 req/s for 60 s, the
//     pace an Entra ID provisioning sustains), where the latency of each request is what
//     matters, not the throughput.
//
// The package is internal because it is a measuring instrument for this repository (its
// figures go into the README), not an API: its options and output may change at any time.
// examples/load is its command line.
package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/memstore"
	"github.com/teamscim/teamscim/store"
)

// Options bound a run. Zero fields take the defaults shown.
type Options struct {
	// Users is the team's size after the initial sync. Default 100,000.
	Users int
	// Checkpoint is the size at which the read phases also run during the sync, for the
	// comparison with Users. Default 10,000; negative: no checkpoint.
	Checkpoint int
	// Workers is the number of concurrent HTTP clients. Default 16.
	Workers int
	// Duration is the length of each read phase and of the mixed phase. Default 5 s.
	Duration time.Duration
	// PacedRate and PacedDuration run the paced Entra ID phase (requests per second, for how
	// long); either zero skips it.
	PacedRate     int
	PacedDuration time.Duration
	// Progress, when set, receives a line per phase as the run goes.
	Progress io.Writer
	// Store is what the Server keeps the team in. Default: a new memstore.
	Store store.Store
	// Addr is the address the Server listens on. Default: 127.0.0.1:0 (a free port).
	Addr string
}

func (o *Options) defaults() {
	if o.Users <= 0 {
		o.Users = 100_000
	}
	if o.Checkpoint == 0 {
		o.Checkpoint = 10_000
	}
	if o.Checkpoint >= o.Users {
		o.Checkpoint = -1
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Store == nil {
		o.Store = memstore.New()
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
}

// Op is what was measured of one operation in one phase.
type Op struct {
	Phase string
	Name  string
	// Users is the team's size when the phase ran (at its end, for the sync).
	Users   int
	Count   int64
	Errors  int64
	Elapsed time.Duration
	P50     time.Duration
	P99     time.Duration
	// CPU is the process's CPU time (server, load generator and garbage collector together)
	// per request of the phase: unlike the throughput, it does not depend on how much of the
	// machine other processes take.
	CPU time.Duration
}

// PerSecond is the operation's throughput in its phase.
func (o Op) PerSecond() float64 {
	if o.Elapsed <= 0 {
		return 0
	}
	return float64(o.Count) / o.Elapsed.Seconds()
}

// Report is the outcome of a run.
type Report struct {
	Options    Options
	GOMAXPROCS int
	Ops        []Op
	// SyncTime is the wall time of the initial sync of all Users (existence check + POST per
	// user), without the checkpoint's read phases.
	SyncTime time.Duration
	// HeapPerUser is the live heap growth from before the sync to after it, per user, in
	// bytes: the store's users and indexes (the load generator keeps no per-user state).
	HeapPerUser float64
	// Errors counts unexpected answers over the whole run.
	Errors int64
}

// Find returns the first measured operation with this phase and name.
func (r Report) Find(phase, name string) (Op, bool) {
	for _, o := range r.Ops {
		if o.Phase == phase && o.Name == name {
			return o, true
		}
	}
	return Op{}, false
}

// Run performs a load test bounded by opts (and by ctx).
func Run(ctx context.Context, opts Options) (Report, error) {
	opts.defaults()
	rep := Report{Options: opts, GOMAXPROCS: runtime.GOMAXPROCS(0)}

	srv, err := teamscim.New(teamscim.Config{Store: opts.Store})
	if err != nil {
		return rep, err
	}
	team, err := srv.CreateTeam(ctx, teamscim.TeamOptions{Name: "Load", Plan: teamscim.PlanEnterprise})
	if err != nil {
		return rep, err
	}
	admin := teamscim.Actor{MemberID: "loadtest", OrgManager: true}
	if err := srv.ConfigureSSO(ctx, team.ID, admin, "saml"); err != nil {
		return rep, err
	}
	if err := srv.EnableSCIM(ctx, team.ID, admin); err != nil {
		return rep, err
	}
	key, err := srv.GenerateKey(ctx, team.ID, admin, teamscim.KeyOptions{Name: "load"})
	if err != nil {
		return rep, err
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", srv))
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return rep, err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 5 * time.Minute}
	go func() { _ = hs.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()

	c := newClient(ln.Addr().String(), "/scim/v2", "Bearer "+key.Secret)
	defer c.close()
	r := &runner{opts: opts, c: c, rep: &rep}

	baseline := liveHeap()
	synced := 0
	var syncTime time.Duration
	syncTo := func(to int) error {
		start := time.Now()
		if err := r.sync(ctx, synced, to); err != nil {
			return err
		}
		syncTime += time.Since(start)
		synced = to
		return nil
	}
	if opts.Checkpoint > 0 {
		if err := syncTo(opts.Checkpoint); err != nil {
			return rep, err
		}
		if err := r.reads(ctx, synced); err != nil {
			return rep, err
		}
	}
	if err := syncTo(opts.Users); err != nil {
		return rep, err
	}
	rep.SyncTime = syncTime
	rep.HeapPerUser = float64(int64(liveHeap())-int64(baseline)) / float64(opts.Users)
	r.progress("heap per user after the sync: %.0f bytes", rep.HeapPerUser)
	if err := r.reads(ctx, synced); err != nil {
		return rep, err
	}
	if err := r.mixed(ctx, synced); err != nil {
		return rep, err
	}
	if opts.PacedRate > 0 && opts.PacedDuration > 0 {
		if err := r.paced(ctx, synced); err != nil {
			return rep, err
		}
	}
	for _, o := range rep.Ops {
		rep.Errors += o.Errors
	}
	return rep, ctx.Err()
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

type runner struct {
	opts Options
	c    *client
	rep  *Report
}

func (r *runner) progress(format string, args ...any) {
	if r.opts.Progress != nil {
		fmt.Fprintf(r.opts.Progress, format+"\n", args...)
	}
}

// record adds the measurements of one phase.
func (r *runner) record(phase string, users int, m measure, names []string, hs map[string]*hist) {
	elapsed, cpu := m.stop()
	var requests int64
	for _, n := range names {
		requests += hs[n].n.Load()
	}
	for _, n := range names {
		h := hs[n]
		op := Op{Phase: phase, Name: n, Users: users, Count: h.n.Load(), Errors: h.errors.Load(), Elapsed: elapsed,
			P50: h.quantile(0.50), P99: h.quantile(0.99)}
		if requests > 0 {
			op.CPU = cpu / time.Duration(requests)
		}
		r.rep.Ops = append(r.rep.Ops, op)
		r.progress("%-8s %-28s users=%-7d %8.0f/s  p50=%-9v p99=%-9v cpu/req=%-7v errors=%d", phase, n, users, op.PerSecond(),
			op.P50.Round(time.Microsecond), op.P99.Round(time.Microsecond), op.CPU.Round(time.Microsecond), op.Errors)
	}
}

// measure is the wall and CPU clock at the start of a phase.
type measure struct {
	wall time.Time
	cpu  time.Duration
}

func startMeasure() measure { return measure{time.Now(), processCPU()} }

func (m measure) stop() (time.Duration, time.Duration) {
	return time.Since(m.wall), processCPU() - m.cpu
}

func userName(i int) string { return fmt.Sprintf("user%07d@example.com", i) }

// oktaCreate is the POST /Users body Okta sends (recorded from Okta, without the password).
func oktaCreate(i int) string {
	n := userName(i)
	return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + n +
		`","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"` + n +
		`","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00u` + fmt.Sprintf("%07d", i) +
		`","groups":[],"active":true}`
}

func filterQuery(name string) string {
	return "/Users?filter=" + url.QueryEscape(`userName eq "`+name+`"`) + "&startIndex=1&count=100"
}

// sync provisions users from+1 … to: an existence check (a miss) and a POST for each.
func (r *runner) sync(ctx context.Context, from, to int) error {
	names := []string{"filter userName eq (miss)", "POST /Users"}
	hs := map[string]*hist{names[0]: {}, names[1]: {}}
	var next atomic.Int64
	next.Store(int64(from))
	start := startMeasure()
	err := r.workers(ctx, func(ctx context.Context, _ *rand.Rand) (bool, error) {
		i := int(next.Add(1))
		if i > to {
			return false, nil
		}
		n := userName(i)
		r.c.expect(ctx, hs[names[0]], http.MethodGet, filterQuery(n), "", http.StatusOK, `"totalResults":0`)
		r.c.expect(ctx, hs[names[1]], http.MethodPost, "/Users", oktaCreate(i), http.StatusCreated, "")
		return true, nil
	})
	r.record("sync", to, start, names, hs)
	return err
}

// member is a provisioned user the later phases address.
type member struct{ id, userName string }

// sample reads n distinct users spread over the team (all of them if the team is not larger)
// through the list endpoint.
func (r *runner) sample(ctx context.Context, users, n int, rng *rand.Rand) ([]member, error) {
	n = min(n, users)
	seen := map[string]bool{}
	var out []member
	for page := 0; len(out) < n; page++ {
		start := 1 + page*100 // a small team is walked in order
		if users > 2*n {
			start = 1 + rng.IntN(users-100)
		}
		status, body, err := r.c.do(ctx, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=100&attributes=userName", start), "")
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("loadtest: list users: %d %s", status, body)
		}
		var list struct {
			Resources []struct {
				ID       string `json:"id"`
				UserName string `json:"userName"`
			}
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, err
		}
		if len(list.Resources) == 0 && users <= 2*n {
			return nil, fmt.Errorf("loadtest: the team lists %d users, want %d", len(out), n)
		}
		for _, res := range list.Resources {
			if !seen[res.ID] && len(out) < n {
				seen[res.ID] = true
				out = append(out, member{res.ID, res.UserName})
			}
		}
	}
	return out, nil
}

// reads runs the two hot reads for Duration each.
func (r *runner) reads(ctx context.Context, users int) error {
	sample, err := r.sample(ctx, users, 2000, rand.New(rand.NewPCG(1, uint64(users))))
	if err != nil {
		return err
	}
	for _, op := range []struct {
		name string
		req  func(m member) (string, string)
	}{
		{"GET /Users/{id}", func(m member) (string, string) { return "/Users/" + m.id, `"id":"` + m.id + `"` }},
		{"filter userName eq (hit)", func(m member) (string, string) { return filterQuery(m.userName), `"totalResults":1` }},
	} {
		h := &hist{}
		start := startMeasure()
		err := r.timed(ctx, func(ctx context.Context, rng *rand.Rand) {
			path, want := op.req(sample[rng.IntN(len(sample))])
			r.c.expect(ctx, h, http.MethodGet, path, "", http.StatusOK, want)
		})
		r.record("read", users, start, []string{op.name}, map[string]*hist{op.name: h})
		if err != nil {
			return err
		}
	}
	return nil
}

const patchURN = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

// mixed runs the IdPs' steady-state mix for Duration.
func (r *runner) mixed(ctx context.Context, users int) error {
	rng := rand.New(rand.NewPCG(2, uint64(users)))
	sample, err := r.sample(ctx, users, 4000, rng)
	if err != nil {
		return err
	}
	// Churned users are deactivated and reactivated; stable users stay active and are the
	// ones pushed into groups (a deactivated user cannot join one).
	churn, stable := sample[:len(sample)/2], sample[len(sample)/2:]
	var groupsMu sync.Mutex
	var groups []string
	var groupSeq atomic.Int64
	createGroup := func(ctx context.Context, h *hist) {
		n := groupSeq.Add(1)
		status, body, err := r.c.timedDo(ctx, h, http.MethodPost, "/Groups",
			fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Group %d","members":[]}`, n))
		if err != nil || status != http.StatusCreated {
			h.fail()
			return
		}
		var g struct{ ID string }
		if json.Unmarshal(body, &g) == nil && g.ID != "" {
			groupsMu.Lock()
			groups = append(groups, g.ID)
			groupsMu.Unlock()
		}
	}
	setup := &hist{}
	for range 20 {
		createGroup(ctx, setup)
	}
	if setup.errors.Load() > 0 {
		return errors.New("loadtest: creating the first groups failed")
	}
	pickGroup := func(rng *rand.Rand) string {
		groupsMu.Lock()
		defer groupsMu.Unlock()
		return groups[rng.IntN(len(groups))]
	}
	members := func(rng *rand.Rand, n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = `{"value":"` + stable[rng.IntN(len(stable))].id + `"}`
		}
		return "[" + strings.Join(parts, ",") + "]"
	}

	type mixOp struct {
		name   string
		weight int
		run    func(ctx context.Context, h *hist, rng *rand.Rand)
	}
	ops := []mixOp{
		{"filter userName eq (hit)", 30, func(ctx context.Context, h *hist, rng *rand.Rand) {
			m := sample[rng.IntN(len(sample))]
			r.c.expect(ctx, h, http.MethodGet, filterQuery(m.userName), "", http.StatusOK, `"totalResults":1`)
		}},
		{"GET /Users/{id}", 20, func(ctx context.Context, h *hist, rng *rand.Rand) {
			m := sample[rng.IntN(len(sample))]
			r.c.expect(ctx, h, http.MethodGet, "/Users/"+m.id, "", http.StatusOK, "")
		}},
		{"PATCH deactivate", 12, func(ctx context.Context, h *hist, rng *rand.Rand) {
			m := churn[rng.IntN(len(churn))]
			r.c.expect(ctx, h, http.MethodPatch, "/Users/"+m.id, `{`+patchURN+`,"Operations":[{"op":"replace","value":{"active":false}}]}`, http.StatusOK, "")
		}},
		{"PATCH reactivate", 8, func(ctx context.Context, h *hist, rng *rand.Rand) {
			m := churn[rng.IntN(len(churn))]
			r.c.expect(ctx, h, http.MethodPatch, "/Users/"+m.id, `{`+patchURN+`,"Operations":[{"op":"replace","value":{"active":true}}]}`, http.StatusOK, "")
		}},
		{"PUT /Users/{id}", 10, func(ctx context.Context, h *hist, rng *rand.Rand) {
			m := stable[rng.IntN(len(stable))]
			body := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"` + m.id + `","userName":"` + m.userName +
				`","name":{"givenName":"Another","familyName":"User"},"emails":[{"primary":true,"value":"` + m.userName +
				`","type":"work"}],"active":true,"groups":[],"meta":{"resourceType":"User"}}`
			r.c.expect(ctx, h, http.MethodPut, "/Users/"+m.id, body, http.StatusOK, "")
		}},
		{"PATCH group add 10 members", 12, func(ctx context.Context, h *hist, rng *rand.Rand) {
			body := `{` + patchURN + `,"Operations":[{"op":"add","path":"members","value":` + members(rng, 10) + `}]}`
			r.c.expect(ctx, h, http.MethodPatch, "/Groups/"+pickGroup(rng), body, http.StatusNoContent, "")
		}},
		{"PATCH group remove member", 6, func(ctx context.Context, h *hist, rng *rand.Rand) {
			m := stable[rng.IntN(len(stable))]
			body := `{` + patchURN + `,"Operations":[{"op":"remove","path":"members[value eq \"` + m.id + `\"]"}]}`
			r.c.expect(ctx, h, http.MethodPatch, "/Groups/"+pickGroup(rng), body, http.StatusNoContent, "")
		}},
		{"POST /Groups", 2, func(ctx context.Context, h *hist, _ *rand.Rand) { createGroup(ctx, h) }},
	}
	total := 0
	names := make([]string, len(ops))
	hs := map[string]*hist{}
	for i, op := range ops {
		total += op.weight
		names[i] = op.name
		hs[op.name] = &hist{}
	}
	start := startMeasure()
	err = r.timed(ctx, func(ctx context.Context, rng *rand.Rand) {
		w := rng.IntN(total)
		for _, op := range ops {
			if w < op.weight {
				op.run(ctx, hs[op.name], rng)
				return
			}
			w -= op.weight
		}
	})
	r.record("mixed", users, start, names, hs)
	return err
}

// paced sends Entra ID's traffic at PacedRate requests per second for PacedDuration, each
// request on its own goroutine so that a slow answer does not delay the next request.
func (r *runner) paced(ctx context.Context, users int) error {
	rng := rand.New(rand.NewPCG(3, uint64(users)))
	sample, err := r.sample(ctx, users, 1000, rng)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("Entra mix at %d req/s", r.opts.PacedRate)
	h := &hist{}
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(r.opts.PacedRate))
	defer tick.Stop()
	start := startMeasure()
	deadline := start.wall.Add(r.opts.PacedDuration)
	for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		<-tick.C
		m := sample[rng.IntN(len(sample))]
		var method, path, body string
		switch i % 5 {
		case 0, 1:
			method, path = http.MethodGet, filterQuery(m.userName)
		case 2:
			method, path = http.MethodGet, "/Users/"+m.id
		case 3:
			method, path = http.MethodPatch, "/Users/"+m.id
			body = `{` + patchURN + `,"Operations":[{"op":"Replace","path":"name.givenName","value":"Jane"},{"op":"Replace","path":"active","value":"True"}]}`
		default:
			method, path = http.MethodPost, "/Users"
			body = oktaCreate(users + 1_000_000 + i)
		}
		wg.Go(func() {
			status, _, err := r.c.timedDo(ctx, h, method, path, body)
			if err != nil || status >= 300 {
				h.fail()
			}
		})
	}
	wg.Wait()
	r.record("paced", users, start, []string{name}, map[string]*hist{name: h})
	return nil
}

// workers runs fn on Workers goroutines until it returns false or an error.
func (r *runner) workers(ctx context.Context, fn func(ctx context.Context, rng *rand.Rand) (bool, error)) error {
	var wg sync.WaitGroup
	errs := make([]error, r.opts.Workers)
	for w := range r.opts.Workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for ctx.Err() == nil {
				more, err := fn(ctx, rng)
				if err != nil {
					errs[w] = err
					return
				}
				if !more {
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(append(errs, ctx.Err())...)
}

// timed runs fn on Workers goroutines for Duration.
func (r *runner) timed(ctx context.Context, fn func(ctx context.Context, rng *rand.Rand)) error {
	deadline := time.Now().Add(r.opts.Duration)
	return r.workers(ctx, func(ctx context.Context, rng *rand.Rand) (bool, error) {
		fn(ctx, rng)
		return time.Now().Before(deadline), nil
	})
}

// Print writes the report as a table, with the targets next to the figures.
func (r Report) Print(w io.Writer) {
	fmt.Fprintf(w, "teamscim load test: %d users, %d workers, %v per timed phase, GOMAXPROCS=%d, %s/%s\n\n",
		r.Options.Users, r.Options.Workers, r.Options.Duration, r.GOMAXPROCS, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "%-7s %-28s %8s %9s %9s %10s %10s %8s %7s\n", "phase", "operation", "users", "requests", "req/s", "p50", "p99", "CPU/req", "errors")
	ops := append([]Op(nil), r.Ops...)
	sort.SliceStable(ops, func(i, j int) bool { return phaseOrder(ops[i].Phase) < phaseOrder(ops[j].Phase) })
	for _, o := range ops {
		fmt.Fprintf(w, "%-7s %-28s %8d %9d %9.0f %10v %10v %8v %7d\n", o.Phase, o.Name, o.Users, o.Count, o.PerSecond(),
			o.P50.Round(time.Microsecond), o.P99.Round(time.Microsecond), o.CPU.Round(time.Microsecond), o.Errors)
	}
	fmt.Fprintf(w, "\nCPU/req is the process's CPU time (server, load generator and GC) per request of the phase;\n"+
		"%d dedicated cores would serve at most %d s / CPU/req requests per second.\n", r.GOMAXPROCS, r.GOMAXPROCS)
	fmt.Fprintf(w, "\ninitial sync of %d users (existence check + POST each): %v (%.0f users/s)\n",
		r.Options.Users, r.SyncTime.Round(time.Millisecond), float64(r.Options.Users)/r.SyncTime.Seconds())
	fmt.Fprintf(w, "heap per user after the sync: %.0f bytes\n", r.HeapPerUser)
	fmt.Fprintf(w, "unexpected answers: %d\n", r.Errors)
}

func phaseOrder(p string) int {
	switch p {
	case "sync":
		return 0
	case "read":
		return 1
	case "mixed":
		return 2
	}
	return 3
}
