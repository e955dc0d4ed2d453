package server

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ipv6Prefix is the prefix length an IPv6 client is counted by: 64 bits,
// the smallest network a provider gives a customer, so that one machine
// cannot pass as 2^64 clients by changing its address.
const ipv6Prefix = 64

// ParsePrefixes parses a list of CIDRs or bare IP addresses (a bare address
// is a network of one), such as the -trusted-proxies flag's items.
func ParsePrefixes(items []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range items {
		if addr, err := netip.ParseAddr(item); err == nil {
			out = append(out, netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR", item)
		}
		out = append(out, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked())
	}
	return out, nil
}

// clientIP returns who a request comes from, for the per-IP limits: the
// socket's peer, or, when the peer is a trusted proxy, the first address of
// X-Forwarded-For, read from the right, that is not a trusted proxy (each
// proxy appends the address it got the request from, so only the entries
// right of the last untrusted hop can be believed). It returns the zero
// Addr when the peer address cannot be parsed.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip := peer.Addr().Unmap()
	if !s.trusted(ip) {
		return ip
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				// A trusted proxy wrote garbage, or the client did and
				// the proxy passed it on: what is right of it is all
				// that can be believed.
				return ip
			}
			ip = hop.Unmap()
			if !s.trusted(ip) {
				return ip
			}
		}
	}
	return ip
}

// trusted reports whether ip is one of Config.TrustedProxies.
func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// ipKey is the key of a client address in the per-IP limits: the address
// itself for IPv4, its /64 network for IPv6.
func ipKey(ip netip.Addr) string {
	if ip.Is6() {
		p, err := ip.WithZone("").Prefix(ipv6Prefix)
		if err == nil {
			return p.String()
		}
	}
	return ip.String()
}
