// Package execprovider implements the libdns interfaces by running an
// external program once per TXT record, with the arguments of lego's exec
// provider in its default mode:
//
//	PROGRAM present FQDN VALUE
//	PROGRAM cleanup FQDN VALUE
//
// FQDN is the lower-case absolute record name with a trailing dot, such as
// "_acme-challenge.www.example.test.", and VALUE is the TXT text. The
// program must add, or remove, exactly that value and leave other values at
// the name alone, and exit with status 0 on success. It needs not wait for
// the nameservers to serve the change. It gets no standard input, and its
// environment is that of dnscert without the variables [IsStripped] lists.
package execprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/libdns/libdns"

	"github.com/dnscert/dnscert/providers/internal/recordname"
)

// DefaultTimeout bounds each run of the program when [Provider.Timeout] is
// zero.
const DefaultTimeout = 60 * time.Second

// outputGrace bounds how long a run waits for the program's output to end
// after the program exited. A background process that the program started
// may keep the output open much longer.
const outputGrace = 2 * time.Second

// Provider runs Program for each record. Runs never overlap: the calls of
// one Provider take turns, and the records of one call run one after
// another in the order given. So a program that edits a file needs no
// locking of its own, as with lego, which also runs it for one record at a
// time. A Provider must not be copied after first use.
type Provider struct {
	// Program is the path of the program. A name without a slash is looked
	// up in PATH.
	Program string

	// Timeout bounds each run. Zero means DefaultTimeout. A run that takes
	// longer is killed with its process group, and the call fails. A
	// context deadline that comes earlier wins.
	Timeout time.Duration

	// Env is the environment of the program, in "NAME=value" form. Nil
	// means os.Environ(). The variables IsStripped reports are removed in
	// both cases.
	Env []string

	// Output receives the standard output and standard error of each run.
	// Nil discards them. The last lines of standard error also appear in
	// the error of a failed run.
	Output io.Writer

	turnOnce sync.Once
	turn     chan struct{} // contains one token while a call runs the program
}

var (
	_ libdns.RecordAppender = (*Provider)(nil)
	_ libdns.RecordDeleter  = (*Provider)(nil)
)

// Validate checks that Program names an executable file and that Timeout
// is not negative. It does not run the program.
func (p *Provider) Validate() error {
	if p.Timeout < 0 {
		return fmt.Errorf("exec: timeout %s is negative; use a positive duration, or zero for %s", p.Timeout, DefaultTimeout)
	}
	if err := CheckProgram(p.Program); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	return nil
}

// CheckProgram checks that program names an existing regular file with an
// execute permission bit, looking it up in PATH when it has no slash. It
// does not run the program.
func CheckProgram(program string) error {
	if strings.TrimSpace(program) == "" {
		return errors.New("no program is set; give the path of the program to run, such as /usr/local/bin/dns-hook")
	}
	path := program
	if !strings.Contains(program, "/") {
		found, err := exec.LookPath(program)
		if err != nil {
			return fmt.Errorf("program %q is not found in PATH; give its full path", program)
		}
		path = found
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("program %q does not exist; check the path", program)
	case err != nil:
		return fmt.Errorf("cannot check program %q: %w", program, err)
	case info.IsDir():
		return fmt.Errorf("program %q is a directory; give the path of the program file", program)
	case !info.Mode().IsRegular():
		return fmt.Errorf("program %q is not a regular file (mode %s); give the path of the program file", program, info.Mode())
	case info.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("program %q is not executable (mode %s); run chmod +x %s", program, info.Mode().Perm(), path)
	}
	return nil
}

// AppendRecords runs "PROGRAM present FQDN VALUE" for each record in the
// order given. It stops at the first run that fails and returns the
// records presented until then with the error. The TTL is not passed to
// the program. Every record must be a TXT record with a value.
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	runs, err := p.plan(zone, recs)
	if err != nil {
		return nil, err
	}
	if err := p.takeTurn(ctx); err != nil {
		return nil, err
	}
	defer p.endTurn()

	done := make([]libdns.Record, 0, len(runs))
	for _, r := range runs {
		if err := p.run(ctx, "present", r); err != nil {
			return done, err
		}
		done = append(done, r.record)
	}
	return done, nil
}

