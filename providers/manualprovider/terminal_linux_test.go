package manualprovider_test

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/dnscert/dnscert/providers/manualprovider"
	"github.com/libdns/libdns"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its controlling side and the
// terminal side. It skips the test where the system has no /dev/ptmx.
func openPTY(t *testing.T) (control, term *os.File) {
	t.Helper()
	control, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { control.Close() })
	conn, err := control.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ioctlErr error
	if err := conn.Control(func(fd uintptr) {
		if ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioctlErr == nil {
			n, ioctlErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if ioctlErr != nil {
		t.Skipf("cannot unlock the pseudo-terminal: %v", ioctlErr)
	}
	term, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("cannot open the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { term.Close() })
	return control, term
}

func TestCheckTerminalAcceptsTerminal(t *testing.T) {
	_, term := openPTY(t)
	if err := manualprovider.CheckTerminal(term); err != nil {
		t.Errorf("CheckTerminal(pseudo-terminal) = %v, want nil", err)
	}
}

func TestEnterOnTerminal(t *testing.T) {
	control, term := openPTY(t)
	out := &syncBuffer{}
	p := &manualprovider.Provider{In: term, Out: out}

	done := appendAsync(t.Context(), p, zone, libdns.TXT{Name: "_acme-challenge", Text: "v"})
	waitForOutput(t, out, "Press Enter", 1)
	expectPending(t, done)
	// The terminal's line discipline turns a carriage return into a
	// newline, as when a person presses Enter.
	if _, err := io.WriteString(control, "\r"); err != nil {
		t.Fatal(err)
	}
	if r := expectResult(t, done); r.err != nil {
		t.Fatalf("AppendRecords: %v", r.err)
	}
}
