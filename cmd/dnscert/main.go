// Command dnscert obtains and renews TLS certificates through the ACME
// dns-01 challenge. Run "dnscert help" for the commands.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/dnscert/dnscert/internal/cli"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The first SIGINT or SIGTERM cancels the run, which then removes the
	// records it published; a second one exits at once and leaves them to
	// the journal.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "dnscert: %s received, stopping and removing the records added (repeat to quit at once)\n", signalName(sig))
		cancel()
		<-signals
		fmt.Fprintln(os.Stderr, "dnscert: quitting; run dnscert cleanup to remove records left behind")
		os.Exit(cli.ExitInterrupted)
	}()

	return cli.Run(ctx, os.Args, cli.Streams{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}

// signalName returns the conventional name of the signals dnscert handles,
// such as SIGTERM, where os.Signal's String gives "terminated".
func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}
