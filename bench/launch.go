package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// launchStats contains the measurements the launch subcommand takes of its
// child.
type launchStats struct {
	WallSeconds float64 `json:"wall_seconds"`
	MaxRSSKiB   int64   `json:"max_rss_kib"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	ExitCode    int     `json:"exit_code"`
	// LauncherHWMKiB is the launcher's own peak RSS when it started the
	// child, the lowest MaxRSSKiB it can report.
	LauncherHWMKiB int64 `json:"launcher_hwm_kib"`
}

// runLaunch is the "launch" subcommand: it runs the command after "--"
// with this process's standard streams and writes its wall time, peak RSS
// and CPU time to the -stats file.
//
// The benchmark starts every measured process through it because Linux
// folds the high-water RSS of the image a process leaves at exec into that
// process's ru_maxrss (exec_mmap calls setmax_mm_hiwater_rss). A child of
// the benchmark, which holds Pebble and the DNS servers, would report at
// least the benchmark's own peak. A child of this small process reports
// at least LauncherHWMKiB instead.
func runLaunch(args []string) int {
	fs := flag.NewFlagSet("launch", flag.ContinueOnError)
	statsFile := fs.String("stats", "", "file to write the measurements to, as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	argv := fs.Args()
	if *statsFile == "" || len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "bench launch: give -stats FILE -- COMMAND [ARG...]")
		return 2
	}
	stats, err := launch(argv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench launch:", err)
		return 1
	}
	data, err := json.Marshal(stats)
	if err == nil {
		err = os.WriteFile(*statsFile, data, 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench launch:", err)
		return 1
	}
	return stats.ExitCode
}

func launch(argv []string) (launchStats, error) {
	// Pdeathsig fires when the thread that started the child exits, so
	// that thread must outlive the child: a goroutine locked to its thread
	// keeps it until the goroutine ends.
	runtime.LockOSThread()
	stats := launchStats{LauncherHWMKiB: selfHWMKiB()}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	// The child dies with the launcher, also when the launcher is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	// Pass on a termination request; the child's exit then ends the wait.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(signals)

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return stats, err
	}
	go func() {
		for sig := range signals {
			_ = cmd.Process.Signal(sig)
		}
	}()
	err := cmd.Wait()
	stats.WallSeconds = time.Since(start).Seconds()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return stats, err
	}
	stats.ExitCode = cmd.ProcessState.ExitCode()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		stats.MaxRSSKiB = ru.Maxrss
		stats.CPUSeconds = timevalSeconds(ru.Utime) + timevalSeconds(ru.Stime)
	}
	return stats, nil
}

// selfHWMKiB returns VmHWM from /proc/self/status: the peak RSS of this
// process image, which exec resets. It returns 0 when it cannot be read.
func selfHWMKiB() int64 {
	f := strings.Fields(procField("/proc/self/status", "VmHWM"))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(f[0], 10, 64)
	return n
}
