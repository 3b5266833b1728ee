package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/dnscert/dnscert/internal/dnstest"
)

// Tags of the orders of one case. The warm-up orders are not measured: the
// dnscert one registers the account every later run copies, and both load
// the servers' code paths once.
const (
	warmDNSCert = "dw"
	warmFloor   = "fw"
)

// caseEnv contains the settings every case takes from the benchmark.
type caseEnv struct {
	binary      string // dnscert binary
	self        string // this program, for the launch, floor and profile subcommands
	work        string // directory of this case's storage paths
	runs        int
	runTimeout  time.Duration
	profileRuns int
	// floorIdleConns is the floor client's idle connection pool per host;
	// zero means one connection per name.
	floorIdleConns int
}

// caseResult contains every run of one case.
type caseResult struct {
	Case    benchCase      `json:"case"`
	DNSCert []runResult    `json:"dnscert"`
	Floor   []runResult    `json:"floor"`
	Profile *profileResult `json:"profile,omitempty"`
	// BedWarnings are the warnings the test bed's servers logged, such as
	// failed resolutions.
	BedWarnings int `json:"bed_warnings"`
}

// runResult is one measured process.
type runResult struct {
	Tag         string  `json:"tag"`
	WallSeconds float64 `json:"wall_seconds"`
	// MaxRSSKiB is the peak resident set of the process from wait4(2),
	// in KiB on Linux. It cannot be lower than LauncherHWMKiB, the peak
	// RSS of the launcher that started the process.
	MaxRSSKiB      int64   `json:"max_rss_kib"`
	LauncherHWMKiB int64   `json:"launcher_hwm_kib"`
	CPUSeconds     float64 `json:"cpu_seconds"` // user + system
	// TotalSeconds is the time the process itself reported, from its
	// first step timer to its output.
	TotalSeconds  float64    `json:"total_seconds"`
	Steps         []stepTime `json:"steps"`
	DNSQueries    int64      `json:"dns_queries"`
	ProviderCalls int        `json:"provider_calls"`
	// ACMERequests are the HTTP requests Pebble received during the run.
	ACMERequests int64 `json:"acme_requests"`
	// Connections are the client connections, each a TLS handshake, that
	// sent requests to Pebble during the run.
	Connections int `json:"connections"`
	// Updates are the RFC 2136 UPDATE messages the primary received.
	Updates int `json:"updates"`
	// UDPDrops are the datagrams the kernel dropped on full receive
	// buffers during the run, on the whole machine.
	UDPDrops int64  `json:"udp_drops"`
	Error    string `json:"error,omitempty"`
}

type stepTime struct {
	Step    string  `json:"step"`
	Seconds float64 `json:"seconds"`
}

// processOutput is the part of the --json output of dnscert issue, and of
// the floor client's output, that the benchmark reads.
type processOutput struct {
	OK            bool       `json:"ok"`
	Error         string     `json:"error"`
	Steps         []stepTime `json:"steps"`
	TotalSeconds  float64    `json:"total_seconds"`
	DNSQueries    int64      `json:"dns_queries"`
	ProviderCalls int        `json:"provider_calls"`
}

// caseRunner runs the orders of one case against its own test bed.
type caseRunner struct {
	caseEnv
	c        benchCase
	bed      *caseBed
	env      []string // environment of every child process
	email    string
	accounts string // accounts directory registered by the warm-up
}

