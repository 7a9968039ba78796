// SPDX-License-Identifier: MIT
// Small host CSR matrices for the linear-solver tests.
#pragma once
#include "linsolve/csr.hpp"

#include <cstddef>
#include <tuple>
#include <vector>

namespace numlab_test {

using Triplet = std::tuple<int, int, double>;

// CSR from triplets, entries of a row kept in the order given (so tests can build unsorted rows).
inline numlab::linsolve::HostCsr host_csr(int n, std::vector<Triplet> const& t) {
  using numlab::linsolve::HostCsr;
  std::vector<std::size_t> count(n + 1, 0);
  for (auto const& [i, j, v] : t) ++count[i + 1];
  for (int i = 0; i < n; ++i) count[i + 1] += count[i];
  HostCsr::row_map_type::non_const_type rm("rm", n + 1);
  HostCsr::index_type::non_const_type ci("ci", t.size());
  HostCsr::values_type::non_const_type va("va", t.size());
  std::vector<std::size_t> pos(count.begin(), count.end() - 1);
  for (auto const& [i, j, v] : t) {
    ci(pos[i]) = j;
    va(pos[i]) = v;
    ++pos[i];
  }
  for (int i = 0; i <= n; ++i) rm(i) = count[i];
  return HostCsr("A", n, n, t.size(), va, rm, ci);
}

}  // namespace numlab_test
