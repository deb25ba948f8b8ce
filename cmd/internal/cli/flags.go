package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runq/runq/broker"
	"github.com/runq/runq/tasks"
)

// config is every setting of a runq process.
type config struct {
	redisURL      string
	embeddedAddr  string
	prefix        string
	allowEviction bool

	addr       string
	apiToken   string
	insecure   bool
	bodyLimit  int64
	maxRetries int
	timeout    time.Duration
	resultTTL  time.Duration

	queues      []string
	weights     map[string]int // of queues, when weighted; nil in strict order
	concurrency int
	visibility  time.Duration
	grace       time.Duration
	batchWait   time.Duration // how long a claim after an arrival waits for more
	maxCrashes  int
	metricsAddr string            // "" means no metrics server
	cron        cronValue         // --cron lines, as given
	crons       []cronLine        // the --cron lines parsed
	rates       map[string]string // task name -> rate, over what its handler declares
	maxRunning  map[string]string // task name -> max running, over what its handler declares

	logLevel  string
	logFormat string

	shutdownDelay time.Duration // how long serve waits for requests in flight; no flag

	failedTTL      time.Duration // how long this worker's failed tasks are kept, at least
	idempotencyTTL time.Duration // how long an idempotency key is remembered

	webhookSecret       string // signs the webhooks a worker sends
	webhookAllowPrivate bool   // callback URLs may reach internal addresses
}

// defaults returns runq's default settings.
func defaults() config {
	return config{
		embeddedAddr: "127.0.0.1:0", prefix: "runq",
		addr: "127.0.0.1:8080", bodyLimit: 1 << 20, maxRetries: 3, timeout: 30 * time.Minute, resultTTL: 24 * time.Hour,
		queues: []string{"default"}, concurrency: 10, visibility: 30 * time.Second, grace: 30 * time.Second, maxCrashes: 3,
		logLevel: "info", logFormat: "text",
		shutdownDelay: 10 * time.Second,
		failedTTL:     tasks.DefaultFailedTTL,

		idempotencyTTL: 24 * time.Hour,
	}
}

// Groups of flags, in the order help shows them.
const (
	groupRedis   = "Redis"
	groupHTTP    = "HTTP API"
	groupWorker  = "Worker"
	groupLogging = "Logging"
)

var groups = []string{groupRedis, groupHTTP, groupWorker, groupLogging}

// Which commands take a flag.
var (
	everyRunner = []string{"all", "serve", "worker"}
	apiRunners  = []string{"all", "serve"}
	poolRunners = []string{"all", "worker"}
)

// setting is one flag: its name, environment twin, group, the commands that
// take it, the name of its value in help, and what it means.
type setting struct {
	name, env, group string
	cmds             []string
	arg, usage       string
	value            func(c *config) flag.Value
}

