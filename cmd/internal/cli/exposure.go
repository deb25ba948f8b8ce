package cli

import (
	"fmt"
	"net"
)

// checkExposure refuses an API reachable beyond this machine with no token,
// unless --insecure says so: anyone who could reach it could submit and
// cancel tasks.
func (c *config) checkExposure() error {
	if c.apiToken != "" || c.insecure {
		return nil
	}
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %v", c.addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without an API token: anyone who can reach it could submit and cancel tasks; "+
		"set --api-token (RUNQ_API_TOKEN), listen on 127.0.0.1, or pass --insecure", c.addr)
}
