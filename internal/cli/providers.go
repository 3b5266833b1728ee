package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/dnscert/dnscert/dns01"
	"github.com/dnscert/dnscert/providers"
	"github.com/dnscert/dnscert/storage"
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
			"environment variables must be set as for issue.",
		Action: func(cctx *cli.Context) error {
			logger, err := newLogger(cctx, streams.Stderr)
			if err != nil {
				return err
			}
			store, err := storage.Open(commonString(cctx, flagPath))
			if err != nil {
				return &usageError{msg: fmt.Sprintf("storage directory: %v", err)}
			}
			n, err := dns01.RecoverStale(cctx.Context, filepath.Join(store.Root(), "journal"),
				func(name string) (dns01.Provider, error) {
					return providers.New(name, os.LookupEnv, providers.WithLogger(logger))
				}, logger)
			fmt.Fprintf(streams.Stdout, "removed %d challenge records left by earlier runs\n", n)
			if err != nil {
				return &dns01.ProviderError{Provider: "cleanup", Op: "removing", Count: 0, Err: err}
			}
			return nil
		},
	}
}
