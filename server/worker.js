// -----------------------------------------------------------------------------
// Room deep links
// -----------------------------------------------------------------------------
// A room's address, /r/<room>, is never precached: go-app's fetch handler
// below would send its navigation to the network, and offline the deep link
// would fail. Every such address is the same app shell as "/" (the WASM
// reads the room from the URL), so a navigation under /r/ gets the
// precached "/".
//
// Cache first, not network first: the cached "/" is of the same version as
// the cached app.js and app.wasm it loads; it opens at once on a slow or
// lying network, where a network-first handler would wait for the network
// to give up; and go-app serves "/" itself the same way. An update reaches
// room pages as it reaches "/": the new worker precaches a new "/". Only
// when "/" is not cached (a failed install) does the request go to the
// network.
//
// This listener is registered before go-app's and stops the event there,
// so that exactly one listener responds to it.
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.mode !== "navigate" || request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith("/r/")) {
    return;
  }
  event.stopImmediatePropagation();
  event.respondWith(openAppShell(request));
});

// openAppShell answers a room's navigation with the precached "/" of this
// worker's version (cacheName is go-app's), else with the network.
async function openAppShell(request) {
  const shell = await caches.match("/", { cacheName: cacheName });
  if (shell) {
    return shell;
  }
  return fetch(request);
}
