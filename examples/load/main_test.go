package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRunTiny(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-users", "200", "-checkpoint", "-1", "-workers", "2", "-duration", "100ms", "-quiet"}, &stdout, &stderr)
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
