// Command load measures teamscim under an identity provider's load: it starts the real
// Server on the in-memory store (or on PostgreSQL, with -store) behind net/http on 127.0.0.1, syncs a team of users through
// HTTP the way Okta and Entra ID do (existence check, then POST, for every user), measures
// GET by id and the userName eq existence check at two team sizes, the heap per user, and a
// mixed IdP phase (deactivations, profile pushes, group pushes), then prints throughput and
// p50/p99 latency per operation. Everything it measures goes over real HTTP with a SCIM API
// key on every request; the load generator runs in the same process and shares the CPU.
//
// Usage:
//
//	go run ./examples/load [flags]
//
// Flags:
//
//	-users N            team size after the initial sync (default 100000)
//	-checkpoint N       also measure the reads when the sync reaches N users (default 10000)
//	-workers N          concurrent HTTP clients (default 16)
//	-duration d         length of each read phase and of the mixed phase (default 5s)
//	-paced-rate N       requests per second of the paced Entra ID phase (default 25)
//	-paced-duration d   length of the paced phase, 0 to skip it (default 0)
//	-quiet              print only the final table
//	-cpuprofile file    write a CPU profile of the whole run (server and load generator)
//	-store s            memory (default), or a postgres:// URL: run the Server on pgstore
//	                    in that database (migrated at start; each run adds a team). The
//	                    heap per user then measures the Server's process only
//	-addr host:port     where the Server listens (default 127.0.0.1:0, a free port)
//
// The README's performance section lists the figures of
//
//	go run ./examples/load -paced-duration 60s
//
// on the project's 2-core CI machine. The measuring code is package internal/loadtest.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/teamscim/teamscim/internal/loadtest"
	"github.com/teamscim/teamscim/pgstore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "load:", err)
		stop()
		os.Exit(1)
	}
}

// run parses args, runs the load test and prints its report to stdout (progress to stderr).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadtest.Options
	var quiet bool
	fs.IntVar(&o.Users, "users", 100_000, "team size `N` after the initial sync")
	fs.IntVar(&o.Checkpoint, "checkpoint", 10_000, "also measure the reads when the sync reaches `N` users (-1: no checkpoint)")
	fs.IntVar(&o.Workers, "workers", 16, "concurrent HTTP `clients`")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "length of each read phase and of the mixed phase")
	fs.IntVar(&o.PacedRate, "paced-rate", 25, "requests per second of the paced Entra ID phase")
	fs.DurationVar(&o.PacedDuration, "paced-duration", 0, "length of the paced Entra ID phase (0: skip it)")
	fs.BoolVar(&quiet, "quiet", false, "print only the final table")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file`")
	storeURL := fs.String("store", "memory", "where the Server keeps the team: memory, or a postgres:// `URL` (pgstore; migrated at start)")
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:0", "`address` the Server listens on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if !quiet {
		o.Progress = stderr
	}
	if *storeURL != "memory" {
		pool, err := pgxpool.New(ctx, *storeURL)
		if err != nil {
			return errors.New("-store: the PostgreSQL connection URL cannot be parsed")
		}
		defer pool.Close()
		if err := pgstore.Migrate(ctx, pool); err != nil {
			return fmt.Errorf("-store: %w", err)
		}
		o.Store = pgstore.New(pool)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := loadtest.Run(ctx, o)
	if err != nil {
		return err
	}
	rep.Print(stdout)
	if rep.Errors > 0 {
		return fmt.Errorf("%d unexpected answers", rep.Errors)
	}
	return nil
}
