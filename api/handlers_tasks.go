package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/runq/runq/tasks"
)

// submit handles POST /v1/tasks: 202 with the record and a Location header.
func (s *Server) submit(c echo.Context) error {
	var req tasks.Request
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	rec, err := s.tasks.Submit(c.Request().Context(), req)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/v1/tasks/"+rec.ID.String())
	return c.JSON(http.StatusAccepted, rec)
}

// getTask handles GET /v1/tasks/{id}[?wait=10s]: the record, after waiting
// for a terminal status up to the wait when one is given.
func (s *Server) getTask(c echo.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	w := c.QueryParam("wait")
	if w == "" {
		rec, err := s.results.Get(ctx, id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, rec)
	}
	d, err := time.ParseDuration(w)
	if err != nil || d < 0 {
		return badRequest(http.StatusBadRequest, fmt.Sprintf("invalid wait %q: use a duration such as \"10s\" (at most %s)", truncate(w, 32), s.cfg.MaxWait))
	}
	rec, err := s.results.Wait(ctx, id, min(d, s.cfg.MaxWait))
	if err != nil {
		if ctx.Err() != nil {
			return nil // the client has gone
		}
		return err
	}
	return c.JSON(http.StatusOK, rec)
}

// cancelTask handles DELETE /v1/tasks/{id}: 200 with the canceled record, or
// 409 when the task has started or finished.
func (s *Server) cancelTask(c echo.Context) error {
	id, err := parseID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.tasks.Cancel(ctx, id); err != nil {
		return err
	}
	rec, err := s.results.Get(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rec)
}

func parseID(c echo.Context) (uuid.UUID, error) {
	raw := c.Param("id")
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		return uuid.UUID{}, badRequest(http.StatusBadRequest, fmt.Sprintf("invalid task id %q: want a UUID such as 0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77", truncate(raw, 40)))
	}
	return id, nil
}

// decodeJSON decodes the request body, which must be one JSON object of
// application/json, into v. Unknown fields are refused, so a misspelt option
// is an error rather than silently ignored.
func decodeJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != echo.MIMEApplicationJSON {
		return badRequest(http.StatusUnsupportedMediaType, "content type must be application/json")
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he // 413 from the body limit
		}
		return badRequest(http.StatusBadRequest, "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest(http.StatusBadRequest, "request body is empty: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(http.StatusBadRequest, jsonError(err))
	}
	if dec.More() {
		return badRequest(http.StatusBadRequest, "invalid JSON: unexpected data after the object")
	}
	return nil
}

// jsonError explains a decoding error without Go type names.
func jsonError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("the body must be a JSON object, not %s", typ.Value)
		}
		return fmt.Sprintf("field %q: got %s, want %s", typ.Field, typ.Value, jsonKind(typ.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "invalid JSON: the body ends too early"
	}
	return "invalid request: " + err.Error()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64", "ptr":
		return "an integer"
	case "struct", "map":
		return "an object"
	}
	return goKind
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