// runCase starts a test bed for c, runs the warm-up orders, then the
// measured dnscert and floor orders, alternating which goes first, and
// finally the profiled orders.
func runCase(ctx context.Context, c benchCase, env caseEnv) (*caseResult, error) {
	if err := os.MkdirAll(env.work, 0o700); err != nil {
		return nil, err
	}
	tags := []string{warmDNSCert, warmFloor}
	for i := 1; i <= env.runs; i++ {
		tags = append(tags, runTag("d", i), runTag("f", i))
	}
	for i := 1; i <= env.profileRuns; i++ {
		tags = append(tags, runTag("p", i))
	}
	bed, err := startBed(env.work, c.zoneSpecs(tags))
	if err != nil {
		return nil, fmt.Errorf("starting the test bed: %w", err)
	}
	defer bed.Close()
	progress("case %s (%s): Pebble at %s, DNS on 127.0.0.x port %d", c.ID, c.Title, bed.Pebble.DirectoryURL, bed.DNS.Port)

	r := &caseRunner{caseEnv: env, c: c, bed: bed, env: childEnvironment(bed.Env())}
	r.email = flagValue(bed.IssueArgs("", "x"), "--email")

	warm := r.runDNSCert(ctx, warmDNSCert)
	if warm.Error != "" {
		return nil, fmt.Errorf("warm-up order failed: %s", warm.Error)
	}
	r.accounts = filepath.Join(env.work, warmDNSCert, "accounts")
	if w := r.runFloor(ctx, warmFloor); w.Error != "" {
		return nil, fmt.Errorf("floor warm-up order failed: %s", w.Error)
	}

	res := &caseResult{Case: c}
	defer func() { res.BedWarnings = bed.Warnings() }()
	for i := 1; i <= env.runs; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d := func() { res.DNSCert = append(res.DNSCert, r.logRun("dnscert", r.runDNSCert(ctx, runTag("d", i)))) }
		f := func() { res.Floor = append(res.Floor, r.logRun("floor", r.runFloor(ctx, runTag("f", i)))) }
		if i%2 == 1 {
			d()
			f()
		} else {
			f()
			d()
		}
	}
	if env.profileRuns > 0 {
		if res.Profile, err = r.runProfile(ctx); err != nil {
			return nil, fmt.Errorf("profiling: %w", err)
		}
	}
	return res, nil
}

func runTag(kind string, i int) string {
	return kind + strconv.Itoa(i)
}

func (r *caseRunner) logRun(who string, res runResult) runResult {
	if res.Error != "" {
		progress("case %s: %s %s failed after %.3f s: %s", r.c.ID, who, res.Tag, res.WallSeconds, res.Error)
		return res
	}
	progress("case %s: %s %s %.3f s, peak RSS %.1f MiB", r.c.ID, who, res.Tag, res.WallSeconds, float64(res.MaxRSSKiB)/1024)
	return res
}

// storagePath returns a fresh storage directory for tag, holding a copy of
// the warm-up's accounts unless tag is the warm-up itself.
func (r *caseRunner) storagePath(tag string) (string, error) {
	path := filepath.Join(r.work, tag)
	if r.accounts == "" {
		return path, nil
	}
	return path, copyTree(r.accounts, filepath.Join(path, "accounts"))
}

// runDNSCert runs one dnscert issue process for the order tagged tag.
func (r *caseRunner) runDNSCert(ctx context.Context, tag string) runResult {
	path, err := r.storagePath(tag)
	if err != nil {
		return runResult{Tag: tag, Error: err.Error()}
	}
	args := r.bed.IssueArgs(path, r.c.names(tag)...)
	args[0] = r.binary
	args = append(args, "--json")
	return r.measure(ctx, tag, args)
}

// runFloor runs one floor client process for the order tagged tag. It
// waits for both nameservers to serve the records, because Pebble may ask
// either. The primary copies an update to them asynchronously, even with
// no delay, and a floor that trusted the primary's response alone once
// failed validation with NXDOMAIN.
func (r *caseRunner) runFloor(ctx context.Context, tag string) runResult {
	path, err := r.storagePath(tag)
	if err != nil {
		return runResult{Tag: tag, Error: err.Error()}
	}
	args := []string{r.self, "floor",
		"-directory", r.bed.Pebble.DirectoryURL,
		"-ca-cert", r.bed.Pebble.TLSCertFile,
		"-path", path,
		"-email", r.email,
		"-profile", "default",
		"-timeout", r.runTimeout.String(),
		"-idle-conns", strconv.Itoa(r.floorIdleConns),
	}
	for _, z := range r.c.zoneOrigins(tag) {
		args = append(args, "-zone", z)
	}
	for _, addr := range nameserverAddrs(r.bed.DNS.Port) {
		args = append(args, "-wait", addr)
	}
	for _, n := range r.c.names(tag) {
		args = append(args, "-d", n)
	}
	return r.measure(ctx, tag, args)
}

