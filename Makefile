# Thin wrapper over CMake: deps, build, check, bench, demo.
BUILD ?= build
JOBS ?= $(shell nproc)
PACKAGES := $(shell grep -v '^\#' tools/packages.txt)

.PHONY: all deps build check unit bench demo clean

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

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

check: build
	tools/lab/bpffs.sh
	cd $(BUILD) && ctest --output-on-failure --no-tests=error -j 1

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

bench: build
	tools/lab/bpffs.sh
	bench/run.sh $(BUILD)

demo: build
	tools/lab/bpffs.sh
	tools/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD)
