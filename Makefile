# edgecam build. Every target installs what it is missing, so a fresh Debian bookworm or
# Raspberry Pi OS (64-bit) machine with Go needs only `make run` or `make test`.
SHELL        := /bin/bash
ORT_VERSION  := 1.30.0
ORT_DIR      := lib/onnxruntime
ORT_LIB      := $(ORT_DIR)/libonnxruntime.so.1
MODEL        := models/yolov5n.onnx
AZURITE_VERSION := 3.37.0
AZURITE_DIR  := .deps/azurite
ONVIF_VERSION := 0.8.1
ONVIF_DIR    := .deps/onvif
SHARED       ?= ../shared
GO           ?= go
# Packages without cgo: tested with the race detector.
PURE_PKGS    := $(shell $(GO) list -f '{{.ImportPath}} {{join .Deps " "}}' ./internal/... 2>/dev/null | grep -v -e gocv.io -e onnxruntime_go | cut -d' ' -f1)

export EDGECAM_ORT_LIB := $(CURDIR)/$(ORT_LIB)
export EDGECAM_SHARED  := $(abspath $(SHARED))
# The file-upload tests start Azurite from here; under make a missing one fails them.
export EDGECAM_AZURITE := $(CURDIR)/$(AZURITE_DIR)/node_modules/.bin/azurite-blob
# The ONVIF tests parse the camera replies of npm onvif@0.8.1 from here; under make a missing one fails them.
export EDGECAM_ONVIF   := $(CURDIR)/$(ONVIF_DIR)/node_modules/onvif

.PHONY: all deps deps-apt deps-ort deps-model deps-npm deps-azurite deps-onvif build test bench bench-rtsp bare-ort soak run vet clean

# The version from git (scripts/version.sh), linked into every binary: `edgecam --version`.
VERSION      := $(shell scripts/version.sh)
VERSION_LDFLAGS := -X github.com/edgecam/edgecam/internal/version.Version=$(VERSION)

all: build

deps: deps-apt deps-ort deps-model deps-npm deps-azurite deps-onvif

deps-apt:
	@scripts/deps-apt.sh

deps-ort:
	@scripts/fetch-ort.sh $(ORT_VERSION) $(ORT_DIR)

deps-azurite:
	@scripts/fetch-azurite.sh $(AZURITE_VERSION) $(AZURITE_DIR)

# SOAP replies captured from real ONVIF cameras (test/serverMockup of npm onvif), for internal/onvif's tests.
deps-onvif:
	@scripts/fetch-onvif.sh $(ONVIF_VERSION) $(ONVIF_DIR)

deps-model:
	@EDGECAM_SHARED=$(SHARED) scripts/fetch-model.sh $(MODEL)

# The official Azure IoT Node.js SDKs for the conformance tests (test/conformance).
deps-npm:
	@scripts/deps-npm.sh

# scripts/build.sh links only OpenCV's core and imgproc (the README's "Memory and CPU per tick");
# scripts/check-linked.sh fails the build when a heavy library comes back.
# bin/edgecam-emulator (cmd/edgecam-emulator: the IoT Hub/DPS emulator and the DTDL validator, pure Go) is a
# development tool for make run and the tests; it is not in the .deb.
build: deps-apt deps-ort
	GO=$(GO) scripts/build.sh bin/edgecam -ldflags "$(VERSION_LDFLAGS)"
	@scripts/check-linked.sh bin/edgecam
	$(GO) build -ldflags "$(VERSION_LDFLAGS)" -o bin/edgecam-emulator ./cmd/edgecam-emulator

vet:
	$(GO) vet ./...

