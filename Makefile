# trapline: build, test, demo and benchmark entry points. `make help` lists them.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

CARGO ?= cargo
PYTHON ?= python3
TRAPLINE := target/release/trapline

# Debian packages the targets below use: a C compiler (bench fixtures), strace (benchmark baseline), libseccomp and
# pkg-config, runc and a static busybox (container examples), python3 (summaries, benchmark timing), and
# python3-yaml and python3-jsonschema (tests read the YAML we write and validate the SARIF against its schema),
# shellcheck (the CI examples' shell steps), clang, libbpf's headers, libelf and zlib (the eBPF backend's kernel
# side is compiled at build time, and libbpf built and linked in), bpftool (tests check nothing stays loaded),
# docker.io and containerd (tests/engines.rs starts both daemons and runs profiles in them), python3-grpcio and
# python3-grpc-tools (its CRI client; Debian packages no crictl), podman and catatonit (Podman runs and records
# containers, and builds `kube play`'s pause image from catatonit).
DEB_PACKAGES := build-essential strace libseccomp-dev pkg-config runc busybox-static python3 python3-yaml \
  clang libbpf-dev libelf-dev zlib1g-dev bpftool \
  python3-jsonschema shellcheck docker.io containerd python3-grpcio python3-grpc-tools docker-compose debootstrap \
  podman catatonit

PREFIX ?= /usr/local

.PHONY: help deps build static install test demo bench bench-profile bench-reachable

help:
	@echo "make deps   install the Debian packages trapline's targets use (only those missing; needs root)"
	@echo "make build  cargo build --release"
	@echo "make install  build, then trapline into $(PREFIX)/bin and its man pages into $(PREFIX)/share/man/man1"
	@echo "make static a statically linked x86_64 binary (glibc and libseccomp linked in) to copy into any image"
	@echo "make test   deps, then the test suite, cargo fmt --check and clippy with warnings denied"
	@echo "make demo   deps and build, then record, profile, lint and run real workloads (scripts/demo.sh)"
	@echo "make bench  time trapline against native runs and strace (scripts/bench.sh)"
	@echo "make bench-profile  time profile and coverage on 100 traces of 3000 classes (scripts/bench-profile.sh)"
	@echo "make bench-reachable  time static reachability of one large library, cold and cached (scripts/bench-reachable.sh)"

deps:
	@if ! command -v dpkg >/dev/null || ! command -v apt-get >/dev/null; then \
	  echo "deps: no dpkg/apt-get here; install these yourself: $(DEB_PACKAGES)" >&2; exit 0; \
	fi; \
	missing=(); \
	for p in $(DEB_PACKAGES); do \
	  dpkg -s "$$p" 2>/dev/null | grep -qx 'Status: install ok installed' || missing+=("$$p"); \
	done; \
	if [ $${#missing[@]} -eq 0 ]; then exit 0; fi; \
	echo "deps: installing $${missing[*]}"; \
	sudo=(); \
	if [ "$$(id -u)" -ne 0 ]; then \
	  command -v sudo >/dev/null || { echo "deps: run as root to install $${missing[*]}" >&2; exit 2; }; \
	  sudo=(sudo); \
	fi; \
	"$${sudo[@]}" apt-get update -q; \
	"$${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$${missing[@]}"

build:
	$(CARGO) build --release

install: build
	install -D -m 0755 $(TRAPLINE) $(DESTDIR)$(PREFIX)/bin/trapline
	$(TRAPLINE) man $(DESTDIR)$(PREFIX)/share/man/man1

# One file that runs in any x86_64 image or on a bare GPU node: glibc linked statically (crt-static),
# libseccomp from its static archive (Debian's libseccomp-dev ships it), and libbpf with libelf and zlib from
# theirs (the `static` feature).
STATIC_TARGET := x86_64-unknown-linux-gnu
static: deps
	LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=/usr/lib/x86_64-linux-gnu LIBBPF_SYS_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu \
	  RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --features static --target $(STATIC_TARGET)
	@file target/$(STATIC_TARGET)/release/trapline

test: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	@# The fuzz targets (fuzz/, a crate of its own) must keep building against the library as it changes
	@# (checked as a plain build: no_fuzzing tells afl.rs it is not under cargo-afl).
	RUSTFLAGS="--cfg no_fuzzing" $(CARGO) check --manifest-path fuzz/Cargo.toml --bins
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  echo "$(CARGO) nextest run --no-fail-fast"; $(CARGO) nextest run --no-fail-fast; \
	else \
	  echo "$(CARGO) test --no-fail-fast"; $(CARGO) test --no-fail-fast; \
	fi
	@# nextest does not run doctests
	@if [ -f src/lib.rs ] && $(CARGO) nextest --version >/dev/null 2>&1; then \
	  echo "$(CARGO) test --doc"; $(CARGO) test --doc; \
	fi

# Record, profile, lint, run under the profile, a runc container and the emulated GPU rig: scripts/demo.sh.
demo: deps build
	bash scripts/demo.sh

bench:
	bash scripts/bench.sh

bench-profile:
	bash scripts/bench-profile.sh

bench-reachable:
	bash scripts/bench-reachable.sh

