// SPDX-License-Identifier: MIT
// The memory tracker sees Kokkos allocations with exact byte counts and a
// high-water mark that resets per scope.
#include "core/memory_tracker.hpp"

#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>

#include <vector>

using namespace numlab;

TEST(MemoryTracker, PeakOfNestedAllocationsIsExact) {
  using Mem = Kokkos::DefaultExecutionSpace::memory_space;
  std::string space = Mem::name();
  Kokkos::View<double*, Mem> outside("outside", 1000);  // live before: not attributed
  MemoryScope scope(space);
  {
    Kokkos::View<double*, Mem> a("a", 1 << 20);  // 8 MiB
    {
      Kokkos::View<float**, Mem> b("b", 1024, 512);  // 2 MiB
    }
    Kokkos::View<char*, Mem> c("c", 1 << 20);  // 1 MiB, after b was freed
  }
  EXPECT_EQ(scope.peak_above_baseline(), (8 << 20) + (2 << 20));
  MemoryScope second(space);
  Kokkos::View<double*, Mem> d("d", 100);
  EXPECT_EQ(second.peak_above_baseline(), 800);
}

TEST(HostRss, PeakResetsAndGrowsWithTouchedMemory) {
  if (!reset_host_peak_rss()) GTEST_SKIP() << "/proc/self/clear_refs not writable";
  std::int64_t before = host_peak_rss_bytes();
  ASSERT_GT(before, 0);
  {
    std::vector<char> big(256 << 20);
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = 1;  // touch every page
    EXPECT_GE(host_peak_rss_bytes(), before + (200 << 20));
  }
  ASSERT_TRUE(reset_host_peak_rss());
  EXPECT_LT(host_peak_rss_bytes(), before + (100 << 20));  // the peak came back down after the reset
}
