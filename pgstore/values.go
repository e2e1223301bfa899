package pgstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/teamscim/teamscim/store"
)

// scanner is a row to scan (pgx.Row, pgx.Rows).
type scanner interface {
	Scan(dest ...any) error
}

// ts is a time as the store writes it: truncated to the millisecond, NULL for the zero time.
func ts(t time.Time) pgtype.Timestamptz {
	t = ms(t)
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// fromTS is a stored time as the store returns it: in UTC, the zero time for NULL.
func fromTS(p pgtype.Timestamptz) time.Time {
	if !p.Valid {
		return time.Time{}
	}
	return p.Time.UTC()
}

// strs returns s, or an empty slice for nil (pgx writes a nil slice as NULL).
func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// bytes returns b, or an empty slice for nil.
func bytesOf(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// digestOf is the SHA-256 of s, the key under which userNames, externalIds and displayNames
// are indexed.
func digestOf(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// userNameKey is the index key of a userName: the digest of its folded form.
func userNameKey(userName string) []byte { return digestOf(store.Fold(userName)) }

// externalIDKey is the index key of an externalId; an empty externalId is not indexed (NULL).
func externalIDKey(ext string) []byte {
	if ext == "" {
		return nil
	}
	return digestOf(ext)
}

// storable reports whether PostgreSQL can store s as text: valid UTF-8 without NUL bytes.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// errUnstorable reports a string that PostgreSQL cannot store as text.
var errUnstorable = errors.New("pgstore: text with a NUL byte or invalid UTF-8 cannot be stored")

// checkStrings returns an error naming what if any of ss cannot be stored.
func checkStrings(what string, ss ...string) error {
	for _, s := range ss {
		if !storable(s) {
			return fmt.Errorf("%w (%s)", errUnstorable, what)
		}
	}
	return nil
}

func checkTeam(t store.Team) error {
	if err := checkStrings("team", t.ID, t.Name, t.Plan); err != nil {
		return err
	}
	if err := checkStrings("team SSO methods", t.SSOMethods...); err != nil {
		return err
	}
	return checkStrings("team verified domains", t.VerifiedDomains...)
}

// checkAttributes refuses an attributes object that jsonb cannot store: one with an escaped
// NUL character (the root package refuses NUL in requests; this keeps the store's own promise).
func checkAttributes(what string, a json.RawMessage) error {
	if bytes.Contains(a, []byte(`\u0000`)) {
		return fmt.Errorf("%w (%s attributes)", errUnstorable, what)
	}
	return nil
}

func checkUser(u store.User) error {
	if err := checkAttributes("user", u.Attributes); err != nil {
		return err
	}
	if err := checkStrings("user", u.ID, u.UserName, u.ExternalID, u.GivenName, u.FamilyName, u.MiddleName,
		u.Formatted, u.DisplayName, u.Locale); err != nil {
		return err
	}
	for _, e := range u.Emails {
		if err := checkStrings("user emails", e.Value, e.Type, e.Display); err != nil {
			return err
		}
	}
	return checkStrings("user roles", u.Roles...)
}

func checkGroup(g store.Group) error {
	if err := checkAttributes("group", g.Attributes); err != nil {
		return err
	}
	if err := checkStrings("group", g.ID, g.DisplayName, g.ExternalID); err != nil {
		return err
	}
	return checkStrings("group roles", g.Roles...)
}

// email is how a store.Email is kept in the users' emails JSON array.
type email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Display string `json:"display,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

func toEmails(es []store.Email) []email {
	out := make([]email, len(es))
	for i, e := range es {
		out[i] = email(e)
	}
	return out
}

func fromEmails(es []email) []store.Email {
	if len(es) == 0 {
		return nil
	}
	out := make([]store.Email, len(es))
	for i, e := range es {
		out[i] = store.Email(e)
	}
	return out
}

// toAttributes is the value of an attributes column: the object, or an empty one for none.
func toAttributes(a json.RawMessage) json.RawMessage {
	if len(a) == 0 {
		return json.RawMessage("{}")
	}
	return a
}

// fromAttributes is a stored attributes object as the store returns it: nil for an empty one.
func fromAttributes(a json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(a)) == 2 { // "{}": jsonb's text of an empty object
		return nil
	}
	return a
}

// emailKeys are the index keys of the user's email values: the digests of their folded forms,
// each once.
func emailKeys(es []store.Email) [][]byte {
	keys := make([][]byte, 0, len(es))
	for _, e := range es {
		if e.Value == "" {
			continue
		}
		k := digestOf(store.Fold(e.Value))
		if !slices.ContainsFunc(keys, func(o []byte) bool { return bytes.Equal(o, k) }) {
			keys = append(keys, k)
		}
	}
	return keys
}

func scanTeam(r scanner) (store.Team, error) {
	var t teamRow
	if err := r.Scan(t.dest()...); err != nil {
		return store.Team{}, err
	}
	return t.value(), nil
}

// teamRow is a row of teamCols as it is scanned.
type teamRow struct {
	t       store.Team
	created pgtype.Timestamptz
}

func (t *teamRow) dest() []any {
	return []any{&t.t.ID, &t.t.Name, &t.t.Plan, &t.t.SSOMethods, &t.t.SCIMEnabled, &t.t.VerifiedDomains,
		&t.t.DomainCapture, &t.t.JIT, &t.created}
}

func (t *teamRow) value() store.Team {
	t.t.Created = fromTS(t.created)
	return t.t
}

const keyCols = `team_id, id, digest, name, status, created_by, created, last_used, expires`

func scanKey(r scanner) (store.APIKey, error) {
	var k keyRow
	if err := r.Scan(k.dest()...); err != nil {
		return store.APIKey{}, err
	}
	return k.value()
}

// keyRow is a row of keyCols as it is scanned.
type keyRow struct {
	k                          store.APIKey
	digest                     []byte
	status                     string
	created, lastUsed, expires pgtype.Timestamptz
}

func (k *keyRow) dest() []any {
	return []any{&k.k.TeamID, &k.k.ID, &k.digest, &k.k.Name, &k.status, &k.k.CreatedBy, &k.created, &k.lastUsed, &k.expires}
}

func (k *keyRow) value() (store.APIKey, error) {
	if len(k.digest) != len(k.k.Digest) {
		return store.APIKey{}, fmt.Errorf("pgstore: key %q: stored digest has %d bytes", k.k.ID, len(k.digest))
	}
	copy(k.k.Digest[:], k.digest)
	k.k.Status = store.KeyStatus(k.status)
	k.k.Created, k.k.LastUsed, k.k.Expires = fromTS(k.created), fromTS(k.lastUsed), fromTS(k.expires)
	return k.k, nil
}

// scanKeyTeam scans a row of keyCols followed by teamCols.
func scanKeyTeam(r scanner) (store.APIKey, store.Team, error) {
	var k keyRow
	var t teamRow
	if err := r.Scan(append(k.dest(), t.dest()...)...); err != nil {
		return store.APIKey{}, store.Team{}, err
	}
	key, err := k.value()
	return key, t.value(), err
}

const userCols = `id, user_name, external_id, given_name, family_name, middle_name, formatted, display_name, locale,
	emails, active, deleted, managed, pending, seat, via_groups, roles, created, last_modified, version, attributes`

func scanUser(r scanner) (store.User, error) {
	var u store.User
	var emails []email
	var created, modified pgtype.Timestamptz
	if err := r.Scan(&u.ID, &u.UserName, &u.ExternalID, &u.GivenName, &u.FamilyName, &u.MiddleName, &u.Formatted,
		&u.DisplayName, &u.Locale, &emails, &u.Active, &u.Deleted, &u.Managed, &u.Pending, &u.Seat, &u.ViaGroups,
		&u.Roles, &created, &modified, &u.Version, &u.Attributes); err != nil {
		return store.User{}, err
	}
	u.Attributes = fromAttributes(u.Attributes)
	u.Emails = fromEmails(emails)
	u.Created, u.LastModified = fromTS(created), fromTS(modified)
	return u, nil
}

const groupCols = `id, display_name, external_id, roles, created, last_modified, version, attributes`

func scanGroup(r scanner) (store.Group, error) {
	var g store.Group
	var created, modified pgtype.Timestamptz
	if err := r.Scan(&g.ID, &g.DisplayName, &g.ExternalID, &g.Roles, &created, &modified, &g.Version, &g.Attributes); err != nil {
		return store.Group{}, err
	}
	g.Attributes = fromAttributes(g.Attributes)
	g.Created, g.LastModified = fromTS(created), fromTS(modified)
	return g, nil
}

const overageCols = `id, user_id, policy, added, released`

func scanOverage(r scanner) (store.Overage, error) {
	var o store.Overage
	var added, released pgtype.Timestamptz
	if err := r.Scan(&o.ID, &o.UserID, &o.Policy, &added, &released); err != nil {
		return store.Overage{}, err
	}
	o.Added, o.Released = fromTS(added), fromTS(released)
	return o, nil
}

const jobCols = `id, user_id, kind, data, attempts, last_error, created, next_attempt`

func scanJob(r scanner) (store.Job, error) {
	var j store.Job
	var attempts int64
	var created, next pgtype.Timestamptz
	if err := r.Scan(&j.ID, &j.UserID, &j.Kind, &j.Data, &attempts, &j.LastError, &created, &next); err != nil {
		return store.Job{}, err
	}
	j.Attempts = int(attempts)
	j.Created, j.NextAttempt = fromTS(created), fromTS(next)
	return j, nil
}
