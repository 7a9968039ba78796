// SPDX-License-Identifier: MIT
#pragma once

#include <string>

namespace numlab::linsolve {

// Outcome of one solve, written to HDF5 as the point's `status` string.
enum class SolveStatus { converged, max_iterations, diverged, singular, solved };

inline const char* to_string(SolveStatus s) {
  switch (s) {
    case SolveStatus::converged: return "converged";
    case SolveStatus::max_iterations: return "max_iterations";
    case SolveStatus::diverged: return "diverged";
    case SolveStatus::singular: return "singular";
    case SolveStatus::solved: return "solved";
  }
  return "unknown";
}

}  // namespace numlab::linsolve
