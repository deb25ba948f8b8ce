package api

import (
	"sync"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/runq/runq/api/internal/wirejson"
	"github.com/runq/runq/results"
)

// Records are written by wirejson.AppendRecord, not by echo's c.JSON: the
// bytes are the same, at a fraction of the CPU (see package wirejson).

// renderBufs holds response buffers between requests. Buffers of a large
// batch answer are not kept, so the pool does not pin their memory.
var renderBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledBuf = 1 << 20

// writeRecord writes rec with status, as c.JSON(status, rec) would.
func writeRecord(c echo.Context, status int, rec *results.Record) error {
	if indented(c) {
		return c.JSON(status, *rec) // a copy: rec itself stays off the heap
	}
	bp := renderBufs.Get().(*[]byte)
	b, err := wirejson.AppendRecord((*bp)[:0], rec, new(wirejson.Durations))
	return flush(c, status, bp, b, err)
}

// batchBody is the body of POST /v1/tasks/batch and of its answer.
type batchBody[T any] struct {
	Tasks []T `json:"tasks"`
}

// writeRecords writes {"tasks": recs} with status, as c.JSON would.
func writeRecords(c echo.Context, status int, recs []results.Record) error {
	if indented(c) {
		return c.JSON(status, batchBody[results.Record]{Tasks: recs})
	}
	bp := renderBufs.Get().(*[]byte)
	b, err := appendRecords((*bp)[:0], recs)
	return flush(c, status, bp, b, err)
}

// appendRecords appends {"tasks": recs} to b, as c.JSON would write it but
// for the newline.
func appendRecords(b []byte, recs []results.Record) ([]byte, error) {
	b = append(b, `{"tasks":[`...)
	var texts wirejson.Durations
	for i := range recs {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = wirejson.AppendRecord(b, &recs[i], &texts); err != nil {
			return b, err
		}
	}
	return append(b, "]}"...), nil
}

// indented reports whether c.JSON would indent its answer: with ?pretty (a
// key, whatever its value) or in echo's Debug mode. Those answers are left
// to it, or to encoding/json with the same indent for a parked poll. The
// query is parsed only when there is one.
func indented(c echo.Context) bool {
	if c.Echo().Debug {
		return true
	}
	if c.Request().URL.RawQuery == "" {
		return false
	}
	_, pretty := c.QueryParams()["pretty"]
	return pretty
}

// flush writes b, unless encoding it failed, and returns its buffer bp to
// the pool.
func flush(c echo.Context, status int, bp *[]byte, b []byte, err error) error {
	if err == nil {
		err = c.JSONBlob(status, append(b, '\n')) // json.Encoder ends with a newline
	}
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		renderBufs.Put(bp)
	}
	return err
}

// setLocation sets the Location header of a created task.
func setLocation(c echo.Context, id uuid.UUID) {
	var buf [len("/v1/tasks/") + 36]byte
	b := wirejson.AppendUUID(append(buf[:0], "/v1/tasks/"...), id)
	c.Response().Header()[echo.HeaderLocation] = []string{string(b)}
}
