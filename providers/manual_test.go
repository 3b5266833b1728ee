package providers

import (
	"io"
	"os"
	"strings"
	"testing"
)

func TestManualInfo(t *testing.T) {
	info := manualInfo()
	if info.Name != "manual" {
		t.Errorf("Name = %q, want manual", info.Name)
	}
	if len(info.Vars) != 0 {
		t.Errorf("Vars = %v, want none", info.Vars)
	}
	if info.New == nil {
		t.Fatal("New is nil")
	}
}

func TestManualRejectsNonTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()

	for name, stdin := range map[string]*os.File{"pipe": r, "dev null": devNull} {
		t.Run(name, func(t *testing.T) {
			p, err := newManualOn(stdin, io.Discard)
			if err == nil {
				t.Fatalf("newManualOn returned %v, want an error because standard input is not a terminal", p)
			}
			for _, want := range []string{"not a terminal", "interactive terminal"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}
