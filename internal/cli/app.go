// Package cli is the dnscert command line: commands, flags bound to
// DNSCERT_* environment variables, logging, output and exit codes. Both the
// dnscert binary and the local sandbox run it, so they share one code path.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// Version is set at build time with -ldflags "-X ...cli.Version=...".
var Version = "dev"

// envPrefix starts every environment variable that mirrors a flag.
const envPrefix = "DNSCERT_"

// envName derives the variable of a flag: --propagation-timeout reads
// DNSCERT_PROPAGATION_TIMEOUT.
func envName(flag string) []string {
	return []string{envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))}
}

// Streams are where a command writes: the result to Stdout, logs and
// messages to Stderr.
type Streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Run runs the command line in args (args[0] is the program name) and
// returns the process exit code.
func Run(ctx context.Context, args []string, streams Streams) int {
	usage := &usageHandlers{streams: streams}
	if len(args) > 0 {
		usage.args = args[1:]
	}
	app := newApp(streams)
	usage.install(app)
	err := app.RunContext(ctx, args)
	if err == nil {
		err = usage.commandNotFound
	}
	if err == nil {
		return ExitOK
	}
	code := ExitCode(err)
	if !errors.Is(err, errReported) {
		writeError(streams.Stderr, err)
	}
	return code
}

// writeError prints err with the program name before each of its lines,
// once per distinct line.
func writeError(w io.Writer, err error) {
	var interrupted *interruptedError
	if ExitCode(err) == ExitInterrupted && !errors.As(err, &interrupted) {
		err = &interruptedError{err: err}
	}
	seen := make(map[string]bool)
	for _, line := range strings.Split(err.Error(), "\n") {
		if line == "" || seen[line] {
			continue
		}
		seen[line] = true
		fmt.Fprintf(w, "dnscert: %s\n", line)
	}
}

// errReported marks an error already written out by the command itself.
var errReported = errors.New("reported")

func init() {
	// urfave/cli gives --version the alias -v, which dnscert uses for
	// --verbose as lego and certbot do.
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
}

func newApp(streams Streams) *cli.App {
	app := &cli.App{
		Name:                 "dnscert",
		Usage:                "obtain and renew TLS certificates through the ACME dns-01 challenge",
		Version:              Version,
		Reader:               streams.Stdin,
		Writer:               streams.Stdout,
		ErrWriter:            streams.Stderr,
		EnableBashCompletion: false,
		// Exit codes are chosen by Run, never by the library calling os.Exit.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags:          commonFlags(),
		Commands: []*cli.Command{
			issueCommand(streams),
			renewCommand(streams),
			providersCommand(streams),
			cleanupCommand(streams),
			listCommand(streams),
			revokeCommand(streams),
			accountCommand(streams),
		},
	}
	return app
}

// commonFlags are accepted both before and after the command name, so
// "dnscert --path DIR issue" and "dnscert issue --path DIR" both work.
func commonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{
			Name:    flagPath,
			Usage:   "storage directory for accounts, certificates and journals; default: /var/lib/dnscert for root, otherwise $XDG_DATA_HOME/dnscert or ~/.local/share/dnscert (./.dnscert when neither is set)",
			EnvVars: envName(flagPath),
			Value:   defaultStoragePath(),
		},
		&cli.StringFlag{
			Name:    flagLogFormat,
			Usage:   "log format on stderr: text or json",
			EnvVars: envName(flagLogFormat),
			Value:   "text",
		},
		&cli.BoolFlag{
			Name:    flagVerbose,
			Aliases: []string{"v"},
			Usage:   "log every DNS query and provider call (debug level)",
			EnvVars: envName(flagVerbose),
		},
	}
}

// withCommonFlags appends the common flags to a command's own.
func withCommonFlags(flags []cli.Flag) []cli.Flag {
	return append(flags, commonFlags()...)
}

// commonString returns a common flag's value from the command line level
// where it was set, the command's own level first.
func commonString(cctx *cli.Context, name string) string {
	for _, c := range cctx.Lineage() {
		if c.Command != nil && c.IsSet(name) {
			return c.String(name)
		}
	}
	return cctx.String(name)
}

func commonBool(cctx *cli.Context, name string) bool {
	for _, c := range cctx.Lineage() {
		if c.Command != nil && c.IsSet(name) {
			return c.Bool(name)
		}
	}
	return cctx.Bool(name)
}

const (
	flagPath      = "path"
	flagLogFormat = "log-format"
	flagVerbose   = "verbose"
)

// newLogger builds the logger every command uses, writing to stderr.
func newLogger(cctx *cli.Context, w io.Writer) (*slog.Logger, error) {
	level := slog.LevelInfo
	if commonBool(cctx, flagVerbose) {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format := commonString(cctx, flagLogFormat); format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, usageErrorf("invalid --log-format %q: use text or json", format)
	}
}

// defaultStoragePath follows the usual places: /var/lib/dnscert for root,
// otherwise the user's data directory, and .dnscert in the working
// directory when neither XDG_DATA_HOME nor HOME is set. The --path usage
// lists the same places.
func defaultStoragePath() string {
	if os.Geteuid() == 0 {
		return "/var/lib/dnscert"
	}
	if dir := os.Getenv("XDG_DATA_HOME"); dir != "" {
		return dir + "/dnscert"
	}
	if home, err := os.UserHomeDir(); err == nil {
		return home + "/.local/share/dnscert"
	}
	return ".dnscert"
}
