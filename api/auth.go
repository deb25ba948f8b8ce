package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/labstack/echo/v4"
)

// requireToken refuses requests without "Authorization: Bearer <token>".
// Both sides are hashed before a constant-time comparison, so neither the
// token's bytes nor its length can be learnt from response times.
func requireToken(token string) echo.MiddlewareFunc {
	want := sha256.Sum256([]byte("Bearer " + token))
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			got := sha256.Sum256([]byte(c.Request().Header.Get(echo.HeaderAuthorization)))
			if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="runq"`)
				return &apiError{status: http.StatusUnauthorized, code: codeUnauthorized, msg: "missing or invalid bearer token"}
			}
			return next(c)
		}
	}
}
