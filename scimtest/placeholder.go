package scimtest

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// placeholders returns the names written as {{name}} in s, in order.
func placeholders(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			return out
		}
		out = append(out, s[i+2:i+2+j])
		s = s[i+2+j+2:]
	}
}

// builtin reports whether ref is a built-in placeholder rather than a capture.
func builtin(ref string) bool {
	switch ref {
	case "run", "RUN", "domain", "DOMAIN":
		return true
	}
	kind, arg, ok := strings.Cut(ref, ":")
	return ok && arg != "" && (kind == "login" || kind == "uuid")
}

// vars are the placeholder values of one run of one flow.
type vars struct {
	run            string            // the run id, e.g. "scimtest-k3x9q2"
	domain         string            // email domain
	emailUserNames bool              // {{login:x}} is an email
	uuids          map[string]string // {{uuid:x}}
	ids            map[string]string // captures
}

func newVars(prefix, domain string, emailUserNames bool) *vars {
	return &vars{run: prefix + "-" + randomWord(6), domain: domain, emailUserNames: emailUserNames,
		uuids: map[string]string{}, ids: map[string]string{}}
}

// expand replaces the placeholders in s with their values passed through esc. missing lists
// the captures s needs that no step has captured (their placeholders stay as written).
func (v *vars) expand(s string, esc func(string) string) (out string, missing []string) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		j := -1
		if i >= 0 {
			j = strings.Index(s[i+2:], "}}")
		}
		if i < 0 || j < 0 {
			b.WriteString(s)
			return b.String(), missing
		}
		ref := s[i+2 : i+2+j]
		b.WriteString(s[:i])
		if val, ok := v.value(ref); ok {
			b.WriteString(esc(val))
		} else {
			missing = append(missing, ref)
			b.WriteString(s[i : i+2+j+2])
		}
		s = s[i+2+j+2:]
	}
}

func (v *vars) value(ref string) (string, bool) {
	switch ref {
	case "run":
		return v.run, true
	case "RUN":
		return strings.ToUpper(v.run), true
	case "domain":
		return v.domain, true
	case "DOMAIN":
		return strings.ToUpper(v.domain), true
	}
	if kind, arg, ok := strings.Cut(ref, ":"); ok && arg != "" {
		switch kind {
		case "login":
			if v.emailUserNames {
				return v.run + "." + arg + "@" + v.domain, true
			}
			return v.run + "." + arg, true
		case "uuid":
			if _, ok := v.uuids[arg]; !ok {
				v.uuids[arg] = newUUID()
			}
			return v.uuids[arg], true
		}
	}
	id, ok := v.ids[ref]
	return id, ok
}

// randomWord returns n random characters from [a-z0-9].
func randomWord(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// newUUID returns a random (version 4) UUID, the shape of Entra's object ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
