// SPDX-License-Identifier: MIT
#include "core/output_lock.hpp"

#include <filesystem>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace numlab {

namespace {

std::string read_all(int fd) {
  std::string s;
  char buf[512];
  if (::lseek(fd, 0, SEEK_SET) < 0) return s;
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) s.append(buf, std::size_t(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

std::string host_name() {
  char h[256] = {0};
  ::gethostname(h, sizeof h - 1);
  return h;
}

// The Slurm task this process is (array job_task, or the job), "" outside Slurm.
std::string slurm_task() {
  char const* array = std::getenv("SLURM_ARRAY_JOB_ID");
  char const* task = std::getenv("SLURM_ARRAY_TASK_ID");
  if (array && task) return std::string(array) + "_" + task;
  char const* job = std::getenv("SLURM_JOB_ID");
  return job ? job : "";
}

// The field after `word ` in a holder line ("pid 12 on host h since T (slurm task 7_1)").
std::string field(std::string const& line, std::string const& word) {
  auto p = line.find(word + " ");
  if (p == std::string::npos) return {};
  p += word.size() + 1;
  auto e = line.find_first_of(" )", p);
  return line.substr(p, e == std::string::npos ? std::string::npos : e - p);
}

}  // namespace

std::string lock_path_of(std::string const& output) {
  // Beside the file itself: a reader given a symlink probes the lock its writer holds.
  std::error_code ec;
  std::filesystem::path const real = std::filesystem::weakly_canonical(output, ec);
  return (ec ? output : real.string()) + ".lock";
}

OutputLock::OutputLock(std::string const& output, double wait_seconds, std::string* note)
    : path_(lock_path_of(output)) {
  auto const deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_seconds);
  for (;;) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw std::runtime_error(fmt::format("cannot create the lock file '{}': {}", path_, std::strerror(errno)));
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) {
      // The holder before us may have removed the file after we opened it: then we hold a lock
      // on a file nobody else sees, and try again on the path's current file.
      struct stat a {}, b {};
      if (::fstat(fd_, &a) == 0 && ::stat(path_.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
        break;
      ::close(fd_);
      fd_ = -1;
      continue;
    }
    int const err = errno;
    std::string holder = read_all(fd_);
    ::close(fd_);
    fd_ = -1;
    if (err != EWOULDBLOCK)
      throw std::runtime_error(fmt::format("cannot lock '{}': {}", path_, std::strerror(err)));
    if (std::chrono::steady_clock::now() >= deadline)
      throw OutputLocked(fmt::format("another numlab is writing this output ({}; lock file '{}')",
                                     holder.empty() ? "holder unknown" : holder, path_));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  // A lock file with a holder line and no lock held: its writer ended without removing it (kill
  // -9, a node failure). flock proves that for this host's processes only, so the file is taken
  // over when it was written on this host, or by an earlier run of this Slurm task (a requeue).
  std::string const previous = read_all(fd_);
  if (!previous.empty()) {
    std::string const host = field(previous, "host"), task = field(previous, "task");
    bool const ours = host == host_name() || (!task.empty() && task == slurm_task());
    if (!ours) {
      ::close(fd_);
      fd_ = -1;
      throw OutputLocked(fmt::format("the lock file '{}' was left by {}, on another host, where it may still run; if "
                                     "no numlab writes this output there, remove the lock file",
                                     path_, previous));
    }
    if (note) *note = fmt::format("took over the lock file '{}' left by a process that no longer runs ({})", path_, previous);
  }
  std::time_t now = std::time(nullptr);
  char when[32] = {0};
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::string const task = slurm_task();
  std::string const me = fmt::format("pid {} on host {} since {}{}\n", ::getpid(), host_name(), when,
                                     task.empty() ? "" : " (slurm task " + task + ")");
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) != ssize_t(me.size())) {
    // The lock is held all the same; the holder's line only serves messages.
  }
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  // Removed while held, so a process waiting on this file notices (inode check) and retries;
  // only if the path is still this lock's file (not one made after someone removed ours).
  struct stat a {}, b {};
  if (::fstat(fd_, &a) == 0 && ::stat(path_.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
    ::unlink(path_.c_str());
  ::close(fd_);
}

std::optional<std::string> lock_holder(std::string const& output) {
  std::string const path = lock_path_of(output);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<std::string> held;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    std::string h = read_all(fd);
    held = h.empty() ? std::string("holder unknown") : h;
  }
  ::close(fd);
  return held;
}

}  // namespace numlab
