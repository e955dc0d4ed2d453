package server

import (
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
)

// hostPolicy decides which Host headers the server answers. A DNS-rebinding
// page controls both Origin and Host, so comparing the two proves nothing:
// the server must know its own names. IP literals and localhost are always
// allowed, any port, so that a local run and LAN use need no flag.
type hostPolicy struct {
	// patterns are the configured host names, lower case, in path.Match
	// syntax ("chat.example.com", "*.example.org").
	patterns []string
}

// newHostPolicy returns the policy for the configured host names (Config.Hosts).
func newHostPolicy(hosts []string) hostPolicy {
	p := hostPolicy{}
	for _, h := range hosts {
		if h = normalizeHost(h); h != "" {
			p.patterns = append(p.patterns, h)
		}
	}
	return p
}

// allowed reports whether the server answers requests for hostport, the
// value of a Host header.
func (p hostPolicy) allowed(hostport string) bool {
	host := normalizeHost(hostport)
	if host == "" {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		// RFC 6761: every name under localhost resolves to loopback.
		return true
	}
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return true
	}
	for _, pat := range p.patterns {
		if ok, _ := path.Match(pat, host); ok {
			return true
		}
	}
	return false
}

// normalizeHost returns the host name of a Host header value, or of a
// configured name, without port, in lower case and without a final dot
// ("Chat.Example.com.:443" is "chat.example.com"); "" when it has none.
func normalizeHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
	return strings.Trim(host, "[]")
}

// refuseHost answers a request for a host name the server does not serve.
// The body names the flag an operator needs, not the host: nothing of a
// hostile header is echoed.
func refuseHost(w http.ResponseWriter) {
	http.Error(w, "403 forbidden: this server does not answer to this host name; "+
		"an operator serving it under a domain lists the name with -hosts (env HOSTS)", http.StatusForbidden)
}
