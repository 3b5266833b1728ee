package storage

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLockSecondLockFailsNamingPID(t *testing.T) {
	store := newTestStore(t)
	unlock, err := store.Lock(t.Context(), "example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	_, err = store.Lock(t.Context(), "example.test", false)

	if !errors.Is(err, ErrLocked) {
		t.Errorf("error = %v, want ErrLocked", err)
	}
	assertErrorContains(t, err, "process "+strconv.Itoa(os.Getpid())+" since ", "example.test.lock")

	path := filepath.Join(store.Root(), "locks", "example.test.lock")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var holder lockHolder
	if err := json.Unmarshal(data, &holder); err != nil {
		t.Fatalf("lock file content %q: %v", data, err)
	}
	if holder.PID != os.Getpid() {
		t.Errorf("lock file PID = %d, want %d", holder.PID, os.Getpid())
	}
	if time.Since(holder.Since) > time.Minute {
		t.Errorf("lock file time = %v, want about now", holder.Since)
	}
	assertMode(t, filepath.Join(store.Root(), "locks"), 0o700)
	assertMode(t, path, 0o644)
}

func TestLockOtherNameIsFree(t *testing.T) {
	store := newTestStore(t)
	unlock, err := store.Lock(t.Context(), "a.example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	unlockOther, err := store.Lock(t.Context(), "b.example.test", false)
	if err != nil {
		t.Fatalf("lock of another name: %v", err)
	}
	if err := unlockOther(); err != nil {
		t.Fatal(err)
	}
}

func TestLockWaitsForUnlock(t *testing.T) {
	store := newTestStore(t)
	unlock, err := store.Lock(t.Context(), "example.test", false)
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		unlock func() error
		err    error
		at     time.Time
	}
	acquired := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		unlock, err := store.Lock(ctx, "example.test", true)
		acquired <- result{unlock, err, time.Now()}
	}()

	time.Sleep(300 * time.Millisecond)
	select {
	case r := <-acquired:
		t.Fatalf("waiting Lock returned while the lock was held: %v", r.err)
	default:
	}
	unlockedAt := time.Now()
	if err := unlock(); err != nil {
		t.Fatal(err)
	}

	r := <-acquired
	if r.err != nil {
		t.Fatalf("waiting Lock: %v", r.err)
	}
	if r.at.Before(unlockedAt) {
		t.Error("waiting Lock returned before the unlock")
	}
	if wait := r.at.Sub(unlockedAt); wait > time.Second {
		t.Errorf("waiting Lock took %v after the unlock, want at most one poll interval", wait)
	}
	if err := r.unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestLockWaitStopsAtDeadline(t *testing.T) {
	store := newTestStore(t)
	unlock, err := store.Lock(t.Context(), "example.test", false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()

	_, err = store.Lock(ctx, "example.test", true)

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want context.DeadlineExceeded", err)
	}
	assertErrorContains(t, err, "process "+strconv.Itoa(os.Getpid()))
}

func TestUnlockKeepsFileAndClearsHolder(t *testing.T) {
	store := newTestStore(t)
	unlock, err := store.Lock(t.Context(), "example.test", false)
	if err != nil {
		t.Fatal(err)
	}

	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Errorf("second unlock: %v, want nil", err)
	}

	path := filepath.Join(store.Root(), "locks", "example.test.lock")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("lock file after unlock: %v", err)
	}
	if len(data) != 0 {
		t.Errorf("lock file content after unlock = %q, want it empty", data)
	}
	relock, err := store.Lock(t.Context(), "example.test", false)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	if err := relock(); err != nil {
		t.Fatal(err)
	}
}

func TestLockInvalidName(t *testing.T) {
	store := newTestStore(t)

	_, err := store.Lock(t.Context(), "../example.test", false)

	if !errors.Is(err, ErrInvalidName) {
		t.Errorf("error = %v, want ErrInvalidName", err)
	}
}

// TestLockReleasedWhenHolderDies takes the lock in a child process, kills
// the child and checks that the kernel released the lock.
func TestLockReleasedWhenHolderDies(t *testing.T) {
	store := newTestStore(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(),
		helperEnv+"=lock",
		helperRootEnv+"="+store.Root(),
		helperNameEnv+"=example.test")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	waited := false
	t.Cleanup(func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read from helper process %d: %v", pid, err)
	}
	if strings.TrimSpace(line) != "locked" {
		t.Fatalf("helper process %d: %q, want locked", pid, line)
	}

	_, err = store.Lock(t.Context(), "example.test", false)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("lock held by process %d: error = %v, want ErrLocked", pid, err)
	}
	assertErrorContains(t, err, "process "+strconv.Itoa(pid)+" since ")

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waited = true

	unlock, err := store.Lock(t.Context(), "example.test", false)
	if err != nil {
		t.Fatalf("lock after process %d was killed: %v", pid, err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}
