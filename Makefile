# promoter: GitOps canary promoter for Istio.
GO      ?= go
BIN     ?= bin/promoter
PKGS    ?= ./...

.PHONY: all build test test-full lint lint-actions verify bench bench-scale bench-gates demo fuzz generate ensure-prometheus release-snapshot tools

all: build

# The whole loop against a simulated mesh: no cluster, no network.
# SCENARIO=latency|low-traffic|gateway-api|outage picks another scenario.
SCENARIO ?= default
demo:
	$(GO) run ./cmd/promoter demo --scenario $(SCENARIO)

# A static (CGO_ENABLED=0), -trimpath binary that says which commit it is
# (promoter version). VERSION is the tag on HEAD, if any, else "devel";
# DATE is the commit's time, so two builds of one commit are identical.
BUILDINFO := github.com/promoter-dev/promoter/internal/buildinfo
VERSION   ?= $(shell git describe --tags --exact-match --match 'v*' 2>/dev/null || echo devel)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
DATE      ?= $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
LDFLAGS   ?= -s -w -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(DATE)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/promoter

# The whole suite, race detector on. The Prometheus integration tests need the
# Debian package `prometheus`; ensure-prometheus installs it when it can and
# says loudly when it cannot (those tests then skip with the same message).
# It is sized for a 2-core machine whose cores are busy elsewhere: the
# repeated and racing tests run a reduced count (crash injection kills 8
# runs, TestConcurrentRuns races 4), the init tests run once per step of
# their schedule, and the long end-to-end tests run in parallel, the GitHub
# ones included (they pass their environment to promoter instead of setting
# the process's).
# The tests that run promoter as a child process (the end-to-end scripts,
# crash injection, both demos, the adoption and init end-to-end tests) run
# TEST_BIN, promoter built static and -trimpath as `make build` builds it,
# without -race (PROMOTER_TEST_BINARY): a child built with -race spends
# most of its CPU in the race detector's bookkeeping of kustomize and
# PromQL work, while promoter's loop runs in-process under -race in the
# GitHub, sync and watch end-to-end tests of cmd/promoter and in every
# internal package's tests. The adoption, init and GitHub end-to-end tests
# and the scaffold's TestOverlayValidates run fewer steps, and
# TestAdoptRollsBack one fixture of each way to split traffic (each doc
# comment says which).
# Measured, each test alone from one race-built test binary, CPU
# (user+sys, before -> now): TestScripts 173 -> 55 s, TestCrashInjection
# 52 -> 21 s, TestAdoptPromotes 66 -> 43 s, TestHealthyThroughGitHub
# 24 -> 11 s, TestGitHubBusyTargetAutoMerge 25 -> 13 s, the two init
# end-to-end tests 21 -> 10 s each; internal/demo about 260 s (TestDemo
# 103 s, TestDemoGatewayAPI 163 s) -> 50 s. The whole cmd/promoter test
# binary, one run: 525 s before, 327 s with all of this but the init
# tests' cut. The other packages together: about 235 s (internal/promote,
# internal/scaffold, internal/render, internal/gates and internal/gitops
# 30 to 57 s each).
# The whole of make test, from a fresh clone with a warm build cache,
# with two busy loops (sh -c 'while :; do :; done') beside it on a 2-core
# machine: 8 min 42 s wall, 585 s CPU (user+sys, compilation included).
# TEST_TIMEOUT is per package binary; 30m leaves a loaded machine margin
# (cmd/promoter, the longest package, once needed 19 min at two busy loops
# beside it) and still fails a hung test.
TEST_TIMEOUT ?= 30m
TEST_BIN     ?= $(CURDIR)/bin/test/promoter
test: ensure-prometheus
	CGO_ENABLED=0 $(GO) build -trimpath -o $(TEST_BIN) ./cmd/promoter
	PROMOTER_TEST_BINARY=$(TEST_BIN) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

