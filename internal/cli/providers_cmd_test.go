package cli_test

import (
	"strings"
	"testing"

	"github.com/dnscert/dnscert/providers"
)

func TestProvidersCommandListsVariables(t *testing.T) {
	res := run(t, "dnscert", "providers")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	for _, info := range providers.All() {
		if !strings.Contains(res.stdout, info.Name+": ") {
			t.Errorf("provider %s not listed", info.Name)
		}
		for _, v := range info.Vars {
			line := lineWith(res.stdout, "  "+v.Name+" ")
			if line == "" {
				t.Errorf("%s: variable %s missing", info.Name, v.Name)
				continue
			}
			if v.Required != strings.Contains(line, "[required") {
				t.Errorf("%s: line %q does not mark required = %v", info.Name, line, v.Required)
			}
		}
	}
	for _, info := range providers.All() {
		if strings.Contains(info.Example, "\n") || !strings.Contains(info.Example, "dnscert issue --dns "+info.Name) {
			t.Errorf("%s: example %q is not one command line using the provider", info.Name, info.Example)
		}
	}
	for _, name := range []string{"rfc2136", "cloudflare", "route53", "exec", "manual"} {
		if !strings.Contains(res.stdout, "\n"+name+": ") && !strings.HasPrefix(res.stdout, name+": ") {
			t.Errorf("provider %s is not registered", name)
		}
	}
}

func lineWith(text, prefix string) string {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return ""
}
