# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need first.
# `make test` includes the real-kernel layer (hwtest below) and fails when it cannot run; WARDEN_SKIP_HWTEST=1 skips
# that layer explicitly and the output says so (docs/testing.md).
.PHONY: all bootstrap build test demo bench bench-fleet bench-api fuzz api-fuzz libgpiod-v2-check package clean

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	swift build

test: bootstrap
	@scripts/test

demo: bootstrap
	@scripts/demo

bench: bootstrap
	@scripts/bench

# API latency (issue 13): grant and audit queries over 1,000,000 events beside a trivial handler (docs/benchmarks.md)
bench-api: bootstrap
	@scripts/bench-api

# Fleet benchmark (issue 12): ingest per consumer beside the mosquitto_sub | psql \copy reference, revocation
# propagation; BOARDS, BACKLOG (decisions per board before connecting) and REVOKE_BOARDS (sizes, e.g. "1000 10000")
# size it.
BOARDS ?= 100
BACKLOG ?= 3000
REVOKE_BOARDS ?= 1000
bench-fleet: bootstrap
	@scripts/bench-fleet $(BOARDS) $(BACKLOG) "$(REVOKE_BOARDS)"

# libFuzzer targets in FuzzTesting/, FUZZ_SECONDS each (not part of `make test`: the builds take minutes)
FUZZ_SECONDS ?= 60
fuzz: bootstrap
	@scripts/fuzz $(FUZZ_SECONDS)

# The REST API against docs/openapi.yaml with schemathesis, on a throwaway PostgreSQL + mosquitto + warden-cloud (a few
# minutes; not part of `make test`). Fails on a server error or an answer the spec does not allow; the report goes to
# .build/schemathesis/. API_NO_BUILD=1 skips the build; API_FUZZ_EXAMPLES, API_FUZZ_SEED tune it.
api-fuzz: bootstrap
	@scripts/api-schemathesis

libgpiod-v2-check: bootstrap
	@scripts/check-libgpiod-v2

# Debian packages warden-board and warden-cloud into .build/packages (docs/packaging.md); RELEASE=1 for the release
# build with the Swift runtime linked statically, VERSION=1.2.0 to name the version.
package: bootstrap
	@WARDEN_VERSION=$(VERSION) scripts/package

clean:
	rm -rf .build .build-*

# Real-kernel tests: boots the newest Debian 6.1 kernel the archive offers under qemu and runs the GPIO (gpio-sim) and
# BLE (virtual controllers) suites with the debug binaries; fails when the VM cannot run. docs/testing.md.
.PHONY: hwtest
hwtest: bootstrap
	@scripts/hwtest