# test-full runs the repeated tests at their full count (PROMOTER_TEST_FULL=1:
# 50 killed runs instead of 8, 8 racing runs and rollbacks instead of 4,
# every step of the adoption, init, GitHub and scaffold tests), every child
# process is the race-built test binary (no PROMOTER_TEST_BINARY), and
# both demos run in-process under -race.
FULL_TIMEOUT ?= 60m
test-full: ensure-prometheus
	PROMOTER_TEST_FULL=1 PROMOTER_TEST_BINARY= $(GO) test -race -count=1 -timeout $(FULL_TIMEOUT) $(PKGS)

ensure-prometheus:
	@scripts/ensure-prometheus

# staticcheck is the version go.mod pins as a tool (go tool staticcheck).
lint: lint-actions
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The workflows, checked with actionlint (the version go.mod pins).
lint-actions:
	$(GO) run github.com/rhysd/actionlint/cmd/actionlint .github/workflows/*.yaml

# Release tools, installed with go install into bin/tools.
TOOLS              ?= $(CURDIR)/bin/tools
GORELEASER_VERSION ?= v2.15.1
CYCLONEDX_VERSION  ?= v1.10.0
tools:
	GOBIN=$(TOOLS) $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)
	GOBIN=$(TOOLS) $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_VERSION)

# The release (.goreleaser.yaml) built locally into dist/: the four archives,
# their SBOMs and checksums.txt. Nothing is published and no image is built
# (that needs Docker with buildx; the release workflow has it).
release-snapshot: tools
	PATH="$(TOOLS):$$PATH" goreleaser check
	PATH="$(TOOLS):$$PATH" goreleaser release --snapshot --clean --skip=docker,publish

generate:
	$(GO) generate ./...

# verify fails when formatting or generated files are not committed.
verify: generate
	gofmt -w $$(git ls-files '*.go')
	$(GO) mod tidy
	@git diff --exit-code || (echo "verify: the tree changed; commit the result of make generate / gofmt / go mod tidy"; exit 1)

# Fuzzing where bytes come in, one target at a time; FUZZTIME=5m for a real run.
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/spec -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./internal/render -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1x -parallel 1
	$(GO) test ./internal/render -run '^$$' -fuzz '^FuzzKustomizationThroughTheSandbox$$' -fuzztime $(FUZZTIME) -parallel 1
	$(GO) test ./internal/gates -run '^$$' -fuzz '^FuzzPrometheusAnswer$$' -fuzztime $(FUZZTIME) -parallel 1
	$(GO) test ./internal/creds -run '^$$' -fuzz '^FuzzRedactNeverLeaksThePassword$$' -fuzztime $(FUZZTIME) -parallel 1

bench: bench-scale bench-gates
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...

# The scale benchmark (bench/): a generated monorepo of 1,000 canaries,
# `promoter run` with nothing due and with 100 canaries starting (against
# the Git CLI floor in bench/floor.sh), Prometheus requests per canary, and
# a rollback. Results go to docs/benchmarks.md between the scale markers.
# The repository is generated once into BENCH_DIR and reused.
BENCH_DIR  ?= $(or $(TMPDIR),/tmp)/promoter-bench
BENCH_RUNS ?= 5
BENCH_ARGS ?=
bench-scale: build
	@test -f $(BENCH_DIR)/mono.git/bench.json || $(GO) run ./bench/monorepo -out $(BENCH_DIR)/mono.git
	$(GO) run ./bench/runner -promoter $(BIN) -repo $(BENCH_DIR)/mono.git -runs $(BENCH_RUNS) -work $(BENCH_DIR)/work -doc docs/benchmarks.md $(BENCH_ARGS)

# The decision-quality benchmark: every rollback policy on the same simulated
# canaries, through promoter's own gate code. Results go to docs/benchmarks.md
# between the canarysim markers. REPS=200 for a quick look.
REPS ?= 2000
bench-gates:
	$(GO) run ./cmd/canarysim -reps $(REPS) -out docs/benchmarks.md
