// SPDX-License-Identifier: MIT
// A guard before large host allocations: a request the machine cannot hold becomes a clear
// error (the point fails with it) instead of std::bad_alloc, or the OOM killer ending the run.
#pragma once

#include <cstdint>
#include <string>

namespace numlab {

// What can be allocated without swapping or the OOM killer, in bytes: MemAvailable of
// /proc/meminfo, or less when this process's memory cgroup (Slurm --mem, a container) leaves
// less; -1 unknown.
std::int64_t host_available_bytes();

// Throws std::runtime_error "needs X GiB of host memory for <what>; Y GiB are available" when
// `bytes` exceeds what is available (nothing when that is unknown).
void require_host_bytes(double bytes, std::string const& what);

}  // namespace numlab
