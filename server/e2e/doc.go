// Package e2e holds the end-to-end tests: the real server, the real WASM client and real Chromium, driven by chromedp.
package e2e
