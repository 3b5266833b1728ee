// Command bench measures how long dnscert takes to obtain a certificate
// through the dns-01 challenge, against Pebble and loopback DNS servers in
// this process. It compares that with a minimal ACME client that makes only
// the protocol round trips (the floor) and writes the results page.
//
//	go run ./bench                 # every case, 5 runs each
//	go run ./bench -runs 1 -cases one,san10
//
// Run it from the repository root. Every server it starts listens on
// 127.0.0.x; nothing leaves the machine. Three subcommands are the child
// processes it starts: "launch" (measures one process), "floor" (the
// minimal client) and "profile" (dnscert in-process under runtime/pprof).
package main

import (
	"context"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "floor":
			os.Exit(runFloor(os.Args[2:]))
		case "profile":
			os.Exit(runProfile(os.Args[2:]))
		case "launch":
			os.Exit(runLaunch(os.Args[2:]))
		}
	}
	os.Exit(runBench(os.Args[1:]))
}

// benchOptions are the flags of the benchmark itself.
type benchOptions struct {
	runs         int
	cases        []benchCase
	out          string
	rawOut       string
	render       string
	dnscert      string
	workDir      string
	keep         bool
	profileRuns  int
	floorIdle    int
	runTimeout   time.Duration
	totalTimeout time.Duration
}

func parseBenchOptions(args []string) (*benchOptions, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := &benchOptions{}

	caseList := fs.String("cases", strings.Join(caseIDs(allCases), ","), "comma-separated cases to run: "+strings.Join(caseIDs(allCases), ", "))
	fs.IntVar(&o.runs, "runs", 5, "measured runs per case, for dnscert and for the floor client each")
	fs.StringVar(&o.out, "out", filepath.Join("docs", "benchmarks.md"), "results page to write; empty prints it on stdout")
	fs.StringVar(&o.rawOut, "raw", "", "also write every run as JSON to this file")
	fs.StringVar(&o.render, "render", "", "write the page from the JSON file of an earlier -raw run instead of running the benchmark")
	fs.StringVar(&o.dnscert, "dnscert", "", "dnscert binary to measure (default: build ./cmd/dnscert into the work directory)")
	fs.StringVar(&o.workDir, "work", "", "directory for storage paths, profiles and the binary, kept at exit (default: a new temporary directory, removed at exit)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary work directory at exit")
	fs.IntVar(&o.profileRuns, "profile-runs", 5, "orders of the 100-SAN case run in-process under pprof; 0 skips profiling")
	fs.IntVar(&o.floorIdle, "floor-idle-conns", 0, "idle HTTP connections the floor client keeps to the CA; 0 means one per name, 2 is Go's default")
	fs.DurationVar(&o.runTimeout, "run-timeout", 3*time.Minute, "limit for each child process")
	fs.DurationVar(&o.totalTimeout, "timeout", 45*time.Minute, "limit for the whole benchmark")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q; give options only (see -h)", fs.Arg(0))
	}

	if o.runs < 1 || o.runs > 100 {
		return nil, fmt.Errorf("invalid -runs %d: give 1 to 100", o.runs)
	}
	if o.floorIdle < 0 {
		return nil, fmt.Errorf("invalid -floor-idle-conns %d: give 0 or more", o.floorIdle)
	}
	if o.profileRuns < 0 || o.profileRuns > 20 {
		return nil, fmt.Errorf("invalid -profile-runs %d: give 0 to 20", o.profileRuns)
	}
	var err error
	if o.cases, err = selectCases(*caseList); err != nil {
		return nil, err
	}
	return o, nil
}

