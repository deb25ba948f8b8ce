package api

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/runq/runq/api/internal/wirejson"
	"github.com/runq/runq/tasks"
)

// decodeRequest decodes the body of POST /v1/tasks. The common body is read
// by wirejson.ScanRequest in one pass; anything it does not take, valid or
// not, goes to tasks.Request's strict UnmarshalJSON, which decides and
// words every refusal. Payload may share memory with body.
func decodeRequest(body []byte) (tasks.Request, error) {
	if r, ok := wirejson.ScanRequest(body); ok {
		return r, nil
	}
	var r tasks.Request
	err := r.UnmarshalJSON(body)
	return r, err
}

// decodeBatch decodes the body of POST /v1/tasks/batch as decodeRequest
// does a single one: wirejson.ScanBatch first, decodeBatchStrict for the
// rest.
func decodeBatch(body []byte) ([]tasks.Request, error) {
	if rs, ok := wirejson.ScanBatch(body); ok {
		return rs, nil
	}
	return decodeBatchStrict(body)
}

// readJSON returns the request body, which must be non-empty
// application/json within the body limit (415, 400 and 413 otherwise).
func readJSON(c echo.Context) ([]byte, error) {
	req := c.Request()
	if !isJSON(req.Header.Get(echo.HeaderContentType)) {
		return nil, &apiError{status: http.StatusUnsupportedMediaType, code: codeUnsupportedType, msg: "content type must be application/json"}
	}
	body, err := readBody(req.Body, req.ContentLength)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, he // 413 from the body limit
		}
		return nil, invalid("could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid("request body is empty: want a JSON object")
	}
	return body, nil
}

// isJSON reports whether a Content-Type is application/json, with any
// parameters and in any case; the exact common form skips the parser and its
// map.
func isJSON(contentType string) bool {
	if contentType == echo.MIMEApplicationJSON {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == echo.MIMEApplicationJSON
}

// maxBodyHint caps the buffer readBody sizes from Content-Length before any
// byte arrives: a client's claim alone must not reserve a large buffer.
const maxBodyHint = 64 << 10

// readBody reads r to its end, as io.ReadAll does, but sizes the buffer from
// the declared length (up to maxBodyHint), so that a typical body is read
// into one allocation instead of a series of growing ones.
func readBody(r io.Reader, contentLength int64) ([]byte, error) {
	size := 512
	if contentLength > 0 {
		size = int(min(contentLength, maxBodyHint)) + 1 // +1: the read that sees EOF
	}
	b := make([]byte, 0, size)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // let append pick the next size
		}
	}
}
