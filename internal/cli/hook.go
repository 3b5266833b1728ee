package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/dnscert/dnscert/providers"
	"github.com/dnscert/dnscert/storage"
)

// hookTimeout bounds one deploy hook run.
const hookTimeout = 10 * time.Minute

// runDeployHook runs command with sh -c after a certificate was stored. The
// hook learns the certificate's paths and names from DNSCERT_* variables and
// from certbot's RENEWED_LINEAGE and RENEWED_DOMAINS, so certbot hooks work
// unchanged. Credentials of DNS providers and of the CA are removed from its
// environment. Its output goes to stderr, keeping stdout for --json. logger
// carries the certificate name.
//
// When ctx is cancelled, the hook's process group gets SIGTERM and the error
// wraps context.Canceled, so the run exits as interrupted, not as failed.
func runDeployHook(ctx context.Context, command string, store *storage.Store, meta storage.Metadata, logger *slog.Logger) error {
	if command == "" {
		return nil
	}
	paths := store.CertificatePaths(meta.Name)
	env := append(scrubbedEnviron(),
		"DNSCERT_CERT_NAME="+meta.Name,
		"DNSCERT_DOMAINS="+strings.Join(meta.Names, ","),
		"DNSCERT_CERT_DIR="+paths.Dir,
		"DNSCERT_CERT_PATH="+paths.Cert,
		"DNSCERT_CHAIN_PATH="+paths.Chain,
		"DNSCERT_FULLCHAIN_PATH="+paths.FullChain,
		"DNSCERT_NOT_AFTER="+meta.NotAfter.UTC().Format(time.RFC3339),
		"RENEWED_LINEAGE="+paths.Dir,
		"RENEWED_DOMAINS="+strings.Join(meta.Names, " "),
	)
	if !meta.ExternalKey {
		env = append(env, "DNSCERT_KEY_PATH="+paths.PrivateKey)
	}
	if meta.Combined {
		env = append(env, "DNSCERT_COMBINED_PATH="+paths.Combined)
	}

	runCtx, cancel := context.WithTimeout(ctx, hookTimeout)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "/bin/sh", "-c", command)
	cmd.Env = env
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second

	start := time.Now()
	logger.Info("running deploy hook", slog.String("command", command))
	err := cmd.Run()
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return &interruptedError{err: ctx.Err(), detail: fmt.Sprintf("the deploy hook %q was stopped; the new certificate is stored in %s", command, paths.Dir)}
	}
	if err != nil {
		return &hookError{err: fmt.Errorf("deploy hook %q for certificate %s failed: %w; the new certificate is stored in %s", command, meta.Name, err, paths.Dir)}
	}
	logger.Info("deploy hook finished", slog.Duration("took", time.Since(start)))
	return nil
}

// alwaysSecret lists variables that hold credentials whatever provider is
// in use.
var alwaysSecret = []string{
	"DNSCERT_EAB_HMAC",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
}

// scrubbedEnviron returns this process's environment without the secret
// variables of every provider and of the CA account.
func scrubbedEnviron() []string {
	secret := make(map[string]bool)
	for _, name := range alwaysSecret {
		secret[name] = true
	}
	for _, info := range providers.All() {
		for _, v := range info.Vars {
			if !v.Secret {
				continue
			}
			secret[v.Name] = true
			for _, a := range v.Aliases {
				secret[a] = true
			}
		}
	}
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !secret[name] {
			out = append(out, kv)
		}
	}
	return out
}
