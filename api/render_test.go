package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/runq/runq/results"
)

// sampleRecords are records to answer with: a queued one, and one whose
// strings and raw JSON need escapes.
func sampleRecords() []results.Record {
	created := time.UnixMilli(1764120000123).UTC()
	id := uuid.MustParse("0193f0c2-7c1a-7b3e-8a5d-2f1e0c9b4a77")
	return []results.Record{
		{ID: id, Name: "echo", Queue: "default", Status: results.StatusQueued, Payload: json.RawMessage(`{"user":12345,"op":"x"}`),
			MaxRetries: 3, Timeout: 30 * time.Minute, ResultTTL: 24 * time.Hour, CreatedAt: created},
		{ID: id, Name: "e", Queue: "q", Status: results.StatusFailed, Payload: json.RawMessage(` [1, "<a&b>", "\u2028"] `),
			Result: json.RawMessage(`{"a": null}`), Error: "bad \"x\" <y> \n\x01 é \xff \u2028", Attempts: 4,
			Timeout: 1500 * time.Microsecond, CreatedAt: created, StartedAt: created.Add(time.Second)},
	}
}

// TestWriteRecordsAsCJSON checks that the answers are those of c.JSON:
// status, headers and bytes, for one record and for a batch, with and
// without ?pretty (also after other parameters, and with a value).
func TestWriteRecordsAsCJSON(t *testing.T) {
	t.Parallel()
	recs := sampleRecords()[:2]
	for _, target := range []string{"/v1/tasks", "/v1/tasks?pretty", "/v1/tasks?wait=1s",
		"/v1/tasks?wait=1s&pretty", "/v1/tasks?pretty=0"} {
		for _, tt := range []struct {
			name  string
			write func(c echo.Context) error
			want  func(c echo.Context) error
		}{
			{"one", func(c echo.Context) error { return writeRecord(c, http.StatusAccepted, &recs[1]) },
				func(c echo.Context) error { return c.JSON(http.StatusAccepted, recs[1]) }},
			{"batch", func(c echo.Context) error { return writeRecords(c, http.StatusAccepted, recs) },
				func(c echo.Context) error {
					return c.JSON(http.StatusAccepted, batchBody[results.Record]{Tasks: recs})
				}},
		} {
			got, want := answer(t, target, tt.write), answer(t, target, tt.want)
			if got.Code != want.Code || !reflect.DeepEqual(got.Header(), want.Header()) || got.Body.String() != want.Body.String() {
				t.Errorf("%s %s: answer %d %v %q, c.JSON's %d %v %q", tt.name, target,
					got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
			}
		}
	}
}

func answer(t *testing.T, target string, write func(c echo.Context) error) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, target, nil), rec)
	if err := write(c); err != nil {
		t.Fatalf("write %s: %v", target, err)
	}
	return rec
}
