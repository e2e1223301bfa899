package main

import (
	"os"
	"strings"
	"testing"
)

// The README's Embedding section shows this program, whole: the snippet cannot rot, because
// the program is built by go vet and go test, and this test fails when the two differ. Change
// both together (copy main.go into the README's go block).
func TestREADMEShowsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, embedding, ok := strings.Cut(string(readme), "\n## Embedding\n")
	if !ok {
		t.Fatal("README.md has no Embedding section")
	}
	embedding, _, _ = strings.Cut(embedding, "\n## ")
	if !strings.Contains(embedding, "```go\n"+string(src)+"```\n") {
		t.Error("README.md's Embedding section does not show examples/embed/main.go as it is: copy the file into its go block")
	}
}
