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
			want := v.Name
			if v.Required {
				want = v.Name + " [required"
			}
			if !strings.Contains(res.stdout, want) {
				t.Errorf("%s: %q missing", info.Name, want)
			}
		}
	}
	for _, name := range []string{"rfc2136", "cloudflare", "route53", "exec", "manual"} {
		if !strings.Contains(res.stdout, "\n"+name+": ") && !strings.HasPrefix(res.stdout, name+": ") {
			t.Errorf("provider %s is not registered", name)
		}
	}
}
