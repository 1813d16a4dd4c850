#include "ranges.h"

#include <unistd.h>

#include <map>
#include <mutex>

namespace memseal {

namespace {

struct Range {
  uintptr_t end;
  RangeKind kind;
};

std::mutex& Lock() {
  static std::mutex mutex;
  return mutex;
}

// start -> {end, kind}; ranges never overlap.
std::map<uintptr_t, Range>& Ranges() {
  static std::map<uintptr_t, Range> ranges;
  return ranges;
}

// Cuts [begin, end) out of the map, splitting ranges that straddle it.
void Subtract(std::map<uintptr_t, Range>& map, uintptr_t begin, uintptr_t end) {
  auto it = map.upper_bound(begin);
  if (it != map.begin()) --it;
  while (it != map.end() && it->first < end) {
    const uintptr_t s = it->first;
    const Range r = it->second;
    if (r.end <= begin) {
      ++it;
      continue;
    }
    it = map.erase(it);
    if (s < begin) map.emplace(s, Range{begin, r.kind});
    if (r.end > end) map.emplace(end, Range{r.end, r.kind});
  }
}

}  // namespace

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

bool PageSpan(uintptr_t start, size_t length, uintptr_t* begin, uintptr_t* end) {
  const uintptr_t mask = PageSize() - 1;
  *begin = start & ~mask;
  if (length > UINTPTR_MAX - start - mask) return false;
  *end = (start + length + mask) & ~mask;
  return *end > *begin;
}

void AddRange(uintptr_t start, size_t length, RangeKind kind) {
  uintptr_t begin, end;
  if (!PageSpan(start, length, &begin, &end)) return;
  std::lock_guard<std::mutex> guard(Lock());
  Subtract(Ranges(), begin, end);
  Ranges().emplace(begin, Range{end, kind});
}

void RemoveRange(uintptr_t start, size_t length) {
  uintptr_t begin, end;
  if (!PageSpan(start, length, &begin, &end)) return;
  std::lock_guard<std::mutex> guard(Lock());
  Subtract(Ranges(), begin, end);
}

bool CoversRange(uintptr_t start, size_t length, RangeKind kind) {
  uintptr_t begin, end;
  if (!PageSpan(start, length, &begin, &end)) return false;
  std::lock_guard<std::mutex> guard(Lock());
  auto& map = Ranges();
  auto it = map.upper_bound(begin);
  if (it == map.begin()) return false;
  --it;
  uintptr_t at = begin;
  while (at < end) {
    if (it == map.end() || it->first > at || it->second.end <= at || it->second.kind != kind) {
      return false;
    }
    at = it->second.end;
    ++it;
  }
  return true;
}

std::vector<std::pair<uintptr_t, uintptr_t>> ListRanges(RangeKind kind) {
  std::lock_guard<std::mutex> guard(Lock());
  std::vector<std::pair<uintptr_t, uintptr_t>> out;
  for (const auto& [start, range] : Ranges()) {
    if (range.kind == kind) out.emplace_back(start, range.end);
  }
  return out;
}

}  // namespace memseal
