package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is every setting of a runq process.
type config struct {
	redisURL      string
	embeddedAddr  string
	addr          string
	concurrency   int
	queues        []string
	resultTTL     time.Duration
	visibility    time.Duration
	grace         time.Duration
	maxCrashes    int
	bodyLimit     int64
	maxRetries    int
	taskTimeout   time.Duration
	logLevel      string
	logFormat     string
	shutdownDelay time.Duration
	apiToken      string
	insecure      bool
	allowEviction bool
}

// setting is one flag and its environment twin.
type setting struct {
	flag, env, usage string
	value            flag.Value
}

// flagSet is the command line's flags and their environment twins.
type flagSet struct {
	*flag.FlagSet
	settings []setting
}

// newFlagSet defines every flag on a FlagSet, with runq's defaults in cfg.
// Parse then applies the environment to the flags not given.
func newFlagSet(name string, cfg *config) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by Main
	*cfg = config{
		embeddedAddr: "127.0.0.1:0", addr: "127.0.0.1:8080", concurrency: 10,
		queues: []string{"default"}, resultTTL: 24 * time.Hour, visibility: 30 * time.Second,
		grace: 30 * time.Second, maxCrashes: 3, bodyLimit: 1 << 20, maxRetries: 3,
		taskTimeout: 30 * time.Minute, logLevel: "info", logFormat: "text",
		shutdownDelay: 10 * time.Second,
	}
	settings := []setting{
		{"redis", "REDIS_URL", "Redis URL (redis://, rediss:// for TLS); empty starts an embedded Redis", (*stringValue)(&cfg.redisURL)},
		{"embedded-addr", "RUNQ_EMBEDDED_ADDR", "address of the embedded Redis, when --redis is empty", (*stringValue)(&cfg.embeddedAddr)},
		{"addr", "RUNQ_ADDR", "HTTP API listen address", (*stringValue)(&cfg.addr)},
		{"concurrency", "RUNQ_CONCURRENCY", "handlers run at once by this worker", (*intValue)(&cfg.concurrency)},
		{"queues", "RUNQ_QUEUES", "queues to consume, comma-separated, highest priority first", (*listValue)(&cfg.queues)},
		{"result-ttl", "RUNQ_RESULT_TTL", "how long finished tasks are kept, unless a task says otherwise", (*durationValue)(&cfg.resultTTL)},
		{"visibility-timeout", "RUNQ_VISIBILITY_TIMEOUT", "lease length: a lost worker's task is redelivered after this", (*durationValue)(&cfg.visibility)},
		{"grace", "RUNQ_GRACE", "at shutdown, how long running tasks may finish before they are handed back", (*durationValue)(&cfg.grace)},
		{"max-crashes", "RUNQ_MAX_CRASHES", "redeliveries after lost workers before a task fails as poison (-1: no limit)", (*intValue)(&cfg.maxCrashes)},
		{"body-limit", "RUNQ_BODY_LIMIT", "largest HTTP request body, in bytes", (*int64Value)(&cfg.bodyLimit)},
		{"max-retries", "RUNQ_MAX_RETRIES", "retries of a failed task, unless the task or its handler says otherwise", (*intValue)(&cfg.maxRetries)},
		{"task-timeout", "RUNQ_TASK_TIMEOUT", "time limit of one attempt, unless the task or its handler says otherwise", (*durationValue)(&cfg.taskTimeout)},
		{"log-level", "RUNQ_LOG_LEVEL", "debug, info, warn or error", (*stringValue)(&cfg.logLevel)},
		{"log-format", "RUNQ_LOG_FORMAT", "text or json", (*stringValue)(&cfg.logFormat)},
		{"api-token", "RUNQ_API_TOKEN", "bearer token required on every /v1 request; empty means none", (*stringValue)(&cfg.apiToken)},
		{"insecure", "RUNQ_INSECURE", "allow listening beyond loopback without --api-token", (*boolValue)(&cfg.insecure)},
		{"allow-eviction", "RUNQ_ALLOW_EVICTION", "start even if Redis may evict keys (maxmemory-policy other than noeviction)", (*boolValue)(&cfg.allowEviction)},
	}
	for _, st := range settings {
		fs.Var(st.value, st.flag, st.usage+" (env "+st.env+")")
	}
	return &flagSet{FlagSet: fs, settings: settings}
}

