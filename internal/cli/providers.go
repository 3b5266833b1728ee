package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/dnscert/dnscert/dns01"
	"github.com/dnscert/dnscert/providers"
)

func providerNames() []string {
	var names []string
	for _, info := range providers.All() {
		names = append(names, info.Name)
	}
	return names
}

func providersCommand(streams Streams) *cli.Command {
	return &cli.Command{
		Name:  "providers",
		Usage: "list the DNS providers and the environment variables each one reads",
		Action: func(cctx *cli.Context) error {
			if err := checkNoArguments(cctx, ""); err != nil {
				return err
			}
			w := streams.Stdout
			for _, info := range providers.All() {
				writeProviderHelp(w, info)
			}
			return nil
		},
	}
}

// writeProviderHelp prints one provider: its use, each variable with
// whether it is required or secret and what it sets, and an example.
func writeProviderHelp(w io.Writer, info providers.Info) {
	fmt.Fprintf(w, "%s: %s\n", info.Name, info.Usage)
	for _, v := range info.Vars {
		names := v.Name
		if len(v.Aliases) > 0 {
			names += " (or " + strings.Join(v.Aliases, ", ") + ")"
		}
		var marks []string
		if v.Required {
			marks = append(marks, "required")
		} else {
			marks = append(marks, "optional")
		}
		if v.Secret {
			marks = append(marks, "secret, or a file named by "+v.Name+"_FILE")
		}
		fmt.Fprintf(w, "  %s [%s]\n      %s\n", names, strings.Join(marks, "; "), v.Usage)
	}
	if info.Example != "" {
		lines := strings.Split(info.Example, "\n")
		fmt.Fprintf(w, "  example: %s\n", lines[0])
		for _, line := range lines[1:] {
			fmt.Fprintf(w, "           %s\n", line)
		}
	}
	fmt.Fprintln(w)
}

func cleanupCommand(streams Streams) *cli.Command {
	return &cli.Command{
		Name:  "cleanup",
		Usage: "remove challenge records that an interrupted or killed run left behind",
		Flags: commonFlags(),
		Description: "Reads the journals in the storage directory of runs that are no longer alive and deletes\n" +
			"exactly the TXT values they list, through the providers named in them. The providers'\n" +
			"environment variables must be set as for issue. Journals of runs still in progress are\n" +
			"skipped: those runs remove their own records.",
		Action: func(cctx *cli.Context) error {
			return runCleanup(cctx, streams)
		},
	}
}

func runCleanup(cctx *cli.Context, streams Streams) error {
	if err := checkNoArguments(cctx, ""); err != nil {
		return err
	}
	logger, err := newLogger(cctx, streams.Stderr)
	if err != nil {
		return err
	}
	store, err := openStore(commonString(cctx, flagPath), logger)
	if err != nil {
		return err
	}
	dir := filepath.Join(store.Root(), "journal")
	journals, err := readJournals(dir)
	if err != nil {
		return err
	}

	// Every provider is built before any record is removed, so a missing
	// variable fails the run before any request.
	needed := make(map[string]string) // provider name to a journal that lists it
	for _, j := range journals {
		if j.live {
			fmt.Fprintf(streams.Stdout, "skipped journal %s: its run (PID %d, started %s) is still in progress and removes its own records\n",
				j.path, j.PID, j.Started.UTC().Format(time.RFC3339))
			continue
		}
		for _, r := range j.Records {
			needed[r.Provider] = j.path
		}
	}
	var errs []error
	for _, name := range sortedKeys(needed) {
		if _, err := providers.New(name, os.LookupEnv); err != nil {
			errs = append(errs, fmt.Errorf("journal %s lists records of DNS provider %s, which cannot be used: %w", needed[name], name, err))
		}
	}
	if len(errs) > 0 {
		return joinUsageErrors(errs)
	}

	n, err := dns01.RecoverStale(cctx.Context, dir,
		func(name string) (dns01.Provider, error) {
			return providers.New(name, os.LookupEnv, providers.WithLogger(logger))
		}, logger)
	fmt.Fprintf(streams.Stdout, "removed %d challenge records left by earlier runs\n", n)
	if err != nil {
		return fmt.Errorf("some records left by earlier runs were not removed; they stay in the journal for the next attempt: %w", err)
	}
	return nil
}

// journalInfo is a journal file as cleanup reports it.
type journalInfo struct {
	path    string
	live    bool
	PID     int            `json:"pid"`
	Started time.Time      `json:"started"`
	Records []dns01.Record `json:"records"`
}

// readJournals reads every journal in dir. A journal is live when its run
// still holds the flock on its ID.lock file, as dns01.FindStale tests it.
func readJournals(dir string) ([]journalInfo, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []journalInfo
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // its run finished meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading journal: %w", err)
		}
		j := journalInfo{path: path}
		if err := json.Unmarshal(data, &j); err != nil {
			return nil, fmt.Errorf("invalid journal %s: %w; remove the records it names by hand, then delete the file", path, err)
		}
		j.live = journalLive(strings.TrimSuffix(path, ".json") + ".lock")
		out = append(out, j)
	}
	return out, nil
}

// journalLive reports whether another process holds the flock on a
// journal's lock file. The lock is taken and released at once when free.
func journalLive(lockPath string) bool {
	f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	return errors.Is(err, syscall.EWOULDBLOCK)
}