// settings are every flag of all, serve and worker.
var settings = []setting{
	{"redis", "REDIS_URL", groupRedis, everyRunner, "URL",
		"Redis to use: redis://[:password@]host:port/db, rediss:// for TLS, or unix://; empty starts an embedded Redis",
		func(c *config) flag.Value { return (*stringValue)(&c.redisURL) }},
	{"embedded-addr", "RUNQ_EMBEDDED_ADDR", groupRedis, everyRunner, "HOST:PORT",
		"where the embedded Redis listens, when --redis is empty",
		func(c *config) flag.Value { return (*stringValue)(&c.embeddedAddr) }},
	{"prefix", "RUNQ_PREFIX", groupRedis, everyRunner, "NAME",
		"starts every Redis key; runq systems that share one Redis need one each",
		func(c *config) flag.Value { return (*stringValue)(&c.prefix) }},
	{"allow-eviction", "RUNQ_ALLOW_EVICTION", groupRedis, everyRunner, "",
		"start even though Redis's maxmemory-policy may evict keys, and so lose tasks",
		func(c *config) flag.Value { return (*boolValue)(&c.allowEviction) }},

	{"addr", "RUNQ_ADDR", groupHTTP, apiRunners, "HOST:PORT",
		"where the HTTP API listens (:0 picks a free port, which is printed)",
		func(c *config) flag.Value { return (*stringValue)(&c.addr) }},
	{"api-token", "RUNQ_API_TOKEN", groupHTTP, apiRunners, "TOKEN",
		"bearer token required on every /v1 request and on /metrics (in Prometheus: authorization credentials); empty means none",
		func(c *config) flag.Value { return (*stringValue)(&c.apiToken) }},
	{"insecure", "RUNQ_INSECURE", groupHTTP, apiRunners, "",
		"allow --addr beyond loopback without --api-token",
		func(c *config) flag.Value { return (*boolValue)(&c.insecure) }},
	{"body-limit", "RUNQ_BODY_LIMIT", groupHTTP, apiRunners, "BYTES",
		"largest request body (a batch may be 16 times larger)",
		func(c *config) flag.Value { return (*int64Value)(&c.bodyLimit) }},
	{"max-retries", "RUNQ_MAX_RETRIES", groupHTTP, apiRunners, "N",
		"retries of a task whose submission and handler set none (0: none)",
		func(c *config) flag.Value { return (*intValue)(&c.maxRetries) }},
	{"task-timeout", "RUNQ_TASK_TIMEOUT", groupHTTP, apiRunners, "DURATION",
		"time limit of one attempt of a task whose submission and handler set none",
		func(c *config) flag.Value { return (*durationValue)(&c.timeout) }},
	{"result-ttl", "RUNQ_RESULT_TTL", groupHTTP, apiRunners, "DURATION",
		"how long a finished task is kept, unless its submission says",
		func(c *config) flag.Value { return (*durationValue)(&c.resultTTL) }},
	{"idempotency-ttl", "RUNQ_IDEMPOTENCY_TTL", groupHTTP, apiRunners, "DURATION",
		"how long a submission's Idempotency-Key is remembered, per queue",
		func(c *config) flag.Value { return (*durationValue)(&c.idempotencyTTL) }},

	{"queues", "RUNQ_QUEUES", groupWorker, poolRunners, "LIST",
		"queues to consume: a,b in strict order (an earlier queue always first), or a:6,b:1 weighted (1-1000)",
		func(c *config) flag.Value { return &queuesValue{&c.queues, &c.weights} }},
	{"concurrency", "RUNQ_CONCURRENCY", groupWorker, poolRunners, "N",
		"handlers this worker runs at once",
		func(c *config) flag.Value { return (*intValue)(&c.concurrency) }},
	{"visibility-timeout", "RUNQ_VISIBILITY_TIMEOUT", groupWorker, poolRunners, "DURATION",
		"lease of a claimed task: a lost worker's task runs again after this",
		func(c *config) flag.Value { return (*durationValue)(&c.visibility) }},
	{"grace", "RUNQ_GRACE", groupWorker, poolRunners, "DURATION",
		"at shutdown, how long running tasks may finish before they are handed back",
		func(c *config) flag.Value { return (*durationValue)(&c.grace) }},
	{"batch-wait", "RUNQ_BATCH_WAIT", groupWorker, poolRunners, "DURATION",
		"when tasks come less than this apart, an idle worker claims each arrival only after this, with what came meanwhile: less CPU per task, each starting up to this much later (0: at once)",
		func(c *config) flag.Value { return (*durationValue)(&c.batchWait) }},
	{"max-crashes", "RUNQ_MAX_CRASHES", groupWorker, poolRunners, "N",
		"redeliveries after lost workers before a task fails as poison (-1: no limit)",
		func(c *config) flag.Value { return (*intValue)(&c.maxCrashes) }},
	{"metrics-addr", "RUNQ_METRICS_ADDR", groupWorker, poolRunners, "HOST:PORT",
		"serve Prometheus /metrics, /healthz and /readyz here, without a token (keep it private); empty: off",
		func(c *config) flag.Value { return (*stringValue)(&c.metricsAddr) }},
	{"cron", "RUNQ_CRON", groupWorker, poolRunners, "'SPEC NAME [JSON]'",
		"at each tick of SPEC (cron fields, @every 1m, @daily...), one task NAME in queue default, across all workers; repeatable (env: a line each)",
		func(c *config) flag.Value { return &c.cron }},
	{"rate", "RUNQ_RATE", groupWorker, poolRunners, "NAME=N/s",
		"start tasks of NAME at most N a second (/m, /h) in each queue, across every worker; repeatable, or comma-separated",
		func(c *config) flag.Value { return (*namedValue)(&c.rates) }},
	{"max-running", "RUNQ_MAX_RUNNING", groupWorker, poolRunners, "NAME=N",
		"run at most N tasks of NAME at once in each queue, across every worker; repeatable, or comma-separated",
		func(c *config) flag.Value { return (*namedValue)(&c.maxRunning) }},

	{"log-level", "RUNQ_LOG_LEVEL", groupLogging, everyRunner, "LEVEL",
		"debug, info, warn or error",
		func(c *config) flag.Value { return (*stringValue)(&c.logLevel) }},
	{"log-format", "RUNQ_LOG_FORMAT", groupLogging, everyRunner, "FORMAT",
		"text or json (log/slog, to stderr)",
		func(c *config) flag.Value { return (*stringValue)(&c.logFormat) }},

	{"failed-ttl", "RUNQ_FAILED_TTL", groupWorker, poolRunners, "DURATION",
		"how long a task this worker fails (dead letter, poison too) is kept, if its result TTL is shorter",
		func(c *config) flag.Value { return (*durationValue)(&c.failedTTL) }},
	{"webhook-secret", "RUNQ_WEBHOOK_SECRET", groupWorker, poolRunners, "SECRET",
		"signs webhooks (Runq-Signature: HMAC-SHA256); empty: they are sent unsigned",
		func(c *config) flag.Value { return (*stringValue)(&c.webhookSecret) }},
	{"webhook-allow-private", "RUNQ_WEBHOOK_ALLOW_PRIVATE", groupWorker, poolRunners, "",
		"let callback URLs reach loopback, private and link-local addresses (refused at submit and at connect otherwise)",
		func(c *config) flag.Value { return (*boolValue)(&c.webhookAllowPrivate) }},
	{"webhook-allow-private", "RUNQ_WEBHOOK_ALLOW_PRIVATE", groupHTTP, []string{"serve"}, "", // the same, where no worker runs
		"accept callback URLs on loopback, private and link-local addresses (refused at submit otherwise)",
		func(c *config) flag.Value { return (*boolValue)(&c.webhookAllowPrivate) }},
}

