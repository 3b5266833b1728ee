package dns01

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dnscert/dnscert/internal/atomicfile"
)

// Journal is the on-disk list of records one run has published or is about
// to publish. It is written (and fsynced) before each provider call, so a
// run that is killed leaves behind the exact values a later run must remove.
//
// Each journal is two files in one directory: ID.json with the records,
// rewritten atomically, and ID.lock, which the owning process holds with
// flock(2) for as long as it runs. The kernel releases that lock when the
// process dies, which is how a later run distinguishes a crashed run's
// journal from a live one.
type Journal struct {
	dir     string
	id      string
	lock    *os.File
	started time.Time

	mu      sync.Mutex
	records []Record
}

type journalFile struct {
	ID      string    `json:"id"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Records []Record  `json:"records"`
}

// OpenJournal creates a new, empty journal for this run in dir.
func OpenJournal(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating journal directory: %w", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	id := time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
	lock, err := os.OpenFile(filepath.Join(dir, id+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating journal lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("locking journal %s: %w", lock.Name(), err)
	}
	j := &Journal{dir: dir, id: id, lock: lock, started: time.Now().UTC()}
	if err := j.write(); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// Path returns the journal's record file.
func (j *Journal) Path() string {
	return filepath.Join(j.dir, j.id+".json")
}

// Add records values before they are published.
func (j *Journal) Add(records []Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, r := range records {
		if !slices.Contains(j.records, r) {
			j.records = append(j.records, r)
		}
	}
	return j.writeLocked()
}

// Remove drops values that have been deleted from DNS.
func (j *Journal) Remove(records []Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.records = slices.DeleteFunc(j.records, func(r Record) bool {
		return slices.Contains(records, r)
	})
	return j.writeLocked()
}

// Records returns the values the journal lists now.
func (j *Journal) Records() []Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.records)
}

// Close deletes the journal if it lists no record and releases its lock.
// A journal that still lists records stays on disk for the next run.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	var err error
	if len(j.records) == 0 {
		err = removeIfExists(j.Path())
		err = errors.Join(err, removeIfExists(j.lock.Name()))
	}
	return errors.Join(err, j.lock.Close())
}

func (j *Journal) write() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.writeLocked()
}

func (j *Journal) writeLocked() error {
	data, err := json.MarshalIndent(journalFile{
		ID: j.id, PID: os.Getpid(), Started: j.started, Records: j.records,
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(j.Path(), data, 0o600); err != nil {
		return fmt.Errorf("writing journal: %w", err)
	}
	return nil
}

// StaleJournal is the journal of a run that ended without removing all of
// its records. Its lock is held until Close, so two runs never clean up
// the same journal at once.
type StaleJournal struct {
	Journal
	PID     int
	Started time.Time
}

// FindStale returns the journals in dir whose owning process is gone.
func FindStale(dir string) ([]*StaleJournal, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []*StaleJournal
	for _, path := range paths {
		id := strings.TrimSuffix(filepath.Base(path), ".json")
		lock, err := os.OpenFile(filepath.Join(dir, id+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return out, fmt.Errorf("opening journal lock: %w", err)
		}
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			lock.Close() // held by a live run
			continue
		}
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			// The owner finished between the glob and the lock.
			lock.Close()
			continue
		}
		if err != nil {
			lock.Close()
			return out, err
		}
		var f journalFile
		if err := json.Unmarshal(data, &f); err != nil {
			lock.Close()
			return out, fmt.Errorf("invalid journal %s: %w; remove the records it names by hand, then delete the file", path, err)
		}
		out = append(out, &StaleJournal{
			Journal: Journal{dir: dir, id: id, lock: lock, started: f.Started, records: f.Records},
			PID:     f.PID,
			Started: f.Started,
		})
	}
	return out, nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
