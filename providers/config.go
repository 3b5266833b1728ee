package providers

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
)

// redacted replaces secret values in logs.
const redacted = "[redacted]"

// Config gives a provider constructor its settings. It reads them through
// a lookup function, os.LookupEnv in production or a map in tests, and
// contains the provider's declared variables with their aliases and
// secret flags. A Config stores no values, and its String and LogValue methods
// show secret values only as a placeholder.
type Config struct {
	provider string
	vars     []Var
	lookup   func(string) (string, bool)
	logger   *slog.Logger
}

// Logger returns the logger the provider should use; it is never nil.
func (c Config) Logger() *slog.Logger {
	if c.logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.logger.With(slog.String("provider", c.provider))
}

// NewConfig returns the configuration of the provider described by info,
// reading variables through lookup.
func NewConfig(info Info, lookup func(string) (string, bool)) Config {
	return Config{provider: info.Name, vars: info.clone().Vars, lookup: lookup}
}

// Get returns the value of the declared variable name. It tries, in order,
// the variable itself, its aliases, and the file named by name + "_FILE",
// whose content is returned without trailing line breaks. A variable set
// to the empty string counts as unset. Get returns "" and no error when
// nothing is set. Errors name the variable and file but never the value,
// and leave out the provider name, which New adds.
func (c Config) Get(name string) (string, error) {
	v, ok := c.declared(name)
	if !ok {
		return "", fmt.Errorf("variable %s is not declared by provider %s; add it to the provider's Info.Vars", name, c.provider)
	}

	fileVar := v.Name + "_FILE"
	source, value := c.source(v)
	if source != fileVar {
		return value, nil
	}

	path := value
	data, err := os.ReadFile(path)
	if err != nil {
		// The path error repeats the path, so wrap only its cause.
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err
		}
		return "", fmt.Errorf("cannot read %s from file %q named by %s: %w; make the file readable or set %s directly", v.Name, path, fileVar, err, v.Name)
	}
	value = strings.TrimRight(string(data), "\r\n")
	if value == "" {
		return "", fmt.Errorf("file %q named by %s is empty; write the value of %s into it", path, fileVar, v.Name)
	}
	return value, nil
}

func (c Config) declared(name string) (Var, bool) {
	for _, v := range c.vars {
		if v.Name == name {
			return v, true
		}
	}
	return Var{}, false
}

// LogValue implements slog.LogValuer. It lists which variable, alias or
// _FILE form sets each declared variable, with its value, the file path
// for _FILE, or a placeholder for secrets. It reads no files.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("provider", c.provider)}
	for _, v := range c.vars {
		source, value := c.source(v)
		switch {
		case source == "":
			continue
		case v.Secret && !strings.HasSuffix(source, "_FILE"):
			value = redacted
		}
		attrs = append(attrs, slog.String(source, value))
	}
	return slog.GroupValue(attrs...)
}

// source returns the name that sets v and its raw value, or "" when none.
func (c Config) source(v Var) (name, value string) {
	for _, n := range append([]string{v.Name}, v.Aliases...) {
		if value, ok := c.lookup(n); ok && value != "" {
			return n, value
		}
	}
	if path, ok := c.lookup(v.Name + "_FILE"); ok && path != "" {
		return v.Name + "_FILE", path
	}
	return "", ""
}

// String returns the same text as the log value, so %v shows no secret.
func (c Config) String() string {
	return c.LogValue().String()
}

// setBy returns the name that sets the declared variable name: the
// variable, an alias or its _FILE form. It returns name when none is set.
func (c Config) setBy(name string) string {
	v, ok := c.declared(name)
	if !ok {
		return name
	}
	if source, _ := c.source(v); source != "" {
		return source
	}
	return name
}

// renameSettingErrors replaces the Go field names in the errors of an
// adapter's Validate by the variables that set those fields. fieldOf
// returns the field and the cause of an adapter's setting error.
func renameSettingErrors(cfg Config, err error, vars map[string]string, fieldOf func(error) (field string, cause error, ok bool)) error {
	var errs []error
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	} else {
		errs = []error{err}
	}
	renamed := make([]error, 0, len(errs))
	for _, e := range errs {
		if field, cause, ok := fieldOf(e); ok {
			if name, ok := vars[field]; ok {
				e = &varError{name: cfg.setBy(name), cause: cause, wrapped: e}
			}
		}
		renamed = append(renamed, e)
	}
	return errors.Join(renamed...)
}

// varError reports an invalid setting by the variable that set it. It
// unwraps to the adapter's own error.
type varError struct {
	name    string
	cause   error
	wrapped error
}

func (e *varError) Error() string { return e.name + ": " + e.cause.Error() }

func (e *varError) Unwrap() error { return e.wrapped }
