// SPDX-License-Identifier: MIT
#include "app/output_path.hpp"

#include <fmt/format.h>

#include <climits>
#include <filesystem>
#include <stdexcept>
#include <unistd.h>

namespace numlab {

namespace fs = std::filesystem;

std::string resolve_output_path(std::string const& output, std::vector<std::string> const& inputs) {
  if (output.empty()) throw std::invalid_argument("the output path is empty");
  if (!fs::path(output).has_filename())
    throw std::invalid_argument(fmt::format("'{}' names a folder (it ends in '/'); name a file", output));
  // The file's name leaves room for the temporaries and the lock beside it (OUT.tmp.PID).
  if (fs::path(output).filename().string().size() + 16 > NAME_MAX)
    throw std::invalid_argument(fmt::format("'{}': the file name is {} bytes; at most {} leave room for its "
                                            "temporaries",
                                            output, fs::path(output).filename().string().size(), NAME_MAX - 16));
  for (auto const& part : fs::path(output))
    if (part.string().size() > NAME_MAX)
      throw std::invalid_argument(
          fmt::format("'{}': a path component is {} bytes long, more than a file name can be ({})", output,
                      part.string().size(), NAME_MAX));
  std::error_code ec;
  fs::path target = output;
  // A symlink (a chain of them) is followed to the file it names, existing or not.
  for (int hops = 0; fs::is_symlink(fs::symlink_status(target, ec)); ++hops) {
    if (hops == 40) throw std::invalid_argument(fmt::format("'{}': too many levels of symbolic links", output));
    fs::path next = fs::read_symlink(target, ec);
    if (ec) throw std::invalid_argument(fmt::format("'{}': cannot follow the symlink: {}", output, ec.message()));
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
  auto const st = fs::status(target, ec);
  if (fs::exists(st)) {
    if (fs::is_directory(st))
      throw std::invalid_argument(fmt::format("'{}' is a directory; name a file (e.g. '{}')", output,
                                              (fs::path(output) / "results.h5").string()));
    if (!fs::is_regular_file(st))
      throw std::invalid_argument(
          fmt::format("'{}' is not a regular file (a device, a FIFO or a socket); name a file", output));
  }
  if (target.has_filename() && (target.filename() == "." || target.filename() == ".."))
    throw std::invalid_argument(fmt::format("'{}' is a directory; name a file", output));
  // A folder the run cannot write is said now, not as an HDF5 error after the first point.
  fs::path const folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (fs::is_directory(folder, ec) && ::access(folder.c_str(), W_OK) != 0)
    throw std::invalid_argument(fmt::format("'{}': the folder '{}' is not writable", output, folder.string()));
  fs::path const canon = fs::weakly_canonical(target, ec);
  for (auto const& in : inputs) {
    std::error_code e2;
    bool same = fs::exists(in, e2) && fs::exists(target, e2) ? fs::equivalent(in, target, e2)
                                                              : fs::weakly_canonical(in, e2) == canon;
    if (same)
      throw std::invalid_argument(fmt::format("'{}' is an input of this run ({}); the output must be another file",
                                              output, in));
  }
  return target.string();
}

}  // namespace numlab
