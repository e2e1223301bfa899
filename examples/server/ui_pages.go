package main

// The settings pages and their actions. Every read and every change goes through the
// library's public API as the session's Actor, the way a host's own pages would; the pages
// never read the store. A refusal shows the library's own text.

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/teamscim/teamscim"
)

// registerPages adds the pages and their actions to mux.
func (u *ui) registerPages(mux *http.ServeMux) {
	page := func(pattern, name string, load func(r *request) any) {
		mux.Handle(pattern, u.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := u.pageSession(w, r)
			path := strings.TrimSuffix(strings.TrimPrefix(pattern, "GET "), "{$}")
			u.render(w, r, s, name, path, load(&request{Request: r, sess: s, actor: actorFor(s)}))
		}), needPage))
	}
	action := func(pattern string, h func(w http.ResponseWriter, r *request)) {
		mux.Handle(pattern, u.guard(u.form(h), needPage))
	}

	page("GET /{$}", "authentication", u.authentication)
	action("POST /sso/configure", u.simple("/", "SSO method configured.", func(r *request) error {
		return u.srv.ConfigureSSO(r.Context(), u.teamID, r.actor, r.PostFormValue("method"))
	}))
	action("POST /sso/remove", u.simple("/", "SSO method removed.", func(r *request) error {
		return u.srv.RemoveSSO(r.Context(), u.teamID, r.actor, r.PostFormValue("method"))
	}))
	action("POST /scim", func(w http.ResponseWriter, r *request) {
		if r.PostFormValue("on") == "true" {
			u.done(w, r, "/", "SCIM provisioning is on.", u.srv.EnableSCIM(r.Context(), u.teamID, r.actor))
			return
		}
		u.done(w, r, "/", "SCIM provisioning is off: every SCIM request of the team answers 403.", u.srv.DisableSCIM(r.Context(), u.teamID, r.actor))
	})
	action("POST /domains/verify", u.simple("/", "Domain verified.", func(r *request) error {
		return u.srv.VerifyDomain(r.Context(), u.teamID, r.actor, r.PostFormValue("domain"))
	}))
	action("POST /domains/remove", u.simple("/", "Domain removed.", func(r *request) error {
		return u.srv.RemoveDomain(r.Context(), u.teamID, r.actor, r.PostFormValue("domain"))
	}))
	action("POST /jit", u.simple("/", "Just-in-time provisioning updated.", func(r *request) error {
		return u.srv.SetJIT(r.Context(), u.teamID, r.actor, r.PostFormValue("on") == "true")
	}))
	action("POST /domain-capture", u.simple("/", "Domain capture updated.", func(r *request) error {
		return u.srv.SetDomainCapture(r.Context(), u.teamID, r.actor, r.PostFormValue("on") == "true")
	}))
	action("POST /plan", u.simple("/", "Plan changed.", func(r *request) error {
		return u.srv.SetPlan(r.Context(), u.teamID, r.PostFormValue("plan")) // billing's call: no Actor
	}))

	page("GET /keys", "keys", func(r *request) any { return u.keys(r, nil) })
	action("POST /keys/generate", func(w http.ResponseWriter, r *request) {
		ttl, err := parseTTL(r.PostFormValue("ttl"))
		if err != nil {
			u.done(w, r, "/keys", "", err)
			return
		}
		nk, err := u.srv.GenerateKey(r.Context(), u.teamID, r.actor, teamscim.KeyOptions{Name: strings.TrimSpace(r.PostFormValue("name")), TTL: ttl})
		u.showSecret(w, r, nk, err)
	})
	action("POST /keys/{id}/regenerate", func(w http.ResponseWriter, r *request) {
		ttl, err := parseTTL(r.PostFormValue("ttl"))
		if err != nil {
			u.done(w, r, "/keys", "", err)
			return
		}
		nk, err := u.srv.RegenerateKey(r.Context(), u.teamID, r.actor, r.PathValue("id"),
			teamscim.RegenerateOptions{KeepPrevious: r.PostFormValue("keep_previous") == "on", TTL: ttl})
		u.showSecret(w, r, nk, err)
	})
	action("POST /keys/{id}/revoke", u.simple("/keys", "Key revoked: its next request answers 401.", func(r *request) error {
		return u.srv.RevokeKey(r.Context(), u.teamID, r.actor, r.PathValue("id"))
	}))
	action("POST /keys/{id}/activate", u.simple("/keys", "Key activated.", func(r *request) error {
		return u.srv.ActivateKey(r.Context(), u.teamID, r.actor, r.PathValue("id"))
	}))
	action("POST /keys/{id}/delete", u.simple("/keys", "Key deleted.", func(r *request) error {
		return u.srv.DeleteKey(r.Context(), u.teamID, r.actor, r.PathValue("id"))
	}))

	page("GET /members", "members", u.members)
	action("POST /members/add", u.simple("/members", "Member added.", func(r *request) error {
		m := teamscim.Member{Email: strings.TrimSpace(r.PostFormValue("email")), Roles: []string{r.PostFormValue("role")}}
		_, err := u.srv.AddMember(r.Context(), u.teamID, r.actor, m)
		return err
	}))
	action("POST /members/invite", u.simple("/members", "Invitation recorded: the member is pending and holds a seat.", func(r *request) error {
		_, err := u.srv.InviteMember(r.Context(), u.teamID, r.actor, teamscim.Member{Email: strings.TrimSpace(r.PostFormValue("email"))})
		return err
	}))
	action("POST /members/cancel-invite", u.simple("", "Invitation cancelled.", func(r *request) error {
		return u.srv.CancelInvite(r.Context(), u.teamID, r.actor, r.PostFormValue("email"))
	}))
	action("POST /members/accept", u.simple("", "Invitation accepted: the member has joined.", func(r *request) error {
		_, err := u.srv.AcceptInvite(r.Context(), u.teamID, r.PostFormValue("email")) // the invitee's own step
		return err
	}))
	action("POST /members/{id}/remove", u.simple("", "Member removed from the team.", func(r *request) error {
		to, err := u.memberByEmail(r, r.PostFormValue("transfer_to"))
		if err != nil {
			return err
		}
		return u.srv.RemoveMember(r.Context(), u.teamID, r.actor, r.PathValue("id"), to)
	}))
	action("POST /act-as", func(w http.ResponseWriter, r *request) {
		id, email := r.PostFormValue("member_id"), r.PostFormValue("email")
		u.sessions.update(r.sess.id, func(s *session) { s.actorID, s.actorEmail = id, email })
		text := "Acting as the Organization Manager."
		if id != "" {
			text = "Acting as " + email + ": the library decides what this member may do."
		}
		u.done(w, r, r.PostFormValue("back"), text, nil)
	})

	page("GET /seats", "seats", u.seats)
	page("GET /audit", "audit", u.auditTrail)
	page("GET /calls", "calls", u.calls)
	action("POST /calls/retry", func(w http.ResponseWriter, r *request) {
		n, err := u.srv.RetryPending(r.Context())
		text := "Every pending call is done."
		if n > 0 {
			text = strconv.Itoa(n) + " call(s) still pending: the host's service still fails."
		}
		u.done(w, r, "/calls", text, err)
	})
	action("POST /calls/outage", func(w http.ResponseWriter, r *request) {
		on := r.PostFormValue("on") == "true"
		u.outage.Store(on)
		text := "The demo's workspace and account services work again."
		if on {
			text = "The demo's workspace and account services now fail: their calls stay pending."
		}
		u.done(w, r, "/calls", text, nil)
	})
}

