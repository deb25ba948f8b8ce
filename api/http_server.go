package api

import (
	"net/http"
	"time"
)

// NewHTTPServer returns the http.Server that serves h, the API made by New
// with cfg, with the time limits runq serve uses: 5 s to read the headers
// and 30 s the body (a slow client cannot hold a connection), answers
// written within the longest ?wait= plus 15 s, idle keep-alive connections
// closed after 2 minutes, and headers up to 64 KiB. Parked long polls leave
// the server's accounting when their connections are hijacked; they keep
// their own write deadline.
func NewHTTPServer(cfg Config, h http.Handler) *http.Server {
	cfg = cfg.withDefaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.MaxWait + 15*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}
