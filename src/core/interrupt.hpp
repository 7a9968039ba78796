// SPDX-License-Identifier: MIT
// Cooperative interruption: SIGINT/SIGTERM set a flag; long loops call
// check_interrupt() so a point stops promptly and is not recorded half-done.
#pragma once

#include <stdexcept>

namespace numlab {

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted by signal") {}
};

// Installs the SIGINT/SIGTERM handlers (a second signal kills at once).
void install_interrupt_handlers();
bool interrupt_requested() noexcept;
// For tests: raise or clear the flag by hand.
void set_interrupt_requested(bool v) noexcept;

inline void check_interrupt() {
  if (interrupt_requested()) throw Interrupted();
}

}  // namespace numlab
