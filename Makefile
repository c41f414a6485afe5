# promoter: GitOps canary promoter for Istio.
GO      ?= go
BIN     ?= bin/promoter
PKGS    ?= ./...

.PHONY: all build test lint verify bench demo fuzz generate ensure-prometheus

all: build

build:
	$(GO) build -o $(BIN) ./cmd/promoter

# The whole suite, race detector on. The Prometheus integration tests need the
# Debian package `prometheus`; ensure-prometheus installs it when it can and
# says loudly when it cannot (those tests then skip with the same message).
test: ensure-prometheus
	$(GO) test -race -count=1 $(PKGS)

ensure-prometheus:
	@scripts/ensure-prometheus

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

generate:
	$(GO) generate ./...

# verify fails when formatting or generated files are not committed.
verify: generate
	gofmt -w $$(git ls-files '*.go')
	$(GO) mod tidy
	@git diff --exit-code || (echo "verify: the tree changed; commit the result of make generate / gofmt / go mod tidy"; exit 1)

# Parser fuzzing; FUZZTIME=5m for a real run.
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/spec -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
