// Command check replays the provisioning flows of Okta, Microsoft Entra ID and OneLogin
// (package scimtest) against a running SCIM 2.0 endpoint, and says step by step what works and
// what an identity provider would break on. It works against any SCIM server, one that holds
// data included: every user and group it creates has a name starting with a run id
// ("scimtest-k3x9q2"), and it deactivates and deletes them at the end of each flow.
//
// Usage:
//
//	go run ./examples/check -url URL -token TOKEN [flags]
//
// Flags:
//
//	-url url            SCIM base URL, up to and including the version
//	                    (for example https://scim.example.com/scim/v2)
//	-token token        the bearer token; default: the SCIM_TOKEN environment variable.
//	                    It is never printed.
//	-idp list           the IdPs whose flows run: okta, entra, onelogin (default all of them)
//	-tags list          the tagged steps to run: all (default), none, or a list such as
//	                    "product"; untagged steps always run. Steps tagged product check
//	                    Postman's product rules (teamscim's), steps tagged attributes that
//	                    every attribute of Entra's default mapping is kept; use -tags none
//	                    for a generic SCIM server that keeps only the core attributes.
//	-email-usernames    OneLogin userNames are emails too, for a server that requires email
//	                    userNames (teamscim does unless run with -require-email=false)
//	-domain d           email domain of the userNames created (default example.com)
//	-prefix p           start of every run id and name created (default scimtest)
//	-json               print the report as JSON instead of text
//	-insecure           allow http:// to a host other than loopback (the token then
//	                    travels in clear text)
//
// It prints one line per step (ok, FAIL with what goes wrong in the IdP, skip), the details of
// each failure, the clean-up of each flow and a summary; it exits with status 1 if a step
// failed, 2 on a bad command line.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/teamscim/teamscim/scimtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv("SCIM_TOKEN"), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed command line.
type options struct {
	url, token, idps, tags, domain, prefix string
	emailUserNames, json, insecure         bool
}

var idpNames = []string{"okta", "entra", "onelogin"}

// run runs the command with args (without the program name) and returns its exit status:
// 0 when every step passed, 1 when one failed (or the run could not finish), 2 on a bad
// command line. envToken is the token used when -token is not given.
func run(ctx context.Context, args []string, envToken string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, envToken, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	flows := selectFlows(o.idps)
	target := scimtest.Target{URL: o.url, Token: o.token, Domain: o.domain, Prefix: o.prefix,
		EmailUserNames: o.emailUserNames, Skip: skipTags(o.tags, flows)}
	rep, runErr := scimtest.Check(ctx, target, flows...)
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(stdout)
	}
	switch {
	case runErr != nil:
		fmt.Fprintln(stderr, "check:", strings.ReplaceAll(runErr.Error(), o.token, "***"))
		return 1
	case err != nil:
		fmt.Fprintln(stderr, "check: writing the report:", err)
		return 1
	case !rep.OK():
		return 1
	}
	return 0
}

// parseFlags parses args. A bad command line is reported on stderr, with the usage.
func parseFlags(args []string, envToken string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "", "SCIM base `URL`, e.g. https://scim.example.com/scim/v2")
	fs.StringVar(&o.token, "token", "", "bearer `token` (default: $SCIM_TOKEN); never printed")
	fs.StringVar(&o.idps, "idp", strings.Join(idpNames, ","), "the IdPs whose flows run, comma-separated: okta, entra, onelogin")
	fs.StringVar(&o.tags, "tags", "all", "the tagged steps to run: all, none, or a comma-separated `list` such as product (untagged steps always run)")
	fs.BoolVar(&o.emailUserNames, "email-usernames", false, "OneLogin userNames are emails too (for a server that requires email userNames)")
	fs.StringVar(&o.domain, "domain", "example.com", "email `domain` of the userNames created")
	fs.StringVar(&o.prefix, "prefix", "scimtest", "start of every run id and of every name created")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON")
	fs.BoolVar(&o.insecure, "insecure", false, "allow http:// to a host other than loopback (the token travels in clear text)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: check -url URL -token TOKEN [flags]\n\n"+
			"Replays the Okta, Entra ID and OneLogin provisioning flows against a SCIM endpoint.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	bad := func(format string, args ...any) (options, error) {
		msg := fmt.Sprintf(format, args...)
		fmt.Fprintln(stderr, "check:", msg)
		fs.Usage()
		return o, errors.New(msg)
	}
	if o.token == "" {
		o.token = envToken
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case o.url == "":
		return bad("-url is required")
	case o.token == "":
		return bad("a token is required: -token, or the SCIM_TOKEN environment variable")
	}
	u, err := url.Parse(o.url)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
		return bad("-url must be an absolute http(s) URL")
	case u.Scheme == "http" && !loopback(u.Hostname()) && !o.insecure:
		return bad("refusing to send the token over plain http to %s: use https, or -insecure", u.Hostname())
	}
	idps := strings.Split(o.idps, ",")
	for i, idp := range idps {
		if idps[i] = strings.TrimSpace(idp); !slices.Contains(idpNames, idps[i]) {
			return bad("unknown IdP %q in -idp: use %s", idp, strings.Join(idpNames, ", "))
		}
	}
	o.idps = strings.Join(idps, ",")
	if known := allTags(selectFlows(o.idps)); o.tags != "all" && o.tags != "none" {
		for tag := range strings.SplitSeq(o.tags, ",") {
			if !slices.Contains(known, strings.TrimSpace(tag)) {
				return bad("unknown tag %q in -tags: the flows have %s", tag, strings.Join(known, ", "))
			}
		}
	}
	return o, nil
}

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// selectFlows returns the flows of the IdPs in the comma-separated list.
func selectFlows(idps string) []scimtest.Flow {
	var out []scimtest.Flow
	for _, f := range scimtest.All {
		if slices.Contains(strings.Split(idps, ","), f.IdP) {
			out = append(out, f)
		}
	}
	return out
}

// allTags returns the tags the flows use, sorted.
func allTags(flows []scimtest.Flow) []string {
	var tags []string
	for _, f := range flows {
		for _, s := range f.Steps {
			for _, t := range s.Tags {
				if !slices.Contains(tags, t) {
					tags = append(tags, t)
				}
			}
		}
	}
	slices.Sort(tags)
	return tags
}

// skipTags turns -tags into Target.Skip: every tag of the flows that is not asked for.
func skipTags(tags string, flows []scimtest.Flow) []string {
	if tags == "all" {
		return nil
	}
	want := strings.Split(tags, ",")
	for i := range want {
		want[i] = strings.TrimSpace(want[i])
	}
	return slices.DeleteFunc(allTags(flows), func(t string) bool { return slices.Contains(want, t) })
}
