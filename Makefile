# stackless — build, run, test, benchmark, fuzz.
# Needs only Go; `make test` uses the race detector when cgo (a C compiler)
# is available and says so when it is not.

GO        ?= go
GOFMT     ?= $(shell $(GO) env GOROOT)/bin/gofmt
BIN       ?= bin/stackless
MODULE    := github.com/stackless-go/stackless
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X $(MODULE)/cmd/stackless/cli.Version=$(VERSION)

# make run: the main demo: game AI, 10,000 entities, 1,000 ticks, autosave and picture in ./data.
RUN_ARGS  ?= demo gameai --entities 10000 --ticks 1000 --save-every 100 --data data
# make bench: time per benchmark (go test -benchtime: 1s, 100x, ...).
BENCHTIME ?= 1s
# make fuzz: time per target, and the targets as package:FuzzFunc pairs.
FUZZTIME  ?= 30s
FUZZ_TARGETS ?= \
	./pickle:FuzzScan \
	./store:FuzzStoreRecord \
	./store:FuzzStoreSegment \
	./store:FuzzSnapshotFile \
	./store:FuzzSnapshotWalk \
	./store:FuzzOpenDamaged \
	./store:FuzzDecodeJournal \
	./pickle:FuzzLoadTasklet \
	./pickle:FuzzLoadWorld \
	./pickle:FuzzRestoreEdited \
	./pickle:FuzzRefCheck \
	./pickle:FuzzEverySaveLoads \
	./pickle:FuzzLoadChannel \
	./pickle:FuzzIdleChannel \
	./pickle:FuzzInspect \
	./pickle:FuzzStructCodec \
	./pickle:FuzzLoadValue \
	./pickle:FuzzBoxed \
	./pickle:FuzzLoadError \
	./ipc:FuzzFrame \
	./ipc:FuzzRing \
	./cluster:FuzzUnwrap \
	./cluster:FuzzDecodeSnapshot \
	./cluster:FuzzParseRecord \
	./cluster:FuzzReadHostID \
	./cluster:FuzzManifest \
	./cluster:FuzzJournalEntry \
	./cluster:FuzzMember \
	./cluster:FuzzCheckBlock \
	./pickle:FuzzLoadTaskletFast \
	./gen:FuzzLayouts

# make chaos: the long chaos run of the cluster (kill -9 of workers, of a
# replacement during recovery, of the coordinator; exact result checked).
CHAOS_KILLS       ?= 20
CHAOS_COORD_KILLS ?= 3
CHAOS_HOPS        ?= 18000
CHAOS_PACE_US     ?= 0

# The race detector needs cgo, which needs a C compiler.
CGO_ENABLED_NOW := $(shell $(GO) env CGO_ENABLED)
ifeq ($(CGO_ENABLED_NOW),1)
RACE ?= -race
else
RACE ?=
endif

.PHONY: all build run test test-short fmt-check vet bench bench-peers fuzz lint clean chaos screenshots

all: build test

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/stackless

run:
	$(GO) run ./cmd/stackless $(RUN_ARGS)

# The cluster package starts NATS servers, coordinators and workers, and
# kills some: under -race on 2 cores it needs more than go test's default
# 10 minutes per package when the machine is busy.
TEST_TIMEOUT ?= 20m

test: fmt-check vet
	@if [ -z "$(RACE)" ]; then echo "note: running tests without -race (CGO_ENABLED=$(CGO_ENABLED_NOW); the race detector needs a C compiler such as gcc)"; fi
	$(GO) test $(RACE) -count=1 -timeout $(TEST_TIMEOUT) ./...

# make screenshots: the observer's pages, saved to docs/ by its browser
# tests (needs Chromium: apt-get install -y chromium).
screenshots:
	STACKLESS_SCREENSHOTS=$(CURDIR)/docs $(GO) test -count=1 -run 'TestBrowser' ./cmd/stackless/cli/

# make test-short: the quick set for development: -short skips the tests that
# start processes (cluster workers, kill -9) and runs the randomized ones with
# fewer seeds. make test runs everything.
test-short: fmt-check vet
	$(GO) test $(RACE) -short -count=1 ./...

