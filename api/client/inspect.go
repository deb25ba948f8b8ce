package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// What operators see and do: the listing, retry and purge verbs of
// tasks.Client, over GET /v1/tasks, /v1/queues, /v1/workers, /v1/handlers,
// /v1/schedules and POST /v1/tasks/{id}/retry, /v1/queues/{queue}/purge.

// List returns one page of tasks, newest first, filtered by opts; pass
// the page's NextCursor as opts.Cursor for the next one. A bad filter
// (a limit outside 1 to tasks.MaxListLimit, an unknown status, a bad
// queue name or cursor) is tasks.ErrInvalid, found by the server.
func (c *Client) List(ctx context.Context, opts tasks.ListOptions) (tasks.TaskPage, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("queue", opts.Queue)
	set("status", string(opts.Status))
	set("name", opts.Name)
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	set("cursor", opts.Cursor)
	path := "/v1/tasks"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var page tasks.TaskPage
	err := c.do(ctx, http.MethodGet, path, nil, http.StatusOK, &page)
	return page, err
}

// Queues returns every known queue, by name.
func (c *Client) Queues(ctx context.Context) ([]tasks.QueueInfo, error) {
	var out struct {
		Queues []tasks.QueueInfo `json:"queues"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/queues", nil, http.StatusOK, &out)
	return out.Queues, err
}

// Queue returns one queue; a queue that holds nothing has zero counts.
func (c *Client) Queue(ctx context.Context, name string) (tasks.QueueInfo, error) {
	if name == "" {
		return tasks.QueueInfo{}, fmt.Errorf("client: queue: %w: no queue name", tasks.ErrInvalid)
	}
	var q tasks.QueueInfo
	err := c.do(ctx, http.MethodGet, "/v1/queues/"+url.PathEscape(name), nil, http.StatusOK, &q)
	return q, err
}

// Workers returns the live worker processes, by id.
func (c *Client) Workers(ctx context.Context) ([]tasks.WorkerInfo, error) {
	var out struct {
		Workers []tasks.WorkerInfo `json:"workers"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/workers", nil, http.StatusOK, &out)
	return out.Workers, err
}

// Schedules returns the periodic schedules some process declared within
// tasks.ScheduleTimeout, by ID, with their last and next runs.
func (c *Client) Schedules(ctx context.Context) ([]tasks.ScheduleInfo, error) {
	var out struct {
		Schedules []tasks.ScheduleInfo `json:"schedules"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/schedules", nil, http.StatusOK, &out)
	return out.Schedules, err
}

// Handlers returns the task names some worker registered, by name.
func (c *Client) Handlers(ctx context.Context) ([]tasks.HandlerInfo, error) {
	var out struct {
		Handlers []tasks.HandlerInfo `json:"handlers"`
	}
	err := c.do(ctx, http.MethodGet, "/v1/handlers", nil, http.StatusOK, &out)
	return out.Handlers, err
}

// Retry queues failed or canceled task id again, keeping its id and its
// attempts, and returns its record, status queued; tasks.ErrNotRetryable
// for a task of any other status, tasks.ErrNotFound when there is none.
func (c *Client) Retry(ctx context.Context, id uuid.UUID) (results.Record, error) {
	var rec results.Record
	err := c.do(ctx, http.MethodPost, "/v1/tasks/"+id.String()+"/retry", nil, http.StatusOK, &rec)
	return rec, err
}

// Purge deletes the tasks of queue that have status (failed, canceled,
// succeeded or queued) and returns how many it deleted. A missing queue
// or status is tasks.ErrInvalid, found before anything is sent; another
// status is refused by the server, also as tasks.ErrInvalid.
func (c *Client) Purge(ctx context.Context, queue string, status results.Status) (int64, error) {
	if queue == "" || status == "" {
		return 0, fmt.Errorf("client: purge: %w: a queue and a status are both needed", tasks.ErrInvalid)
	}
	var out struct {
		Purged int64 `json:"purged"`
	}
	path := "/v1/queues/" + url.PathEscape(queue) + "/purge?status=" + url.QueryEscape(string(status))
	err := c.do(ctx, http.MethodPost, path, nil, http.StatusOK, &out)
	return out.Purged, err
}

// UpdateQueue applies u to the settings of queue and returns them as they
// then are (PUT /v1/queues/{queue}).
func (c *Client) UpdateQueue(ctx context.Context, queue string, u tasks.QueueUpdate) (tasks.QueueSettings, error) {
	if queue == "" {
		return tasks.QueueSettings{}, fmt.Errorf("client: update queue: %w: no queue name", tasks.ErrInvalid)
	}
	var out tasks.QueueSettings
	err := c.do(ctx, http.MethodPut, "/v1/queues/"+url.PathEscape(queue), u, http.StatusOK, &out)
	return out, err
}

// PauseQueue pauses queue: workers start none of its tasks until
// ResumeQueue; submissions still queue.
func (c *Client) PauseQueue(ctx context.Context, queue string) error {
	return c.steerQueue(ctx, queue, "pause")
}

// ResumeQueue lets workers take the tasks of queue again.
func (c *Client) ResumeQueue(ctx context.Context, queue string) error {
	return c.steerQueue(ctx, queue, "resume")
}

func (c *Client) steerQueue(ctx context.Context, queue, verb string) error {
	if queue == "" {
		return fmt.Errorf("client: %s queue: %w: no queue name", verb, tasks.ErrInvalid)
	}
	var out tasks.QueueSettings
	return c.do(ctx, http.MethodPost, "/v1/queues/"+url.PathEscape(queue)+"/"+verb, nil, http.StatusOK, &out)
}

// RetryQueue queues again every failed task of queue, each keeping its id
// and attempts, and returns how many (POST /v1/queues/{queue}/retry).
// status must be failed; another is refused by the server as
// tasks.ErrInvalid, and a missing queue or status before anything is sent.
func (c *Client) RetryQueue(ctx context.Context, queue string, status results.Status) (int64, error) {
	if queue == "" || status == "" {
		return 0, fmt.Errorf("client: retry queue: %w: a queue and a status are both needed", tasks.ErrInvalid)
	}
	var out struct {
		Retried int64 `json:"retried"`
	}
	path := "/v1/queues/" + url.PathEscape(queue) + "/retry?status=" + url.QueryEscape(string(status))
	err := c.do(ctx, http.MethodPost, path, nil, http.StatusOK, &out)
	return out.Retried, err
}