// Parse parses args, then sets each flag not given from its environment
// variable, if set: a flag on the command line wins, and a bad variable is
// reported only when it is used, by its name.
func (f *flagSet) Parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		return err
	}
	given := make(map[string]bool)
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	for _, st := range f.settings {
		v, ok := os.LookupEnv(st.env)
		if !ok || given[st.flag] {
			continue
		}
		if err := st.value.Set(v); err != nil {
			return fmt.Errorf("environment variable %s=%q: %v", st.env, truncate(v, 40), err)
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// check reports the first setting out of range.
func (c *config) check() error {
	switch {
	case c.concurrency < 1 || c.concurrency > 10000:
		return errors.New("--concurrency must be 1 to 10000 (env RUNQ_CONCURRENCY)")
	case len(c.queues) == 0:
		return errors.New("--queues must name at least one queue (env RUNQ_QUEUES)")
	case c.resultTTL < time.Second:
		return errors.New("--result-ttl must be at least 1s (env RUNQ_RESULT_TTL)")
	case c.visibility < 100*time.Millisecond:
		return errors.New("--visibility-timeout must be at least 100ms (env RUNQ_VISIBILITY_TIMEOUT)")
	case c.grace <= 0:
		return errors.New("--grace must be positive (env RUNQ_GRACE)")
	case c.maxCrashes < -1 || c.maxCrashes == 0:
		return errors.New("--max-crashes must be -1 (no limit) or at least 1 (env RUNQ_MAX_CRASHES)")
	case c.bodyLimit < 1024:
		return errors.New("--body-limit must be at least 1024 bytes (env RUNQ_BODY_LIMIT)")
	case c.maxRetries < 0:
		return errors.New("--max-retries must not be negative (env RUNQ_MAX_RETRIES)")
	case c.taskTimeout <= 0:
		return errors.New("--task-timeout must be positive (env RUNQ_TASK_TIMEOUT)")
	case c.logFormat != "text" && c.logFormat != "json":
		return errors.New("--log-format must be text or json (env RUNQ_LOG_FORMAT)")
	}
	return nil
}

// checkExposure refuses an API reachable beyond this machine with no token,
// unless --insecure says so: anyone who could reach it could submit and
// cancel tasks.
func (c *config) checkExposure() error {
	if c.apiToken != "" || c.insecure {
		return nil
	}
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %v", c.addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without an API token: anyone who can reach it could submit and cancel tasks; "+
		"set --api-token (RUNQ_API_TOKEN), listen on 127.0.0.1, or pass --insecure", c.addr)
}

type stringValue string

func (v *stringValue) String() string     { return string(*v) }
func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }

type boolValue bool

func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }
func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return errors.New("not a boolean (true or false)")
	}
	*v = boolValue(b)
	return nil
}

type intValue int

func (v *intValue) String() string { return strconv.Itoa(int(*v)) }
func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not a whole number")
	}
	*v = intValue(n)
	return nil
}

type int64Value int64

func (v *int64Value) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *int64Value) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("not a whole number")
	}
	*v = int64Value(n)
	return nil
}

type durationValue time.Duration

func (v *durationValue) String() string { return time.Duration(*v).String() }
func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration such as 30s or 5m")
	}
	*v = durationValue(d)
	return nil
}

type listValue []string

func (v *listValue) String() string { return strings.Join(*v, ",") }
func (v *listValue) Set(s string) error {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	*v = out
	return nil
}
