
// -----------------------------------------------------------------------------
// Streaming load of app.wasm
// -----------------------------------------------------------------------------
// go-app's fetchWithProgress, above, copies app.wasm chunk by chunk through a
// ReadableStream of its own into a new Response, to count the bytes for the
// loading label. That costs the page's start twice. Every chunk of the 8 MB
// goes through script on the main thread, while the compiler wants the same
// thread. And the new Response has no URL, so the browser never caches the
// compiled module: its code cache is keyed by the response's URL, and each
// start, even from the service worker's cache, compiles the module again.
//
// This declaration comes later in the same script, so it is the one that
// go-app's loader calls: WebAssembly.instantiateStreaming gets fetch's own
// response, which the browser streams to the compiler itself and whose
// compiled code it may cache. The label loses its percentage and says
// "Loading…" throughout (Handler.LoadingLabel has no {progress}).
async function fetchWithProgress(url, progress) {
  return fetch(url);
}
