# Sundial — the two commands a newcomer needs are `make run` and `make test`.
GO        ?= go
BIN       := bin/sundial
CONF      ?= conf
SCRIPTS   ?= scripts
GOFLAGS   := -buildvcs=false
export GOFLAGS
# What `sundial version` prints; outside a git checkout, "unknown".
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build run test bench lint fuzz screenshots clean

## build: bin/sundial, stamped with the version and commit.
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/sundial

## run: start the daemon on the shipped conf/ with the embedded SQLite store.
run: build
	./$(BIN) serve --conf $(CONF) --scripts $(SCRIPTS)

## test: every test, with the race detector, the bench module's included.
test:
	$(GO) test -race -count=1 -timeout 9m ./...
	cd bench && $(GO) test -race -count=1 ./...

## bench: Sundial's benchmarks, beside the Quartz and peer figures (bench/ is its own
## module, so the peers never enter Sundial's go.mod). Takes several minutes.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./engine/scheduler ./engine/daemon
	$(GO) test -run '^$$' -bench . -benchmem ./engine/cron ./engine/config ./engine/script ./engine/store/... ./engine/cluster ./engine/query ./engine/managed ./engine/api ./engine/jobs ./engine/connector/... ./engine/sync
	$(GO) test -run '^$$' -bench 'BenchmarkAPI' -benchtime 3s ./cmd/sundial
	$(GO) test -run '^$$' -bench 'BenchmarkSunsetScan' -benchtime 3x ./engine/taskscanner
	# The million-user figures: the sunset scan (SQLite, PostgreSQL), the
	# import from JSON lines, the userName query's p99.
	SUNDIAL_BENCH_USERS=1000000 $(GO) test -run '^$$' -bench 'BenchmarkSunsetScan' -benchtime 1x -timeout 60m ./engine/taskscanner
	SUNDIAL_BENCH_USERS=1000000 $(GO) test -run '^$$' -bench 'BenchmarkImportJSONLines' -benchtime 1x -timeout 30m ./engine/managed
	SUNDIAL_BENCH_USERS=1000000 $(GO) test -run '^$$' -bench 'BenchmarkManagedQueryUserName' -benchtime 2000x -timeout 30m ./engine/api
	cd bench && $(GO) run ./cmd/crontable

## lint: gofmt check, go vet, and staticcheck (pinned by the tool line of go.mod)
## over the main module.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd bench && $(GO) vet ./...
	$(GO) tool staticcheck ./...

## fuzz: a short run of every fuzz target.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./engine/cron
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./engine/query
	$(GO) test -run '^$$' -fuzz FuzzManagedPatch -fuzztime 30s ./engine/api
	$(GO) test -run '^$$' -fuzz FuzzJobFile -fuzztime 30s ./engine/config
	$(GO) test -run '^$$' -fuzz FuzzListQuery -fuzztime 30s ./engine/web

## screenshots: docs/ui-*.png, the web page's screenshots the README shows, taken in
## headless Chromium from two live nodes (needs chromium and PostgreSQL).
screenshots:
	SUNDIAL_UPDATE_SCREENSHOTS=1 SUNDIAL_REQUIRE_BROWSER=1 SUNDIAL_REQUIRE_POSTGRES=1 $(GO) test -count=1 -run '^TestBrowserScreenshots$$' -v ./internal/e2e

clean:
	rm -rf bin var
