// SPDX-License-Identifier: MIT
#include "core/interrupt.hpp"

#include <atomic>
#include <csignal>

namespace numlab {
namespace {
std::atomic<bool> g_interrupted{false};

extern "C" void numlab_on_signal(int sig) {
  if (g_interrupted.exchange(true)) {
    std::signal(sig, SIG_DFL);  // second signal: default action, now
    std::raise(sig);
  }
}
}  // namespace

void install_interrupt_handlers() {
  std::signal(SIGINT, numlab_on_signal);
  std::signal(SIGTERM, numlab_on_signal);
}
bool interrupt_requested() noexcept { return g_interrupted.load(std::memory_order_relaxed); }
void set_interrupt_requested(bool v) noexcept { g_interrupted.store(v); }

}  // namespace numlab
