package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Targets the page checks.
const (
	// maxFloorRatio is the highest dnscert/floor ratio of median wall
	// times accepted for a case without lag.
	maxFloorRatio = 1.3
	// maxLagOvershoot is the longest the propagation wait may go on after
	// the late nameserver serves the records.
	maxLagOvershoot = time.Second
	// maxProviderCalls is the most provider calls accepted for 100 SANs in
	// one zone: 2 to publish and 2 to clean up.
	maxProviderCalls = 4
	// maxQueriesPerNameServer is the most DNS queries accepted per name
	// and nameserver. One query per name and nameserver is the least a
	// propagation check can send, and finding each name's zone costs a few
	// more.
	maxQueriesPerNameServer = 4
	// maxRSSBytes is the peak resident set accepted for 100 SANs.
	maxRSSBytes = 60_000_000
	// nameserversPerZone is the number of nameservers of every zone.
	nameserversPerZone = 2
)

// dnscertSteps are the steps of dnscert issue --json in the order they run.
var dnscertSteps = []string{"account", "order", "authorizations", "plan", "publish", "propagation", "validation", "finalize", "cleanup", "store"}

// Components that are not steps: "other" is time inside the run's own
// total that no sequential step covers, "process" is the wall time outside
// that total (exec, runtime start, flag parsing, output, exit).
const (
	componentOther   = "other"
	componentProcess = "process"
)

// overlappingStep runs in the background while the order is finalized, so
// it is left out of "other" and of the time beyond the floor. The part of a
// removal that outlasts finalization shows in "other".
const overlappingStep = "cleanup"

