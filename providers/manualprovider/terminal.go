package manualprovider

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// CheckTerminal returns an error unless f, normally os.Stdin, is a
// terminal. A pipe, a file or a character device such as /dev/null is
// not one, so the manual provider cannot wait for Enter on it.
func CheckTerminal(f *os.File) error {
	if f == nil {
		return errors.New("standard input is closed; run dnscert in an interactive terminal")
	}
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cannot check whether standard input is a terminal: %w", err)
	}
	// The mode check alone accepts every character device, /dev/null
	// included, so a terminal is also asked for its settings.
	if info.Mode()&fs.ModeCharDevice == 0 || !hasTermios(f) {
		return fmt.Errorf("standard input is %s, not a terminal; the manual provider waits for Enter after you add the records by hand, so run dnscert in an interactive terminal, or choose a provider that adds records itself (see dnscert providers)", describe(info.Mode()))
	}
	return nil
}

// hasTermios reports whether f has terminal settings. It goes through
// SyscallConn because File.Fd would switch f to blocking mode.
func hasTermios(f *os.File) bool {
	conn, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var termErr error
	if err := conn.Control(func(fd uintptr) {
		_, termErr = unix.IoctlGetTermios(int(fd), ioctlGetTermios)
	}); err != nil {
		return false
	}
	return termErr == nil
}

// describe names the kind of file that mode belongs to.
func describe(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeNamedPipe != 0:
		return "a pipe"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeCharDevice != 0:
		return "a character device such as /dev/null"
	case mode&fs.ModeDevice != 0:
		return "a device"
	case mode.IsDir():
		return "a directory"
	default:
		return "a file"
	}
}