// flagSet is the flags of one command and their environment twins.
type flagSet struct {
	*flag.FlagSet
	cmd      string
	settings []setting
	cfg      *config
}

// newFlagSet defines the flags cmd takes, with runq's defaults in cfg.
// Parse then applies the environment to the flags not given.
func newFlagSet(cmd string, cfg *config) *flagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by Main; help by printHelp
	*cfg = defaults()
	f := &flagSet{FlagSet: fs, cmd: cmd, cfg: cfg}
	for _, st := range settings {
		if slices.Contains(st.cmds, cmd) {
			fs.Var(st.value(cfg), st.name, st.usage)
			f.settings = append(f.settings, st)
		}
	}
	return f
}

// Parse parses args, then sets each flag not given from its environment
// variable, if set: a flag on the command line wins, and a bad variable is
// reported by its name. A flag of another command is refused with the
// names of the commands that take it.
func (f *flagSet) Parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
			return f.unknown(name)
		}
		if name, value, why, ok := badValue(err); ok {
			return fmt.Errorf("--%s %q: %s", name, truncate(value, 40), why)
		}
		return err
	}
	given := make(map[string]bool)
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for _, st := range f.settings {
		v, ok := os.LookupEnv(st.env)
		if !ok || given[st.name] {
			continue
		}
		if err := st.value(f.cfg).Set(v); err != nil {
			return fmt.Errorf("environment variable %s=%q: %v", st.env, truncate(v, 40), err)
		}
	}
	return nil
}

