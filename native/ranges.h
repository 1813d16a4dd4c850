// Which address ranges this addon created, so that no call through the raw
// binding can ever reach memory that V8, Node or malloc own.
//
// Two kinds: ranges made by the raw mmap() (the conformance suite's
// playground, which raw munmap/mprotect/madvise/mremap/mseal may touch) and
// ranges owned by a Region (lib's Mapping/SecretBuffer), which only the
// Region's own methods may change. Thread-safe: worker threads share the
// address space.
#ifndef MEMSEAL_RANGES_H_
#define MEMSEAL_RANGES_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace memseal {

enum class RangeKind { kRaw, kRegion };

size_t PageSize();

// [start, start + length) rounded out to whole pages. Returns false when the
// rounded range is empty or wraps around the address space.
bool PageSpan(uintptr_t start, size_t length, uintptr_t* begin, uintptr_t* end);

void AddRange(uintptr_t start, size_t length, RangeKind kind);
void RemoveRange(uintptr_t start, size_t length);

// True when every page of [start, start + length) belongs to `kind`.
bool CoversRange(uintptr_t start, size_t length, RangeKind kind);

// The ranges of one kind, as [start, end) pairs, in address order.
std::vector<std::pair<uintptr_t, uintptr_t>> ListRanges(RangeKind kind);

}  // namespace memseal

#endif  // MEMSEAL_RANGES_H_
