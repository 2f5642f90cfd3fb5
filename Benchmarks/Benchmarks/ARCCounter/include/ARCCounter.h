#ifndef SWIFT_XDP_ARC_COUNTER_H
#define SWIFT_XDP_ARC_COUNTER_H

#include <stdint.h>

/// Strong retains (swift_retain, swift_retain_n, swift_bridgeObjectRetain and
/// their _n forms, counted n times) made on the calling thread so far.
uint64_t arc_counter_retains(void);

/// Releases (swift_release, swift_release_n, swift_bridgeObjectRelease and
/// their _n forms) made on the calling thread so far.
uint64_t arc_counter_releases(void);

#endif
