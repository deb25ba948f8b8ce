package broker

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Unavailable reports whether err means that Redis cannot serve the call
// for now, as opposed to a bad request or a bug, and why, in words for a
// client ("Redis is out of memory"): the caller may try again later, and an
// HTTP API answers 503. It looks through wrapped errors.
func Unavailable(err error) (why string, ok bool) {
	if err == nil {
		return "", false
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		for _, r := range refusals {
			if strings.HasPrefix(msg, r.prefix) {
				return r.why, true
			}
		}
		return "", false
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, redis.ErrPoolTimeout):
		return "Redis is unreachable", true
	}
	return "", false
}

// refusals are the replies of a Redis that is up but will not serve the
// call now, by how they begin.
var refusals = []struct{ prefix, why string }{
	{"OOM ", "Redis is out of memory (maxmemory reached)"},
	{"READONLY ", "Redis is a read-only replica"},
	{"MISCONF ", "Redis cannot save to disk (MISCONF)"},
	{"LOADING ", "Redis is loading its data"},
	{"BUSY ", "Redis is busy running a script"},
	{"MASTERDOWN ", "Redis has lost its master"},
	{"NOREPLICAS ", "Redis has too few replicas for writes"},
	{"CLUSTERDOWN ", "Redis Cluster is down"},
	{"TRYAGAIN ", "Redis Cluster is resharding"},
	{"ERR max number of clients reached", "Redis has reached its client limit (maxclients)"},
}
