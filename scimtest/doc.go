// Package scimtest replays the provisioning sequences of real identity providers (Okta,
// Microsoft Entra ID, OneLogin) against a SCIM 2.0 server and says what breaks, and what that
// breaks in the identity provider. It works against any SCIM server: it imports nothing of
// teamscim, and the server may already hold data.
//
// A target is an http.Handler served in process, or a base URL and a bearer token:
//
//	scimtest.Run(t, scimtest.Target{Handler: h, URL: "http://scim.example.com/scim/v2", Token: key}, scimtest.Okta...)
//
//	rep, err := scimtest.Check(ctx, scimtest.Target{URL: "https://scim.example.com/scim/v2", Token: token}, scimtest.All...)
//	rep.WriteText(os.Stdout)
//
// Run reports through testing.TB; Check returns a Report (every step with its outcome, what
// went wrong, and excerpts of the request and the response) for programs. The command
// examples/check in this module runs Check from the command line. The bearer token never
// appears in a Report, nor do the password values the flows send.
//
// # What a run does
//
// Each flow runs with a run id of its own ("scimtest-k3x9q2": Target.Prefix and six random
// characters) that starts every userName and group name it creates, so runs never collide
// with each other or with the server's data. Each step sends one request and checks the
// answer against the step's expectations and against RFC 7644 rules that every response must
// meet:
//
//   - the status is one the step accepts;
//   - a body is JSON with Content-Type application/scim+json, and a 204 has none;
//   - an error (4xx, 5xx) has a SCIM error body: the Error schema and status as a string;
//   - a 201 carries the new resource's id and a Location header naming it (equal to
//     meta.location when there is one);
//   - the body matches the step's response pattern and contains none of its absent strings.
//
// A 429 is retried up to three times after its Retry-After (at most 60 s), as the IdPs do. A
// step whose input a failed step should have captured is skipped, and so is every step after
// the server stopped answering. At the end of each flow, whatever it created and did not
// delete is cleaned up, best effort: groups are deleted, users deactivated and deleted; the
// Report lists each one.
//
// Steps tagged TagProduct check a Postman product rule as teamscim implements it (group
// members must be provisioned users, a deactivated member leaves every group, a deleted
// member is re-linked by a later POST, ...). A generic SCIM server leaves them out with
// Target.Skip. Steps tagged TagAttributes check that every attribute of an IdP's default
// mapping (Entra's title, addresses, phoneNumbers, enterprise extension, ...) is kept, returned
// and patched; a server that keeps only the core attributes leaves them out the same way.
// Untagged steps ask only for what RFC 7643/7644 and the IdPs require.
//
// userNames: Okta sends the user's login and Entra the user principal name, both email-shaped,
// so their flows use emails. OneLogin sends its Username unless the admin maps scimusername to
// the email; its flows use {{login:...}}, a plain name unless Target.EmailUserNames is set
// (for servers, such as teamscim by default, that require email userNames).
//
// # Flow format
//
// A flow is a JSON file; the package embeds its own under flows/<idp>/ and a host reads its
// own with Load or LoadFS. Unknown fields are refused, so typos show. Annotated (the
// comments are not part of the format):
//
//	{
//	  "idp": "okta",                     // lower-case words: a-z, 0-9, -
//	  "name": "users",
//	  "description": "what the flow covers and where its requests come from",
//	  "steps": [
//	    {
//	      "name": "deactivate by path-less replace",   // unique in the flow
//	      "expect": "what the server must do, in words",
//	      "consequence": "what goes wrong in the IdP when it does not",
//	      "tags": ["product"],                            // optional
//	      "method": "PATCH",                              // GET, POST, PUT, PATCH, DELETE
//	      "path": "/Users/{{uid}}",                       // below the base URL, with the query
//	      "contentType": "application/json",              // optional; default application/scim+json
//	      "auth": "non-token",                            // optional Authorization value instead of the token
//	      "headers": {"User-Agent": "Okta SCIM Client"},  // optional
//	      "body": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [...]},
//	      "status": [200, 204],                           // or a single number
//	      "response": {"active": false},                  // optional pattern, see Matching
//	      "absent": ["password"],                         // optional, case-insensitive
//	      "capture": "uid",                               // optional: the response's id becomes {{uid}}
//	      "state": {...}                                  // optional, for Target.AfterStep only
//	    }
//	  ]
//	}
//
// Placeholders, written {{name}}, may appear in path, body, auth, headers, response, absent and
// state:
//
//	{{run}}, {{RUN}}        the run id, as is and upper-cased ("scimtest-k3x9q2")
//	{{domain}}, {{DOMAIN}}  Target.Domain (default example.com), as is and upper-cased
//	{{login:x}}             "<run>.x", or "<run>.x@<domain>" with Target.EmailUserNames
//	{{uuid:x}}              a random UUID, the same for every use of x in the run
//	{{uid}}                 the id an earlier step captured (or this step, in response and state)
//
// So an email userName is written "{{run}}.ann@{{domain}}" and a group name "{{run}} Sales".
// Values are escaped for where they appear: path segments, query strings, JSON strings. A step
// may use a capture made by a tagged step only if it carries the same tags, so that skipping a
// tag leaves no step without its input.
//
// # Matching
//
// The response pattern matches the response body: an object matches if each of its keys is
// present (attribute names compared case-insensitively) with a matching value, so other keys
// are allowed; an array matches an array of the same length whose elements match its elements
// one to one in any order; other values must be equal (true is not "True"). Some patterns are
// matchers:
//
//	"$any"            present, whatever the value
//	{"$empty": true}  absent, null or []
//	{"$gte": 1}       a number at least 1 ("$lte": at most)
//	{"$has": [p, …]}  an array that has, for each p, an element matching it (others allowed)
//
// The pattern is checked whenever the response has a body, so a PATCH that may answer 200 with
// the resource or 204 without it can still name what a 200 must hold.
//
// # Checking the stored state
//
// A server's own tests can see more than its HTTP answers. Target.AfterStep is called after
// every step with the step, its response and its "state" (placeholders expanded), in a
// vocabulary the host chooses; teamscim's replay test reads the user and group the state names
// from its store and compares them.
package scimtest
