# The two commands a newcomer needs: `make demo` and `make test`. Both install what they need first.
.PHONY: all bootstrap build test demo bench libgpiod-v2-check clean

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

libgpiod-v2-check: bootstrap
	@scripts/check-libgpiod-v2

clean:
	rm -rf .build .build-*

# Real-kernel tests (issue 6): boots Debian's kernel under qemu and runs the GPIO (and later BLE) scenarios against
# gpio-sim with the debug binaries; exit 77 = the VM cannot start on this host. docs/testing.md.
.PHONY: hwtest
hwtest: bootstrap
	@scripts/hwtest
