package cli

import (
	"net"
	"os"
	"strconv"

	"github.com/runq/runq/tasks"
)

// hint returns the start-up hint: a curl command that submits a task this
// program handles, with a payload that fits it, to base, with the bearer
// token's header when a token is set (read from RUNQ_API_TOKEN, so that
// the token itself is never printed); "" when the program handles nothing.
// It prefers echo; else the first typed handler, with its input's zero
// value (tasks.Registry.Sample).
func hint(base string, reg *tasks.Registry, token bool) string {
	name, payload := "", ""
	for _, n := range reg.Names() {
		if n == "echo" {
			name, payload = n, `{"hello":"world"}`
			break
		}
		if s, ok := reg.Sample(n); ok && name == "" {
			name, payload = n, string(s)
		}
	}
	if name == "" {
		return ""
	}
	auth := ""
	if token {
		auth = ` -H "Authorization: Bearer $RUNQ_API_TOKEN"`
	}
	body := `{"name":` + strconv.Quote(name) + `,"payload":` + payload + `}`
	h := "try: curl -s -X POST " + base + "/v1/tasks -H 'Content-Type: application/json'" + auth + " -d '" + body + "'"
	if token && os.Getenv("RUNQ_API_TOKEN") == "" {
		h += "\n     (with RUNQ_API_TOKEN set to the token given to --api-token)"
	}
	return h
}

// reachable returns the base URL of a listener as this machine reaches it:
// a listener on every address (0.0.0.0, ::) is reached on loopback.
func reachable(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}
