# vufsd: convenience entry points. Everything here works on a fresh Debian 12 machine as root:
# each target installs what it needs from Debian's archive first.
#
#   make            build (build/src/vufsd)
#   make check      install, build, run every test (unit, frontend integration, sanitizers,
#                   fuzz smoke, real guest); ends with "check: N passed, N failed"
#   make demo       boot a small Linux guest that mounts a fresh share through vufsd and uses it
#   make demo-shell the same, but drop into an interactive guest shell
#   make demo-dax   an interactive Linux 6.12 guest (QEMU 11.1) with the share mounted -o dax=always
#   make bench      vufs-bench: vufsd against the legacy C and the Rust virtiofsd
#   make bench-guest a real guest's workload (untar, stat, read, delete, dd) on each daemon
#   make fuzz       long libFuzzer runs (FUZZ_SECONDS per target, default 600)

BUILD ?= build
FUZZ_SECONDS ?= 600

.PHONY: all deps build check demo demo-shell demo-dax bench bench-guest fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) >/dev/null
	@ninja -C $(BUILD) >/dev/null && echo "built $(BUILD)/src/vufsd"

check: deps
	@scripts/check.sh

demo: build
	@VUFSD=$(CURDIR)/$(BUILD)/src/vufsd guest/demo.sh

demo-shell: build
	@VUFSD=$(CURDIR)/$(BUILD)/src/vufsd guest/demo.sh --shell

demo-dax: build
	@VUFSD=$(CURDIR)/$(BUILD)/src/vufsd guest/dax/run.sh --shell

bench: build
	@scripts/bench.sh

bench-guest: build
	@scripts/guest-bench.sh

fuzz: deps
	@for t in fuzz_vu_msg fuzz_vq_chain fuzz_fuse fuzz_vu_backend fuzz_pt_devnode fuzz_pt_xattrmap fuzz_fuse_secctx; do fuzz/run.sh $$t $(FUZZ_SECONDS) || exit 1; done

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-tsan
