// SPDX-License-Identifier: MIT
// Element-wise host loops over the hundreds of millions of values of a bench problem (rounding to
// bf16/fp16, packing for upload): split in contiguous chunks over the hardware threads. Plain
// std::thread, so the native runner stays free of Kokkos.
#pragma once

#include <algorithm>
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

}  // namespace numlab::cuda
