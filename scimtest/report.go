package scimtest

import (
	"fmt"
	"io"
	"strings"
)

// Outcome is what became of a step.
type Outcome string

// The outcomes of a step.
const (
	Passed  Outcome = "ok"
	Failed  Outcome = "FAIL"
	Skipped Outcome = "skip"
)

// Report is what Check found. The bearer token and the flows' passwords never appear in it.
type Report struct {
	// Target is the base URL the flows ran against.
	Target string       `json:"target"`
	Flows  []FlowReport `json:"flows"`
	// Passed, Failed and Skipped count the steps of every flow.
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// OK reports whether no step failed.
func (r Report) OK() bool { return r.Failed == 0 }

func (r *Report) add(fr FlowReport) {
	for _, s := range fr.Steps {
		switch s.Outcome {
		case Passed:
			fr.Passed++
		case Failed:
			fr.Failed++
		default:
			fr.Skipped++
		}
	}
	r.Passed += fr.Passed
	r.Failed += fr.Failed
	r.Skipped += fr.Skipped
	r.Flows = append(r.Flows, fr)
}

// FlowReport is the run of one flow.
type FlowReport struct {
	// IdP, Name and Description are the flow's.
	IdP         string `json:"idp"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Run is the run id that starts the names of everything the flow created.
	Run string `json:"run"`
	// Steps are the steps in order; Passed, Failed and Skipped count them.
	Steps   []StepReport `json:"steps"`
	Passed  int          `json:"passed"`
	Failed  int          `json:"failed"`
	Skipped int          `json:"skipped"`
	// Cleanup lists what the flow created and the clean-up then removed, or failed to.
	Cleanup []Cleanup `json:"cleanup,omitempty"`
}

// ID is the flow's "<idp>/<name>".
func (fr FlowReport) ID() string { return fr.IdP + "/" + fr.Name }

// StepReport is the run of one step.
type StepReport struct {
	// Name, Expect, Consequence and Tags are the step's.
	Name        string   `json:"name"`
	Expect      string   `json:"expect"`
	Consequence string   `json:"consequence"`
	Tags        []string `json:"tags,omitempty"`
	Outcome     Outcome  `json:"outcome"`
	// Problems say why the step failed, or why it was skipped.
	Problems []string `json:"problems,omitempty"`
	// Request and Response are excerpts (bodies cut to 1 KiB), nil for a step that did not run.
	Request  *RequestExcerpt  `json:"request,omitempty"`
	Response *ResponseExcerpt `json:"response,omitempty"`
	// Retried counts the times a 429 was retried after its Retry-After.
	Retried int `json:"retried,omitempty"`
}

// RequestExcerpt is the request a step sent (never its Authorization header).
type RequestExcerpt struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Body   string `json:"body,omitempty"`
}

// ResponseExcerpt is the response a step got.
type ResponseExcerpt struct {
	Status   int    `json:"status"`
	Location string `json:"location,omitempty"`
	Body     string `json:"body,omitempty"`
}

// Cleanup is the clean-up of one resource a flow created.
type Cleanup struct {
	// Resource is the resource's path below the base URL ("/Users/<id>"), Name its userName
	// or displayName.
	Resource string `json:"resource"`
	Name     string `json:"name,omitempty"`
	// OK is false when a request of the clean-up failed; Detail says what was done
	// ("deactivated, deleted") or what failed.
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// WriteText writes the report for people: one line per step ("ok", "FAIL" followed by what it
// breaks in the IdP, "skip"), the details of each failure, a clean-up line per flow and a
// summary per IdP and in total.
func (r Report) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("scimtest against %s\n", r.Target)
	type tally struct{ steps, passed, failed, skipped int }
	var idps []string
	per := map[string]*tally{}
	for _, fr := range r.Flows {
		ew.printf("\n%s (run %s)\n", fr.ID(), fr.Run)
		for _, s := range fr.Steps {
			switch s.Outcome {
			case Failed:
				ew.printf("  FAIL  %s%s — %s\n", s.Name, s.tagList(), s.Consequence)
				var b strings.Builder
				s.writeDetail(&b, "", "          ")
				ew.printf("%s", b.String())
			default:
				ew.printf("  %-4s  %s%s%s\n", s.Outcome, s.Name, s.tagList(), s.skipReason())
			}
		}
		ew.printf("  %s\n", cleanupLine(fr.Cleanup))
		t := per[fr.IdP]
		if t == nil {
			t = &tally{}
			per[fr.IdP] = t
			idps = append(idps, fr.IdP)
		}
		t.steps += len(fr.Steps)
		t.passed += fr.Passed
		t.failed += fr.Failed
		t.skipped += fr.Skipped
	}
	ew.printf("\n")
	for _, idp := range idps {
		t := per[idp]
		ew.printf("%-9s %3d steps: %3d ok, %d FAIL, %d skipped\n", idp+":", t.steps, t.passed, t.failed, t.skipped)
	}
	ew.printf("%-9s %3d steps: %3d ok, %d FAIL, %d skipped\n", "total:", r.Passed+r.Failed+r.Skipped, r.Passed, r.Failed, r.Skipped)
	return ew.err
}

// writeDetail writes a failed step's problems, expectation, consequence in idp (unless idp
// is empty), request and response.
func (s StepReport) writeDetail(b *strings.Builder, idp, indent string) {
	for _, p := range s.Problems {
		fmt.Fprintf(b, "%s%s\n", indent, p)
	}
	fmt.Fprintf(b, "%sexpected: %s\n", indent, s.Expect)
	if idp != "" {
		fmt.Fprintf(b, "%sin %s: %s\n", indent, idpName(idp), s.Consequence)
	}
	if s.Request != nil {
		fmt.Fprintf(b, "%srequest:  %s %s %s\n", indent, s.Request.Method, s.Request.Path, s.Request.Body)
	}
	if s.Response != nil {
		fmt.Fprintf(b, "%sresponse: %d %s\n", indent, s.Response.Status, s.Response.Body)
	}
}

// idpName is how people write the name of an IdP.
func idpName(idp string) string {
	if n, ok := map[string]string{"okta": "Okta", "entra": "Entra ID", "onelogin": "OneLogin"}[idp]; ok {
		return n
	}
	return idp
}

// tagList is " [tag, ...]" for a tagged step that ran, "" otherwise.
func (s StepReport) tagList() string {
	if len(s.Tags) == 0 || s.Outcome == Skipped {
		return ""
	}
	return " [" + strings.Join(s.Tags, ", ") + "]"
}

func (s StepReport) skipReason() string {
	if s.Outcome != Skipped || len(s.Problems) == 0 {
		return ""
	}
	return " (" + s.Problems[0] + ")"
}

func cleanupLine(cs []Cleanup) string {
	if len(cs) == 0 {
		return "clean-up: nothing left to remove"
	}
	var failed []string
	for _, c := range cs {
		if !c.OK {
			failed = append(failed, fmt.Sprintf("%s (%s): %s", c.Resource, c.Name, c.Detail))
		}
	}
	if len(failed) == 0 {
		return fmt.Sprintf("clean-up: removed %d resource(s)", len(cs))
	}
	return fmt.Sprintf("clean-up: removed %d of %d resource(s); left: %s", len(cs)-len(failed), len(cs), strings.Join(failed, "; "))
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
