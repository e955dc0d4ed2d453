package server

import "net/http"

// ContentSecurityPolicy is the policy of every response. The page runs only
// its own scripts (go-app's loader, wasm_exec.js) and the client, compiled
// by the browser ('wasm-unsafe-eval', which allows WebAssembly and nothing
// like eval); it talks only to its own origin, the WebSocket included
// (connect-src 'self' covers ws: and wss: on the same host in CSP level 3);
// it cannot be framed, hold plugins or have its base URL moved. No inline
// script is allowed: an injected one does not run.
const ContentSecurityPolicy = "default-src 'self'; " +
	"script-src 'self' 'wasm-unsafe-eval'; " +
	"style-src 'self'; " +
	"img-src 'self' data:; " +
	"font-src 'self'; " +
	"connect-src 'self'; " +
	"worker-src 'self'; " +
	"manifest-src 'self'; " +
	"form-action 'self'; " +
	"frame-ancestors 'none'; " +
	"object-src 'none'; " +
	"base-uri 'none'"

// setSecurityHeaders sets the headers every page and asset response
// carries: the policy, no MIME sniffing (a file is only ever what its
// Content-Type says), and no Referer to other sites.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}
