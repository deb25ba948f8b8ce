package api

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/results"
	"github.com/runq/runq/tasks"
)

// Headers of idempotent submission: the client's key, and the answer's
// mark of a replay (the record's "replayed" says the same).
const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
)

// idempotencyHeader sets r's idempotency key from the Idempotency-Key
// header of a single submission; a body's "idempotency_key" that differs
// is refused.
func idempotencyHeader(c echo.Context, r *tasks.Request) error {
	key := c.Request().Header.Get(headerIdempotencyKey)
	switch {
	case key == "":
		return nil
	case r.IdempotencyKey != "" && r.IdempotencyKey != key:
		return invalid(`the Idempotency-Key header and the body's "idempotency_key" differ: give one`)
	}
	r.IdempotencyKey = key
	return nil
}

// submitted returns the status of a submission's answer: 202 for a new
// task, 200 with Idempotent-Replayed for one that already existed (an
// idempotency key sent again, or a unique key held).
func submitted(c echo.Context, rec results.Record) int {
	if !rec.Replayed {
		return http.StatusAccepted
	}
	c.Response().Header().Set(headerReplayed, "true")
	return http.StatusOK
}

// submittedBatch is submitted for a batch: 200 with Idempotent-Replayed
// when every task already existed, else 202 (each replayed task's record
// says so).
func submittedBatch(c echo.Context, recs []results.Record) int {
	if !allReplayed(recs) {
		return http.StatusAccepted
	}
	c.Response().Header().Set(headerReplayed, "true")
	return http.StatusOK
}

// allReplayed reports whether every one of recs (one at least) is
// Replayed.
func allReplayed(recs []results.Record) bool {
	for i := range recs {
		if !recs[i].Replayed {
			return false
		}
	}
	return len(recs) > 0
}

// holderOf returns the ID of the task holding the key that err (an
// ErrDuplicate or ErrIdempotencyMismatch) reports, or "".
func holderOf(err error) string {
	var dup *tasks.DuplicateError
	if errors.As(err, &dup) {
		return dup.Holder.String()
	}
	var mis *tasks.IdempotencyMismatchError
	if errors.As(err, &mis) {
		return mis.Holder.String()
	}
	return ""
}

// noBatchIdempotencyHeader refuses an Idempotency-Key header on a batch:
// one key cannot stand for several tasks, and ignoring it would let the
// client believe a resent batch safe.
func noBatchIdempotencyHeader(c echo.Context) error {
	if c.Request().Header.Get(headerIdempotencyKey) == "" {
		return nil
	}
	return invalid(`a batch takes no Idempotency-Key header: give each task its own "idempotency_key"`)
}
