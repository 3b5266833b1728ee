package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Poll interval bounds of a waiting [Store.Lock]. Each wait is chosen at
// random between them, so that several waiting processes do not poll in
// lockstep.
const (
	lockPollMin = 100 * time.Millisecond
	lockPollMax = 250 * time.Millisecond
)

// lockHolder is the content of a lock file while it is held.
type lockHolder struct {
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

// Lock takes the exclusive lock name, a file <root>/locks/<name>.lock locked
// with flock(2), and writes the PID of this process and the current time into
// it. The name must be valid according to [ValidateName].
//
// If another process holds the lock and wait is false, Lock returns an error
// wrapping [ErrLocked] that names the holder's PID and since when it holds the
// lock. If wait is true, Lock polls every 100 to 250 ms until it gets the lock
// or ctx is done. Two Lock calls in the same process also exclude each other,
// because flock locks belong to the open file.
//
// The kernel releases the lock when the holding process exits, however it
// ends, so a lock file left behind by a crashed or killed process does not
// block anyone. The file descriptor is close-on-exec, so child processes do
// not inherit the lock.
//
// unlock releases the lock and clears the holder information. It leaves the
// file in place: removing it could let one process lock the removed file while
// another locks a new file of the same name. Calling unlock again returns nil.
func (s *Store) Lock(ctx context.Context, name string, wait bool) (unlock func() error, err error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	dir, err := s.ensureDirs(locksDir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name+".lock")
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}

	if err := acquireFlock(ctx, f, path, wait); err != nil {
		_ = f.Close()
		return nil, err
	}

	holder, err := json.Marshal(lockHolder{PID: os.Getpid(), Since: time.Now().UTC()})
	if err == nil {
		err = writeLockFile(f, holder)
	}
	if err != nil {
		// Closing the file releases the lock.
		_ = f.Close()
		return nil, fmt.Errorf("write lock file %s: %w", path, err)
	}

	var once sync.Once
	var unlockErr error
	unlock = func() error {
		once.Do(func() {
			// Clearing the content while the lock is still held cannot
			// erase another holder's information.
			truncErr := f.Truncate(0)
			flockErr := flock(f, syscall.LOCK_UN)
			closeErr := f.Close()
			if err := errors.Join(truncErr, flockErr, closeErr); err != nil {
				unlockErr = fmt.Errorf("unlock %s: %w", path, err)
			}
		})
		return unlockErr
	}
	return unlock, nil
}

// openLockFile opens the lock file at path and creates it with mode 0644 if
// it does not exist.
func openLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, publicPerm)
	if err == nil {
		// OpenFile applies the umask, so the mode is set explicitly.
		if err := f.Chmod(publicPerm); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("set mode %#o on lock file %s: %w", publicPerm, path, err)
		}
		return f, nil
	}
	if !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create lock file %s: %w", path, err)
	}
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", path, err)
	}
	return f, nil
}

// acquireFlock takes the exclusive flock on f, polling while wait is true and
// ctx is not done.
func acquireFlock(ctx context.Context, f *os.File, path string, wait bool) error {
	for {
		err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("lock %s: %w", path, err)
		}
		if !wait {
			return fmt.Errorf("%w: %s is held by %s; wait until that process finishes", ErrLocked, path, describeHolder(path))
		}

		delay := lockPollMin + rand.N(lockPollMax-lockPollMin)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("wait for lock %s, held by %s: %w", path, describeHolder(path), context.Cause(ctx))
		case <-timer.C:
		}
	}
}

// flock calls flock(2) on f, retrying when a signal interrupts the call.
func flock(f *os.File, operation int) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var flockErr error
	err = conn.Control(func(fd uintptr) {
		for {
			flockErr = syscall.Flock(int(fd), operation)
			if !errors.Is(flockErr, syscall.EINTR) {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return flockErr
}

func writeLockFile(f *os.File, data []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt(append(data, '\n'), 0)
	return err
}

// describeHolder returns the holder recorded in the lock file at path. The
// file is empty for a moment after another process takes the lock.
func describeHolder(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("another process (reading the holder failed: %v)", err)
	}
	var holder lockHolder
	if err := json.Unmarshal(data, &holder); err != nil || holder.PID == 0 {
		return "another process (its PID is not recorded yet)"
	}
	return fmt.Sprintf("process %d since %s", holder.PID, holder.Since.Local().Format(time.RFC3339))
}