// simple is an action that calls do and goes back to the page back (or to the form's own
// "back" field when back is empty) with ok or the refusal.
func (u *ui) simple(back, ok string, do func(r *request) error) func(w http.ResponseWriter, r *request) {
	return func(w http.ResponseWriter, r *request) {
		to := back
		if to == "" {
			to = r.PostFormValue("back")
		}
		u.done(w, r, to, ok, do(r))
	}
}

// memberByEmail finds the member whose email is email, through the library's index lookup.
func (u *ui) memberByEmail(r *request, email string) (string, error) {
	pg, err := u.srv.Members(r.Context(), u.teamID, r.actor, teamscim.MemberQuery{Email: strings.TrimSpace(email)})
	if err != nil {
		return "", err
	}
	if len(pg.Members) == 0 {
		return "", errors.New("nobody on the team has the email " + strconv.Quote(email))
	}
	return pg.Members[0].ID, nil
}

// parseTTL reads a key's optional lifetime ("" or "0": never).
func parseTTL(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("the expiry must be a duration such as 90m, 24h or 720h")
	}
	return d, nil
}

// authData is the Authentication page.
type authData struct {
	SSOMethods []string // the methods a team can configure
	Plans      []string
}

func (u *ui) authentication(*request) any {
	return authData{SSOMethods: []string{"saml", "oidc"}, Plans: []string{teamscim.PlanEnterprise, "professional", "basic"}}
}