# The README's test command. Runs every test against the real ONNX Runtime, model, OpenCV,
# TLS MQTT emulator and loopback HTTP/RTSP servers, then the race detector on the pure-Go packages and the daemon
# and a short fuzz run of the protocol parsers. The leak check (every camera kind's ticks, then open
# gocv Mats back to the baseline and the C heap not growing with ticks) runs with gocv's Mat profile.
test: deps build
	@test -z "$$(gofmt -l cmd internal)" || { echo "gofmt needed:"; gofmt -l cmd internal; exit 1; }
	@scripts/check-hermetic.sh
	$(GO) vet ./...
	EDGECAM_REQUIRE_NODE=1 $(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -timeout 10m -tags matprofile -run NoNativeLeak ./internal/daemon/
	$(GO) test -count=1 -race -timeout 20m $(PURE_PKGS) ./internal/daemon/
	@scripts/fuzz-short.sh

bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 20x ./internal/yolo/
	./bin/edgecam detect --model $(MODEL) --bench 50 $(SHARED)/testdata/images/bus.jpg || true

# Bare ONNX Runtime (onnxruntime-node, the same library version) running the same model once a
# second: the baseline of the README's CPU-per-tick and memory figures. npm fetches the package into
# scripts/bare-ort/node_modules (its install script only fetches CUDA, so it is skipped).
bare-ort: deps-model
	cd scripts/bare-ort && npm install --no-audit --no-fund --ignore-scripts --silent
	node scripts/bare-ort/bench.js $(MODEL)

# The footprint soak (not part of make test): the built daemon against the emulator with a file, an
# HTTP, an RTSP and a marked-up file camera at a 1 s period for SOAK_SECONDS (default 600); prints RSS,
# its slope per 1000 ticks after the first two minutes, CPU per tick, idle CPU, fds, goroutines, threads.
soak: deps build
	$(GO) test -tags soak -count=1 -v -timeout 0 -run TestSoak ./internal/soak/

# RTSP source against a 1080p25 H.264 test stream: idle CPU between ticks over a 60 s period
# (EDGECAM_IDLE_SECONDS), tick-to-frame latency and frame age.
bench-rtsp: deps
	$(GO) test -run '^$$' -bench 'RTSPIdle' -benchtime 1x ./internal/camera/
	$(GO) test -run '^$$' -bench 'RTSPCapture' -benchtime 20x ./internal/camera/

# The README's run command: the local IoT Hub/DPS emulator and the daemon on two demo cameras.
run: deps build
	@scripts/demo.sh

clean:
	rm -rf bin dist

# ---------------------------------------------------------------------------------------------
# Packaging (issue 9): make deb [ARCH=arm64], make test-system, make test-arm64.
# dist/edgecam_<version>_<arch>.deb is built by packaging/ (a separate Go module using nFPM, so
# the packager stays out of the edgecam binary). ARCH=arm64 cross-builds against an arm64
# sysroot (.cache/sysroot-arm64, made once by scripts/deps-arm64.sh) with Debian's cross gcc.
HOST_ARCH    := $(shell dpkg --print-architecture)
ARCH         ?= $(HOST_ARCH)
DEB          := dist/edgecam_$(VERSION)_$(ARCH).deb
PKG_LDFLAGS  := $(VERSION_LDFLAGS) -X github.com/edgecam/edgecam/internal/yolo.InstalledLibDir=/usr/lib/edgecam
SYSROOT_ARM64 := $(CURDIR)/.cache/sysroot-arm64
ORT_DIR_arm64 := lib/onnxruntime-arm64
ORT_DIR_amd64 := lib/onnxruntime-amd64
ORT_DIR_$(HOST_ARCH) := $(ORT_DIR)
CROSS_ENV_arm64 := CGO_ENABLED=1 GOOS=linux GOARCH=arm64 \
	CC="aarch64-linux-gnu-gcc --sysroot=$(SYSROOT_ARM64)" CXX="aarch64-linux-gnu-g++ --sysroot=$(SYSROOT_ARM64)" \
	PKG_CONFIG_SYSROOT_DIR=$(SYSROOT_ARM64) \
	PKG_CONFIG_LIBDIR=$(SYSROOT_ARM64)/usr/lib/aarch64-linux-gnu/pkgconfig:$(SYSROOT_ARM64)/usr/share/pkgconfig
CROSS_ENV_amd64 := CGO_ENABLED=1 GOOS=linux GOARCH=amd64

.PHONY: deb deps-arm64 deps-system test-system test-arm64

deps-arm64:
	@scripts/deps-arm64.sh $(SYSROOT_ARM64)

deps-system:
	@scripts/deps-system.sh

ifeq ($(ARCH),$(HOST_ARCH))
deb: deps-apt
else
deb: deps-apt deps-arm64
endif
	@scripts/fetch-ort.sh $(ORT_VERSION) $(ORT_DIR_$(ARCH)) $(ARCH)
	env $(CROSS_ENV_$(ARCH)) GO=$(GO) scripts/build.sh dist/build/$(ARCH)/edgecam -trimpath -ldflags "-s -w $(PKG_LDFLAGS)"
	@scripts/check-linked.sh dist/build/$(ARCH)/edgecam
	@! strings dist/build/$(ARCH)/edgecam | grep -m3 -e 'internal/emulator\.' -e 'internal/dtdl/dtdlcheck\.' \
		|| { echo "dist/build/$(ARCH)/edgecam holds the emulator or the DTDL validator (development tools)"; exit 1; }
	cd packaging && $(GO) vet . && $(GO) test -count=1 . && $(GO) run . --root .. --arch $(ARCH) --version $(VERSION) --binary ../dist/build/$(ARCH)/edgecam \
		--ort-lib ../$(ORT_DIR_$(ARCH))/libonnxruntime.so.1 --out ../dist
	@dpkg-deb --info $(DEB) | sed -n '/Package:/,$$p'
	@ls -l $(DEB)

# The .deb under real systemd in a fresh bookworm container (see scripts/test-system.sh).
test-system: deps deps-system build
	$(MAKE) deb ARCH=$(HOST_ARCH) VERSION=$(VERSION)
	scripts/test-system.sh dist/edgecam_$(VERSION)_$(HOST_ARCH).deb

# arm64 under qemu-user: the cross-compiled test binaries and the arm64 .deb's binary.
test-arm64: deps deps-arm64
	$(MAKE) deb ARCH=arm64 VERSION=$(VERSION)
	env $(CROSS_ENV_arm64) scripts/test-arm64.sh dist/edgecam_$(VERSION)_arm64.deb