// measure runs argv as a child process through the launch subcommand and
// reads its JSON result, its resource usage and what the servers saw of it.
func (r *caseRunner) measure(ctx context.Context, tag string, argv []string) runResult {
	ctx, cancel := context.WithTimeout(ctx, r.runTimeout)
	defer cancel()
	// Collect the bench process's own garbage now rather than during the
	// run, where it would compete with the child for the two cores.
	runtime.GC()
	r.bed.DNS.Primary.ResetQueries()
	r.bed.observer.Reset()
	requestsBefore := r.bed.Pebble.Requests()
	dropsBefore := udpReceiveErrors()

	statsFile := filepath.Join(r.work, tag+".stats.json")
	full := append([]string{r.self, "launch", "-stats", statsFile, "--"}, argv...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Env = r.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// The launcher and the measured process share a new process group, so
	// a timeout ends both.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()

	res := runResult{
		Tag:          tag,
		ACMERequests: r.bed.Pebble.Requests() - requestsBefore,
		Connections:  r.bed.observer.Connections(),
		Updates:      countUpdates(r.bed.DNS.Primary),
		UDPDrops:     udpReceiveErrors() - dropsBefore,
	}
	var stats launchStats
	statsErr := readJSON(statsFile, &stats)
	res.WallSeconds = stats.WallSeconds
	res.MaxRSSKiB = stats.MaxRSSKiB
	res.LauncherHWMKiB = stats.LauncherHWMKiB
	res.CPUSeconds = stats.CPUSeconds

	var out processOutput
	jsonErr := json.Unmarshal(stdout.Bytes(), &out)
	switch {
	case jsonErr == nil && !out.OK:
		res.Error = out.Error
	case runErr != nil:
		res.Error = fmt.Sprintf("%v; stderr ends: %s", runErr, lastLines(stderr.String(), 5))
	case statsErr != nil:
		res.Error = fmt.Sprintf("reading the launcher's measurements: %v", statsErr)
	case jsonErr != nil:
		res.Error = fmt.Sprintf("stdout is not one JSON result: %v", jsonErr)
	}
	if res.Error != "" {
		return res
	}
	res.TotalSeconds = out.TotalSeconds
	res.Steps = out.Steps
	res.DNSQueries = out.DNSQueries
	res.ProviderCalls = out.ProviderCalls
	return res
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func countUpdates(primary *dnstest.Server) int {
	n := 0
	for _, q := range primary.Queries() {
		if q.Opcode == dns.OpcodeUpdate {
			n++
		}
	}
	return n
}

func timevalSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

// childEnvironment returns this process's environment without the
// variables that would change what dnscert or the floor client does,
// plus vars.
func childEnvironment(vars map[string]string) []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "DNSCERT_") || strings.HasPrefix(kv, "RFC2136_")
	})
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// flagValue returns the argument after flag in args, or "".
func flagValue(args []string, flag string) string {
	for i, a := range args[:len(args)-1] {
		if a == flag {
			return args[i+1]
		}
	}
	return ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// copyTree copies the directory src to dst with the same file modes, so
// the storage directory's permission checks see what dnscert wrote.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		if !info.Mode().IsRegular() {
			return errors.New("unexpected non-regular file " + path + " in the accounts directory")
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
}

// goCommand runs the go tool with args, with its output on stderr.
func goCommand(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}
