package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// listTasks handles GET /v1/tasks?queue=&status=&name=&limit=&cursor=: a
// page of tasks, newest first, with the cursor of the next page.
func (s *server) listTasks(c echo.Context) error {
	if err := onlyParams(c, "queue", "status", "name", "limit", "cursor", "pretty"); err != nil {
		return err
	}
	opts := tasks.ListOptions{
		Queue: c.QueryParam("queue"), Status: results.Status(c.QueryParam("status")),
		Name: c.QueryParam("name"), Cursor: c.QueryParam("cursor"),
	}
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > tasks.MaxListLimit {
			return invalid(fmt.Sprintf("invalid limit %q: want 1 to %d", truncate(l, 20), tasks.MaxListLimit))
		}
		opts.Limit = n
	}
	page, err := s.tasks.List(c.Request().Context(), opts)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// listQueues handles GET /v1/queues: every known queue, by name.
func (s *server) listQueues(c echo.Context) error {
	qs, err := s.tasks.Queues(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		Queues []tasks.QueueInfo `json:"queues"`
	}{qs})
}

// getQueue handles GET /v1/queues/{queue}.
func (s *server) getQueue(c echo.Context) error {
	q, err := s.tasks.Queue(c.Request().Context(), c.Param("queue"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, q)
}

// listWorkers handles GET /v1/workers: the live worker processes, by ID.
func (s *server) listWorkers(c echo.Context) error {
	ws, err := s.tasks.Workers(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		Workers []tasks.WorkerInfo `json:"workers"`
	}{ws})
}

// listHandlers handles GET /v1/handlers: the registered task names.
func (s *server) listHandlers(c echo.Context) error {
	hs, err := s.tasks.Handlers(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		Handlers []tasks.HandlerInfo `json:"handlers"`
	}{hs})
}

// listSchedules handles GET /v1/schedules: the periodic schedules some
// process declared within tasks.ScheduleTimeout, by ID.
func (s *server) listSchedules(c echo.Context) error {
	list, err := s.tasks.Schedules(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, struct {
		Schedules []tasks.ScheduleInfo `json:"schedules"`
	}{list})
}

// retryTask handles POST /v1/tasks/{id}/retry: a failed or canceled task
// queued again, with its ID and attempts; 409 for any other status.
func (s *server) retryTask(c echo.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	rec, err := s.tasks.Retry(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return writeRecord(c, http.StatusOK, &rec)
}

// purgeResult is the answer of POST /v1/queues/{queue}/purge.
type purgeResult struct {
	Queue  string         `json:"queue"`
	Status results.Status `json:"status"`
	Purged int64          `json:"purged"`
}

// purgeQueue handles POST /v1/queues/{queue}/purge?status=S: deletes the
// queue's tasks of that status, and answers how many.
func (s *server) purgeQueue(c echo.Context) error {
	if err := onlyParams(c, "status", "pretty"); err != nil {
		return err
	}
	status := results.Status(c.QueryParam("status"))
	if status == "" {
		return invalid("missing status: purge takes ?status=succeeded, failed, canceled or queued")
	}
	queue := c.Param("queue")
	n, err := s.tasks.Purge(c.Request().Context(), queue, status)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, purgeResult{Queue: queue, Status: status, Purged: n})
}

// onlyParams refuses a query parameter other than names, which would
// otherwise be ignored: a misspelled filter would list everything.
func onlyParams(c echo.Context, names ...string) error {
	for p := range c.QueryParams() {
		known := false
		for _, n := range names {
			known = known || p == n
		}
		if !known {
			return invalid(fmt.Sprintf("unknown query parameter %q", truncate(p, 40)))
		}
	}
	return nil
}