// report is one benchmark run.
type report struct {
	Command  string    `json:"command"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Machine  machine   `json:"machine"`
	Runs     int       `json:"runs"`
	// Binary describes the dnscert binary: its commit when it was built
	// from a Git checkout.
	Binary string        `json:"binary"`
	CPU    cpuUsage      `json:"cpu"`
	Cases  []*caseResult `json:"cases"`
}

func writeRaw(path string, r *report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func successful(runs []runResult) []runResult {
	var out []runResult
	for _, r := range runs {
		if r.Error == "" {
			out = append(out, r)
		}
	}
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func collect(runs []runResult, f func(runResult) float64) []float64 {
	out := make([]float64, 0, len(runs))
	for _, r := range runs {
		out = append(out, f(r))
	}
	return out
}

// component returns the seconds of a step or of "other" or "process" in
// one run, and false when the run has no such step.
func component(r runResult, name string) (float64, bool) {
	switch name {
	case componentOther:
		sum := 0.0
		for _, s := range r.Steps {
			if s.Step != overlappingStep {
				sum += s.Seconds
			}
		}
		return r.TotalSeconds - sum, true
	case componentProcess:
		return r.WallSeconds - r.TotalSeconds, true
	}
	for _, s := range r.Steps {
		if s.Step == name {
			return s.Seconds, true
		}
	}
	return 0, false
}

// componentMedian returns the median of a component over the runs that
// have it, and false when none has it.
func componentMedian(runs []runResult, name string) (float64, bool) {
	var xs []float64
	for _, r := range runs {
		if v, ok := component(r, name); ok {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return 0, false
	}
	return median(xs), true
}

func components() []string {
	return append(slices.Clone(dnscertSteps), componentOther, componentProcess)
}

// caseStats are the figures of one case on the page.
type caseStats struct {
	c                benchCase
	ok, floorOK      []runResult
	failed           int // dnscert and floor runs left out
	wallMedian       float64
	wallMin, wallMax float64
	floorMedian      float64
	ratio            float64
	peakRSSKiB       int64
	cpuMedian        float64
	floorCPUMedian   float64
	connections      []float64
	floorConnections []float64
	providerCalls    []float64
	updates          []float64
	queries          []float64
	acme, floorACME  []float64
}

func statsOf(cr *caseResult) caseStats {
	s := caseStats{c: cr.Case, ok: successful(cr.DNSCert), floorOK: successful(cr.Floor)}
	s.failed = len(cr.DNSCert) - len(s.ok) + len(cr.Floor) - len(s.floorOK)
	walls := collect(s.ok, func(r runResult) float64 { return r.WallSeconds })
	s.wallMedian = median(walls)
	s.wallMin, s.wallMax = math.NaN(), math.NaN()
	if len(walls) > 0 {
		s.wallMin, s.wallMax = slices.Min(walls), slices.Max(walls)
	}
	s.floorMedian = median(collect(s.floorOK, func(r runResult) float64 { return r.WallSeconds }))
	s.ratio = s.wallMedian / s.floorMedian
	for _, r := range s.ok {
		s.peakRSSKiB = max(s.peakRSSKiB, r.MaxRSSKiB)
	}
	s.cpuMedian = median(collect(s.ok, func(r runResult) float64 { return r.CPUSeconds }))
	s.floorCPUMedian = median(collect(s.floorOK, func(r runResult) float64 { return r.CPUSeconds }))
	s.connections = collect(s.ok, func(r runResult) float64 { return float64(r.Connections) })
	s.floorConnections = collect(s.floorOK, func(r runResult) float64 { return float64(r.Connections) })
	s.providerCalls = collect(s.ok, func(r runResult) float64 { return float64(r.ProviderCalls) })
	s.updates = collect(s.ok, func(r runResult) float64 { return float64(r.Updates) })
	s.queries = collect(s.ok, func(r runResult) float64 { return float64(r.DNSQueries) })
	s.acme = collect(s.ok, func(r runResult) float64 { return float64(r.ACMERequests) })
	s.floorACME = collect(s.floorOK, func(r runResult) float64 { return float64(r.ACMERequests) })
	return s
}

// queriesPerNameServer is the median DNS query count per name and
// nameserver.
func (s caseStats) queriesPerNameServer() float64 {
	return median(s.queries) / float64(s.c.NameCount()*nameserversPerZone)
}

func (r *report) markdown() string {
	var b strings.Builder
	stats := make([]caseStats, 0, len(r.Cases))
	for _, cr := range r.Cases {
		stats = append(stats, statsOf(cr))
	}
	r.writeHeader(&b)
	writeSummary(&b, stats)
	writeSteps(&b, stats)
	writeDominance(&b, stats)
	writeTargets(&b, stats)
	for _, cr := range r.Cases {
		if cr.Profile != nil {
			writeProfile(&b, cr)
		}
	}
	writeMethod(&b)
	writeMeasurementNotes(&b, r.Cases)
	writeFailures(&b, r.Cases)
	return b.String()
}

func (r *report) writeHeader(b *strings.Builder) {
	m := r.Machine
	fmt.Fprintf(b, "# Benchmarks\n\n")
	fmt.Fprintf(b, "Time to certificate of `dnscert issue` against a local Pebble CA and loopback DNS servers, "+
		"compared with a minimal ACME client that makes only the protocol round trips (the floor). "+
		"The benchmark writes this page, and running it again replaces it.\n\n")
	fmt.Fprintf(b, "```sh\n%s\n```\n\n", r.Command)
	fmt.Fprintf(b, "| | |\n| --- | --- |\n")
	fmt.Fprintf(b, "| date | %s, %s |\n", r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Finished.Sub(r.Started).Round(time.Second))
	fmt.Fprintf(b, "| CPUs (nproc) | %d |\n", m.CPUs)
	fmt.Fprintf(b, "| CPU model | %s |\n", m.CPUModel)
	fmt.Fprintf(b, "| memory | %.1f GiB |\n", float64(m.MemoryKiB)/(1<<20))
	fmt.Fprintf(b, "| kernel | Linux %s |\n", m.Kernel)
	fmt.Fprintf(b, "| Go | %s |\n", m.GoVersion)
	fmt.Fprintf(b, "| dnscert measured | %s |\n", r.Binary)
	fmt.Fprintf(b, "| load average (1, 5, 15 min) | %s at the start, %s at the end |\n", m.LoadStart, m.LoadEnd)
	u := r.CPU
	capacity := u.ElapsedSeconds * float64(m.CPUs)
	fmt.Fprintf(b, "| CPU time during the run | %.0f s of %.0f s available: %.0f s by the benchmark and its child processes, %.0f s by other processes, %.0f s stolen by the hypervisor |\n\n",
		u.BusySeconds, capacity, u.OwnSeconds, u.OtherSeconds, u.StealSeconds)
	if capacity > 0 && u.OtherSeconds/capacity > 0.05 {
		fmt.Fprintf(b, "Other work used %.0f%% of the machine's CPU time during the run, so the times below include some contention.\n\n",
			100*u.OtherSeconds/capacity)
	}
}

func writeSummary(b *strings.Builder, stats []caseStats) {
	b.WriteString("## Results\n\n")
	b.WriteString("Wall time is that of whole processes, from start to exit. The runs column counts the successful " +
		"dnscert runs, with the failed dnscert and floor runs, which are left out, in brackets. " +
		"Peak RSS is the largest of the runs. The counts are medians per run, with the range when runs differ. " +
		"Provider calls count publish and cleanup, UPDATEs are the RFC 2136 messages the primary received, " +
		"and Pebble counts the ACME requests and TLS connections.\n\n")
	b.WriteString("| case | names | runs | dnscert median (min–max) | floor median | ratio | peak RSS | CPU time, dnscert / floor | provider calls | UPDATEs | DNS queries | ACME requests, dnscert / floor | TLS connections, dnscert / floor |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, s := range stats {
		runs := strconv.Itoa(len(s.ok))
		if s.failed > 0 {
			runs += fmt.Sprintf(" (%d failed)", s.failed)
		}
		fmt.Fprintf(b, "| %s | %d | %s | %s s (%s–%s) | %s s | %s | %.1f MiB | %s / %s s | %s | %s | %s | %s / %s | %s / %s |\n",
			s.c.Title, s.c.NameCount(), runs,
			secs(s.wallMedian), secs(s.wallMin), secs(s.wallMax), secs(s.floorMedian), ratio(s.ratio),
			float64(s.peakRSSKiB)/1024, secs(s.cpuMedian), secs(s.floorCPUMedian),
			count(s.providerCalls), count(s.updates), count(s.queries),
			count(s.acme), count(s.floorACME), count(s.connections), count(s.floorConnections))
	}
	b.WriteString("\n")
}

func writeSteps(b *strings.Builder, stats []caseStats) {
	b.WriteString("## Step medians\n\n")
	b.WriteString("Seconds, median over the runs. The floor has no plan, cleanup or store step. " +
		"dnscert removes its records (cleanup) while it finalizes the order, " +
		"so cleanup overlaps finalize. *other* is time inside the process's own total that no other step covers " +
		"(dnscert: journal, stale-record recovery, key generation, profile check, and any part of cleanup that outlasts finalize). " +
		"*process* is wall time outside that total (exec, Go runtime start, flag parsing, output, exit).\n\n")
	cols := components()
	b.WriteString("| case | client | " + strings.Join(cols, " | ") + " |\n")
	b.WriteString("| --- | --- |" + strings.Repeat(" ---: |", len(cols)) + "\n")
	for _, s := range stats {
		for _, row := range []struct {
			client string
			runs   []runResult
		}{{"dnscert", s.ok}, {"floor", s.floorOK}} {
			cells := make([]string, 0, len(cols))
			for _, c := range cols {
				if v, ok := componentMedian(row.runs, c); ok {
					cells = append(cells, fmt.Sprintf("%.3f", v))
				} else {
					cells = append(cells, "–")
				}
			}
			fmt.Fprintf(b, "| %s | %s | %s |\n", s.c.Title, row.client, strings.Join(cells, " | "))
		}
	}
	b.WriteString("\n")
}

// share is one component's part of a wall time, or its difference from the
// floor.
type share struct {
	name    string
	seconds float64
}

// largest returns the components of dnscert's runs, largest median first.
func largest(runs []runResult) []share {
	var out []share
	for _, c := range components() {
		if v, ok := componentMedian(runs, c); ok {
			out = append(out, share{c, v})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].seconds > out[j].seconds })
	return out
}

// excess returns the components where dnscert's median exceeds the
// floor's by more than 5 ms, largest first. A sequential step the floor
// lacks counts whole.
func excess(s caseStats) []share {
	var out []share
	for _, c := range components() {
		if c == overlappingStep {
			continue
		}
		d, ok := componentMedian(s.ok, c)
		if !ok {
			continue
		}
		f, _ := componentMedian(s.floorOK, c)
		if d-f > 0.005 {
			out = append(out, share{c, d - f})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].seconds > out[j].seconds })
	return out
}

func formatShares(shares []share, n int, sign string) string {
	parts := make([]string, 0, n)
	for i, sh := range shares {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s%.3f s", sh.name, sign, sh.seconds))
	}
	return strings.Join(parts, ", ")
}

func writeDominance(b *strings.Builder, stats []caseStats) {
	b.WriteString("## What dominates\n\n")
	for _, s := range stats {
		if len(s.ok) == 0 {
			fmt.Fprintf(b, "- **%s**: every dnscert run failed.\n", s.c.Title)
			continue
		}
		top := largest(s.ok)
		fmt.Fprintf(b, "- **%s**: %s of %s s", s.c.Title, formatShares(top, 3, ""), secs(s.wallMedian))
		if top[0].seconds > 0 {
			fmt.Fprintf(b, " (%s is %.0f%%)", top[0].name, 100*top[0].seconds/s.wallMedian)
		}
		ex := excess(s)
		if len(ex) > 0 && !math.IsNaN(s.floorMedian) {
			fmt.Fprintf(b, ". Beyond the floor (%+.3f s in total): %s", s.wallMedian-s.floorMedian, formatShares(ex, 4, "+"))
		}
		if conns, floorConns := median(s.connections), median(s.floorConnections); conns > 1.2*floorConns && conns-floorConns >= 10 {
			fmt.Fprintf(b, ". dnscert opened %.0f TLS connections to the CA, the floor %.0f", conns, floorConns)
		}
		b.WriteString(".\n")
	}
	b.WriteString("\n")
}

func writeTargets(b *strings.Builder, stats []caseStats) {
	b.WriteString("## Targets\n\n")
	b.WriteString("| target | case | measured | verdict |\n| --- | --- | --- | --- |\n")
	for _, s := range stats {
		if len(s.ok) == 0 {
			fmt.Fprintf(b, "| any | %s | every run failed | missed |\n", s.c.Title)
			continue
		}
		if s.c.Lag == 0 {
			verdict := metOrMissed(s.ratio <= maxFloorRatio)
			if s.ratio > maxFloorRatio {
				verdict += ": " + formatShares(excess(s), 3, "+") + " beyond the floor"
			}
			fmt.Fprintf(b, "| at most %.1f× the floor | %s | %s (%s s vs %s s) | %s |\n",
				maxFloorRatio, s.c.Title, ratio(s.ratio), secs(s.wallMedian), secs(s.floorMedian), verdict)
		} else {
			prop := collect(s.ok, func(r runResult) float64 { v, _ := component(r, "propagation"); return v })
			over := median(prop) - s.c.Lag.Seconds()
			worst := slices.Max(prop) - s.c.Lag.Seconds()
			fmt.Fprintf(b, "| propagation wait ends within %.0f s of the late server serving | %s | propagation %s s − lag %s s = %s s (worst run %s s) | %s |\n",
				maxLagOvershoot.Seconds(), s.c.Title, secs(median(prop)), secs(s.c.Lag.Seconds()), secs(over), secs(worst),
				metOrMissed(over <= maxLagOvershoot.Seconds()))
		}
		q := s.queriesPerNameServer()
		fmt.Fprintf(b, "| at most %d DNS queries per name and nameserver | %s | %s queries / (%s × %s) = %.2f | %s |\n",
			maxQueriesPerNameServer, s.c.Title, count(s.queries), plural(s.c.NameCount(), "name"), plural(nameserversPerZone, "nameserver"), q,
			metOrMissed(q <= maxQueriesPerNameServer))
		if s.c.ID == profiledCase {
			calls := slices.Max(s.providerCalls)
			fmt.Fprintf(b, "| at most 2 provider calls to publish and 2 to clean up | %s | %s calls, %s UPDATE messages at the primary | %s |\n",
				s.c.Title, count(s.providerCalls), count(s.updates), metOrMissed(calls <= maxProviderCalls))
			peak := float64(s.peakRSSKiB) * 1024
			fmt.Fprintf(b, "| peak RSS under %d MB | %s | %.1f MB (%.1f MiB) | %s |\n",
				maxRSSBytes/1_000_000, s.c.Title, peak/1e6, peak/(1<<20), metOrMissed(peak < maxRSSBytes))
		}
	}
	b.WriteString("\n")
	fmt.Fprintf(b, "The constant for DNS queries is %d per name and nameserver: a propagation check needs at least one "+
		"query per name and nameserver, and finding each name's zone takes a few more.\n\n", maxQueriesPerNameServer)
	for _, s := range stats {
		if s.c.Lag > 0 {
			b.WriteString("The lag case's propagation step starts when the publish step ends. The late server's delay " +
				"starts a little earlier, when the primary applied the update, so the overshoot shown is a " +
				"lower bound. Adding the whole publish step (a few milliseconds) gives an upper bound.\n\n")
			break
		}
	}
}

func writeProfile(b *strings.Builder, cr *caseResult) {
	p := cr.Profile
	fmt.Fprintf(b, "## Profile: %s\n\n", cr.Case.Title)
	fmt.Fprintf(b, "%s run one after another in one process through `cli.Run`, the code path of the binary, "+
		"under `runtime/pprof`; Pebble and the DNS servers run in the parent process and are not in the profile. "+
		"Order wall times: %s s; CPU time of the process: %s s. Allocations are sampled every %d KiB.\n\n",
		plural(p.Orders, "order"), joinSecs(p.WallSeconds), secs(p.CPUSeconds), profileMemRate>>10)
	for _, t := range []struct {
		title, text string
		cum         bool
	}{
		{"CPU, top 10 by flat time", p.CPUByFlat, false},
		{"CPU, top 10 by cumulative time", p.CPUByCum, true},
		{"CPU of dnscert's own functions, top 10 by cumulative time (callees included)", p.OwnByCum, true},
		{"Allocated bytes, top 10 by flat", p.AllocsByFlat, false},
		{"Allocated bytes, top 10 by cumulative", p.AllocsByCum, true},
	} {
		fmt.Fprintf(b, "%s. Largest: %s.\n\n```\n%s\n```\n\n", t.title, topEntries(t.text, 4, t.cum), t.text)
	}
}

// topEntries returns the first n rows of a go tool pprof -top table as
// "name (share)", with the flat or the cumulative share.
func topEntries(table string, n int, cum bool) string {
	var out []string
	inRows := false
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if !inRows {
			inRows = len(f) >= 5 && f[0] == "flat" && f[1] == "flat%"
			continue
		}
		if len(f) < 6 || len(out) == n {
			break
		}
		share := f[1]
		if cum {
			share = f[4]
		}
		out = append(out, fmt.Sprintf("`%s` (%s)", strings.Join(f[5:], " "), share))
	}
	return strings.Join(out, ", ")
}

func writeMethod(b *strings.Builder) {
	b.WriteString(`## Method

- Each case gets its own test bed: the DNS network of ` + "`internal/testbed`" + ` and Pebble in the benchmark
  process. Pebble runs with no validation sleep, no nonce rejection, Retry-After 1 s for authorizations
  and orders, authorization reuse off, and one profile, "default", which every order requests. Every zone has two
  nameservers, 127.0.0.11 and 127.0.0.12, fed by a hidden primary that takes TSIG-signed RFC 2136
  updates. In the lag case 127.0.0.12 serves each update 2 s after the primary applied it.
- Pebble 2.10 sends each Retry-After as delta-seconds or, at random, as an HTTP date with one-second
  resolution, which turns the 1 s wait into a random 0 to 1 s. The benchmark rewrites the date form to
  "1" so every run waits the same.
- Pebble resolves through a resolver of the benchmark that retries the root and each zone's other
  nameserver after 250 ms. In 100-name orders Pebble starts 3 lookups per name at once, and the kernel
  drops some of those UDP datagrams on full receive buffers; the test bed's own resolver would repeat
  them over TCP only after its one-second timeout, which would add noise to the times.
- Every order, measured or not, has zones of its own (such as ` + "`san100-d3.test.`" + `), so no run finds
  records or authorizations of another, and the floor client need not remove its records.
- Account: one warm-up ` + "`dnscert issue`" + ` per test bed registers the account. Each later run, dnscert or
  floor, starts with a fresh ` + "`--path`" + ` holding a copy of that accounts directory, so every run loads the
  same stored account and none registers. A floor warm-up order follows; neither warm-up is measured.
- Measured runs alternate which client goes first. Each is a separate process, started by a small
  launcher process (` + "`bench launch`" + `) that measures its wall time from start to exit and reads its peak RSS
  and CPU time from wait4(2). Linux counts in a process's peak RSS the memory of the image it had before
  exec, so a process started directly by the benchmark, which holds Pebble, would report at least the
  benchmark's own peak.
- The floor client (` + "`bench floor`" + `, built into the same binary as the benchmark) uses the same ACME
  library as dnscert (` + "`github.com/mholt/acmez/v3/acme`" + `) with its default polling: a first poll 250 ms
  after responding to a challenge, then Retry-After. It creates the order and fetches all authorizations at
  once. It sends one TSIG-signed UPDATE per zone to the primary, which applies an update before it sends
  the response, and waits until both nameservers serve every value. Then it responds to all challenges at
  once, polls each authorization, finalizes with a P-256 CSR and downloads the chain. Its HTTP transport keeps as
  many idle connections as there are names, so each wave of parallel requests reuses the connections of
  the one before.
- The floor's wait (its propagation step) queries both nameservers for every name at once, in rounds
  10 ms apart. Without lag one round suffices and costs a few milliseconds. It cannot be left out: the
  primary copies an update to the nameservers asynchronously even with no delay, and a floor that
  trusted the primary's response alone once failed because Pebble's lookup arrived first. In the lag case
  the wait ends within 10 ms of the late server serving, so the floor there is the 2 s lag plus the ACME
  round trips.
- dnscert's counts come from its ` + "`--json`" + ` output. Pebble counts ACME requests and client connections,
  and since its test server speaks HTTP/1.1 only, each connection is one TLS handshake. The primary counts
  UPDATE messages.
- The profile runs the 100-SAN orders in a child process, so the CPU profile holds dnscert's work and
  not Pebble's.

`)
}

// writeMeasurementNotes writes the limits of the figures: the lowest peak
// RSS the launcher can report, and the UDP datagrams dropped and the
// warnings of the test bed during the measured runs.
func writeMeasurementNotes(b *strings.Builder, cases []*caseResult) {
	var hwm int64
	var drops [2]int64
	warnings := 0
	for _, cr := range cases {
		for i, runs := range [][]runResult{cr.DNSCert, cr.Floor} {
			for _, r := range runs {
				hwm = max(hwm, r.LauncherHWMKiB)
				drops[i] += max(r.UDPDrops, 0)
			}
		}
		warnings += cr.BedWarnings
	}
	b.WriteString("## Measurement notes\n\n")
	fmt.Fprintf(b, "- Peak RSS cannot read lower than %.1f MiB, the launcher's own peak when it started the process.\n", float64(hwm)/1024)
	fmt.Fprintf(b, "- UDP datagrams the kernel dropped on full receive buffers during measured runs (RcvbufErrors, whole machine): "+
		"%d in dnscert runs, %d in floor runs. Pebble's resolver retries a lost query after %d ms.\n",
		drops[0], drops[1], caResolverUpstreamTimeout.Milliseconds())
	fmt.Fprintf(b, "- Warnings logged by the test bed's servers, such as failed resolutions: %d.\n\n", warnings)
}

func writeFailures(b *strings.Builder, cases []*caseResult) {
	var lines []string
	for _, cr := range cases {
		for _, group := range []struct {
			client string
			runs   []runResult
		}{{"dnscert", cr.DNSCert}, {"floor", cr.Floor}} {
			for _, r := range group.runs {
				if r.Error != "" {
					lines = append(lines, fmt.Sprintf("- %s, %s run %s: %s", cr.Case.Title, group.client, r.Tag, strings.ReplaceAll(r.Error, "\n", " ")))
				}
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("## Failed runs\n\nThese runs are left out of every figure above.\n\n")
	b.WriteString(strings.Join(lines, "\n") + "\n\n")
}

// plural returns "1 name" or "2 names".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func metOrMissed(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func secs(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.3f", v)
}

func joinSecs(vs []float64) string {
	parts := make([]string, 0, len(vs))
	for _, v := range vs {
		parts = append(parts, secs(v))
	}
	return strings.Join(parts, ", ")
}

func ratio(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

// count formats the median of integer counts, with the range when the runs
// differ.
func count(vs []float64) string {
	if len(vs) == 0 {
		return "–"
	}
	lo, hi := slices.Min(vs), slices.Max(vs)
	if lo == hi {
		return fmt.Sprintf("%.0f", lo)
	}
	return fmt.Sprintf("%g (%.0f–%.0f)", median(vs), lo, hi)
}
