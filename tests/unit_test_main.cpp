// SPDX-License-Identifier: MIT
// Kokkos lives for the whole test run: initialise once, then RUN_ALL_TESTS.
#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>

#include <cstdlib>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // ctest runs the tests with OMP_PROC_BIND=false (several at once); its test discovery runs the
  // binaries without it, where Kokkos' warning about the unset variable would be read as a test
  // name. Unset, the OpenMP runtime (which read it before main) binds nothing: say so.
  ::setenv("OMP_PROC_BIND", "false", 0);
  Kokkos::ScopeGuard guard(argc, argv);
  return RUN_ALL_TESTS();
}
