// SPDX-License-Identifier: MIT
#include "core/host_memory.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace numlab {

std::int64_t host_available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemAvailable:", 0) != 0) continue;
    std::istringstream ss(line.substr(13));
    std::int64_t kib = -1;
    ss >> kib;
    return kib < 0 ? -1 : kib * 1024;
  }
  return -1;
}

void require_host_bytes(double bytes, std::string const& what) {
  std::int64_t const avail = host_available_bytes();
  if (avail < 0 || bytes <= double(avail)) return;
  throw std::runtime_error(fmt::format("needs {:.3g} GiB of host memory for {}; {:.3g} GiB are available", bytes / 1073741824.0, what,
                                       double(avail) / 1073741824.0));
}

}  // namespace numlab
