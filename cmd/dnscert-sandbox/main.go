// Command dnscert-sandbox issues a certificate entirely on this machine: it
// starts Let's Encrypt's Pebble CA in-process and authoritative DNS servers
// on loopback addresses, then runs "dnscert issue" against them through the
// same code as the dnscert binary. No network access or credentials needed.
//
//	go run ./cmd/dnscert-sandbox
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dnscert/dnscert/internal/cli"
	"github.com/dnscert/dnscert/internal/testbed"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		names   = flag.String("d", "example.test,*.example.test,www.example.test,a.sub.example.test,alias.example.test", "comma-separated names to certify")
		lag     = flag.Duration("lag", time.Second, "how long after an update the second nameserver of example.test serves it")
		dir     = flag.String("path", "", "storage directory (default: a new temporary directory)")
		verbose = flag.Bool("v", false, "log every DNS query")
	)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	storage := *dir
	if storage == "" {
		tmp, err := os.MkdirTemp("", "dnscert-sandbox-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "dnscert-sandbox:", err)
			return 1
		}
		storage = tmp
	}

	start := time.Now()
	zones := testbed.DefaultZones()
	zones[0].Delays = map[string]time.Duration{"127.0.0.12": *lag}
	bed, err := testbed.Start(storage, testbed.Options{Zones: zones})
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnscert-sandbox:", err)
		return 1
	}
	defer bed.Close()
	fmt.Fprintf(os.Stderr, "sandbox: Pebble at %s, DNS on 127.0.0.x port %d, ns2.example.test lags %s; started in %s\n",
		bed.Pebble.DirectoryURL, bed.DNS.Port, *lag, time.Since(start).Round(time.Millisecond))

	for k, v := range bed.Env() {
		os.Setenv(k, v)
	}
	args := bed.IssueArgs(storage, strings.Split(*names, ",")...)
	if *verbose {
		args = append(args[:1], append([]string{"-v"}, args[1:]...)...)
	}
	code := cli.Run(ctx, args, cli.Streams{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	fmt.Fprintf(os.Stderr, "sandbox: dnscert exited with %d after %s; files in %s\n", code, time.Since(start).Round(time.Millisecond), storage)
	return code
}
