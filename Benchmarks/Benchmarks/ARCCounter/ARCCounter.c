// Counts the ARC traffic of the benchmark executable's own code, per thread.
//
// package-benchmark counts retains and releases through the Swift runtime's
// `_swift_retain` hook pointer; on Swift 6.3 on Linux that path crashes
// (ordo-one/benchmark issue 349: its fix, swift-runtime-interposer, is not in
// this machine's package mirror). Instead this file defines the runtime's
// entry points itself: a definition in the executable takes precedence over
// libswiftCore's, so every call the benchmarks' code (and the XDP, Packet and
// XDPControl code specialised or inlined into it) makes lands here, is
// counted, and is forwarded to libswiftCore's own (found with RTLD_NEXT).
// Calls libswiftCore makes internally are not seen; the hot paths measured
// here make none into it.
//
// Safety: each entry point only bumps a thread-local counter and tail-calls
// the real function with the same arguments; the real function is resolved
// once (racing threads store the same pointer).

#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ARCCounter.h"

static _Thread_local uint64_t retains;
static _Thread_local uint64_t releases;

uint64_t arc_counter_retains(void) { return retains; }
uint64_t arc_counter_releases(void) { return releases; }

static void *resolve(const char *name, _Atomic(void *) *slot) {
    void *next = atomic_load_explicit(slot, memory_order_acquire);
    if (next == NULL) {
        next = dlsym(RTLD_NEXT, name);
        if (next == NULL) {
            fprintf(stderr, "ARCCounter: %s not found after the executable (is libswiftCore linked?)\n", name);
            abort();
        }
        atomic_store_explicit(slot, next, memory_order_release);
    }
    return next;
}

#define FORWARD_ONE(name, counter)                                             \
    static _Atomic(void *) next_##name;                                        \
    void *name(void *object) {                                                 \
        counter += 1;                                                          \
        void *(*next)(void *) = (void *(*)(void *))resolve(#name, &next_##name); \
        return next(object);                                                   \
    }

#define FORWARD_N(name, counter)                                               \
    static _Atomic(void *) next_##name;                                        \
    void *name(void *object, uint32_t n) {                                     \
        counter += n;                                                          \
        void *(*next)(void *, uint32_t) =                                      \
            (void *(*)(void *, uint32_t))resolve(#name, &next_##name);         \
        return next(object, n);                                                \
    }

#define RELEASE_ONE(name)                                                      \
    static _Atomic(void *) next_##name;                                        \
    void name(void *object) {                                                  \
        releases += 1;                                                         \
        void (*next)(void *) = (void (*)(void *))resolve(#name, &next_##name); \
        next(object);                                                          \
    }

#define RELEASE_N(name)                                                        \
    static _Atomic(void *) next_##name;                                        \
    void name(void *object, uint32_t n) {                                      \
        releases += n;                                                         \
        void (*next)(void *, uint32_t) =                                       \
            (void (*)(void *, uint32_t))resolve(#name, &next_##name);          \
        next(object, n);                                                       \
    }

FORWARD_ONE(swift_retain, retains)
FORWARD_N(swift_retain_n, retains)
FORWARD_ONE(swift_bridgeObjectRetain, retains)
FORWARD_N(swift_bridgeObjectRetain_n, retains)
RELEASE_ONE(swift_release)
RELEASE_N(swift_release_n)
RELEASE_ONE(swift_bridgeObjectRelease)
RELEASE_N(swift_bridgeObjectRelease_n)
