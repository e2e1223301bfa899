package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/teamscim/teamscim/internal/pgtest"
)

func TestRunTiny(t *testing.T) {
	runTiny(t)
}

// With -store the same run goes to PostgreSQL (pgstore), in a schema of the test's own.
func TestRunTinyPostgres(t *testing.T) {
	runTiny(t, "-store", pgtest.URL(t, pgtest.Schema(t)))
}

func runTiny(t *testing.T, extra ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := append([]string{"-users", "200", "-checkpoint", "-1", "-workers", "2", "-duration", "100ms", "-quiet"}, extra...)
	err := run(ctx, args, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"GET /Users/{id}", "filter userName eq (hit)", "initial sync of 200 users", "heap per user", "unexpected answers: 0"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, stdout.String())
		}
	}
	if stderr.Len() != 0 {
		t.Errorf("-quiet printed progress:\n%s", stderr.String())
	}
	if err := run(ctx, []string{"extra"}, &stdout, &stderr); err == nil {
		t.Error("an extra argument is not refused")
	}
}
