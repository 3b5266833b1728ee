package conformance_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dnscert/dnscert/providers/conformance"
	"github.com/libdns/libdns"
)

// fakeProvider keeps TXT values in memory by lower-case absolute name. Its
// bug field makes it misbehave in one way that the suite must catch.
type fakeProvider struct {
	bug string

	mu     sync.Mutex
	values map[string][]string
}

func newFake(bug string) *fakeProvider {
	return &fakeProvider{bug: bug, values: map[string][]string{}}
}

func (f *fakeProvider) absolute(name, zone string) string {
	switch f.bug {
	case "zone appended twice":
		return strings.ToLower(strings.TrimSuffix(name, ".") + "." + zone)
	case "case kept":
		return libdns.AbsoluteName(name, zone)
	}
	return strings.ToLower(libdns.AbsoluteName(name, strings.ToLower(zone)))
}

func (f *fakeProvider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bug == "many records fail" && len(recs) > 50 {
		return nil, errors.New("too many records")
	}
	for _, rec := range recs {
		rr := rec.RR()
		name := f.absolute(rr.Name, zone)
		switch {
		case f.bug == "append replaces":
			f.values[name] = []string{rr.Data}
		case f.bug == "duplicates stored" || !slices.Contains(f.values[name], rr.Data):
			f.values[name] = append(f.values[name], rr.Data)
		}
	}
	return recs, nil
}

func (f *fakeProvider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rec := range recs {
		rr := rec.RR()
		name := f.absolute(rr.Name, zone)
		if f.bug == "absent value fails" && !slices.Contains(f.values[name], rr.Data) {
			return nil, errors.New("record not found")
		}
		switch f.bug {
		case "delete removes the name":
			delete(f.values, name)
		case "delete does nothing":
		default:
			if i := slices.Index(f.values[name], rr.Data); i >= 0 {
				f.values[name] = slices.Delete(f.values[name], i, i+1)
			}
		}
		if len(f.values[name]) == 0 {
			delete(f.values, name)
		}
	}
	return recs, nil
}

func (f *fakeProvider) read(ctx context.Context, name string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.values[name]), nil
}

func harness(f *fakeProvider) conformance.Harness {
	return conformance.Harness{Provider: f, Zone: "Example.Test.", Read: f.read}
}

func TestSuitePassesCorrectProvider(t *testing.T) {
	f := newFake("")
	conformance.Run(t, harness(f))
	if len(f.values) != 0 {
		t.Errorf("values left after the suite: %q", f.values)
	}
}

// bugEnv selects the bug of the provider in TestBuggyProvider, which runs
// only in a child process, because the suite must fail there.
const bugEnv = "CONFORMANCE_TEST_BUG"

func TestBuggyProvider(t *testing.T) {
	bug := os.Getenv(bugEnv)
	if bug == "" {
		t.Skip("runs in a child process of TestSuiteCatchesBugs")
	}
	conformance.Run(t, harness(newFake(bug)))
}

func TestSuiteCatchesBugs(t *testing.T) {
	cases := []struct {
		bug     string
		failing []string // cases that must fail
	}{
		{"zone appended twice", []string{"NameCaseAndTrailingDot"}},
		{"case kept", []string{"NameCaseAndTrailingDot"}},
		{"append replaces", []string{"TwoValuesOneCall", "TwoValuesTwoCalls", "DeleteOneOfTwo", "ForeignValueSurvives"}},
		{"duplicates stored", []string{"SameValueTwice"}},
		{"absent value fails", []string{"DeleteAbsentValue"}},
		{"delete removes the name", []string{"DeleteOneOfTwo", "ForeignValueSurvives"}},
		{"delete does nothing", []string{"TwoValuesOneCall", "ManyRecords", "ApexChallengeName", "ZoneApex"}},
		{"many records fail", []string{"ManyRecords"}},
	}
	for _, tc := range cases {
		t.Run(tc.bug, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBuggyProvider$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), bugEnv+"="+tc.bug)
			out, err := cmd.CombinedOutput()
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) {
				t.Fatalf("the suite passed a provider with the bug %q, or did not run: %v\n%s", tc.bug, err, out)
			}
			for _, name := range tc.failing {
				if !strings.Contains(string(out), "--- FAIL: TestBuggyProvider/"+name+" ") {
					t.Errorf("case %s did not fail for the bug %q; output:\n%s", name, tc.bug, out)
				}
			}
		})
	}
}

// invalidHarnesses maps the text of each harness error to a harness
// that causes it.
func invalidHarnesses() map[string]conformance.Harness {
	f := newFake("")
	return map[string]conformance.Harness{
		"Provider is nil":  {Zone: "example.test.", Read: f.read},
		"Read is nil":      {Provider: f, Zone: "example.test."},
		"is not a zone":    {Provider: f, Zone: ".", Read: f.read},
		"MaxRecords is -1": {Provider: f, Zone: "example.test.", Read: f.read, MaxRecords: -1},
	}
}

// harnessEnv names the invalid harness of TestInvalidHarness, which runs
// only in a child process, because Run must fail there.
const harnessEnv = "CONFORMANCE_TEST_HARNESS"

func TestHarnessChecked(t *testing.T) {
	for want := range invalidHarnesses() {
		t.Run(want, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestInvalidHarness$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), harnessEnv+"="+want)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("Run accepted a harness where %s:\n%s", want, out)
			}
			if !strings.Contains(string(out), want) {
				t.Errorf("Run failed without saying %q:\n%s", want, out)
			}
		})
	}
}

func TestInvalidHarness(t *testing.T) {
	want := os.Getenv(harnessEnv)
	if want == "" {
		t.Skip("runs in a child process of TestHarnessChecked")
	}
	conformance.Run(t, invalidHarnesses()[want])
}

// TestSkipDuplicates runs a provider that stores a value twice, which only
// SameValueTwice detects, so the test passes only when the case is skipped.
func TestSkipDuplicates(t *testing.T) {
	h := harness(newFake("duplicates stored"))
	h.SkipDuplicates = "the provider stores each value it is given"
	h.SkipZoneApex = "zone apex skipped"
	h.SkipConcurrent = "concurrent calls skipped"
	conformance.Run(t, h)
}
