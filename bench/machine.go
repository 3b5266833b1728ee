package main

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// machine describes the host of a benchmark run.
type machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemoryKiB int64  `json:"memory_kib"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	// LoadStart and LoadEnd are /proc/loadavg at the start and the end.
	LoadStart string `json:"load_start"`
	LoadEnd   string `json:"load_end"`
}

func readMachine() machine {
	m := machine{
		CPUs:      runtime.NumCPU(),
		CPUModel:  procField("/proc/cpuinfo", "model name"),
		Kernel:    strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
		GoVersion: runtime.Version(),
		LoadStart: readLoadAvg(),
	}
	if f := strings.Fields(procField("/proc/meminfo", "MemTotal")); len(f) > 0 {
		m.MemoryKiB, _ = strconv.ParseInt(f[0], 10, 64)
	}
	return m
}

func readFile(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(data)
}

// procField returns the value of the first "key: value" line of a /proc
// file, or "unknown".
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func readLoadAvg() string {
	f := strings.Fields(readFile("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuTimes is a reading of the machine's CPU time counters and of the time
// this process and its waited-for children used, in seconds.
type cpuTimes struct {
	busy, steal, elapsed float64
	own                  float64
}

// cpuUsage is the machine's CPU time between two readings, split by user.
type cpuUsage struct {
	// ElapsedSeconds is the wall time; capacity is that times the CPUs.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// BusySeconds is the CPU time all processes used (not idle or
	// iowait), StealSeconds the time the hypervisor gave to other guests.
	BusySeconds  float64 `json:"busy_seconds"`
	StealSeconds float64 `json:"steal_seconds"`
	// OwnSeconds is the CPU time of the benchmark and its child processes.
	// OtherSeconds is the rest of BusySeconds, used by other work.
	OwnSeconds   float64 `json:"own_seconds"`
	OtherSeconds float64 `json:"other_seconds"`
}

// clockTicks is USER_HZ, the unit of /proc/stat. It is 100 on every Linux
// architecture Go supports.
const clockTicks = 100

func readCPUTimes() cpuTimes {
	var t cpuTimes
	t.busy, t.steal, t.elapsed = statTimes()
	var self, children syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) == nil && syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children) == nil {
		t.own = timevalSeconds(self.Utime) + timevalSeconds(self.Stime) +
			timevalSeconds(children.Utime) + timevalSeconds(children.Stime)
	}
	return t
}

// statTimes reads the aggregate "cpu" line of /proc/stat: the busy time,
// the steal time and the sum of all fields, each in seconds of CPU time.
func statTimes() (busy, steal, total float64) {
	sc := bufio.NewScanner(strings.NewReader(readFile("/proc/stat")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		// user nice system idle iowait irq softirq steal
		var v [8]float64
		for i := range v {
			n, _ := strconv.ParseFloat(f[i+1], 64)
			v[i] = n / clockTicks
		}
		for _, x := range v {
			total += x
		}
		busy = v[0] + v[1] + v[2] + v[5] + v[6]
		return busy, v[7], total
	}
	return 0, 0, 0
}

// since returns the usage from t to later.
func (t cpuTimes) since(later cpuTimes) cpuUsage {
	u := cpuUsage{
		BusySeconds:  later.busy - t.busy,
		StealSeconds: later.steal - t.steal,
		OwnSeconds:   later.own - t.own,
	}
	if cpus := float64(runtime.NumCPU()); cpus > 0 {
		u.ElapsedSeconds = (later.elapsed - t.elapsed) / cpus
	}
	u.OtherSeconds = max(u.BusySeconds-u.OwnSeconds, 0)
	return u
}
