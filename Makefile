# edgecam build. Every target installs what it is missing, so a fresh Debian bookworm or
# Raspberry Pi OS (64-bit) machine with Go needs only `make run` or `make test`.
SHELL        := /bin/bash
ORT_VERSION  := 1.30.0
ORT_DIR      := lib/onnxruntime
ORT_LIB      := $(ORT_DIR)/libonnxruntime.so.1
MODEL        := models/yolov5n.onnx
AZURITE_VERSION := 3.37.0
AZURITE_DIR  := .deps/azurite
SHARED       ?= ../shared
GO           ?= go
# Packages without cgo: tested with the race detector.
PURE_PKGS    := $(shell $(GO) list -f '{{.ImportPath}} {{join .Deps " "}}' ./internal/... 2>/dev/null | grep -v -e gocv.io -e onnxruntime_go | cut -d' ' -f1)

export EDGECAM_ORT_LIB := $(CURDIR)/$(ORT_LIB)
export EDGECAM_SHARED  := $(abspath $(SHARED))
# The file-upload tests start Azurite from here; under make a missing one fails them.
export EDGECAM_AZURITE := $(CURDIR)/$(AZURITE_DIR)/node_modules/.bin/azurite-blob

.PHONY: all deps deps-apt deps-ort deps-model deps-npm deps-azurite build test test-short bench run emulator fmt vet clean

all: build

deps: deps-apt deps-ort deps-model deps-npm deps-azurite

deps-apt:
	@scripts/deps-apt.sh

deps-ort:
	@scripts/fetch-ort.sh $(ORT_VERSION) $(ORT_DIR)

deps-azurite:
	@scripts/fetch-azurite.sh $(AZURITE_VERSION) $(AZURITE_DIR)

deps-model:
	@EDGECAM_SHARED=$(SHARED) scripts/fetch-model.sh $(MODEL)

# The official Azure IoT Node.js SDKs for the conformance tests (test/conformance).
deps-npm:
	@scripts/deps-npm.sh

build: deps-apt deps-ort
	$(GO) build -o bin/edgecam ./cmd/edgecam

vet:
	$(GO) vet ./...

# The README's test command. Runs every test against the real ONNX Runtime, model, OpenCV,
# TLS MQTT emulator and loopback HTTP/RTSP servers, then the race detector on the pure-Go packages and the daemon
# and a short fuzz run of the protocol parsers.
test: deps build
	@test -z "$$(gofmt -l cmd internal)" || { echo "gofmt needed:"; gofmt -l cmd internal; exit 1; }
	@scripts/check-hermetic.sh
	$(GO) vet ./...
	EDGECAM_REQUIRE_NODE=1 $(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -race -timeout 20m $(PURE_PKGS) ./internal/daemon/
	@scripts/fuzz-short.sh

bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 20x ./internal/yolo/
	./bin/edgecam detect --model $(MODEL) --bench 50 $(SHARED)/testdata/images/bus.jpg || true

# The README's run command: the local IoT Hub/DPS emulator and the daemon on two demo cameras.
run: deps build
	@scripts/demo.sh

clean:
	rm -rf bin