// keysData is the keys page.
type keysData struct {
	Keys    []teamscim.Key
	Refused string
	New     *teamscim.NewKey // just generated: the only time its secret is shown
}

func (u *ui) keys(r *request, nk *teamscim.NewKey) keysData {
	keys, err := u.srv.ListKeys(r.Context(), u.teamID, r.actor)
	d := keysData{Keys: keys, New: nk}
	if err != nil {
		d.Refused = refusal(err)
	}
	return d
}

// showSecret renders the keys page with a new key's secret, directly in the POST's response:
// the secret never travels in a URL or a redirect, and is not in any later page.
func (u *ui) showSecret(w http.ResponseWriter, r *request, nk teamscim.NewKey, err error) {
	if err != nil {
		u.done(w, r, "/keys", "", err)
		return
	}
	u.log.Info("settings action", "action", r.Pattern, "actor", r.actor.String(), "key", nk.Key.ID)
	u.render(w, r.Request, r.sess, "keys", "/keys", u.keys(r, &nk))
}

// membersData is the members page.
type membersData struct {
	Page    teamscim.MemberPage
	Refused string
	Query   string // the search box
	State   string // "", "active", "deactivated", "hidden"
	Offset  int
	Limit   int
	Prev    string // links to the previous and next page, if any
	Next    string
	Self    string // this page, for the forms' "back"
	Acting  string
}

// memberStates are the members page's state filter.
var memberStates = []string{"", "active", "deactivated", "hidden"}

func (u *ui) members(r *request) any {
	q := r.URL.Query()
	d := membersData{Query: strings.TrimSpace(q.Get("q")), State: q.Get("state"), Limit: 50, Self: r.URL.RequestURI(), Acting: r.sess.actorID}
	if !slices.Contains(memberStates, d.State) {
		d.State = ""
	}
	d.Offset, _ = strconv.Atoi(q.Get("offset"))
	d.Offset = max(d.Offset, 0)
	mq := teamscim.MemberQuery{Offset: d.Offset, Limit: d.Limit}
	switch d.State {
	case "active":
		mq.Active = ptr(true)
	case "deactivated":
		mq.Active = ptr(false)
	case "hidden":
		mq.Active, mq.IncludeHidden = ptr(false), true
	}
	var err error
	if d.Query != "" {
		d.Page, err = u.find(r, d.Query, mq)
	} else {
		d.Page, err = u.srv.Members(r.Context(), u.teamID, r.actor, mq)
	}
	if err != nil {
		d.Refused = refusal(err)
		return d
	}
	link := func(off int) string {
		v := url.Values{"offset": {strconv.Itoa(off)}}
		if d.Query != "" {
			v.Set("q", d.Query)
		}
		if d.State != "" {
			v.Set("state", d.State)
		}
		return "/members?" + v.Encode()
	}
	if d.Offset > 0 {
		d.Prev = link(max(d.Offset-d.Limit, 0))
	}
	if d.Offset+len(d.Page.Members) < d.Page.Total {
		d.Next = link(d.Offset + d.Limit)
	}
	return d
}

