// SPDX-License-Identifier: MIT
#include "app/merge.hpp"

#include "app/driver.hpp"
#include "app/experiments.hpp"
#include "app/output_path.hpp"
#include "core/config.hpp"
#include "core/fingerprint.hpp"
#include "core/output_lock.hpp"
#include "core/hdf5.hpp"
#include "core/results_file.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <unistd.h>

namespace numlab {

namespace fs = std::filesystem;

namespace {

struct MergeError : std::runtime_error {
  int code;
  MergeError(int c, std::string const& what) : std::runtime_error(what), code(c) {}
};

herr_t close_attr(hid_t id) { return H5Aclose(id); }
herr_t close_type(hid_t id) { return H5Tclose(id); }
herr_t close_space(hid_t id) { return H5Sclose(id); }
herr_t close_plist(hid_t id) { return H5Pclose(id); }

// Copies every attribute of `src` onto `dst` as stored (any type and shape).
void copy_attributes(hid_t src, hid_t dst) {
  std::vector<std::string> names;
  auto cb = [](hid_t, char const* name, H5A_info_t const*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  h5::check(H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, nullptr, cb, &names), "H5Aiterate2");
  for (auto const& name : names) {
    h5::Handle a(H5Aopen(src, name.c_str(), H5P_DEFAULT), close_attr, "H5Aopen");
    h5::Handle ftype(H5Aget_type(a.get()), close_type, "H5Aget_type");
    h5::Handle space(H5Aget_space(a.get()), close_space, "H5Aget_space");
    h5::Handle mtype(H5Tget_native_type(ftype.get(), H5T_DIR_DEFAULT), close_type, "H5Tget_native_type");
    hssize_t n = H5Sget_simple_extent_npoints(space.get());
    std::vector<unsigned char> buf(std::size_t(std::max<hssize_t>(n, 1)) * H5Tget_size(mtype.get()));
    h5::check(H5Aread(a.get(), mtype.get(), buf.data()), "H5Aread");
    if (H5Aexists(dst, name.c_str()) > 0) h5::check(H5Adelete(dst, name.c_str()), "H5Adelete");
    h5::Handle b(H5Acreate2(dst, name.c_str(), ftype.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), close_attr,
                 "H5Acreate2");
    herr_t rc = H5Awrite(b.get(), mtype.get(), buf.data());
    H5Dvlen_reclaim(mtype.get(), space.get(), H5P_DEFAULT, buf.data());  // frees variable-length parts, if any
    h5::check(rc, "H5Awrite");
    b.close();
  }
}

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "0-3, 7, 9-12" (at most `max_ranges` ranges, then ", ...").
std::string ranges(std::vector<std::int64_t> const& v, std::size_t max_ranges = 20) {
  std::string s;
  std::size_t n = 0;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (n == max_ranges) return s + ", ...";
    if (!s.empty()) s += ", ";
    s += j == i ? fmt::format("{}", v[i]) : fmt::format("{}-{}", v[i], v[j]);
    ++n;
    i = j + 1;
  }
  return s;
}

std::string attr_string(ParamMap const& m, std::string const& key) {
  auto it = m.find(key);
  return it == m.end() ? std::string() : to_string(it->second);
}

struct Input {
  std::string path;
  h5::Handle file;
  ParamMap root;
};

// Where points are read from: each input's file, then its committed parts (an interrupted run's
// points, core/point_writer.hpp), which are newer than the file's copy of the same point.
struct Source {
  std::size_t input;
  std::string path;
  bool part;  // opened when read, one at a time (a killed shard may leave thousands)
};

// The file a source's points are read from: the input's open file, or the part opened now.
h5::Handle open_source(Source const& s, std::vector<Input> const& in) {
  return h5::open_file(s.part ? s.path : in[s.input].path, false);
}

struct Chosen {
  std::size_t input;  // index into sources
  std::string group;  // pNNNNNN
  std::string key;
  std::string status;
};

// Identity fields every input must share with the first one.
const char* const kIdentity[] = {"schema_version", "kind", "name", "config_text", "total_points"};

int merge(MergeOptions const& opts, std::string const& command_line) {
  // Which files.
  std::optional<RunConfig> cfg;
  std::string output;
  std::vector<std::string> inputs;
  std::vector<std::string> optional_inputs;  // shard files that may be absent
  if (!opts.config_path.empty()) {
    try {
      cfg = load_config(opts.config_path, builtin_experiments());
    } catch (ConfigError const& e) {
      throw MergeError(kExitUsage, e.what());
    }
    std::size_t first_input = 0;
    if (opts.shards > 0) {
      output = opts.files.empty() ? cfg->output : opts.files[0];
      first_input = opts.files.empty() ? 0 : 1;
      for (int i = 0; i < opts.shards; ++i) {
        std::string p = opts.shards == 1 ? cfg->output : shard_output_path(cfg->output, i, opts.shards);
        inputs.push_back(p);
        optional_inputs.push_back(p);
      }
    } else {
      if (opts.files.empty()) throw MergeError(kExitUsage, "with --config, give OUT IN... or --shards N");
      output = opts.files[0];
      first_input = 1;
    }
    for (std::size_t i = first_input; i < opts.files.size(); ++i) inputs.push_back(opts.files[i]);
  } else {
    if (opts.shards > 0) throw MergeError(kExitUsage, "--shards needs --config");
    if (opts.files.size() < 2) throw MergeError(kExitUsage, "usage: numlab merge OUT.h5 IN1.h5 [IN2.h5 ...]");
    output = opts.files[0];
    inputs.assign(opts.files.begin() + 1, opts.files.end());
  }
  if (inputs.empty()) throw MergeError(kExitUsage, "no input files");

  if (opts.dry_run) {
    if (cfg) fmt::print("name: {}\n", cfg->name);
    fmt::print("output: {}\n", output);
    for (auto const& p : inputs) fmt::print("input: {}\n", p);
    return kExitOk;
  }

  // The output: a regular file or a new path (a symlink's target), never clobbered unless asked,
  // never one of the inputs, one writer at a time.
  try {
    std::vector<std::string> all_inputs = inputs;
    if (cfg) all_inputs.insert(all_inputs.end(), cfg->input_files.begin(), cfg->input_files.end());
    output = resolve_output_path(output, all_inputs);
  } catch (std::invalid_argument const& e) {
    throw MergeError(kExitUsage, fmt::format("numlab merge: error: output: {}", e.what()));
  }
  std::optional<OutputLock> lock;
  try {
    fs::path const parent = fs::path(output).parent_path();
    if (!parent.empty()) fs::create_directories(parent);
    lock.emplace(output, 0.0);
  } catch (std::exception const& e) {
    throw MergeError(kExitUsage, fmt::format("numlab merge: error: cannot write '{}': {}", output, e.what()));
  }
  for (auto const& n : results::remove_stale_temporaries(output)) fmt::print(stderr, "numlab merge: note: {}\n", n);
  if (fs::exists(output) && !opts.overwrite)
    throw MergeError(kExitUsage, fmt::format("{}: error: output already exists; pass --overwrite to replace it", output));
  for (auto const& p : inputs) {
    std::error_code ec;
    if (p == output || (fs::exists(p) && fs::exists(output) && fs::equivalent(p, output, ec)))
      throw MergeError(kExitUsage, fmt::format("{}: error: the output is also an input", output));
  }

  // Open and check the inputs.
  std::vector<Input> in;
  std::vector<std::string> absent;
  for (auto const& p : inputs) {
    bool optional = std::find(optional_inputs.begin(), optional_inputs.end(), p) != optional_inputs.end();
    if (!fs::exists(p)) {
      if (optional) {
        absent.push_back(p);
        continue;
      }
      throw MergeError(kExitUsage, fmt::format("{}: error: no such file", p));
    }
    for (auto const& other : in)
      if (std::error_code ec; fs::equivalent(other.path, p, ec))
        throw MergeError(kExitUsage, fmt::format("{}: error: given twice", p));
    Input x;
    x.path = p;
    try {
      x.file = h5::open_file(p, false);
      x.root = h5::read_attributes(x.file.get());
    } catch (std::exception const& e) {
      throw MergeError(kExitUsage, fmt::format("{}: error: cannot read: {}", p, e.what()));
    }
    if (auto holder = lock_holder(p))
      throw MergeError(kExitUsage, fmt::format("{}: error: is still being written ({}); merge once that run has "
                                               "finished",
                                               p, *holder));
    for (char const* k : kIdentity)
      if (!x.root.count(k))
        throw MergeError(kExitUsage,
                         fmt::format("{}: error: not a numlab results file (no root attribute '{}')", p, k));
    if (!h5::exists(x.file.get(), "points"))
      throw MergeError(kExitUsage, fmt::format("{}: error: not a numlab results file (no /points)", p));
    // Shards of one sweep: the same normalised config (files without one: the same config text).
    bool const fingerprinted = x.root.count("config_fingerprint") > 0;
    if (!in.empty()) {
      for (char const* k : kIdentity) {
        if (std::string(k) == "config_text" && fingerprinted && in.front().root.count("config_fingerprint")) {
          if (!(x.root.at("config_fingerprint") == in.front().root.at("config_fingerprint"))) {
            std::string const d = first_difference(attr_string(in.front().root, "config_normalized"),
                                                   attr_string(x.root, "config_normalized"), in.front().path, p);
            if (!d.empty())
              throw MergeError(kExitUsage, fmt::format("{}: error: its config differs from {}'s ({}); only the shards "
                                                     "of one sweep can be merged",
                                                     p, in.front().path, d));
          }
          continue;
        }
        if (!(x.root.at(k) == in.front().root.at(k)))
          throw MergeError(
              kExitUsage,
              fmt::format("{}: error: {} differs from {} ({}); only the shards of one sweep can be merged", p, k,
                          in.front().path,
                          std::string(k) == "config_text"
                              ? "the config text differs"
                              : fmt::format("'{}' vs '{}'", to_string(x.root.at(k)), to_string(in.front().root.at(k)))));
      }
    } else if (!std::holds_alternative<std::int64_t>(x.root.at("schema_version")) ||
               get_int(x.root, "schema_version") != kSchemaVersion) {
      throw MergeError(kExitUsage, fmt::format("{}: error: schema_version {} (this numlab reads {})", p,
                                               to_string(x.root.at("schema_version")), kSchemaVersion));
    }
    if (cfg) {
      if (attr_string(x.root, "name") != cfg->name)
        throw MergeError(kExitUsage, fmt::format("{}: error: was not produced by {} (its name is '{}', the config's "
                                                 "'{}')",
                                                 p, cfg->path, attr_string(x.root, "name"), cfg->name));
      if (!fingerprinted && attr_string(x.root, "config_text") != cfg->text)
        throw MergeError(kExitUsage, fmt::format("{}: error: was not produced by {} (the config text differs)", p,
                                                 cfg->path));
      if (fingerprinted) {
        std::string const d =
            first_difference(attr_string(x.root, "config_normalized"), normalized_config(*cfg), p, cfg->path);
        if (!d.empty())
          throw MergeError(kExitUsage, fmt::format("{}: error: was not produced by {} as this numlab reads it ({})", p,
                                                   cfg->path, d));
      }
    }
    in.push_back(std::move(x));
  }
  if (in.empty())
    throw MergeError(kExitUsage, fmt::format("error: none of the inputs exists ({})", fmt::join(inputs, ", ")));
  for (auto const& p : absent)
    fmt::print(stderr, "numlab merge: warning: {} does not exist (that shard never wrote a point)\n", p);

  std::vector<Source> src;
  for (std::size_t i = 0; i < in.size(); ++i) {
    src.push_back(Source{i, in[i].path, false});
    std::vector<std::string> unreadable;
    for (auto const& part : results::committed_parts(in[i].path, &unreadable)) src.push_back(Source{i, part, true});
    if (!unreadable.empty())
      throw MergeError(kExitUsage, fmt::format("{}: error: cannot read (damaged?); its point would be lost: move it "
                                               "away to merge without it",
                                               unreadable.front()));
  }

  // Choose one copy of every point.
  std::int64_t total = get_int(in.front().root, "total_points");
  std::map<std::int64_t, Chosen> chosen;
  std::size_t duplicates = 0;
  for (std::size_t i = 0; i < src.size(); ++i) {
    h5::Handle file;
    try {
      file = open_source(src[i], in);
    } catch (std::exception const& e) {
      throw MergeError(kExitUsage, fmt::format("{}: error: cannot read: {}", src[i].path, e.what()));
    }
    h5::Handle points = h5::open_group(file.get(), "points");
    for (auto const& name : h5::child_names(points.get())) {
      ParamMap a;
      {
        h5::Handle g = h5::open_group(points.get(), name);
        a = h5::read_attributes(g.get());
      }
      if (!a.count("point_index") || !a.count("point_key") || !a.count("status"))
        throw MergeError(kExitUsage, fmt::format("{}: error: /points/{} lacks point_index, point_key or status",
                                                 src[i].path, name));
      std::int64_t idx = get_int(a, "point_index");
      if (idx < 0 || idx >= total || name != results::group_name(std::size_t(idx)))
        throw MergeError(kExitUsage, fmt::format("{}: error: /points/{} has point_index {} (the sweep has {} points)",
                                                 src[i].path, name, idx, total));
      Chosen c{i, name, attr_string(a, "point_key"), attr_string(a, "status")};
      auto it = chosen.find(idx);
      if (it == chosen.end()) {
        chosen.emplace(idx, std::move(c));
        continue;
      }
      Chosen& prev = it->second;
      if (src[prev.input].input == src[i].input) {  // a part of the same input: the newer copy
        if (prev.key != c.key)
          throw MergeError(kExitUsage, fmt::format("{}: error: /points/{} holds another point than {}",
                                                   src[i].path, name, src[prev.input].path));
        prev = std::move(c);
        continue;
      }
      ++duplicates;
      if (prev.key != c.key)
        throw MergeError(kExitUsage,
                         fmt::format("{}: error: point {} has point_key '{}' but in {} '{}'; the inputs disagree on "
                                     "what point {} is",
                                     src[i].path, idx, c.key, src[prev.input].path, prev.key, idx));
      bool replace = prev.status == "failed" && c.status != "failed";
      if (!opts.quiet)
        fmt::print(stderr, "numlab merge: point {} is in {} ({}) and {} ({}): keeping the one from {}\n", idx,
                   src[prev.input].path, prev.status, src[i].path, c.status, src[replace ? i : prev.input].path);
      if (replace) prev = std::move(c);
    }
  }

  std::string replaced_id;  // an OUT replaced by --overwrite: its parts go with it
  if (fs::exists(output)) {
    try {
      replaced_id = results::file_id(output);
    } catch (std::exception const&) {
    }
  }
  // Write OUT through a temporary file beside it.
  fs::path out_path(output);
  if (out_path.has_parent_path()) fs::create_directories(out_path.parent_path());
  std::string tmp = fmt::format("{}.merge-{}.tmp", output, ::getpid());
  std::vector<std::int64_t> missing, failed;
  for (std::int64_t k = 0; k < total; ++k)
    if (!chosen.count(k)) missing.push_back(k);
  for (auto const& [k, c] : chosen)
    if (c.status == "failed") failed.push_back(k);
  try {
    {
      h5::Handle f = h5::create_file(tmp);
      copy_attributes(in.front().file.get(), f.get());
      std::string from;
      for (auto const& x : in) from += (from.empty() ? "" : "\n") + x.path;
      h5::write_attribute(f.get(), "merged_from", from);
      h5::write_attribute(f.get(), "merged_points", std::int64_t(chosen.size()));
      h5::write_attribute(f.get(), "merged_utc", utc_now());
      h5::write_attribute(f.get(), "merge_command_line", command_line);
      h5::Handle points = h5::create_group(f.get(), "points");
      h5::Handle ocpypl(H5Pcreate(H5P_OBJECT_COPY), close_plist, "H5Pcreate");
      h5::write_attribute(f.get(), "file_id", results::detail::new_file_id());
      std::vector<h5::Handle> input_points;
      for (auto const& x : in) input_points.push_back(h5::open_group(x.file.get(), "points"));
      for (auto const& [k, c] : chosen) {
        Source const& from = src[c.input];
        h5::Handle part_file, part_points;
        if (from.part) {
          part_file = open_source(from, in);
          part_points = h5::open_group(part_file.get(), "points");
        }
        hid_t const group = from.part ? part_points.get() : input_points[from.input].get();
        h5::check(H5Ocopy(group, c.group.c_str(), points.get(), c.group.c_str(), ocpypl.get(), H5P_DEFAULT), "H5Ocopy");
      }
      points.close();
      h5::check(H5Fflush(f.get(), H5F_SCOPE_GLOBAL), "H5Fflush");
      f.close();
    }
    results::detail::fsync_path(tmp);
    fs::rename(tmp, output);
    results::detail::fsync_path(fs::absolute(out_path).parent_path().string());
    for (auto const& n : results::remove_stale_temporaries(output, replaced_id))
      fmt::print(stderr, "numlab merge: note: {}\n", n);
  } catch (std::exception const& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw MergeError(kExitError, fmt::format("{}: error: cannot write: {}", output, e.what()));
  }

  if (!opts.quiet)
    fmt::print(stderr, "numlab merge: {} of {} points from {} file(s) -> {}{}\n", chosen.size(), total, in.size(),
               output, duplicates ? fmt::format(" ({} duplicate(s) resolved)", duplicates) : "");
  if (!failed.empty())
    fmt::print(stderr,
               "numlab merge: {} point(s) recorded as failed: {}; `numlab CONFIG -o {} --resume --retry-failed` runs "
               "them again\n",
               failed.size(), ranges(failed), output);
  if (!missing.empty()) {
    fmt::print(stderr,
               "numlab merge: warning: incomplete: {} of {} points missing: {}; rerun the shards with --resume, or "
               "`numlab CONFIG -o {} --resume` runs just those{}\n",
               missing.size(), total, ranges(missing), output,
               opts.allow_incomplete ? "" : " (exit 3; --allow-incomplete accepts this)");
    return opts.allow_incomplete ? kExitOk : kExitIncomplete;
  }
  return kExitOk;
}

}  // namespace

