package server

import (
	"net/http/httptest"
	"testing"
)

// TestClientIP proves how the client IP is read: the peer, unless the peer
// is a trusted proxy; then the first untrusted hop of X-Forwarded-For from
// the right, so that a client cannot choose its IP by sending the header
// itself. IPv6 clients are counted by /64.
func TestClientIP(t *testing.T) {
	t.Parallel()
	proxies, err := ParsePrefixes([]string{"10.0.0.0/8", "192.0.2.1", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{TrustedProxies: proxies}}
	tests := []struct {
		peer string
		xff  []string
		want string
	}{
		{"203.0.113.5:1234", nil, "203.0.113.5"},
		{"203.0.113.5:1234", []string{"198.51.100.1"}, "203.0.113.5"}, // not from a proxy: ignored
		{"10.1.2.3:80", nil, "10.1.2.3"},                              // a proxy that says nothing
		{"10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"10.1.2.3:80", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},  // the client's own claim is left of the real hop
		{"10.1.2.3:80", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"}, // two proxies
		{"10.1.2.3:80", []string{"6.6.6.6", "198.51.100.1, 192.0.2.1"}, "198.51.100.1"},
		{"10.1.2.3:80", []string{"garbage, 198.51.100.1"}, "198.51.100.1"},
		{"10.1.2.3:80", []string{"198.51.100.1, garbage"}, "10.1.2.3"},
		{"10.1.2.3:80", []string{"10.4.4.4"}, "10.4.4.4"}, // every hop trusted: the leftmost
		{"[2001:db8:ffff::1]:443", []string{"2001:db8:1:2:3:4:5:6"}, "2001:db8:1:2::/64"},
		{"[2001:db8:1:2::9]:443", nil, "2001:db8:1:2::/64"},
		{"[::ffff:203.0.113.5]:1", nil, "203.0.113.5"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/ws", nil)
		r.RemoteAddr = tt.peer
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ipKey(s.clientIP(r)); got != tt.want {
			t.Errorf("peer %s, X-Forwarded-For %q: client %s, want %s", tt.peer, tt.xff, got, tt.want)
		}
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/33"}); err == nil {
		t.Error("ParsePrefixes accepted 10.0.0.0/33")
	}
}
