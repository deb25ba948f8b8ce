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
// by default: anything but a global unicast address, or one in the IANA
// special-purpose registries that is not globally reachable (loopback,
// private, link-local, shared 100.64.0.0/10, benchmarking 198.18.0.0/15,
// documentation, reserved 240.0.0.0/4, broadcast, ...). An IPv6 address
// that carries an IPv4 one (mapped ::ffff:0:0/96, compatible ::/96, NAT64
// 64:ff9b::/96, 6to4 2002::/16) is judged by that IPv4 address, since a
// translator or relay on the way may deliver to it; the local-use NAT64
// prefix 64:ff9b:1::/48 and Teredo (2001::/23) are refused whole.
func internalAddr(ip netip.Addr) bool {
	ip = embeddedIPv4(ip.Unmap())
	if !ip.IsValid() || !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return true // also unspecified, loopback, link-local, multicast, 255.255.255.255
	}
	for _, p := range specialPurpose {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// embeddedIPv4 returns the IPv4 address an IPv6 address of a form that
// carries one holds (see internalAddr), else ip itself.
func embeddedIPv4(ip netip.Addr) netip.Addr {
	if !ip.Is6() {
		return ip
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip), ipv4Compatible.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16]))
	case sixToFour.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6]))
	}
	return ip
}

var (
	nat64          = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052
	ipv4Compatible = netip.MustParsePrefix("::/96")        // RFC 4291, deprecated
	sixToFour      = netip.MustParsePrefix("2002::/16")    // RFC 3056
)

// specialPurpose lists the IANA special-purpose ranges (RFC 6890 and
// later) that are not globally reachable and that IsGlobalUnicast and
// IsPrivate do not already exclude.
var specialPurpose = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // this network
	netip.MustParsePrefix("100.64.0.0/10"),   // shared (carrier-grade NAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("192.88.99.0/24"),  // 6to4 relay anycast, deprecated
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved (and broadcast)
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("100:0:0:1::/64"),  // dummy prefix
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments, Teredo
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("5f00::/16"),       // SRv6 SIDs
}

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
