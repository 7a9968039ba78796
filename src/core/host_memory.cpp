// SPDX-License-Identifier: MIT
#include "core/host_memory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace numlab {

namespace {

std::int64_t read_number(std::string const& path) {
  std::ifstream in(path);
  std::string v;
  if (!(in >> v) || v == "max") return -1;
  try {
    return std::stoll(v);
  } catch (std::exception const&) {
    return -1;
  }
}

std::int64_t meminfo_available() {
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

// The room left under this process's memory cgroup (Slurm --mem, a container), -1 when none.
std::int64_t cgroup_available() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    // v2: "0::/path"; v1: "N:memory:/path" (or "N:...,memory,...:/path").
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string const controllers = line.substr(a + 1, b - a - 1), rel = line.substr(b + 1);
    std::string limit, usage;
    if (controllers.empty()) {
      limit = "/sys/fs/cgroup" + rel + "/memory.max";
      usage = "/sys/fs/cgroup" + rel + "/memory.current";
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      limit = "/sys/fs/cgroup/memory" + rel + "/memory.limit_in_bytes";
      usage = "/sys/fs/cgroup/memory" + rel + "/memory.usage_in_bytes";
    } else {
      continue;
    }
    std::int64_t const l = read_number(limit), u = read_number(usage);
    // v1 writes "no limit" as a huge number.
    if (l > 0 && l < (std::int64_t(1) << 60)) return std::max<std::int64_t>(0, l - std::max<std::int64_t>(u, 0));
  }
  return -1;
}

}  // namespace

std::int64_t host_available_bytes() {
  std::int64_t const m = meminfo_available(), c = cgroup_available();
  if (m < 0) return c;
  if (c < 0) return m;
  return std::min(m, c);
}

void require_host_bytes(double bytes, std::string const& what) {
  std::int64_t const avail = host_available_bytes();
  if (avail < 0 || bytes <= double(avail)) return;
  throw std::runtime_error(fmt::format("needs {:.3g} GiB of host memory for {}; {:.3g} GiB are available", bytes / 1073741824.0, what,
                                       double(avail) / 1073741824.0));
}

}  // namespace numlab
