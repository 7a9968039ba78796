// SPDX-License-Identifier: MIT
#include <Kokkos_Core.hpp>
int main(int argc, char** argv) { Kokkos::ScopeGuard g(argc, argv); return 0; }
