package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/results"
)

// retryQueueResult is the answer of POST /v1/queues/{queue}/retry.
type retryQueueResult struct {
	Queue   string         `json:"queue"`
	Status  results.Status `json:"status"`
	Retried int64          `json:"retried"`
}

// retryQueue handles POST /v1/queues/{queue}/retry?status=failed: queues
// again every failed task of the queue, each with its ID and attempts, and
// answers how many.
func (s *server) retryQueue(c echo.Context) error {
	if err := onlyParams(c, "status", "pretty"); err != nil {
		return err
	}
	status := results.Status(c.QueryParam("status"))
	if status == "" {
		return invalid("missing status: retry takes ?status=failed")
	}
	queue := c.Param("queue")
	n, err := s.tasks.RetryQueue(c.Request().Context(), queue, status)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, retryQueueResult{Queue: queue, Status: status, Retried: n})
}
