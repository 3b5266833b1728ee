package providers

import (
	"io"
	"os"

	"github.com/dnscert/dnscert/providers/manualprovider"
)

// manualInfo describes the manual provider, which has no variables.
func manualInfo() Info {
	return Info{
		Name: "manual",
		Usage: "print each record and wait for Enter while you add it at your DNS host by hand; " +
			"needs a terminal on standard input",
		Example: "dnscert issue --dns manual -d example.com",
		New:     newManual,
	}
}

func newManual(Config) (Provider, error) {
	return newManualOn(os.Stdin, os.Stderr)
}

// newManualOn builds the manual provider on the terminal stdin, printing
// to out. It fails when stdin is not a terminal.
func newManualOn(stdin *os.File, out io.Writer) (Provider, error) {
	if err := manualprovider.CheckTerminal(stdin); err != nil {
		return nil, err
	}
	return &manualprovider.Provider{In: stdin, Out: out}, nil
}
