package cli_test

import (
	"os/exec"
	"testing"
)

func runGo(t *testing.T, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.CommandContext(t.Context(), path, args...).CombinedOutput()
	return string(out), err
}
