// SPDX-License-Identifier: MIT
#include "core/config.hpp"

#include "core/method_list.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace numlab {

ConfigError::ConfigError(std::string f, int l, int c, std::string k, std::string const& message)
    : std::runtime_error(fmt::format("{}{}: error: {}{}", f, l > 0 ? fmt::format(":{}:{}", l, c) : std::string(),
                                     k.empty() ? std::string() : fmt::format("key '{}': ", k), message)),
      file(std::move(f)),
      line(l),
      column(c),
      key(std::move(k)) {}

namespace {

// Common top-level keys; experiment sections and keys are added per kind.
const std::vector<std::string> kCommonKeys = {"name",        "kind",         "description", "output",
                                              "warmup",      "repetitions",  "save_outputs", "backend",
                                              "max_points",  "sweep",        "methods"};

class Parser {
 public:
  Parser(std::string text, std::string path, ExperimentList const& kinds)
      : text_(std::move(text)), path_(std::move(path)), kinds_(kinds) {}

  RunConfig parse();

 private:
  std::string text_, path_;
  ExperimentList const& kinds_;
  std::map<std::string, YAML::Mark> marks_;  // where each problem key / axis was given

  [[noreturn]] void fail(YAML::Node const& n, std::string const& key, std::string const& msg) const {
    auto m = n.Mark();
    int line = m.line >= 0 ? m.line + 1 : 0;
    throw ConfigError(path_, line, m.column + 1, key, msg);
  }
  [[noreturn]] void fail_at(YAML::Mark m, std::string const& key, std::string const& msg) const {
    throw ConfigError(path_, m.line >= 0 ? m.line + 1 : 0, m.column + 1, key, msg);
  }

  static std::string show(YAML::Node const& n) {
    if (n.IsScalar()) return "'" + n.Scalar() + "'";
    if (n.IsSequence()) return "a list";
    if (n.IsMap()) return "a mapping";
    return "nothing (null)";
  }

  // Reads a scalar according to its spec; errors name the key and the expectation.
  ParamValue read_value(YAML::Node const& n, ParamSpec const& spec, std::string const& key_path) const {
    if (!n.IsScalar()) fail(n, key_path, fmt::format("expected {}, got {}", spec.expected(), show(n)));
    std::string const& s = n.Scalar();
    ParamValue v;
    bool ok = true;
    switch (spec.type) {
      case ParamType::integer: {
        std::int64_t x = 0;
        ok = YAML::convert<std::int64_t>::decode(n, x);
        if (!ok) {  // accept 1e6-style integers that are exact
          double d = 0;
          if (YAML::convert<double>::decode(n, d) && d == static_cast<double>(static_cast<std::int64_t>(d)) &&
              s.find_first_of("eE") != std::string::npos) {
            x = static_cast<std::int64_t>(d);
            ok = true;
          }
        }
        v = x;
        break;
      }
      case ParamType::real: {
        double x = 0;
        ok = YAML::convert<double>::decode(n, x) && s != "nan" && s != ".nan";
        v = x;
        break;
      }
      case ParamType::boolean: {
        bool x = false;
        ok = YAML::convert<bool>::decode(n, x);
        v = x;
        break;
      }
      case ParamType::string:
      case ParamType::choice: v = s; break;
    }
    if (!ok) fail(n, key_path, fmt::format("expected {}, got {}", spec.expected(), show(n)));
    std::string why = spec.check(v);
    if (!why.empty()) {
      std::string hint;
      if (spec.type == ParamType::choice) {
        auto c = closest_key(s, spec.choices);
        if (!c.empty()) hint = fmt::format(" (did you mean '{}'?)", c);
      }
      fail(n, key_path, fmt::format("expected {}, got {}{}", spec.expected(), show(n), hint));
    }
    return v;
  }

  [[noreturn]] void unknown_key(YAML::Node const& keynode, std::string const& where,
                                std::vector<std::string> const& allowed) const {
    std::string k = keynode.Scalar();
    std::string hint;
    auto c = closest_key(k, allowed);
    if (!c.empty()) hint = fmt::format("did you mean '{}'? ", c);
    fail(keynode, k, fmt::format("unknown key in {}; {}allowed: {}", where, hint, fmt::join(allowed, ", ")));
  }

  void expect_map(YAML::Node const& n, std::string const& key) const {
    if (!n.IsMap()) fail(n, key, fmt::format("expected a mapping, got {}", show(n)));
  }