CLI::App* add_merge_command(CLI::App& app, MergeOptions& opts) {
  CLI::App* m = app.add_subcommand(
      "merge",
      "merge the shard files of one sweep into one results file: numlab merge OUT.h5 IN1.h5 IN2.h5 ... "
      "(exit 3 if points are missing)");
  m->allow_extras(false);
  m->add_option("files", opts.files, "OUT.h5 then the inputs IN1.h5 IN2.h5 ...");
  m->add_option("--config", opts.config_path,
                "the sweep's config: OUT defaults to its output, the inputs must come from it")
      ->check(CLI::ExistingFile);
  m->add_option("--shards", opts.shards, "with --config: the inputs are its N shard files")
      ->check(CLI::PositiveNumber);
  m->add_flag("--overwrite", opts.overwrite, "replace an existing OUT");
  m->add_flag("--allow-incomplete", opts.allow_incomplete, "exit 0 even if points are missing");
  m->add_flag("--dry-run", opts.dry_run, "print the name, output and input paths; write nothing");
  m->add_flag("-q,--quiet", opts.quiet, "only warnings and errors");
  return m;
}

int run_merge(MergeOptions const& opts, std::string const& command_line) {
  try {
    return merge(opts, command_line);
  } catch (MergeError const& e) {
    fmt::print(stderr, "numlab merge: {}\n", e.what());
    return e.code;
  } catch (std::exception const& e) {
    fmt::print(stderr, "numlab merge: error: {}\n", e.what());
    return kExitError;
  }
}

}  // namespace numlab
