package api

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDoc is the OpenAPI 3.1 document of every route New registers,
// served at GET /openapi.json without a token. The tests hold it to the
// routes echo has and validate the answers they get against it, so a
// route or a field that changes without it fails them.
//
//go:embed openapi.json
var openAPIDoc []byte

// openAPI handles GET /openapi.json.
func openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDoc)
}