// find answers the search box from the library's index lookups, never a scan: the member
// with this email, else the member with this ID, else the members with this externalId.
func (u *ui) find(r *request, s string, mq teamscim.MemberQuery) (teamscim.MemberPage, error) {
	byEmail := mq
	byEmail.Email = s
	pg, err := u.srv.Members(r.Context(), u.teamID, r.actor, byEmail)
	if err != nil || pg.Total > 0 {
		return pg, err
	}
	if m, err := u.srv.Member(r.Context(), u.teamID, r.actor, s); err == nil {
		return teamscim.MemberPage{Members: []teamscim.TeamMember{m}, Total: 1}, nil
	}
	byExternal := mq
	byExternal.ExternalID = s
	return u.srv.Members(r.Context(), u.teamID, r.actor, byExternal)
}

func ptr[T any](v T) *T { return &v }

// seatsData is the seats page.
type seatsData struct {
	Report  teamscim.SeatReport
	Refused string
	Full    bool // every seat bought is in use
}

func (u *ui) seats(r *request) any {
	rep, err := u.srv.SeatReport(r.Context(), u.teamID)
	d := seatsData{Report: rep, Full: rep.Licensed > 0 && rep.InUse >= rep.Licensed}
	if err != nil {
		d.Refused = refusal(err)
	}
	return d
}

// auditData is the audit trail page.
type auditData struct {
	Events []teamscim.Event
	Types  []teamscim.EventType
	Type   teamscim.EventType
	Keys   map[string]string // key actor ("key:<id>") → key name
	Kept   int
}

// auditShown is how many events the audit trail page shows.
const auditShown = 200

func (u *ui) auditTrail(r *request) any {
	d := auditData{Type: teamscim.EventType(r.URL.Query().Get("type")), Keys: map[string]string{}, Kept: auditKeep}
	d.Events, d.Types = u.audit.latest(u.teamID, d.Type, auditShown)
	if keys, err := u.srv.ListKeys(r.Context(), u.teamID, r.actor); err == nil {
		for _, k := range keys {
			d.Keys["key:"+k.ID] = k.Name
		}
	}
	return d
}

// callsData is the pending host calls page.
type callsData struct {
	Calls   []pendingCall
	Refused string
	Outage  bool
	Applied []teamscim.WorkspacePlan // what the demo's workspace service applied, newest first
	Account []memaccountsCall        // what the demo's account service did, newest first
}

type pendingCall struct {
	teamscim.PendingCall
	Email string
}

type memaccountsCall struct {
	Method, Email string
	Attempt       int
}

// shownDone is how many completed host calls the page shows.
const shownDone = 20

func (u *ui) calls(r *request) any {
	d := callsData{Outage: u.outage.Load()}
	calls, err := u.srv.PendingCalls(r.Context(), u.teamID, r.actor)
	if err != nil {
		d.Refused = refusal(err)
	}
	for _, c := range calls {
		p := pendingCall{PendingCall: c}
		if m, err := u.srv.Member(r.Context(), u.teamID, r.actor, c.MemberID); err == nil {
			p.Email = m.Email
		}
		d.Calls = append(d.Calls, p)
	}
	applied := u.workspaces.Applied()
	for i := len(applied) - 1; i >= 0 && len(d.Applied) < shownDone; i-- {
		if applied[i].TeamID == u.teamID {
			d.Applied = append(d.Applied, applied[i])
		}
	}
	acc := u.accounts.Calls()
	for i := len(acc) - 1; i >= 0 && len(d.Account) < shownDone; i-- {
		if acc[i].Req.TeamID == u.teamID {
			d.Account = append(d.Account, memaccountsCall{Method: acc[i].Method, Email: acc[i].Req.Email, Attempt: acc[i].Req.Attempt})
		}
	}
	return d
}
