package outages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/runq/runq/results"
)

// NewHTTPClient returns a client whose every request ends within timeout
// (no request can hang a test) and that keeps up to conns connections to
// one host alive.
func NewHTTPClient(timeout time.Duration, conns int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns
	tr.MaxIdleConnsPerHost = conns
	return &http.Client{Timeout: timeout, Transport: tr}
}

// Kind classifies one HTTP answer.
type Kind string

// The kinds of answer the tests count.
const (
	Accepted    Kind = "202"       // the task was queued
	Unavailable Kind = "503-json"  // 503 with {"error": ...} that leaks nothing
	Other       Kind = "other"     // anything else: an error, a hang, a 500, a leaky 503
	OK          Kind = "200"       // a GET answered
	NotFound    Kind = "404"       // a GET of an unknown id
	Transport   Kind = "transport" // no HTTP answer at all (refused, reset, timed out)
)

// Answer is the outcome of one request.
type Answer struct {
	Kind    Kind
	Status  int
	Record  results.Record // for 202 and 200
	Detail  string         // why it is Other: the status and body, or the error
	Latency time.Duration
	At      time.Time // when the answer was read
}

// leaks are fragments of internal detail that a client must never see.
var leaks = []string{"dial", "tcp", "127.0.0.1", "refused", "EOF", "redis:", "broken pipe", "reset by peer", "i/o timeout", "goroutine", ".go:"}

// Submit posts body to base+/v1/tasks and classifies the answer: Accepted
// with the record, Unavailable for a clean 503, else Other or Transport.
func Submit(c *http.Client, base string, body []byte) Answer {
	start := time.Now()
	resp, err := c.Post(base+"/v1/tasks", "application/json", bytes.NewReader(body))
	if err != nil {
		return Answer{Kind: Transport, Detail: err.Error(), Latency: time.Since(start), At: time.Now()}
	}
	return classify(resp, start, http.StatusAccepted, Accepted)
}

// Get reads base+/v1/tasks/+idQuery and classifies the answer: OK with the
// record, NotFound, Unavailable, else Other or Transport.
func Get(c *http.Client, base, idQuery string) Answer {
	return GetContext(context.Background(), c, base, idQuery)
}

// GetContext is Get with a context for the request.
func GetContext(ctx context.Context, c *http.Client, base, idQuery string) Answer {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/tasks/"+idQuery, nil)
	if err != nil {
		return Answer{Kind: Other, Detail: err.Error(), At: time.Now()}
	}
	resp, err := c.Do(req)
	if err != nil {
		return Answer{Kind: Transport, Detail: err.Error(), Latency: time.Since(start), At: time.Now()}
	}
	a := classify(resp, start, http.StatusOK, OK)
	if a.Kind == Other && a.Status == http.StatusNotFound {
		a.Kind = NotFound
	}
	return a
}

func classify(resp *http.Response, start time.Time, want int, kind Kind) Answer {
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := Answer{Status: resp.StatusCode, Latency: time.Since(start), At: time.Now()}
	if err != nil {
		a.Kind, a.Detail = Transport, fmt.Sprintf("status %d, reading body: %v", resp.StatusCode, err)
		return a
	}
	a.Kind, a.Detail = Other, fmt.Sprintf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(raw)))
	switch resp.StatusCode {
	case want:
		if err := json.Unmarshal(raw, &a.Record); err == nil {
			a.Kind, a.Detail = kind, ""
		}
	case http.StatusServiceUnavailable:
		if cleanError(resp, raw) {
			a.Kind, a.Detail = Unavailable, ""
		}
	}
	return a
}

// cleanError reports whether an error answer is JSON {"error": "..."} whose
// message names no internals.
func cleanError(resp *http.Response, raw []byte) bool {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var body struct {
		Error string `json:"error"`
	}
	if mt != "application/json" || json.Unmarshal(raw, &body) != nil || body.Error == "" {
		return false
	}
	for _, l := range leaks {
		if strings.Contains(strings.ToLower(body.Error), strings.ToLower(l)) {
			return false
		}
	}
	return true
}
