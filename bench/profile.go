package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/dnscert/dnscert/internal/cli"
)

// profileMemRate is the allocation sampling rate of the profile process:
// one sample per 64 KiB allocated, finer than the runtime's default of
// 512 KiB, so the smaller allocation sites of a 100-SAN order show up.
const profileMemRate = 64 << 10

// profileResult is the profile of the profiled case and its summaries.
type profileResult struct {
	Orders       int       `json:"orders"`
	WallSeconds  []float64 `json:"wall_seconds"`
	CPUSeconds   float64   `json:"cpu_seconds"`
	CPUByFlat    string    `json:"cpu_by_flat"`
	CPUByCum     string    `json:"cpu_by_cum"`
	AllocsByFlat string    `json:"allocs_by_flat"`
	AllocsByCum  string    `json:"allocs_by_cum"`
	// OwnByCum is the CPU table of dnscert's own functions only.
	OwnByCum string `json:"own_by_cum"`
}

// runProfile runs the profile orders of the case in a child process, so
// the profile holds dnscert's work only and not that of Pebble and the DNS
// servers in this process, then summarizes the profiles with go tool pprof.
func (r *caseRunner) runProfile(ctx context.Context) (*profileResult, error) {
	dir := filepath.Join(r.work, "profile")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var orders [][]string
	for i := 1; i <= r.profileRuns; i++ {
		tag := runTag("p", i)
		path, err := r.storagePath(tag)
		if err != nil {
			return nil, err
		}
		orders = append(orders, append(r.bed.IssueArgs(path, r.c.names(tag)...), "--json"))
	}
	ordersFile := filepath.Join(dir, "orders.json")
	data, err := json.Marshal(orders)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(ordersFile, data, 0o600); err != nil {
		return nil, err
	}
	cpuFile := filepath.Join(dir, "cpu.pprof")
	allocsFile := filepath.Join(dir, "allocs.pprof")

	progress("case %s: profiling %d orders in-process", r.c.ID, len(orders))
	res := r.measure(ctx, "profile", []string{r.self, "profile",
		"-orders", ordersFile, "-cpu", cpuFile, "-allocs", allocsFile})
	if res.Error != "" {
		return nil, errors.New(res.Error)
	}
	pr := &profileResult{Orders: len(orders), CPUSeconds: res.CPUSeconds, WallSeconds: []float64{}}
	for _, s := range res.Steps {
		pr.WallSeconds = append(pr.WallSeconds, s.Seconds)
	}
	tops := []struct {
		out  *string
		args []string
	}{
		{&pr.CPUByFlat, []string{cpuFile}},
		{&pr.CPUByCum, []string{"-cum", cpuFile}},
		{&pr.OwnByCum, []string{"-cum", "-show=^github.com/dnscert/", cpuFile}},
		{&pr.AllocsByFlat, []string{"-sample_index=alloc_space", allocsFile}},
		{&pr.AllocsByCum, []string{"-sample_index=alloc_space", "-cum", allocsFile}},
	}
	for _, t := range tops {
		if *t.out, err = pprofTop(ctx, t.args...); err != nil {
			return nil, err
		}
	}
	return pr, nil
}

// pprofTop returns the top 10 table of go tool pprof for a profile, without
// the lines that name the local binary and file.
func pprofTop(ctx context.Context, args ...string) (string, error) {
	full := append([]string{"tool", "pprof", "-top", "-nodecount=10"}, args...)
	cmd := exec.CommandContext(ctx, "go", full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s: %w: %s", strings.Join(full, " "), err, stderr.String())
	}
	var kept []string
	for _, line := range strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "File: ") || strings.HasPrefix(line, "Build ID: ") {
			continue
		}
		kept = append(kept, line)
	}
	return strings.Join(kept, "\n"), nil
}

// runProfile is the "profile" subcommand: it runs each command line of
// -orders through cli.Run, the code path of the dnscert binary, under the
// CPU profiler, then writes the allocation profile. Its output has the
// shape the benchmark reads from dnscert, with one step per order.
func runProfile(args []string) int {
	runtime.MemProfileRate = profileMemRate
	fs := flag.NewFlagSet("profile", flag.ContinueOnError)
	ordersFile := fs.String("orders", "", "JSON file with one dnscert command line per order")
	cpuFile := fs.String("cpu", "", "CPU profile to write")
	allocsFile := fs.String("allocs", "", "allocation profile to write")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := profileOrders(*ordersFile, *cpuFile, *allocsFile); err != nil {
		fmt.Fprintln(os.Stderr, "bench profile:", err)
		_ = json.NewEncoder(os.Stdout).Encode(processOutput{Error: err.Error()})
		return 1
	}
	return 0
}

func profileOrders(ordersFile, cpuFile, allocsFile string) error {
	data, err := os.ReadFile(ordersFile)
	if err != nil {
		return err
	}
	var orders [][]string
	if err := json.Unmarshal(data, &orders); err != nil {
		return fmt.Errorf("%s: %w", ordersFile, err)
	}
	cpu, err := os.Create(cpuFile)
	if err != nil {
		return err
	}
	defer cpu.Close()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return err
	}
	out := processOutput{OK: true}
	start := time.Now()
	for i, args := range orders {
		var stdout, stderr bytes.Buffer
		orderStart := time.Now()
		code := cli.Run(context.Background(), args, cli.Streams{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &lockedWriter{w: &stderr}})
		if code != cli.ExitOK {
			pprof.StopCPUProfile()
			return fmt.Errorf("order %d exited with %d: %s", i+1, code, lastLines(stderr.String(), 5))
		}
		out.Steps = append(out.Steps, stepTime{Step: fmt.Sprintf("order %d", i+1), Seconds: time.Since(orderStart).Seconds()})
	}
	pprof.StopCPUProfile()
	out.TotalSeconds = time.Since(start).Seconds()

	allocs, err := os.Create(allocsFile)
	if err != nil {
		return err
	}
	defer allocs.Close()
	if err := pprof.Lookup("allocs").WriteTo(allocs, 0); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// lockedWriter serializes the writes of the logger's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
