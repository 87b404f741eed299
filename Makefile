# Thin wrapper over CMake: deps, build, check, bench, demo.
BUILD ?= build
JOBS ?= $(shell nproc)
PACKAGES := $(shell grep -v '^\#' tools/packages.txt)
# Extra CMake settings, e.g. CMAKE_ARGS=-DXLB_WERROR=ON (CI).
CMAKE_ARGS ?=
# CMake's generated makefiles announce every directory they enter and leave: noise.
QUIET_MAKE := -- --no-print-directory

.PHONY: all deps configure build check unit bench demo demo-ecmp install clean

all: build

# Installs what is missing; apt-get update only when something is.
deps:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null

build: configure
	cmake --build $(BUILD) -j $(JOBS) $(QUIET_MAKE)

check: build
	tools/lab/bpffs.sh
	# Unit and BPF suites two at a time, then the labs, one at a time beside the VM lab:
	# xlb_test_schedule (cmake/testing.cmake). Both passes run; either failing fails check.
	cd $(BUILD) && { ctest --output-on-failure --no-tests=error -j 2 -L '^(unit|bpf)$$' -LE long; \
	  first=$$?; ctest --output-on-failure --no-tests=error -j 2 -LE '^(unit|bpf|long)$$'; \
	  second=$$?; [ $$first -eq 0 ] && [ $$second -eq 0 ]; }

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

bench: build
	tools/lab/bpffs.sh
	bench/run.sh $(BUILD)

# Only what the demo runs; `make build` or `make check` builds the rest.
demo: configure
	cmake --build $(BUILD) -j $(JOBS) --target xlb_demo_programs $(QUIET_MAKE)
	tools/lab/bpffs.sh
	tools/demo.sh $(BUILD)

# The scale-out story (issue 29): a BIRD router with ECMP and three xlb nodes announcing by BGP.
demo-ecmp: configure
	cmake --build $(BUILD) -j $(JOBS) --target xlb_demo_programs $(QUIET_MAKE)
	tools/lab/bpffs.sh
	tools/lab/ecmp-lab.sh $(BUILD) $(CURDIR) demo

# Binaries, man pages, the unit and (if absent) /etc/xlb/xlb.conf; DESTDIR is honoured.
PREFIX ?= /usr
install: configure
	cmake --build $(BUILD) -j $(JOBS) --target xlbd xlbctl xlb-pktgen xlb_manpages $(QUIET_MAKE)
	DESTDIR=$(DESTDIR) tools/install.sh $(BUILD) $(PREFIX)

clean:
	rm -rf $(BUILD)