// unknown explains a flag that cmd does not take.
func (f *flagSet) unknown(name string) error {
	name, _, _ = strings.Cut(name, "=")
	for _, st := range settings {
		if st.name == name {
			return fmt.Errorf("--%s is not a flag of %s: it is a flag of %s", name, f.cmd, strings.Join(st.cmds, " and "))
		}
	}
	return fmt.Errorf("unknown flag --%s (see %s --help)", name, f.cmd)
}

// badValue reads the flag package's error for a value its flag refused:
// `invalid value "abc" for flag -concurrency: not a whole number`.
func badValue(err error) (name, value, why string, ok bool) {
	rest, ok := strings.CutPrefix(err.Error(), `invalid value "`)
	if !ok {
		return "", "", "", false
	}
	i := strings.LastIndex(rest, `" for flag -`)
	if i < 0 {
		return "", "", "", false
	}
	value, rest = rest[:i], rest[i+len(`" for flag -`):]
	name, why, ok = strings.Cut(rest, ": ")
	return name, value, why, ok
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// printFlags writes the flags of cmd, by group, as --name VALUE, each with
// its meaning, environment twin and default.
func printFlags(w io.Writer, cmd string) {
	def := defaults()
	for _, g := range groups {
		var lines []string
		for _, st := range settings {
			if st.group != g || !slices.Contains(st.cmds, cmd) {
				continue
			}
			name := "--" + st.name
			if st.arg != "" {
				name += " " + st.arg
			}
			line := fmt.Sprintf("  %-30s %s\n  %-30s (env %s", name, st.usage, "", st.env)
			if d := st.value(&def).String(); d != "" && d != "false" {
				line += "; default " + d
			}
			lines = append(lines, line+")")
		}
		if len(lines) > 0 {
			fmt.Fprintf(w, "\n%s:\n%s\n", g, strings.Join(lines, "\n"))
		}
	}
}

// check reports the first setting out of range.
// hours writes d as a flag takes it, "720h" rather than "720h0m0s".
func hours(d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}

func (c *config) check() error {
	switch {
	case c.concurrency < 1 || c.concurrency > 10000:
		return errors.New("--concurrency must be 1 to 10000 (env RUNQ_CONCURRENCY)")
	case len(c.queues) == 0:
		return errors.New("--queues must name at least one queue (env RUNQ_QUEUES)")
	case c.resultTTL < tasks.MinResultTTL || c.resultTTL > tasks.MaxResultTTL:
		return fmt.Errorf("--result-ttl must be %s to %s (env RUNQ_RESULT_TTL)", hours(tasks.MinResultTTL), hours(tasks.MaxResultTTL))
	case c.idempotencyTTL < time.Second || c.idempotencyTTL > tasks.MaxResultTTL:
		return fmt.Errorf("--idempotency-ttl must be 1s to %s (env RUNQ_IDEMPOTENCY_TTL)", hours(tasks.MaxResultTTL))
	case c.visibility < 100*time.Millisecond:
		return errors.New("--visibility-timeout must be at least 100ms (env RUNQ_VISIBILITY_TIMEOUT)")
	case c.grace <= 0:
		return errors.New("--grace must be positive (env RUNQ_GRACE)")
	case c.batchWait < 0 || c.batchWait > time.Second:
		return errors.New("--batch-wait must be 0 to 1s (env RUNQ_BATCH_WAIT)")
	case c.maxCrashes < -1 || c.maxCrashes == 0:
		return errors.New("--max-crashes must be -1 (no limit) or at least 1 (env RUNQ_MAX_CRASHES)")
	case c.bodyLimit < 1024:
		return errors.New("--body-limit must be at least 1024 bytes (env RUNQ_BODY_LIMIT)")
	case c.maxRetries < 0 || c.maxRetries > tasks.MaxRetriesLimit:
		return fmt.Errorf("--max-retries must be 0 to %d (env RUNQ_MAX_RETRIES)", tasks.MaxRetriesLimit)
	case c.timeout < time.Millisecond || c.timeout > tasks.MaxTimeout:
		return fmt.Errorf("--task-timeout must be 1ms to %s (env RUNQ_TASK_TIMEOUT)", hours(tasks.MaxTimeout))
	case c.logFormat != "text" && c.logFormat != "json":
		return errors.New("--log-format must be text or json (env RUNQ_LOG_FORMAT)")
	case c.metricsAddr != "" && !validAddr(c.metricsAddr):
		return fmt.Errorf("--metrics-addr %q: want HOST:PORT, such as 127.0.0.1:9091 (env RUNQ_METRICS_ADDR)", truncate(c.metricsAddr, 40))
	case broker.ValidPrefix(c.prefix) != nil:
		return fmt.Errorf("--prefix must be 1-%d printable ASCII characters without braces or spaces (env RUNQ_PREFIX)", broker.MaxPrefixLen)
	case c.failedTTL < tasks.MinResultTTL || c.failedTTL > tasks.MaxResultTTL:
		return fmt.Errorf("--failed-ttl must be %s to %s (env RUNQ_FAILED_TTL)", hours(tasks.MinResultTTL), hours(tasks.MaxResultTTL))
	}
	return nil
}

// validAddr reports whether addr is HOST:PORT with a port number (0 to
// 65535), as net.Listen takes it; the host may be empty (every address).
func validAddr(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n <= 65535
}

// applyLimits sets the --rate and --max-running of cfg on the handlers of
// reg; an error names the flag.
func (c *config) applyLimits(reg *tasks.Registry) error {
	for name, rate := range c.rates {
		if err := reg.SetRate(name, rate); err != nil {
			return fmt.Errorf("--rate %s=%s: %s (env RUNQ_RATE)", truncate(name, 64), truncate(rate, 32), limitError(err, reg))
		}
	}
	for name, v := range c.maxRunning {
		n, err := strconv.Atoi(v)
		if err == nil {
			err = reg.SetMaxRunning(name, n)
		} else {
			err = errors.New("not a whole number")
		}
		if err != nil {
			return fmt.Errorf("--max-running %s=%s: %s (env RUNQ_MAX_RUNNING)", truncate(name, 64), truncate(v, 32), limitError(err, reg))
		}
	}
	return nil
}

// limitError words an error of Registry.SetRate or SetMaxRunning for the
// command line.
func limitError(err error, reg *tasks.Registry) string {
	if errors.Is(err, tasks.ErrUnknownName) {
		return "no handler of that name (this program's: " + strings.Join(reg.Names(), ", ") + ")"
	}
	if _, why, ok := strings.Cut(err.Error(), tasks.ErrInvalid.Error()+": "); ok {
		return why
	}
	return err.Error()
}

// PrintFlagSet writes the flags of fs as runq's help shows flags: --name
// and its value, what it means, and its default; for a command a program
// adds, whose flags are its own.
func PrintFlagSet(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if arg != "" {
			name += " " + strings.ToUpper(arg)
		}
		line := fmt.Sprintf("  %-30s %s", name, usage)
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" {
			line += " (default " + d + ")"
		}
		fmt.Fprintln(w, line)
	})
}

// FlagError rewords an error of flag.FlagSet.Parse as runq's own flags'
// errors read: --name, and the value refused.
func FlagError(cmd string, err error) error {
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		return usage(fmt.Sprintf("unknown flag --%s (see %s --help)", name, cmd))
	}
	if name, value, why, ok := badValue(err); ok {
		return usage(fmt.Sprintf("--%s %q: %s", name, truncate(value, 40), why))
	}
	return usage(err.Error())
}