fmt-check:
	@files="$$($(GOFMT) -l . 2>&1)"; \
	if [ -n "$$files" ]; then echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$files"; exit 1; fi

vet:
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# make bench-peers: stackless against goroutines, Hollywood and Proto.Actor
# on the five workloads of bench/peers (a module of its own, so the library
# never depends on the frameworks), at GOMAXPROCS 1 and 2, PEERS_COUNT rounds;
# prints the medians and ratios as a table (raw output in PEERS_OUT).
# Skynet and the idle actors run PEERS_HEAVY_COUNT rounds, each peer and
# GOMAXPROCS in a process of its own: a process's first tree is the costly
# one (its heap grows from nothing), so in one process the peer that ran
# second got a warm heap. SkynetWarm (stackless and goroutines, each in a
# process of its own too) averages three trees after one it leaves out, as
# the core benchmark does; SkynetDepthFirst runs stackless under Go's
# scheduling rules (WithDepthFirst), one cold tree; SkynetHugePages is one
# cold tree of each after scheduler.ReserveHeap, SkynetWarmHugePages
# SkynetWarm after it. Hollywood's Skynet alone takes many seconds a
# tree. Takes ten minutes or more; CI does not run it.
PEERS_COUNT       ?= 3
PEERS_HEAVY_COUNT ?= 3
PEERS_HEAVY       := native:stackless native:goroutines hollywood:hollywood protoactor:protoactor
PEERS_OUT   ?= bin/bench-peers.txt
bench-peers:
	@mkdir -p $(dir $(PEERS_OUT))
	cd bench/peers && $(GO) test -p 1 -timeout 60m -run '^$$' -bench 'PingPong|FanIn|Spawn' -benchmem -cpu 1,2 -count $(PEERS_COUNT) ./... > $(abspath $(PEERS_OUT))
	cd bench/peers && for r in $$(seq $(PEERS_HEAVY_COUNT)); do for p in $(PEERS_HEAVY); do for c in 1 2; do \
		$(GO) test -timeout 60m -run '^$$' -bench "^Benchmark(Skynet|IdleActor)$$/^$${p#*:}$$" -benchtime 1x -benchmem -cpu $$c ./$${p%%:*} || exit 1; \
	done; done; for p in stackless goroutines; do for c in 1 2; do \
		$(GO) test -timeout 60m -run '^$$' -bench "^BenchmarkSkynetWarm$$/^$$p$$" -benchtime 3x -benchmem -cpu $$c ./native || exit 1; \
		$(GO) test -timeout 60m -run '^$$' -bench "^BenchmarkSkynetWarmHugePages$$/^$$p$$" -benchtime 3x -benchmem -cpu $$c ./native || exit 1; \
		$(GO) test -timeout 60m -run '^$$' -bench "^BenchmarkSkynetDepthFirst$$/^$$p$$" -benchtime 1x -benchmem -cpu $$c ./native || exit 1; \
		$(GO) test -timeout 60m -run '^$$' -bench "^BenchmarkSkynetHugePages$$/^$$p$$" -benchtime 1x -benchmem -cpu $$c ./native || exit 1; \
	done; done; done >> $(abspath $(PEERS_OUT))
	cd bench/peers && $(GO) run ./cmd/peertable < $(abspath $(PEERS_OUT))

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "==> $$pkg $$fn for $(FUZZTIME)"; \
		$(GO) test $$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s; \
	done

chaos:
	STACKLESS_CHAOS_KILLS=$(CHAOS_KILLS) STACKLESS_CHAOS_COORD_KILLS=$(CHAOS_COORD_KILLS) STACKLESS_CHAOS_HOPS=$(CHAOS_HOPS) \
	STACKLESS_CHAOS_PACE_US=$(CHAOS_PACE_US) $(GO) test -count=1 -v -timeout 60m -run '^TestChaosRing$$' ./cluster/

lint: fmt-check vet
	@if command -v staticcheck >/dev/null 2>&1; then \
		echo "staticcheck ./..."; staticcheck ./...; \
	else \
		echo "staticcheck not installed, skipped (go install honnef.co/go/tools/cmd/staticcheck@latest)"; \
	fi

clean:
	rm -rf bin data
