// SPDX-License-Identifier: MIT
// Kokkos lives for the whole test run: initialise once, then RUN_ALL_TESTS.
#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  Kokkos::ScopeGuard guard(argc, argv);
  return RUN_ALL_TESTS();
}
