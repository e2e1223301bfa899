package scimtest_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/teamscim/teamscim/scimtest"
)

// Check every IdP's flows against a SCIM server over HTTP. This one is a generic SCIM server
// (a small test server in memory that keeps only the core attributes), so the steps that
// check Postman's product rules and the full attribute set are skipped.
func ExampleCheck() {
	ts := httptest.NewServer(newTestServer(faults{}))
	defer ts.Close()

	rep, err := scimtest.Check(context.Background(), scimtest.Target{
		URL:   ts.URL, // the SCIM base URL, for example https://scim.example.com/scim/v2
		Token: testToken,
		Skip:  []string{scimtest.TagProduct, scimtest.TagAttributes},
	}, scimtest.All...)
	if err != nil {
		log.Fatal(err)
	}
	for _, fr := range rep.Flows {
		fmt.Printf("%-15s %2d ok, %d failed, %d skipped, %d created and cleaned up\n",
			fr.ID(), fr.Passed, fr.Failed, fr.Skipped, len(fr.Cleanup))
	}
	fmt.Println("all passed:", rep.OK())
	// Output:
	// okta/groups     12 ok, 0 failed, 3 skipped, 2 created and cleaned up
	// okta/users      14 ok, 0 failed, 0 skipped, 1 created and cleaned up
	// entra/attributes  0 ok, 0 failed, 15 skipped, 0 created and cleaned up
	// entra/groups    19 ok, 0 failed, 3 skipped, 2 created and cleaned up
	// entra/users     20 ok, 0 failed, 2 skipped, 1 created and cleaned up
	// onelogin/groups  8 ok, 0 failed, 0 skipped, 2 created and cleaned up
	// onelogin/users  12 ok, 0 failed, 1 skipped, 1 created and cleaned up
	// all passed: true
}

// A host adds a flow of its own, here one that finds a server ignoring path-less PATCH
// operations. The handler is served in process.
func ExampleLoad() {
	flow, err := scimtest.Load([]byte(`{
	  "idp": "myidp", "name": "offboarding",
	  "description": "What our own IdP sends to offboard someone.",
	  "steps": [
	    {"name": "create", "expect": "201", "consequence": "The user is never provisioned.",
	     "method": "POST", "path": "/Users", "status": 201, "capture": "uid",
	     "body": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "{{run}}.ann@{{domain}}"}},
	    {"name": "deactivate", "expect": "the path-less replace deactivates",
	     "consequence": "The user keeps access after offboarding.",
	     "method": "PATCH", "path": "/Users/{{uid}}", "status": [200, 204], "response": {"active": false},
	     "body": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
	              "Operations": [{"op": "replace", "value": {"active": false}}]}}
	  ]
	}`))
	if err != nil {
		log.Fatal(err)
	}
	srv := newTestServer(faults{ignorePathless: true})
	rep, err := scimtest.Check(context.Background(), scimtest.Target{Handler: srv, Token: testToken}, flow)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range rep.Flows[0].Steps {
		fmt.Println(s.Outcome, s.Name, s.Problems)
	}
	fmt.Println(rep.Flows[0].Cleanup[0].Detail)
	// Output:
	// ok create []
	// FAIL deactivate [response.active: got true, want false]
	// deactivated, deleted
}