  // Every mapping of the document: keys are plain scalars, each given once (YAML would keep one
  // of two silently).
  void check_keys(YAML::Node const& n, std::string const& where) const {
    if (n.IsSequence()) {
      for (std::size_t i = 0; i < n.size(); ++i) check_keys(n[i], fmt::format("{}[{}]", where, i));
      return;
    }
    if (!n.IsMap()) return;
    std::map<std::string, YAML::Mark> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar())
        fail(it->first, where, fmt::format("a key must be a plain name, not {}", show(it->first)));
      std::string const k = it->first.Scalar();
      std::string const path = where.empty() ? k : where + "." + k;
      auto [prev, fresh] = seen.emplace(k, it->first.Mark());
      if (!fresh)
        fail(it->first, path, fmt::format("given twice (first on line {}); keep one", prev->second.line + 1));
      check_keys(it->second, path);
    }
  }

  struct Axis {
    std::string key;
    std::vector<ParamValue> values;
  };
  std::vector<Axis> read_axes(YAML::Node const& map, std::string const& block, Experiment const& exp,
                              std::set<std::string>& seen);
};

// Whether s is well-formed UTF-8 (no overlong forms or surrogates).
bool is_utf8(std::string const& s) {
  for (std::size_t i = 0; i < s.size();) {
    auto const c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
    if (n < 0 || i + std::size_t(n) >= s.size() + (n == 0 ? 1 : 0)) return false;
    std::uint32_t cp = n == 0 ? c : c & (0x3F >> n);
    for (int k = 1; k <= n; ++k) {
      auto const d = static_cast<unsigned char>(s[i + std::size_t(k)]);
      if ((d >> 6) != 0x2) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += std::size_t(n) + 1;
  }
  return true;
}

RunConfig Parser::parse() {
  // The file itself: UTF-8 text (a UTF-16 file would be read as a few characters and NULs).
  if (text_.find('\0') != std::string::npos || (text_.size() >= 2 && ((unsigned char)text_[0] == 0xFF ||
                                                                        (unsigned char)text_[0] == 0xFE)))
    throw ConfigError(path_, 0, 0, "", "the config is not UTF-8 text (UTF-16? save it as UTF-8)");
  if (!is_utf8(text_)) throw ConfigError(path_, 0, 0, "", "the config is not valid UTF-8 text");
  YAML::Node root;
  try {
    root = YAML::Load(text_);
  } catch (YAML::Exception const& e) {
    fail_at(e.mark, "", "invalid YAML: " + e.msg);
  }
  if (!root.IsMap()) fail(root, "", "the config must be a YAML mapping of keys such as name, kind, methods");
  check_keys(root, "");

  RunConfig cfg;
  cfg.path = path_;
  cfg.text = text_;
  cfg.input_files.push_back(path_);
  cfg.settings.config_dir = std::filesystem::path(path_).parent_path().string();

  // kind first: it decides which other keys exist.
  auto kind_node = root["kind"];
  std::vector<std::string> kinds;
  for (auto* e : kinds_) kinds.push_back(e->kind());
  if (!kind_node) fail(root, "kind", fmt::format("missing; expected one of {}", fmt::join(kinds, ", ")));
  {
    ParamSpec spec = choice_param("kind", "", kinds, std::nullopt);
    cfg.kind = std::get<std::string>(read_value(kind_node, spec, "kind"));
  }
  Experiment& exp = *find_experiment(kinds_, cfg.kind);
  cfg.experiment = &exp;
  Schema const& pschema = exp.problem_schema();

  // Allowed top-level keys: common ones, experiment sections, top-level problem keys.
  std::vector<std::string> allowed = kCommonKeys;
  std::set<std::string> sections;
  for (auto const& p : pschema.params) {
    if (p.section.empty())
      allowed.push_back(p.key);
    else if (sections.insert(p.section).second)
      allowed.push_back(p.section);
  }
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string k = it->first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      unknown_key(it->first, fmt::format("a '{}' config", cfg.kind), allowed);
  }

  // Common settings.
  auto get = [&](std::string const& key, ParamSpec const& spec) -> ParamValue {
    auto n = root[key];
    if (!n || n.IsNull()) {
      if (spec.default_value) return *spec.default_value;
      fail(root, key, fmt::format("missing; expected {}", spec.expected()));
    }
    return read_value(n, spec, key);
  };
  Schema const& settings = settings_schema();
  auto setting = [&](std::string const& key) { return get(key, *settings.find(key)); };
  cfg.name = std::get<std::string>(setting("name"));
  if (cfg.name.empty() || cfg.name.find('/') != std::string::npos)
    fail(root["name"], "name", "expected a non-empty name without '/'");
  cfg.description = std::get<std::string>(setting("description"));
  if (root["output"] && !root["output"].IsNull())
    cfg.output = std::get<std::string>(setting("output"));
  else
    cfg.output = "results/" + cfg.name + ".h5";
  cfg.settings.warmup = int(std::get<std::int64_t>(setting("warmup")));
  cfg.settings.repetitions = int(std::get<std::int64_t>(setting("repetitions")));
  cfg.settings.save_outputs = std::get<bool>(setting("save_outputs"));
  {
    // An old backend name is resolved before the check against this build's backends.
    auto n = root["backend"];
    std::string b = std::get<std::string>(setting("backend"));
    b = exp.resolve_backend(b, cfg.notes);
    ParamSpec spec = choice_param("backend", "", exp.backends(), "default");
    if (!spec.check(b).empty()) {
      auto c = closest_key(b, spec.choices);
      fail(n ? n : root, "backend", fmt::format("expected {}, got '{}'{}", spec.expected(), b,
                                                c.empty() ? "" : fmt::format(" (did you mean '{}'?)", c)));
    }
    cfg.settings.backend = b;
  }

  // Problem keys given in sections / at top level.
  ParamMap fixed;
  for (auto const& section : sections) {
    auto n = root[section];
    if (!n || n.IsNull()) continue;
    expect_map(n, section);
    std::vector<std::string> keys;
    for (auto const& p : pschema.params)
      if (p.section == section) keys.push_back(p.key);
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string k = it->first.as<std::string>();
      auto const* spec = pschema.find(k);
      if (!spec || spec->section != section) unknown_key(it->first, fmt::format("'{}'", section), keys);
      if (it->second.IsNull() && spec->optional) continue;
      fixed[k] = read_value(it->second, *spec, section + "." + k);
      marks_[k] = it->first.Mark();
    }
  }
  for (auto const& p : pschema.params) {
    if (!p.section.empty()) continue;
    auto n = root[p.key];
    if (!n || (n.IsNull() && p.optional)) continue;
    fixed[p.key] = read_value(n, p, p.key);
    marks_[p.key] = root[p.key].Mark();
  }

  // Methods.
  auto mnode = root["methods"];
  std::vector<std::string> method_names;
  for (auto const& m : exp.methods()) method_names.push_back(m.name);
  if (!mnode) fail(root, "methods", fmt::format("missing; expected a list of methods from {}", fmt::join(method_names, ", ")));
  if (!mnode.IsSequence() || mnode.size() == 0)
    fail(mnode, "methods", fmt::format("expected a non-empty list of methods (from {}), got {}",
                                       fmt::join(method_names, ", "), show(mnode)));
  struct MethodEntry {
    MethodDef const* def;
    ParamMap given;
    YAML::Mark mark;
  };
  std::vector<MethodEntry> entries;
  ParamSpec method_spec = choice_param("name", "", method_names, std::nullopt);
  for (std::size_t i = 0; i < mnode.size(); ++i) {
    auto e = mnode[i];
    std::string where = fmt::format("methods[{}]", i);
    MethodEntry me{nullptr, {}, e.Mark()};
    if (e.IsScalar()) {
      me.def = exp.find_method(std::get<std::string>(read_value(e, method_spec, where)));
    } else if (e.IsMap()) {
      if (!e["name"]) fail(e, where + ".name", fmt::format("missing; expected one of {}", fmt::join(method_names, ", ")));
      me.def = exp.find_method(std::get<std::string>(read_value(e["name"], method_spec, where + ".name")));
      auto okeys = me.def->options.keys();
      okeys.insert(okeys.begin(), "name");
      for (auto it = e.begin(); it != e.end(); ++it) {
        std::string k = it->first.as<std::string>();
        if (k == "name") continue;
        auto const* spec = me.def->options.find(k);
        if (!spec) unknown_key(it->first, fmt::format("method '{}'", me.def->name), okeys);
        me.given[k] = read_value(it->second, *spec, where + "." + k);
      }
    } else {
      fail(e, where, fmt::format("expected a method name or a mapping with 'name', got {}", show(e)));
    }
    entries.push_back(std::move(me));
  }

  // Sweep axes.
  std::vector<Axis> product_axes, zip_axes;
  if (auto s = root["sweep"]; s && !s.IsNull()) {
    expect_map(s, "sweep");
    std::set<std::string> seen;
    for (auto it = s.begin(); it != s.end(); ++it) {
      std::string k = it->first.as<std::string>();
      if (k == "product")
        product_axes = read_axes(it->second, "sweep.product", exp, seen);
      else if (k == "zip")
        zip_axes = read_axes(it->second, "sweep.zip", exp, seen);
      else
        unknown_key(it->first, "'sweep'", {"product", "zip"});
    }
    for (std::size_t i = 1; i < zip_axes.size(); ++i)
      if (zip_axes[i].values.size() != zip_axes[0].values.size())
        fail_at(marks_.at(zip_axes[i].key), "sweep.zip." + zip_axes[i].key,
                fmt::format("zipped lists must have equal lengths: '{}' has {}, '{}' has {}", zip_axes[0].key,
                            zip_axes[0].values.size(), zip_axes[i].key, zip_axes[i].values.size()));
  }
  for (auto const& a : product_axes) cfg.sweep_axes.push_back(a.key);
  for (auto const& a : zip_axes) cfg.sweep_axes.push_back(a.key);
  for (auto const& a : cfg.sweep_axes)
    if (fixed.count(a))
      fail_at(marks_.at(a), a, "given both as a fixed value and as a sweep axis; keep one");
  // A method option swept while also fixed in a method entry is ambiguous too.
  for (auto const& me : entries)
    for (auto const& a : cfg.sweep_axes)
      if (me.given.count(a))
        fail_at(me.mark, a, fmt::format("method '{}' fixes '{}' which is also a sweep axis", me.def->name, a));

  // The size of the expansion, before making it.
  {
    auto const limit = std::get<std::int64_t>(setting("max_points"));
    double n = double(entries.size());
    for (auto const& a : product_axes) n *= double(a.values.size());
    if (!zip_axes.empty()) n *= double(zip_axes[0].values.size());
    if (n > double(limit))
      fail(root["sweep"] ? root["sweep"] : root, "sweep",
           fmt::format("expands to {:.0f} points (methods x axes), more than max_points = {}; raise max_points if "
                       "that is what you want",
                       n, limit));
  }

  // Expansion: product (first axis outermost) x zip rows.
  std::vector<ParamMap> combos{ParamMap{}};
  for (auto const& a : product_axes) {
    std::vector<ParamMap> next;
    for (auto const& c : combos)
      for (auto const& v : a.values) {
        ParamMap m = c;
        m[a.key] = v;
        next.push_back(std::move(m));
      }
    combos = std::move(next);
  }
  if (!zip_axes.empty()) {
    std::vector<ParamMap> next;
    for (auto const& c : combos)
      for (std::size_t r = 0; r < zip_axes[0].values.size(); ++r) {
        ParamMap m = c;
        for (auto const& a : zip_axes) m[a.key] = a.values[r];
        next.push_back(std::move(m));
      }
    combos = std::move(next);
  }

  std::vector<std::string> entry_names;
  for (auto const& me : entries) entry_names.push_back(me.def->name);

  // Points: per combo, per method; grouped by problem so inputs are built once.
  std::vector<std::string> problem_order;
  std::map<std::string, std::vector<PointSpec>> by_problem;
  std::set<std::string> point_keys;
  for (auto const& combo : combos) {
    ParamMap problem = fixed;
    ParamMap method_axes;
    for (auto const& [k, v] : combo) (pschema.find(k) ? problem : method_axes)[k] = v;
    std::set<std::string> given;
    for (auto const& [k, v] : problem) given.insert(k);
    for (auto const& p : pschema.params) {
      if (problem.count(p.key)) continue;
      if (p.default_value)
        problem[p.key] = *p.default_value;
      else if (!p.optional)
        fail(root, p.key,
             fmt::format("missing; expected {} ({}){}", p.expected(), p.doc,
                         p.section.empty() ? "" : fmt::format(", in '{}' or as a sweep axis", p.section)));
    }
    try {
      exp.resolve_problem(problem, given, cfg.settings.config_dir);
      exp.resolve_methods(problem, entry_names);
    } catch (KeyError const& e) {
      auto it = marks_.find(e.key);
      fail_at(it != marks_.end() ? it->second : root.Mark(), e.key, e.what());
    }
    for (auto const& me : entries) {
      PointSpec pt;
      pt.method = me.def->name;
      pt.problem = problem;
      for (auto const& o : me.def->options.params) {
        if (me.given.count(o.key))
          pt.options[o.key] = me.given.at(o.key);
        else if (method_axes.count(o.key))
          pt.options[o.key] = method_axes.at(o.key);
        else if (o.default_value)
          pt.options[o.key] = *o.default_value;
      }
      try {
        exp.validate(pt);
        exp.validate_settings(pt, cfg.settings);
      } catch (KeyError const& e) {
        auto it = marks_.find(e.key);
        if (it != marks_.end()) fail_at(it->second, e.key, e.what());
        fail_at(me.mark, e.key, e.what());
      }
      // Input files exist now, not when their point runs (after the output is made).
      for (auto const& spec : pschema.params) {
        if (!spec.input_file || !pt.problem.count(spec.key)) continue;
        std::string const given = std::get<std::string>(pt.problem.at(spec.key));
        std::string const path = resolve_input_path(given, cfg.settings.config_dir);
        std::error_code ec;
        auto const st = std::filesystem::status(path, ec);
        std::string why;
        if (!std::filesystem::exists(st))
          why = fmt::format("no such file: '{}' (looked beside the config and in the working directory)", given);
        else if (std::filesystem::is_directory(st))
          why = fmt::format("'{}' is a directory, not a file", given);
        if (!why.empty()) {
          auto it = marks_.find(spec.key);
          fail_at(it != marks_.end() ? it->second : me.mark, (spec.section.empty() ? "" : spec.section + ".") + spec.key,
                  why);
        }
        if (std::find(cfg.input_files.begin(), cfg.input_files.end(), path) == cfg.input_files.end())
          cfg.input_files.push_back(path);
      }
      // A method that ignores a swept option would repeat the same point.
      if (!point_keys.insert(pt.key()).second) continue;
      std::string pk = canonical_key(problem);
      if (!by_problem.count(pk)) problem_order.push_back(pk);
      by_problem[pk].push_back(std::move(pt));
    }
  }
  for (auto const& pk : problem_order)
    for (auto& pt : by_problem[pk]) {
      pt.index = cfg.points.size();
      cfg.points.push_back(std::move(pt));
    }
  return cfg;
}

