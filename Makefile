# swift-xdp: the two commands a user needs are `make demo` and `make test`.
SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=

.PHONY: man deps bench-deps bench-check build build-static install uninstall install-check test emulated-nic sanitize sanitize-address sanitize-thread fuzz soak demo bench-compare lab-clean clean docs api-check api-update

deps:
	@scripts/deps.sh

build: deps
	$(SWIFT) build -c release $(SWIFT_BUILD_FLAGS)

# All tests: unit and integration (real AF_XDP sockets on veth in namespaces),
# the allocation check again on optimized code (what the claim is about), a
# bounded libFuzzer pass, and the library and control module under
# AddressSanitizer.
test: deps
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	$(SWIFT) test --skip-build --skip XDPServiceTests
	# Alone: these drive a ServiceGroup on Swift's cooperative pool (2 threads
	# here), which other suites' blocking waits would starve.
	$(SWIFT) test --skip-build --filter XDPServiceTests
	scripts/api-check.sh check
	scripts/foundation-check.sh
	$(MAKE) docs
	$(SWIFT) build -c release --build-tests -Xswiftc -enable-testing $(SWIFT_BUILD_FLAGS)
	$(SWIFT) test -c release -Xswiftc -enable-testing --skip-build --filter AllocationTests
	$(MAKE) bench-check
	# Zero-copy on emulated NICs: QEMU guests with four virtio-net, then four igb
	# NICs back to back on two hubs, the release xdpbench, udp-echo, xdpctl,
	# xdpfwd and the test-only nic-conformance there (scripts/emulated-nic/README.md;
	# 1.5-4.5 min under TCG).
	scripts/emulated-nic/test-zerocopy.sh .build/release
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh
	$(MAKE) sanitize-address
	scripts/install-check.sh

FUZZ_SECONDS ?= 60
SANITIZED_TESTS = XDPTests|PacketTests|XDPControlTests|XDPIntegrationTests

# make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=/etc]: xdpfwd,
# xdpbench and xdpctl built with the Swift runtime and Foundation linked in
# (--static-swift-stdlib: they run where no toolchain is, needing only the
# system's libxdp, libbpf, libelf, zlib), the systemd unit (paths rewritten
# to PREFIX/SYSCONFDIR), the example configuration (never over an existing
# one) and the docs. Its own scratch path, so `.build` is not rebuilt.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
BINDIR ?= $(PREFIX)/bin
UNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/swift-xdp
MANDIR ?= $(PREFIX)/share/man
STATIC_SCRATCH ?= .build-static
# Symbols stripped (about 25 MB less per tool); INSTALL_STRIP= keeps them.
INSTALL_STRIP ?= -s
INSTALL_TOOLS = xdpfwd xdpbench xdpctl
DOC_FILES = $(wildcard README.md LICENSE CHANGELOG.md CONTRIBUTING.md)

build-static: deps
	@for tool in $(INSTALL_TOOLS); do \
		echo "$(SWIFT) build -c release --static-swift-stdlib --product $$tool"; \
		$(SWIFT) build -c release --static-swift-stdlib --scratch-path $(STATIC_SCRATCH) --product $$tool $(SWIFT_BUILD_FLAGS) || exit 1; \
	done

install: build-static
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/xdpfwd $(DESTDIR)$(DOCDIR)/dist
	for tool in $(INSTALL_TOOLS); do install -m 0755 $(INSTALL_STRIP) $(STATIC_SCRATCH)/release/$$tool $(DESTDIR)$(BINDIR)/$$tool || exit 1; done
	sed -e 's|/usr/local/bin/|$(BINDIR)/|g' -e 's|/usr/local/share/doc/swift-xdp|$(DOCDIR)|g' -e 's|/etc/xdpfwd/|$(SYSCONFDIR)/xdpfwd/|g' \
		dist/xdpfwd.service > $(DESTDIR)$(UNITDIR)/xdpfwd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/xdpfwd.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/xdpfwd/xdpfwd.yaml ]; then \
		echo "install: keeping the existing $(DESTDIR)$(SYSCONFDIR)/xdpfwd/xdpfwd.yaml"; \
	else install -m 0644 dist/xdpfwd.yaml $(DESTDIR)$(SYSCONFDIR)/xdpfwd/xdpfwd.yaml; fi
	install -m 0644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	install -m 0644 dist/xdpfwd.yaml dist/xdpfwd.service $(DESTDIR)$(DOCDIR)/dist/
	install -d $(DESTDIR)$(MANDIR)/man1 && install -m 0644 dist/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	@if [ -d docs ]; then install -d $(DESTDIR)$(DOCDIR)/docs && install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/; fi

