# swift-xdp: the two commands a user needs are `make demo` and `make test`.
SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=

.PHONY: deps build test demo lab-clean clean

deps:
	@scripts/deps.sh

build: deps
	$(SWIFT) build -c release $(SWIFT_BUILD_FLAGS)

# All tests: unit and integration (real AF_XDP sockets on veth in namespaces).
test: deps
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	$(SWIFT) test --skip-build

# Brings up the veth lab, sends real packets through AF_XDP, prints counts.
demo: build
	./.build/release/xdpbench demo

# Removes labs left by crashed runs (namespaces named xl<pid>...).
lab-clean:
	@for ns in $$(ip netns list | awk '/^xl/ {print $$1}'); do ip netns del $$ns && echo "deleted $$ns"; done

clean:
	rm -rf .build
