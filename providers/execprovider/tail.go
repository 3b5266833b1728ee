package execprovider

import (
	"fmt"
	"strings"
	"sync"
)

const (
	// tailBytes is the amount of standard error kept for error messages.
	tailBytes = 4096
	// tailLines is the number of lines of standard error in an error.
	tailLines = 5
)

// tailBuffer keeps the last tailBytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - tailBytes; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

// summary returns the last non-empty lines kept, quoted, as a clause to
// append to an error, or "" when the program wrote nothing.
func (b *tailBuffer) summary() string {
	b.mu.Lock()
	text := string(b.buf)
	b.mu.Unlock()

	var lines []string
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	lines = lines[max(0, len(lines)-tailLines):]
	return fmt.Sprintf("; standard error ended with: %q", strings.Join(lines, "\n"))
}
