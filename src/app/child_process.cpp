// SPDX-License-Identifier: MIT
#include "app/child_process.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace numlab {

namespace {

volatile std::sig_atomic_t g_signal = 0;
volatile pid_t g_child_group = 0;

extern "C" void forward_signal(int sig) {
  g_signal = sig;
  if (g_child_group > 0) ::kill(-g_child_group, sig);
}

// Handlers for the child's lifetime; the previous ones come back after it.
struct ForwardSignals {
  struct sigaction old_int {}, old_term {};
  ForwardSignals() {
    struct sigaction sa {};
    sa.sa_handler = forward_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
  }
  ~ForwardSignals() {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
  }
};

// Child side of fork: never returns.
[[noreturn]] void exec_child(std::vector<std::string> const& argv,
                             std::vector<std::pair<std::string, std::string>> const& env, int out_fd) {
  ::setpgid(0, 0);
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(out_fd, STDERR_FILENO);
  if (out_fd > STDERR_FILENO) ::close(out_fd);
  int const null_in = ::open("/dev/null", O_RDONLY);
  if (null_in >= 0) ::dup2(null_in, STDIN_FILENO);
  for (auto const& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
  std::vector<char*> args;
  for (auto const& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  std::string const msg = fmt::format("cannot run '{}': {}\n", argv[0], std::strerror(errno));
  (void)!::write(STDERR_FILENO, msg.data(), msg.size());
  ::_exit(127);
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Writes what the child printed to the log a line at a time: a '\r' starts the line again (a
// progress line's updates), escape sequences (ESC [ ... letter) are dropped.
class LineLog {
 public:
  explicit LineLog(std::FILE* f) : f_(f) {}
  void add(char const* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      char const c = p[i];
      if (escape_) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) escape_ = false;
      } else if (c == '\033') {
        escape_ = true;
      } else if (c == '\r') {
        line_.clear();
      } else if (c == '\n') {
        flush_line();
      } else {
        line_ += c;
      }
    }
  }
  void finish() {
    if (!line_.empty()) flush_line();
    std::fflush(f_);
  }

 private:
  void flush_line() {
    std::fputs(line_.c_str(), f_);
    std::fputc('\n', f_);
    std::fflush(f_);
    line_.clear();
  }
  std::FILE* f_;
  std::string line_;
  bool escape_ = false;
};

}  // namespace

int lab_interrupted() { return int(g_signal); }

ChildResult run_logged(std::vector<std::string> const& argv, std::vector<std::pair<std::string, std::string>> const& env,
                       std::string const& log_path, bool echo) {
  ChildResult r;
  // Appended to: the log of an earlier run (the one --resume continues) stays.
  std::FILE* log = std::fopen(log_path.c_str(), "a");
  if (!log) {
    r.exit_code = 127;
    r.error = fmt::format("cannot write the log '{}': {}", log_path, std::strerror(errno));
    return r;
  }
  std::time_t const now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  fmt::print(log, "=== {} {}\n", stamp, fmt::join(argv, " "));
  int fds[2];
  if (::pipe(fds) != 0) {
    std::fclose(log);
    r.exit_code = 127;
    r.error = fmt::format("pipe: {}", std::strerror(errno));
    return r;
  }
  auto const t0 = std::chrono::steady_clock::now();
  ForwardSignals forward;
  std::fflush(nullptr);
  pid_t const pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    std::fclose(log);
    r.exit_code = 127;
    r.error = fmt::format("fork: {}", std::strerror(errno));
    return r;
  }
  if (pid == 0) {
    ::close(fds[0]);
    exec_child(argv, env, fds[1]);
  }
  ::setpgid(pid, pid);  // also here: a signal may come before the child has run setpgid
  g_child_group = pid;
  if (g_signal) ::kill(-pid, g_signal);
  ::close(fds[1]);
  LineLog lines(log);
  char buf[8192];
  for (;;) {
    ssize_t const n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    lines.add(buf, std::size_t(n));
    if (echo) (void)!::write(STDERR_FILENO, buf, std::size_t(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child_group = 0;
  lines.finish();
  std::fclose(log);
  r.exit_code = exit_code_of(status);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::pair<int, std::string> run_probe(std::vector<std::string> const& argv) {
  int fds[2];
  if (::pipe(fds) != 0) return {127, std::strerror(errno)};
  std::fflush(nullptr);
  pid_t const pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return {127, std::strerror(errno)};
  }
  if (pid == 0) {
    ::close(fds[0]);
    exec_child(argv, {}, fds[1]);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t const n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, std::size_t(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  std::size_t const nl = out.rfind('\n');
  return {exit_code_of(status), nl == std::string::npos ? out : out.substr(nl + 1)};
}

}  // namespace numlab
