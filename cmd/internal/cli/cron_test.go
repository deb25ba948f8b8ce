package cli

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCronLine(t *testing.T) {
	t.Parallel()
	good := []struct {
		line, spec, name, payload string
	}{
		{"@every 1s probe.tick", "@every 1s", "probe.tick", ""},
		{"  @every   90s  echo  ", "@every 90s", "echo", ""},
		{"@hourly report.send", "@hourly", "report.send", ""},
		{`@daily digest {"to": "ops", "n": [1, 2]}`, "@daily", "digest", `{"to": "ops", "n": [1, 2]}`},
		{"*/5 * * * * echo", "*/5 * * * *", "echo", ""},
		{"0 9 * * MON-FRI digest null", "0 9 * * MON-FRI", "digest", "null"},
		{"* * * * * * echo", "* * * * * *", "echo", ""},            // 6 fields: every second
		{"*/10 * * * * * echo 42", "*/10 * * * * *", "echo", "42"}, // 5 fields would leave "*" as the name
		{`0 9 * * 1 mon "x"`, "0 9 * * 1", "mon", `"x"`},           // 6 fields would leave "x" as the name
		{"CRON_TZ=Europe/Paris 0 9 * * * digest", "CRON_TZ=Europe/Paris 0 9 * * *", "digest", ""},
		{"TZ=UTC 30 0 9 * * * digest {}", "TZ=UTC 30 0 9 * * *", "digest", "{}"},
		{"CRON_TZ=Asia/Tokyo @daily digest", "CRON_TZ=Asia/Tokyo @daily", "digest", ""},
		{"@every 1m a/b:c-d_e.f [1,\t2]", "@every 1m", "a/b:c-d_e.f", "[1,\t2]"},
	}
	for _, tt := range good {
		cl, err := parseCronLine(tt.line)
		if err != nil || cl.spec != tt.spec || cl.name != tt.name || string(cl.payload) != tt.payload {
			t.Errorf("parseCronLine(%q) = %q, %q, %q, %v; want %q, %q, %q", tt.line, cl.spec, cl.name, cl.payload, err, tt.spec, tt.name, tt.payload)
		}
	}
	bad := []struct{ line, why string }{
		{"", "want 'SPEC NAME [JSON]'"},
		{"   ", "want 'SPEC NAME [JSON]'"},
		{"CRON_TZ=UTC", "want 'SPEC NAME [JSON]'"},
		{"@hourly", "no task name"},
		{"@every 1s", "no task name"},
		{"* * * * *", "no task name"},
		{"@every 500ms echo", "whole number of seconds"},
		{"@every echo", "want @every DURATION"},
		{"@weekday echo", "unrecognized descriptor"},
		{"* * * * echo", "4 fields"},
		{"61 * * * * echo", "61"},
		{"CRON_TZ=Nowhere/Atall 0 9 * * * echo", "bad location"},
		{"@hourly a b", "not valid JSON: b"},
		{"@hourly echo {", "not valid JSON"},
		{`@hourly echo {"a":1} x`, "not valid JSON"},
		{"@hourly bad!name", "task name"},
		{"0 9 * * 1 2 3", "ambiguous"}, // "0 9 * * 1" for task 2 with payload 3, or "0 9 * * 1 2" for task 3
	}
	for _, tt := range bad {
		if _, err := parseCronLine(tt.line); err == nil || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("parseCronLine(%q) = %v, want an error saying %q", tt.line, err, tt.why)
		}
	}
}

// TestRunCron checks --cron and RUNQ_CRON as Run reads them: a bad line is
// a usage error naming it; good ones pass every check.
func TestRunCron(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		args    []string
		wantErr string // part of the usage error; noHandlers means accepted
	}{
		{"one", "", []string{"--cron", "@every 1s probe.tick"}, noHandlers},
		{"repeated", "", []string{"--cron", "@hourly echo", "--cron=*/5 * * * * echo {\"n\":1}", "-cron", "@daily sleep"}, noHandlers},
		{"all takes it", "", []string{"--cron", "@hourly echo"}, noHandlers},
		{"variable, a line each", "@hourly echo\n\n  */5 * * * * echo 1\n", nil, noHandlers},
		{"flag wins", "bad", []string{"--cron", "@hourly echo"}, noHandlers},
		{"bad spec", "", []string{"--cron", "@every 1s probe.tick", "--cron", "* * * echo"}, `--cron "* * * echo": schedule "* * *": 3 fields`},
		{"bad payload", "", []string{"--cron", "@hourly echo {nope}"}, `--cron "@hourly echo {nope}": the payload after the task name echo is not valid JSON`},
		{"bad in variable", "@hourly echo\n@every 1ms echo", nil, `--cron "@every 1ms echo"`},
		{"twice", "", []string{"--cron", "@hourly echo 1", "--cron", " @hourly  echo 2"}, `--cron: schedule "@hourly echo" of queue default declared twice`},
		{"not of serve", "", []string{"serve", "--cron", "@hourly echo"}, "--cron is not a flag of serve: it is a flag of all and worker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			if tt.env != "" {
				t.Setenv("RUNQ_CRON", tt.env)
			}
			s := newSetup(t)
			args := tt.args
			if len(args) == 0 || (args[0] != "serve" && tt.name != "all takes it") {
				args = append([]string{"worker"}, args...)
			}
			err := s.runArgs(t, s.empty, args...)
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("RUNQ_CRON=%q, Run(%q) = %v, want a usage error containing %q", tt.env, args, err, tt.wantErr)
			}
		})
	}
}
