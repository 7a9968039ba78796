// SPDX-License-Identifier: MIT
// One writer per output file: an exclusive flock(2) on OUT.lock, beside the output, held for
// the whole run and released by the kernel when the process ends (however it ends). The lock
// file names its holder (pid, host, start time, Slurm task) for the message a second writer
// gets; a lock file left by a process of this host, or by an earlier run of this Slurm task,
// that no longer holds it is taken over with a note; one from another host is refused.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>

namespace numlab {

// Another process holds the lock; what() names it.
struct OutputLocked : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class OutputLock {
 public:
  // Locks `output` (the path of the file to be written), waiting up to wait_seconds (0: not at
  // all) for another holder to finish. Throws OutputLocked, or std::runtime_error when the lock
  // file cannot be made. `note` receives a line when a stale lock file was taken over.
  OutputLock(std::string const& output, double wait_seconds, std::string* note = nullptr);
  ~OutputLock();
  OutputLock(OutputLock const&) = delete;
  OutputLock& operator=(OutputLock const&) = delete;

  std::string const& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// OUT.lock
std::string lock_path_of(std::string const& output);

// Who holds the lock of `output` right now (its holder line), or nothing when no one does.
std::optional<std::string> lock_holder(std::string const& output);

}  // namespace numlab
