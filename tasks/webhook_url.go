package tasks

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// MaxCallbackURL is the longest callback URL a Request may give, in bytes.
const MaxCallbackURL = 2048

// validCallbackURL checks the form of a callback URL: "" (none), or an
// absolute http or https URL with a host, of at most MaxCallbackURL bytes.
func validCallbackURL(raw string) error {
	if raw == "" {
		return nil
	}
	if len(raw) > MaxCallbackURL {
		return fmt.Errorf("%w: callback_url is %d bytes, over the limit of %d", ErrInvalid, len(raw), MaxCallbackURL)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%w: callback_url %q is not a URL", ErrInvalid, truncate(raw, 64))
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%w: callback_url %q: want an http or https URL", ErrInvalid, truncate(raw, 64))
	case u.Hostname() == "":
		return fmt.Errorf("%w: callback_url %q has no host", ErrInvalid, truncate(raw, 64))
	case u.User != nil:
		return fmt.Errorf("%w: callback_url must not hold credentials (user:password@); use the webhook signature instead", ErrInvalid)
	}
	return nil
}

// publicCallbackURL refuses a callback URL whose host is an internal
// address written out (an IP, or localhost): see internalAddr. A name is
// checked where it is resolved, when the worker dials it.
func publicCallbackURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil // validCallbackURL refuses it
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Errorf("%w: callback_url %q: a loopback host is refused unless webhooks may reach private addresses (--webhook-allow-private)", ErrInvalid, truncate(raw, 64))
	}
	if ip, err := netip.ParseAddr(host); err == nil && internalAddr(ip) {
		return fmt.Errorf("%w: callback_url %q: address %s is internal (loopback, private, link-local...), refused unless webhooks may reach private addresses (--webhook-allow-private)", ErrInvalid, truncate(raw, 64), ip)
	}
	return nil
}

// internalAddr reports whether ip is an address a webhook must not reach
// by default: unspecified, loopback, private (RFC 1918, fc00::/7),
// link-local, multicast, shared (100.64.0.0/10), or an IPv4 address
// mapped into IPv6 that is one of those.
func internalAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !ip.IsValid() || ip.IsUnspecified() || ip.IsLoopback() || ip.IsPrivate() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		ip.IsMulticast() || sharedSpace.Contains(ip) || thisNetwork.Contains(ip)
}

var (
	sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
)

// dialGuard is a net.Dialer Control function that refuses to connect to
// an internal address (internalAddr): it sees the address a name resolved
// to, so a public name that points inside is refused too.
func dialGuard(network, address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %s: %w", address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || internalAddr(ip) {
		return fmt.Errorf("webhook: %s is an internal address, refused (allow with --webhook-allow-private)", host)
	}
	return nil
}
