// SPDX-License-Identifier: MIT
// Host loops of the native path over the hardware threads: element-wise over the hundreds of
// millions of values of a bench problem (rounding to bf16/fp16, packing for upload), and over the
// rows of the same-precision baseline. Plain std::thread, so the native runner stays free of Kokkos.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace numlab::cuda {

// f(i) for i in [0, n); below ~1M elements the threads cost more than they save.
template <class F>
void parallel_elements(std::size_t n, F const& f) {
  const std::size_t hw = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t parts = std::min(hw, n >> 20);
  if (parts <= 1) {
    for (std::size_t i = 0; i < n; ++i) f(i);
    return;
  }
  auto part = [&](std::size_t p) {
    for (std::size_t i = n * p / parts, e = n * (p + 1) / parts; i < e; ++i) f(i);
  };
  std::vector<std::thread> pool;
  pool.reserve(parts - 1);
  for (std::size_t p = 1; p < parts; ++p) pool.emplace_back(part, p);
  part(0);
  for (auto& t : pool) t.join();
}

// f(i) for i in [0, n) in small chunks handed out on demand: for rows of unequal cost (causal
// attention rows see 1 .. N keys).
template <class F>
void parallel_rows(int n, F const& f) {
  const int hw = int(std::max(1u, std::thread::hardware_concurrency()));
  const int nthreads = std::min(hw, std::max(1, n / 4));
  if (nthreads <= 1) {
    for (int i = 0; i < n; ++i) f(i);
    return;
  }
  const int chunk = std::max(1, n / (8 * nthreads));
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i0; (i0 = next.fetch_add(chunk)) < n;)
      for (int i = i0, i1 = std::min(n, i0 + chunk); i < i1; ++i) f(i);
  };
  std::vector<std::thread> pool;
  pool.reserve(std::size_t(nthreads - 1));
  for (int t = 1; t < nthreads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

}  // namespace numlab::cuda
