package cli

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// usageHandlers turns the errors of the flag parser and unknown commands
// into one-line usage errors. urfave/cli would otherwise print the whole
// help text on stdout and exit 1.
type usageHandlers struct {
	streams Streams
	// args is the command line, without the program name.
	args []string
	// commandNotFound is the error of an unknown command name. urfave/cli
	// calls CommandNotFound without a way to return an error, so Run reads
	// it after the app returns.
	commandNotFound error
}

// install sets the usage error handlers on the app and every command below
// it.
func (h *usageHandlers) install(app *cli.App) {
	app.OnUsageError = h.onUsageError
	app.CommandNotFound = h.onCommandNotFound
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			c.OnUsageError = h.onUsageError
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
}

func (h *usageHandlers) onCommandNotFound(cctx *cli.Context, name string) {
	var names []string
	for _, c := range cctx.Command.Subcommands {
		if c.Name != "help" {
			names = append(names, c.Name)
		}
	}
	command := commandPath(cctx)
	h.commandNotFound = usageErrorf("unknown command %q for %s; the commands are %s (see %s help)",
		name, command, strings.Join(names, ", "), command)
}

// onUsageError rewrites a flag parser error, and prints the JSON result of
// issue, renew and revoke when --json was on the command line.
func (h *usageHandlers) onUsageError(cctx *cli.Context, err error, _ bool) error {
	var flags []cli.Flag
	command := ""
	if cctx.Command != nil {
		flags, command = cctx.Command.Flags, cctx.Command.Name
	}
	uerr := &usageError{msg: describeFlagError(err.Error(), commandPath(cctx), flags)}
	// The flag set is nil after a parse error, so --json is looked up in
	// the arguments themselves.
	if jsonInArguments(h.args) {
		writeFailureJSON(h.streams, command, uerr)
	}
	return uerr
}

// commandPath returns the command line that names cctx's command, such as
// "dnscert account list".
func commandPath(cctx *cli.Context) string {
	if cctx.Command != nil && cctx.Command.HelpName != "" {
		return cctx.Command.HelpName
	}
	return "dnscert"
}

var (
	undefinedFlagError = regexp.MustCompile(`^flag provided but not defined: -(.+)$`)
	missingValueError  = regexp.MustCompile(`^flag needs an argument: -(.+)$`)
	invalidValueError  = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-([^:]+): `)
	invalidEnvError    = regexp.MustCompile(`^could not parse "(.*)" (?:as \S+ value )?from environment variable "([^"]+)" (?:as value )?for flag ([^:]+): `)
	badSyntaxError     = regexp.MustCompile(`^bad flag syntax: (.*)$`)
)

// describeFlagError returns the message of a flag parser error, naming the
// flag or variable as the user wrote it and the form it takes.
func describeFlagError(msg, command string, flags []cli.Flag) string {
	help := fmt.Sprintf("see %s --help", command)
	if m := undefinedFlagError.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown flag %s for %s; %s", dashed(m[1]), command, help)
	}
	if m := missingValueError.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("flag %s needs a value: write %s VALUE", dashed(m[1]), dashed(m[1]))
	}
	if m := invalidValueError.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("invalid %s %q: %s", dashed(m[2]), m[1], valueHint(findFlag(flags, m[2]), help))
	}
	if m := invalidEnvError.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("invalid %s=%q: %s", m[2], m[1], valueHint(findFlag(flags, m[3]), help))
	}
	if m := badSyntaxError.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("invalid flag %q: write flags as --name VALUE or --name=VALUE", m[1])
	}
	return msg + "; " + help
}

// dashed writes a flag name as it is usually typed: -d, --domain.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// valueHint returns the form that a flag's value takes, or help for flags
// of other types.
func valueHint(f cli.Flag, help string) string {
	switch f.(type) {
	case *cli.BoolFlag:
		return "give true or false (or 1 or 0)"
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag:
		return "give a whole number"
	case *cli.DurationFlag:
		return "give a duration such as 90s or 10m"
	}
	return help
}

// jsonInArguments reports whether args or DNSCERT_JSON ask for JSON output.
// It serves where the parsed flags are not available: after a parse error,
// or for the words after a stray argument, which the parser leaves unread.
func jsonInArguments(args []string) bool {
	if v, ok := os.LookupEnv(envName(flagJSON)[0]); ok {
		if b, err := strconv.ParseBool(v); err == nil && b {
			return true
		}
	}
	for _, a := range args {
		if a == "--" {
			return false
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != flagJSON {
			continue
		}
		if !hasValue {
			return true
		}
		if b, err := strconv.ParseBool(value); err == nil {
			return b
		}
	}
	return false
}

// wantsJSON reports whether a command's result is to be printed as JSON:
// --json was parsed, or it comes after a stray argument.
func wantsJSON(cctx *cli.Context) bool {
	return cctx.Bool(flagJSON) || jsonInArguments(cctx.Args().Slice())
}

// checkNoArguments rejects positional arguments. urfave/cli stops reading
// flags at the first word that is not a flag, so without this check every
// flag after a stray word would be ignored without a message.
func checkNoArguments(cctx *cli.Context, hint string) error {
	if cctx.NArg() == 0 {
		return nil
	}
	msg := fmt.Sprintf("unexpected argument %q; %s takes no arguments", cctx.Args().First(), commandPath(cctx))
	if hint != "" {
		msg = fmt.Sprintf("unexpected argument %q; %s", cctx.Args().First(), hint)
	}
	return &usageError{msg: msg}
}

// writeFailureJSON prints the JSON result of a command that failed before
// it started, for the commands whose --json output is one result object:
// issue, renew and revoke.
func writeFailureJSON(streams Streams, command string, err error) {
	switch command {
	case "issue":
		writeJSON(streams.Stdout, failedResult(certRequest{}, err))
	case "renew":
		writeJSON(streams.Stdout, failedSummary(err))
	case "revoke":
		_ = finishRevoke(streams, &revokeOptions{json: true}, &revokeResult{}, err)
	}
}