std::vector<Parser::Axis> Parser::read_axes(YAML::Node const& map, std::string const& block, Experiment const& exp,
                                            std::set<std::string>& seen) {
  expect_map(map, block);
  // Axis keys: any problem key, or an option of at least one method.
  std::vector<std::string> allowed = exp.problem_schema().keys();
  for (auto const& m : exp.methods())
    for (auto const& o : m.options.params)
      if (std::find(allowed.begin(), allowed.end(), o.key) == allowed.end()) allowed.push_back(o.key);
  std::vector<Axis> axes;
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string k = it->first.as<std::string>();
    std::string path = block + "." + k;
    ParamSpec const* spec = exp.problem_schema().find(k);
    if (!spec)
      for (auto const& m : exp.methods())
        if ((spec = m.options.find(k))) break;
    if (!spec) unknown_key(it->first, fmt::format("'{}' (sweep axes are problem keys or method options)", block), allowed);
    if (!seen.insert(k).second) fail(it->first, path, "axis given twice (in product and zip?)");
    if (!it->second.IsSequence() || it->second.size() == 0)
      fail(it->second, path, fmt::format("expected a non-empty list of values, each {}", spec->expected()));
    Axis a{k, {}};
    for (std::size_t i = 0; i < it->second.size(); ++i)
      a.values.push_back(read_value(it->second[i], *spec, fmt::format("{}[{}]", path, i)));
    marks_[k] = it->first.Mark();
    axes.push_back(std::move(a));
  }
  return axes;
}

}  // namespace

Schema const& settings_schema() {
  static Schema const s = [] {
    Schema k;
    ParamSpec output = string_param("output", "HDF5 output path (default results/<name>.h5)", std::nullopt);
    output.optional = true;
    k.params = {
        string_param("name", "run name (no '/')", std::nullopt),
        string_param("description", "free text", ""),
        output,
        int_param("warmup", "untimed runs before the timed ones (the first doubles as the check)", 1, 0, 1000),
        int_param("repetitions", "timed runs; metrics report min / median / mean", 5, 1, 100000),
        bool_param("save_outputs", "store the solution arrays (x, O, dQ, ...) of every point", false),
        string_param("backend", "where the kernels run: one of the kind's backends of this build", "default"),
        int_param("max_points", "refuse a sweep that expands to more points (a typo in a sweep can ask for billions)",
                  1000000, 1, 1e12),
    };
    return k;
  }();
  return s;
}

RunConfig parse_config(std::string const& text, std::string const& path, ExperimentList const& kinds) {
  return Parser(text, path, kinds).parse();
}

RunConfig load_config(std::string const& path, ExperimentList const& kinds) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, 0, 0, "", "cannot open the config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path, kinds);
}

}  // namespace numlab
