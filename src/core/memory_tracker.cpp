// SPDX-License-Identifier: MIT
#include "core/memory_tracker.hpp"

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

namespace numlab {

namespace {
struct SpaceCounters {
  std::int64_t live = 0;
  std::int64_t peak = 0;
};
std::mutex g_mutex;
std::map<std::string, SpaceCounters> g_spaces;
bool g_installed = false;

// Kokkos' own pools ("Kokkos::Serial::scratch_mem", the team-scratch buffers of the other
// backends) grow on the first kernel that needs more and stay for the process: charging them to
// whichever method happens to run first would make a method's peak depend on the one before it
// (the first team-scratch kernel after standard's BLAS kernel paid the host's scratch pool).
// The OpenMP backend allocates its per-thread pools in HostSpace without a label
// ("[unlabeled]"); every host allocation of numlab's own is a labelled View.
bool is_kokkos_pool(Kokkos::Profiling::SpaceHandle const& h, char const* label) {
  if (!label) return false;
  if (std::strncmp(label, "Kokkos::", 8) == 0) return true;
  return std::strcmp(label, "[unlabeled]") == 0 && std::strcmp(h.name, "Host") == 0;
}

void on_allocate(Kokkos::Profiling::SpaceHandle h, char const* label, void const*, std::uint64_t size) {
  if (is_kokkos_pool(h, label)) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  auto& c = g_spaces[h.name];
  c.live += static_cast<std::int64_t>(size);
  c.peak = std::max(c.peak, c.live);
}

void on_deallocate(Kokkos::Profiling::SpaceHandle h, char const* label, void const*, std::uint64_t size) {
  if (is_kokkos_pool(h, label)) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_spaces[h.name].live -= static_cast<std::int64_t>(size);
}

std::int64_t status_field_kb(char const* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  std::size_t n = std::char_traits<char>::length(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0) {
      std::istringstream ss(line.substr(n + 1));
      std::int64_t kb = 0;
      ss >> kb;
      return kb;
    }
  return -1;
}
}  // namespace

void MemoryTracker::install() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_installed) return;
  Kokkos::Tools::Experimental::set_allocate_data_callback(on_allocate);
  Kokkos::Tools::Experimental::set_deallocate_data_callback(on_deallocate);
  g_installed = true;
}

std::int64_t MemoryTracker::live_bytes(std::string const& space) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_spaces.find(space);
  return it == g_spaces.end() ? 0 : it->second.live;
}

std::int64_t MemoryTracker::peak_bytes(std::string const& space) {
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_spaces.find(space);
  return it == g_spaces.end() ? 0 : it->second.peak;
}

void MemoryTracker::reset_peaks() {
  std::lock_guard<std::mutex> lock(g_mutex);
  for (auto& [name, c] : g_spaces) c.peak = c.live;
}

MemoryScope::MemoryScope(std::string space) : space_(std::move(space)) {
  MemoryTracker::install();
  MemoryTracker::reset_peaks();
  baseline_ = MemoryTracker::live_bytes(space_);
}

std::int64_t MemoryScope::peak_above_baseline() const { return MemoryTracker::peak_bytes(space_) - baseline_; }

bool reset_host_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  if (!out) return false;
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

std::int64_t host_peak_rss_bytes() {
  auto kb = status_field_kb("VmHWM");
  return kb < 0 ? -1 : kb * 1024;
}

std::int64_t host_rss_bytes() {
  auto kb = status_field_kb("VmRSS");
  return kb < 0 ? -1 : kb * 1024;
}

}  // namespace numlab