# Removes what install put there, except the configuration.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(INSTALL_TOOLS)) $(DESTDIR)$(UNITDIR)/xdpfwd.service
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(addsuffix .1,$(INSTALL_TOOLS)))
	rm -rf $(DESTDIR)$(DOCDIR)

# make install into temporary prefixes, then the installed binaries run with
# the toolchain hidden (a mount namespace with an empty directory over it):
# --help, and xdpbench txonly -> rxdrop with an exact count on a veth lab;
# systemd-analyze verify on the installed unit. Part of `make test`.
install-check:
	scripts/install-check.sh

# Both sanitizers (ThreadSanitizer is not in `make test`: see README).
sanitize: sanitize-address sanitize-thread

sanitize-address: deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan $(SWIFT_BUILD_FLAGS)
	LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/lsan.supp $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan \
		--filter '$(SANITIZED_TESTS)'

sanitize-thread: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan $(SWIFT_BUILD_FLAGS)
	TSAN_OPTIONS=suppressions=$(CURDIR)/Tests/tsan.supp $(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan \
		--filter '$(SANITIZED_TESTS)'

# libFuzzer over the packet parser and the L3 forwarder (FUZZ_SECONDS, default 60).
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# txonly -> xdpfwd -> rxdrop with faults; SOAK_SECONDS (default 300). Not in CI.
SOAK_SECONDS ?= 300
soak: build
	python3 scripts/soak.py --seconds $(SOAK_SECONDS) --bin .build/release

# The main job on the built-in lab: xdpfwd routing between two hosts, with
# ping, iperf3 and xdpbench traffic through it; prints the counts; tears down.
demo: build
	BIN=.build/release scripts/demo.sh

# xdpbench against xdpref, xdpsock (XDPSOCK=/path/to/xdpsock, built by you) and
# DPDK testpmd on the lab, every tool every round, shared-core layout, native
# and generic (Benchmarks/compare.py; about 8 minutes with the defaults).
bench-compare: build bench-deps
	$(MAKE) -C Benchmarks/reference
	python3 Benchmarks/compare.py $(COMPARE_FLAGS)

# package-benchmark's micro-benchmarks of the hot paths (Benchmarks/, in-memory
# rings, one batch of 64 per iteration): 0 mallocs, 0 retains and 0 releases
# per batch, held by Benchmarks/Thresholds; a canary batch must count exactly
# 64/64/128, so counters that stopped counting fail too. No time is asserted.
bench-check: deps
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark thresholds check

# What the benchmarks use beyond the build: valgrind (Benchmarks/callgrind.sh),
# DPDK's testpmd with the AF_XDP PMD (compare.py's outside peer).
bench-deps:
	@scripts/bench-deps.sh

# DocC for the library modules (XDP, XDPControl, XDPService); any warning fails.
# Archives: .build/plugins/Swift-DocC/outputs/*.doccarchive
docs:
	$(SWIFT) package generate-documentation --target XDP --target XDPControl --target XDPService --warnings-as-errors

# Public API of XDP, XDPControl, XDPService, Packet against api/*.txt (and
# every public symbol documented); api-update records the current API
# (removals need a note in api/CHANGES.md). foundation-check: the libraries
# an embedder links import no Foundation (FoundationEssentials or Glibc).
api-check:
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)
	scripts/api-check.sh check
	scripts/foundation-check.sh

api-update:
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)
	scripts/api-check.sh update

# Man pages of the tools (ArgumentParser's generate-manual plugin) into dist/man.
man:
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)
	$(SWIFT) package generate-manual --configuration debug
	for tool in xdpfwd xdpbench xdpctl; do cp .build/plugins/GenerateManual/outputs/$$tool/$$tool.1 dist/man/; done

# Only the emulated-NIC lab (QEMU guests, virtio-net and igb in zero-copy):
# builds the release xdpbench, udp-echo, xdpctl, xdpfwd and nic-conformance.
emulated-nic: deps
	$(SWIFT) build -c release --product xdpbench $(SWIFT_BUILD_FLAGS)
	$(SWIFT) build -c release --product udp-echo $(SWIFT_BUILD_FLAGS)
	$(SWIFT) build -c release --product xdpctl $(SWIFT_BUILD_FLAGS)
	$(SWIFT) build -c release --product xdpfwd $(SWIFT_BUILD_FLAGS)
	$(SWIFT) build -c release --product nic-conformance $(SWIFT_BUILD_FLAGS)
	scripts/emulated-nic/test-zerocopy.sh .build/release

# Removes labs left by crashed runs (namespaces named xl<pid>...).
lab-clean:
	@for ns in $$(ip netns list | awk '/^xl/ {print $$1}'); do ip netns del $$ns && echo "deleted $$ns"; done

clean:
	rm -rf .build
