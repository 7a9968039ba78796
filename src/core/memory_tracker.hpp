// SPDX-License-Identifier: MIT
// Memory attributable to a method: Kokkos reports every View allocation and
// deallocation to the Kokkos Tools callbacks; we keep the live bytes and a
// resettable high-water mark per memory space ("Host", "Cuda", ...). Host RSS
// peaks come from the kernel (VmHWM, reset through /proc/self/clear_refs).
// Note: installing the callbacks replaces those of a Kokkos Tools library
// loaded through KOKKOS_TOOLS_LIBS.
#pragma once

#include <cstdint>
#include <string>

namespace numlab {

class MemoryTracker {
 public:
  // Registers the callbacks (after Kokkos::initialize); idempotent.
  static void install();
  // Live bytes and high-water mark of one memory space since the last reset.
  static std::int64_t live_bytes(std::string const& space);
  static std::int64_t peak_bytes(std::string const& space);
  // Starts a new high-water period: peak := live, for every space.
  static void reset_peaks();
};

// High-water mark of bytes allocated inside the scope, above what was live
// when it began, for one memory space.
class MemoryScope {
 public:
  explicit MemoryScope(std::string space);
  std::int64_t peak_above_baseline() const;  // bytes
 private:
  std::string space_;
  std::int64_t baseline_;
};

// Resets the process's peak resident set size (Linux >= 4.0); false if not possible.
bool reset_host_peak_rss();
// Peak resident set size since start or the last reset (VmHWM), and current RSS, in bytes.
std::int64_t host_peak_rss_bytes();
std::int64_t host_rss_bytes();

}  // namespace numlab