// DeleteRecords runs "PROGRAM cleanup FQDN VALUE" for each record in the
// order given. A failed run does not stop the others, so as many records
// as possible are removed. It returns the records whose run succeeded and
// all errors joined. The program cannot report whether a value existed, so
// a record counts as deleted when its run succeeds.
//
// Deviation from the libdns contract: every record needs a type and a
// value, because the program can only remove one given value.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	runs, err := p.plan(zone, recs)
	if err != nil {
		return nil, err
	}
	if err := p.takeTurn(ctx); err != nil {
		return nil, err
	}
	defer p.endTurn()

	done := make([]libdns.Record, 0, len(runs))
	var errs []error
	for _, r := range runs {
		if err := p.run(ctx, "cleanup", r); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		done = append(done, r.record)
	}
	return done, errors.Join(errs...)
}

// run is one planned run of the program.
type run struct {
	fqdn   string
	value  string
	record libdns.TXT // the record to return, with its name relative to the zone
}

// plan checks every record before any program runs, so an invalid record
// fails the call without a partial change.
func (p *Provider) plan(zone string, recs []libdns.Record) ([]run, error) {
	if strings.TrimSpace(p.Program) == "" {
		return nil, errors.New("exec: no program is set; give the path of the program to run")
	}
	if p.Timeout < 0 {
		return nil, fmt.Errorf("exec: timeout %s is negative; use a positive duration, or zero for %s", p.Timeout, DefaultTimeout)
	}
	runs := make([]run, 0, len(recs))
	for i, rec := range recs {
		if rec == nil {
			return nil, fmt.Errorf("exec: record %d is nil", i)
		}
		rr := rec.RR()
		fqdn, relative, err := recordname.Resolve(rr.Name, zone)
		if err != nil {
			return nil, fmt.Errorf("exec: %w", err)
		}
		if typ := strings.ToUpper(strings.TrimSpace(rr.Type)); typ != "TXT" {
			return nil, fmt.Errorf("exec: record %q has type %q; the program receives only TXT records, so give TXT records", rr.Name, rr.Type)
		}
		if rr.Data == "" {
			return nil, fmt.Errorf("exec: TXT record %q has no value; the program needs the exact value to add or remove", rr.Name)
		}
		if strings.ContainsRune(rr.Data, 0) {
			return nil, fmt.Errorf("exec: TXT record %q has a NUL byte in its value, which cannot be passed as a program argument", rr.Name)
		}
		runs = append(runs, run{
			fqdn:   fqdn,
			value:  rr.Data,
			record: libdns.TXT{Name: relative, TTL: rr.TTL, Text: rr.Data},
		})
	}
	return runs, nil
}

// takeTurn waits until no other call runs the program, or until ctx ends.
func (p *Provider) takeTurn(ctx context.Context) error {
	p.turnOnce.Do(func() { p.turn = make(chan struct{}, 1) })
	select {
	case p.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("exec: gave up waiting for another call to finish running %s: %w", p.Program, ctx.Err())
	}
}

func (p *Provider) endTurn() { <-p.turn }

// run runs the program once in its own process group, so that a timeout
// or cancellation kills the processes it started too.
func (p *Provider) run(ctx context.Context, action string, r run) error {
	timeout := p.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	env := p.Env
	if env == nil {
		env = os.Environ()
	}
	stderr := &tailBuffer{}
	cmd := exec.CommandContext(runCtx, p.Program, action, r.fqdn, r.value)
	cmd.Env = FilterEnv(env)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The process group ID is the PID of the program, because
		// Setpgid with Pgid 0 makes the program the group leader.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = outputGrace
	cmd.Stdout = p.Output
	if p.Output != nil {
		cmd.Stderr = io.MultiWriter(stderr, p.Output)
	} else {
		cmd.Stderr = stderr
	}

	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		// The program exited with status 0, and only a process that it
		// left running kept the output open.
		err = nil
	}
	if err == nil {
		return nil
	}

	prefix := fmt.Sprintf("exec: program %s %s %s", p.Program, action, r.fqdn)
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: canceled: %w%s", prefix, ctx.Err(), stderr.summary())
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s: timed out after %s and was killed; make the program finish sooner or raise its time limit (EXEC_TIMEOUT)%s", prefix, timeout, stderr.summary())
	case errors.As(err, &exitErr):
		return fmt.Errorf("%s: failed with %s%s", prefix, exitErr.ProcessState, stderr.summary())
	default:
		return fmt.Errorf("%s: cannot run the program: %w; check that it exists and is executable", prefix, err)
	}
}
