# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

GO         ?= go
BIN        := bin/chat
WASM       := web/app.wasm
GOBIN      := $(shell $(GO) env GOPATH)/bin
STATICCHECK_VERSION := v0.8.2
# axe-core audits the page's accessibility in the browser tests (npm, pinned).
AXE_VERSION := 4.14.1
TOOLS_DIR   ?= $(HOME)/.cache/chat-tools
AXE_JS      := $(TOOLS_DIR)/axe-core-$(AXE_VERSION)/node_modules/axe-core/axe.min.js
# The peers make bench-peers measures the chat beside (pinned): Centrifugo,
# built from its module, and socket.io (npm) for its chat demo.
CENTRIFUGO_VERSION := 6.9.1
SOCKETIO_VERSION   := 4.8.4
CENTRIFUGO         := $(TOOLS_DIR)/centrifugo-$(CENTRIFUGO_VERSION)/centrifugo
SOCKETIO_MODULES   := $(TOOLS_DIR)/socket.io-$(SOCKETIO_VERSION)/node_modules
# The port each server of make bench-peers listens on in turn, and more flags
# of chat bench peers (PEERS_FLAGS="-rates 10,100,300,600 -runs 5").
PEERS_PORT  ?= 3000
PEERS_FLAGS ?=
# Bounded time for each test binary: the end-to-end tests drive real browsers.
TEST_TIMEOUT ?= 15m
# Time given to each fuzz target by make fuzz (a duration, or a count of
# executions such as 1000000x).
FUZZTIME ?= 5m
# The fuzz targets, as package:target:executions. make test runs each for its
# count of executions, about 15 s each on 2 cores, rather than for a duration: a
# duration's deadline can end a run with a spurious "context deadline
# exceeded" (a race in Go's fuzz coordinator, go.dev/issue/75804, unfixed in
# Go 1.26), and a count has no deadline to race.
FUZZ_TARGETS := ./app/event:FuzzDecodeClient:100000x ./app/event:FuzzEncodePresence:10000x ./server/identity:FuzzVerify:300000x

.PHONY: run build wasm test unit fuzz bench bench-go bench-peers lint vet deps-build deps-test deps-peers clean

## run: build everything and serve the chat at http://localhost:3000 (ADDR overrides).
run: build
	./$(BIN)

## build: the server binary, with the client embedded and its version set.
build: wasm
	@v=$$(cat web/app.wasm web/app.css web/icon* | sha256sum | cut -c1-16); \
	echo "version $$v"; \
	$(GO) build -trimpath -ldflags "-X main.version=$$v" -o $(BIN) .

## wasm: the browser client, web/app.wasm, and its brotli and gzip variants.
wasm: deps-build
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o $(WASM) .
	gzip -9 -n -k -f $(WASM)
	brotli -q 11 -f -o $(WASM).br $(WASM)
	@ls -l $(WASM) $(WASM).gz $(WASM).br | awk '{print $$5, $$9}'

## test: format, vet, staticcheck, each fuzz target for its count of executions, then every test (browser tests included) under the race detector; fails on any skip.
test: deps-test wasm lint
	@$(MAKE) --no-print-directory fuzz FUZZTIME=
	@$(MAKE) --no-print-directory unit

unit:
	@log=$$(mktemp); status=0; \
	AXE_CORE_JS=$(AXE_JS) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) -v ./... > $$log 2>&1 || status=$$?; \
	grep -vE '^\s*(=== (RUN|PAUSE|CONT|NAME)|--- PASS)' $$log || true; \
	passed=$$(grep -cE '^\s*--- PASS' $$log || true); \
	failed=$$(grep -cE '^\s*--- FAIL' $$log || true); \
	skipped=$$(grep -cE '^\s*--- SKIP' $$log || true); \
	rm -f $$log; \
	echo "$$passed passed, $$failed failed, $$skipped skipped"; \
	if [ "$$skipped" != 0 ]; then echo "make test: skipped tests are not allowed"; exit 1; fi; \
	exit $$status

## fuzz: run each fuzz target for FUZZTIME (5 minutes; make fuzz FUZZTIME=1h), or for its count of executions when FUZZTIME is empty; a crash is saved under testdata/fuzz and fails.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; name=$${rest%%:*}; count=$${rest#*:}; \
		budget=$(if $(FUZZTIME),$(FUZZTIME),$$count); \
		echo "fuzz $$name in $$pkg for $$budget"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $$budget $$pkg || exit 1; \
	done

## lint: gofmt, go vet (server and browser builds) and staticcheck.
lint: vet
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GOBIN)/staticcheck ./...
	GOOS=js GOARCH=wasm $(GOBIN)/staticcheck ./app/... .

vet:
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet ./app/... .
	@if GOOS=js GOARCH=wasm $(GO) list -deps . | grep -E '/server|sqlite|nats'; then \
		echo "the browser binary links server code"; exit 1; fi

# Runs of each scenario of make bench, and its extra flags
# (BENCH_FLAGS=-quick: fewer, shorter scenarios; -only REGEXP: some of them).
BENCH_RUNS ?= 3
BENCH_FLAGS ?=

## bench: the load suite (bin/chat bench suite) against fresh servers, the median of BENCH_RUNS runs written to docs/PERFORMANCE.md; make bench BENCH_RUNS=1 BENCH_FLAGS=-quick to try it fast.
bench: build
	./$(BIN) bench suite -runs $(BENCH_RUNS) -doc docs/PERFORMANCE.md $(BENCH_FLAGS)

## bench-go: the Go benchmarks (hub fan-out, event encoding, …).
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## bench-peers: the chat beside Centrifugo and the socket.io chat demo on this machine, each pinned to CPU 0 and loaded from CPU 1 alike (1000 clients in one room, 50 senders at 10, 100 and 300 msg/s, 3 runs each); a table of medians.
bench-peers: build deps-peers
	./$(BIN) bench peers -port $(PEERS_PORT) -centrifugo $(CENTRIFUGO) -socketio-modules $(SOCKETIO_MODULES) $(PEERS_FLAGS)

# Tools the build needs: brotli for the precompressed client.
deps-build:
	@command -v brotli >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq brotli; }

# Tools the tests need: Chromium for the browser tests, axe-core (npm, which
# needs Node.js), staticcheck.
deps-test: deps-build
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	@test -f $(AXE_JS) || npm install --silent --no-audit --no-fund --prefix $(TOOLS_DIR)/axe-core-$(AXE_VERSION) axe-core@$(AXE_VERSION)
	@test -x $(GOBIN)/staticcheck || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# The peers of make bench-peers, in TOOLS_DIR: Centrifugo (Go, built from its
# module at its version) and socket.io (npm, which needs Node.js).
deps-peers:
	@command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; }
	@test -x $(CENTRIFUGO) || GOBIN=$(dir $(CENTRIFUGO)) $(GO) install github.com/centrifugal/centrifugo/v6@v$(CENTRIFUGO_VERSION)
	@test -d $(SOCKETIO_MODULES)/socket.io || npm install --silent --no-audit --no-fund --prefix $(TOOLS_DIR)/socket.io-$(SOCKETIO_VERSION) socket.io@$(SOCKETIO_VERSION)

clean:
	rm -rf bin $(WASM) $(WASM).gz $(WASM).br
