package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/runq/runq/tasks"
)

// Events follows task id over GET /v1/tasks/{id}/events, as
// tasks.Client.Events does: fn gets each event (an EventStatus of the task
// as it is first, unless after names an event to resume after), the last
// being the EventEnd with the final record; Events then returns nil. A
// stream broken before the end is opened again after the last event
// received (Last-Event-ID), up to three times in a row. Keepalives are
// passed as tasks.EventIdle. The stream is not bounded by Config's
// HTTPClient timeout, only by ctx.
func (c *Client) Events(ctx context.Context, id uuid.UUID, after string, fn func(tasks.TaskEvent) error) error {
	failures := 0
	for {
		got, err := c.events(ctx, id, &after, fn)
		var stop *stopError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &stop):
			return stop.err
		case ctx.Err() != nil:
			return ctx.Err()
		}
		var ae *Error
		if errors.As(err, &ae) {
			return err
		}
		if got {
			failures = 0
		}
		if failures++; failures > 3 {
			return err
		}
		select {
		case <-time.After(time.Duration(failures) * 100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stopError carries fn's error out of events: it ends Events.
type stopError struct{ err error }

func (e *stopError) Error() string { return e.err.Error() }

// events reads one stream until its end event (nil), fn's error, or a
// broken stream; got reports that it received an event. *after follows
// the events received.
func (c *Client) events(ctx context.Context, id uuid.UUID, after *string, fn func(tasks.TaskEvent) error) (got bool, err error) {
	path := "/v1/tasks/" + id.String() + "/events"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return false, fmt.Errorf("client: GET %s: %w", path, err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if *after != "" {
		req.Header.Set("Last-Event-ID", *after)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	stream := &http.Client{Transport: c.http.Transport, CheckRedirect: c.http.CheckRedirect, Jar: c.http.Jar}
	resp, err := stream.Do(req)
	if err != nil {
		return false, fmt.Errorf("client: GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		return false, answerError(resp, raw)
	}
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	var ev tasks.TaskEvent
	var data []byte
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) { // a long data line: read the rest
			var rest []byte
			rest, err = r.ReadBytes('\n')
			line = append(append([]byte(nil), line...), rest...)
		}
		if err != nil {
			return got, fmt.Errorf("client: GET %s: the stream broke: %w", path, err)
		}
		text := strings.TrimRight(string(line), "\r\n")
		switch {
		case text == "" && ev.Kind != "":
			if err := json.Unmarshal(data, &ev.Record); err != nil {
				return got, fmt.Errorf("client: GET %s: decode an event: %w", path, err)
			}
			got, *after = true, ev.ID
			if err := fn(ev); err != nil {
				return got, &stopError{err}
			}
			if ev.Kind == tasks.EventEnd {
				return got, nil
			}
			ev, data = tasks.TaskEvent{}, nil
		case strings.HasPrefix(text, ":"):
			if err := fn(tasks.TaskEvent{Kind: tasks.EventIdle}); err != nil {
				return got, &stopError{err}
			}
		case strings.HasPrefix(text, "id: "):
			ev.ID = text[4:]
		case strings.HasPrefix(text, "event: "):
			ev.Kind = text[7:]
		case strings.HasPrefix(text, "data: "):
			data = append(data, text[6:]...)
		}
	}
}
