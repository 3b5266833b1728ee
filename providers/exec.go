package providers

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/dnscert/dnscert/providers/execprovider"
)

// execInfo describes the exec provider. Its variables and the program's
// arguments are those of lego's exec provider in its default mode, so
// existing hook programs carry over. lego's EXEC_PROPAGATION_TIMEOUT,
// EXEC_POLLING_INTERVAL and EXEC_SEQUENCE_INTERVAL are not read, because
// dnscert waits for the nameservers itself and runs the program for one
// record at a time.
func execInfo() Info {
	return Info{
		Name: "exec",
		Usage: "run a program of your own for each record, as PROGRAM present|cleanup FQDN VALUE like lego's exec provider; " +
			"credentials of other providers are removed from its environment",
		Example: "EXEC_PATH=/usr/local/bin/dns-hook EXEC_TIMEOUT=2m dnscert issue --dns exec -d example.com",
		Vars: []Var{
			{
				Name:     "EXEC_PATH",
				Required: true,
				Usage:    "the program to run, as a path or as a name looked up in PATH",
			},
			{
				Name:  "EXEC_MODE",
				Usage: "leave unset; lego's RAW mode is not supported, because dnscert gives its providers record names and values, not ACME tokens",
			},
			{
				Name:  "EXEC_TIMEOUT",
				Usage: "the time limit of each run of the program, as a Go duration such as 90s or as whole seconds (default 60s)",
			},
		},
		New: newExec,
	}
}

func newExec(cfg Config) (Provider, error) {
	mode, err := cfg.Get("EXEC_MODE")
	if err != nil {
		return nil, err
	}
	switch strings.ToUpper(strings.TrimSpace(mode)) {
	case "":
	case "RAW":
		return nil, fmt.Errorf("%s=RAW is not supported: in RAW mode the program receives the ACME token and key authorization, "+
			"but dnscert gives its DNS providers only the record name and value; unset %s and let the program take PROGRAM present|cleanup FQDN VALUE",
			cfg.setBy("EXEC_MODE"), cfg.setBy("EXEC_MODE"))
	default:
		return nil, fmt.Errorf("%s: invalid mode %q; leave it unset, which runs the program as PROGRAM present|cleanup FQDN VALUE", cfg.setBy("EXEC_MODE"), mode)
	}

	program, err := cfg.Get("EXEC_PATH")
	if err != nil {
		return nil, err
	}
	if err := execprovider.CheckProgram(program); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.setBy("EXEC_PATH"), err)
	}

	text, err := cfg.Get("EXEC_TIMEOUT")
	if err != nil {
		return nil, err
	}
	timeout, err := parseSeconds(text)
	if err == nil && timeout < 0 {
		err = errors.New("negative time limit " + text + "; use a positive duration such as 90s")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.setBy("EXEC_TIMEOUT"), err)
	}

	// The program's output goes to standard error, because standard
	// output may carry dnscert's machine-readable output.
	return &execprovider.Provider{Program: program, Timeout: timeout, Output: os.Stderr}, nil
}
