package cli

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runq/runq/tasks"
)

// The flag.Value types of runq's settings: each parses one kind of value
// into the config field it points at, as the flag and its environment
// variable give it.

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

// timeValue is an RFC 3339 time, such as 2030-01-02T15:04:05Z.
type timeValue time.Time

func (v *timeValue) String() string {
	if time.Time(*v).IsZero() {
		return ""
	}
	return time.Time(*v).Format(time.RFC3339)
}
func (v *timeValue) Set(s string) error {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return errors.New("not an RFC 3339 time such as 2030-01-02T15:04:05Z")
	}
	*v = timeValue(t)
	return nil
}

// queuesValue is --queues: names in strict order ("critical,default,low"),
// or each with its weight ("critical:6,default:3,low:1"). Empty items are
// skipped; names are checked by validate.
type queuesValue struct {
	queues  *[]string
	weights *map[string]int
}

func (v queuesValue) String() string {
	if v.queues == nil { // the zero Value that flag.PrintDefaults may make
		return ""
	}
	parts := slices.Clone(*v.queues)
	for i, q := range parts {
		if w, ok := (*v.weights)[q]; ok {
			parts[i] = q + ":" + strconv.Itoa(w)
		}
	}
	return strings.Join(parts, ",")
}

func (v queuesValue) Set(s string) error {
	var queues []string
	var weights map[string]int
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		name, weight, weighted := strings.Cut(part, ":")
		name = strings.TrimSpace(name)
		if slices.Contains(queues, name) {
			return fmt.Errorf("queue %s is listed twice", name)
		}
		if weighted != (weights != nil) && len(queues) > 0 {
			return errors.New("give every queue a weight (critical:6,default:3,low:1) or none (critical,default,low)")
		}
		queues = append(queues, name)
		if !weighted {
			continue
		}
		w, err := strconv.Atoi(strings.TrimSpace(weight))
		if err != nil || w < 1 || w > tasks.MaxQueueWeight {
			return fmt.Errorf("weight %q of queue %s: want a whole number 1 to %d", weight, name, tasks.MaxQueueWeight)
		}
		if weights == nil {
			weights = make(map[string]int)
		}
		weights[name] = w
	}
	*v.queues, *v.weights = queues, weights
	return nil
}

// namedValue is NAME=VALUE pairs, from a flag given more than once or
// comma-separated; a name given again takes the last value.
type namedValue map[string]string

func (v *namedValue) String() string {
	out := make([]string, 0, len(*v))
	for name, val := range *v {
		out = append(out, name+"="+val)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

func (v *namedValue) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" || val == "" {
			return errors.New("want NAME=VALUE")
		}
		if *v == nil {
			*v = make(namedValue)
		}
		(*v)[name] = val
	}
	return nil
}
