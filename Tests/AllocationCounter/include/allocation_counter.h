// Counts heap allocations made by the calling thread, by interposing the
// allocator entry points in the test executable (the way malloc-interposer
// does), so a test can prove a loop allocates nothing. Test builds only.
#ifndef ALLOCATION_COUNTER_H
#define ALLOCATION_COUNTER_H
#include <stdint.h>
/// Allocations (malloc, calloc, realloc, aligned variants) by this thread so far.
uint64_t allocation_counter_thread_total(void);
/// 0 when the counter is compiled out (sanitizer builds, which own the allocator).
int allocation_counter_is_active(void);
#endif