func runBench(args []string) int {
	opts, err := parseBenchOptions(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if _, err := os.Stat("go.mod"); err != nil {
		fmt.Fprintln(os.Stderr, "bench: go.mod not found in the current directory; run go run ./bench from the repository root")
		return 2
	}
	if opts.render != "" {
		if err := renderRaw(opts); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, opts.totalTimeout)
	defer cancel()

	if err := bench(ctx, opts); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func bench(ctx context.Context, opts *benchOptions) error {
	work := opts.workDir
	if work == "" {
		dir, err := os.MkdirTemp("", "dnscert-bench-")
		if err != nil {
			return err
		}
		work = dir
		// Only a directory the benchmark created is removed.
		if !opts.keep {
			defer os.RemoveAll(work)
		}
	}
	if opts.keep || opts.workDir != "" {
		progress("work directory %s is kept", work)
	}

	binary := opts.dnscert
	if binary == "" {
		binary = filepath.Join(work, "dnscert")
		progress("building %s", binary)
		// -buildvcs=auto overrides a GOFLAGS=-buildvcs=false, so the
		// binary records the commit that describeBinary reports.
		if err := goCommand(ctx, "build", "-buildvcs=auto", "-o", binary, "github.com/dnscert/dnscert/cmd/dnscert"); err != nil {
			return fmt.Errorf("building dnscert: %w", err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the bench binary for its subcommands: %w", err)
	}

	report := &report{
		Command: commandLine(),
		Started: time.Now(),
		Machine: readMachine(),
		Runs:    opts.runs,
		Binary:  describeBinary(binary),
	}
	cpuBefore := readCPUTimes()

	for _, c := range opts.cases {
		res, err := runCase(ctx, c, caseEnv{
			binary:         binary,
			self:           self,
			work:           filepath.Join(work, c.ID),
			runs:           opts.runs,
			runTimeout:     opts.runTimeout,
			profileRuns:    profileRunsFor(c, opts.profileRuns),
			floorIdleConns: opts.floorIdle,
		})
		if err != nil {
			return fmt.Errorf("case %s: %w", c.ID, err)
		}
		report.Cases = append(report.Cases, res)
		runtime.GC()
	}

	report.Finished = time.Now()
	report.CPU = cpuBefore.since(readCPUTimes())
	report.Machine.LoadEnd = readLoadAvg()
	return writeOutputs(report, opts)
}

// profileRunsFor returns how many orders to profile for case c: only the
// 100-SAN case in one zone is profiled.
func profileRunsFor(c benchCase, n int) int {
	if c.ID == profiledCase {
		return n
	}
	return 0
}

// renderRaw writes the page of an earlier run from its -raw file.
func renderRaw(opts *benchOptions) error {
	var r report
	if err := readJSON(opts.render, &r); err != nil {
		return fmt.Errorf("reading -render %s: %w", opts.render, err)
	}
	opts.rawOut = ""
	return writeOutputs(&r, opts)
}

func writeOutputs(r *report, opts *benchOptions) error {
	page := r.markdown()
	if opts.out == "" {
		if _, err := os.Stdout.WriteString(page); err != nil {
			return err
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(opts.out), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(opts.out, []byte(page), 0o644); err != nil {
			return err
		}
		progress("wrote %s", opts.out)
	}
	if opts.rawOut != "" {
		if err := writeRaw(opts.rawOut, r); err != nil {
			return err
		}
		progress("wrote %s", opts.rawOut)
	}
	return nil
}

// describeBinary returns the Git commit a Go binary was built from, with
// "plus uncommitted changes" when the working tree differed, from the build
// information the go command embeds.
func describeBinary(path string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return path + " (no build information: " + err.Error() + ")"
	}
	settings := make(map[string]string)
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	revision := settings["vcs.revision"]
	if revision == "" {
		return info.Main.Path + " " + info.Main.Version + ", commit unknown"
	}
	desc := "commit " + revision[:min(12, len(revision))] + " (" + settings["vcs.time"] + ")"
	if settings["vcs.modified"] == "true" {
		desc += " plus uncommitted changes"
	}
	return desc
}

// commandLine returns the command as a reader would type it: "go run
// ./bench" and the options given.
func commandLine() string {
	parts := append([]string{"go", "run", "./bench"}, os.Args[1:]...)
	return strings.Join(parts, " ")
}

// progress writes one line about the benchmark's progress to stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
