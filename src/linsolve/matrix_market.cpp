// SPDX-License-Identifier: MIT
#include "linsolve/matrix_market.hpp"

#include "core/host_memory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <numeric>
#include <string_view>
#include <utility>
#include <vector>

namespace numlab::linsolve {

namespace {

std::string located(std::string const& path, std::int64_t line, std::string const& problem) {
  return line > 0 ? path + ":" + std::to_string(line) + ": " + problem : path + ": " + problem;
}

enum class Format { coordinate, array };
enum class Field { real, integer, pattern };
enum class Symmetry { general, symmetric, skew_symmetric };

struct Header {
  Format format = Format::coordinate;
  Field field = Field::real;
  Symmetry symmetry = Symmetry::general;
  std::int64_t rows = 0, cols = 0, entries = 0;   // entries: coordinate only
  std::int64_t size_line = 0;
};

// Reads line by line, keeps the 1-based line number for every message.
class MtxReader {
 public:
  explicit MtxReader(std::string path) : path_(std::move(path)), in_(path_) {
    if (!in_) throw MatrixMarketError(path_, 0, "cannot open file for reading");
  }

  bool next_line() {
    if (!std::getline(in_, line_)) {
      if (in_.bad()) throw MatrixMarketError(path_, 0, "read error after line " + std::to_string(line_no_));
      return false;
    }
    ++line_no_;
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();   // CRLF files
    split();
    return true;
  }

  // Next line that is neither blank nor a comment; false at end of file.
  bool next_data_line() {
    while (next_line()) {
      if (!tokens_.empty() && tokens_[0][0] != '%') return true;
    }
    return false;
  }

  [[noreturn]] void fail(std::string const& problem) const { throw MatrixMarketError(path_, line_no_, problem); }
  [[noreturn]] void fail_at(std::int64_t line, std::string const& problem) const {
    throw MatrixMarketError(path_, line, problem);
  }

  std::vector<std::string_view> const& tokens() const { return tokens_; }
  std::string const& line() const { return line_; }
  std::int64_t line_no() const { return line_no_; }

  std::int64_t integer(std::size_t t, char const* what) const {
    std::string_view s = tokens_[t];
    if (!s.empty() && s[0] == '+') s.remove_prefix(1);
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
      fail("expected an integer " + std::string(what) + ", found '" + std::string(tokens_[t]) + "'");
    }
    return v;
  }

  double real(std::size_t t, Field field) const {
    if (field == Field::integer) return static_cast<double>(integer(t, "value"));
    std::string_view s = tokens_[t];
    char* end = nullptr;
    // The token lies inside line_, so strtod stops at the following blank or '\0'.
    const double v = std::strtod(s.data(), &end);
    if (end != s.data() + s.size()) fail("expected a real value, found '" + std::string(s) + "'");
    if (!std::isfinite(v)) fail("expected a finite real value, found '" + std::string(s) + "'");
    return v;
  }

 private:
  void split() {
    tokens_.clear();
    std::size_t i = 0;
    const std::size_t n = line_.size();
    while (i < n) {
      while (i < n && std::isspace(static_cast<unsigned char>(line_[i]))) ++i;
      const std::size_t start = i;
      while (i < n && !std::isspace(static_cast<unsigned char>(line_[i]))) ++i;
      if (i > start) tokens_.emplace_back(line_.data() + start, i - start);
    }
  }

  std::string path_;
  std::ifstream in_;
  std::string line_;
  std::vector<std::string_view> tokens_;
  std::int64_t line_no_ = 0;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Header read_header(MtxReader& r) {
  constexpr char const* kBannerForm = "'%%MatrixMarket matrix <coordinate|array> <real|integer|pattern> "
                                      "<general|symmetric|skew-symmetric>'";
  if (!r.next_line()) r.fail_at(1, std::string("empty file, expected the banner ") + kBannerForm);
  auto const& t = r.tokens();
  if (t.size() != 5 || lower(t[0]) != "%%matrixmarket") {
    r.fail("bad banner '" + r.line() + "', expected " + kBannerForm);
  }
  Header h;
  const std::string object = lower(t[1]), format = lower(t[2]), field = lower(t[3]), symmetry = lower(t[4]);
  if (object != "matrix") r.fail("unsupported object '" + object + "' in banner, expected 'matrix'");
  if (format == "coordinate") h.format = Format::coordinate;
  else if (format == "array") h.format = Format::array;
  else r.fail("unknown format '" + format + "' in banner, expected 'coordinate' or 'array'");
  if (field == "real") h.field = Field::real;
  else if (field == "integer") h.field = Field::integer;
  else if (field == "pattern" && h.format == Format::coordinate) h.field = Field::pattern;
  else if (field == "pattern") r.fail("field 'pattern' needs format 'coordinate', not 'array'");
  else if (field == "complex") r.fail("complex matrices are not supported, expected real, integer or pattern");
  else r.fail("unknown field '" + field + "' in banner, expected real, integer or pattern");
  if (symmetry == "general") h.symmetry = Symmetry::general;
  else if (symmetry == "symmetric") h.symmetry = Symmetry::symmetric;
  else if (symmetry == "skew-symmetric") h.symmetry = Symmetry::skew_symmetric;
  else if (symmetry == "hermitian") r.fail("hermitian matrices are not supported (complex only)");
  else r.fail("unknown symmetry '" + symmetry + "' in banner, expected general, symmetric or skew-symmetric");

  if (!r.next_data_line()) r.fail_at(r.line_no() + 1, "file ends before the size line");
  h.size_line = r.line_no();
  const std::size_t expected = h.format == Format::coordinate ? 3 : 2;
  if (r.tokens().size() != expected) {
    r.fail(h.format == Format::coordinate ? "expected the size line 'rows cols entries'"
                                          : "expected the size line 'rows cols'");
  }
  h.rows = r.integer(0, "row count");
  h.cols = r.integer(1, "column count");
  if (h.format == Format::coordinate) h.entries = r.integer(2, "entry count");
  if (h.rows < 0 || h.cols < 0 || h.entries < 0) r.fail("expected non-negative sizes");
  if (h.rows > INT_MAX || h.cols > INT_MAX) r.fail("dimension above INT_MAX is not supported");
  if (h.symmetry != Symmetry::general && h.rows != h.cols) {
    r.fail("a symmetric or skew-symmetric matrix must be square, found " + std::to_string(h.rows) + " x " +
           std::to_string(h.cols));
  }
  return h;
}

// Calls on_entry(row, col, value) (0-based) for every stored entry; checks
// counts, ranges and the triangle a symmetric file may use.
template <class OnEntry>
void read_entries(MtxReader& r, Header const& h, OnEntry&& on_entry) {
  auto expect_more = [&](std::int64_t done, std::int64_t total) {
    if (!r.next_data_line()) {
      r.fail_at(r.line_no() + 1, "file ends after " + std::to_string(done) + " of the " + std::to_string(total) +
                                     " entries declared on line " + std::to_string(h.size_line));
    }
  };
  if (h.format == Format::coordinate) {
    const std::size_t width = h.field == Field::pattern ? 2 : 3;
    for (std::int64_t e = 0; e < h.entries; ++e) {
      expect_more(e, h.entries);
      if (r.tokens().size() != width) {
        r.fail(width == 2 ? "expected an entry 'row col'" : "expected an entry 'row col value'");
      }
      const std::int64_t i = r.integer(0, "row index"), j = r.integer(1, "column index");
      if (i < 1 || i > h.rows) {
        r.fail("row index " + std::to_string(i) + " out of range, expected 1.." + std::to_string(h.rows));
      }
      if (j < 1 || j > h.cols) {
        r.fail("column index " + std::to_string(j) + " out of range, expected 1.." + std::to_string(h.cols));
      }
      if (h.symmetry == Symmetry::symmetric && i < j) {
        r.fail("entry (" + std::to_string(i) + ", " + std::to_string(j) +
               ") above the diagonal, expected the lower triangle (row >= col) in a symmetric file");
      }
      if (h.symmetry == Symmetry::skew_symmetric && i <= j) {
        r.fail("entry (" + std::to_string(i) + ", " + std::to_string(j) +
               ") not below the diagonal, expected row > col in a skew-symmetric file");
      }
      const double v = h.field == Field::pattern ? 1.0 : r.real(2, h.field);
      on_entry(i - 1, j - 1, v);
    }
  } else {
    // Column-major; symmetric: lower triangle with diagonal, skew: strictly lower.
    const std::int64_t total =
        h.symmetry == Symmetry::general          ? h.rows * h.cols
        : h.symmetry == Symmetry::symmetric      ? h.rows * (h.rows + 1) / 2
                                                 : h.rows * (h.rows - 1) / 2;
    std::int64_t done = 0;
    for (std::int64_t j = 0; j < h.cols; ++j) {
      const std::int64_t first = h.symmetry == Symmetry::general ? 0 : h.symmetry == Symmetry::symmetric ? j : j + 1;
      for (std::int64_t i = first; i < h.rows; ++i, ++done) {
        expect_more(done, total);
        if (r.tokens().size() != 1) r.fail("expected one value per line in an array file");
        on_entry(i, j, r.real(0, h.field));
      }
    }
  }
  if (r.next_data_line()) {
    r.fail("unexpected data after the last of the entries declared on line " + std::to_string(h.size_line));
  }
}

// CSR from coordinates: rows kept in file order (counting sort), then each row
// stably sorted by column and duplicates summed in file order.
HostCsr assemble(std::int64_t n, std::vector<ordinal_t> const& rows, std::vector<ordinal_t> const& cols,
                 std::vector<double> const& vals) {
  const std::size_t m = rows.size();
  std::vector<std::size_t> start(static_cast<std::size_t>(n) + 1, 0);
  for (auto i : rows) ++start[static_cast<std::size_t>(i) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<std::pair<ordinal_t, double>> by_row(m);
  {
    std::vector<std::size_t> next(start.begin(), start.end() - 1);
    for (std::size_t e = 0; e < m; ++e) by_row[next[static_cast<std::size_t>(rows[e])]++] = {cols[e], vals[e]};
  }
  using RowMap = HostCsr::row_map_type::non_const_type;
  RowMap row_map("numlab::mtx::row_map", static_cast<std::size_t>(n) + 1);
  std::size_t out = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    auto first = by_row.begin() + static_cast<std::ptrdiff_t>(start[static_cast<std::size_t>(i)]);
    auto last = by_row.begin() + static_cast<std::ptrdiff_t>(start[static_cast<std::size_t>(i) + 1]);
    std::stable_sort(first, last, [](auto const& a, auto const& b) { return a.first < b.first; });
    for (auto it = first; it != last; ++it) {   // compact in place: out never passes it
      if (out > row_map(i) && by_row[out - 1].first == it->first) {
        by_row[out - 1].second += it->second;
      } else {
        by_row[out++] = *it;
      }
    }
    row_map(i + 1) = out;
  }
  HostCsr::index_type::non_const_type entries(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::mtx::entries"),
                                              out);
  HostCsr::values_type::non_const_type values(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::mtx::values"),
                                              out);
  for (std::size_t k = 0; k < out; ++k) {
    entries(k) = by_row[k].first;
    values(k) = by_row[k].second;
  }
  const auto n_ord = static_cast<ordinal_t>(n);
  return HostCsr("numlab::mtx", n_ord, n_ord, out, values, row_map, entries);
}

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_for_writing(std::string const& path) {
  File f(std::fopen(path.c_str(), "w"));
  if (!f) throw MatrixMarketError(path, 0, "cannot open file for writing");
  std::setvbuf(f.get(), nullptr, _IOFBF, 1 << 20);
  return f;
}

void finish_writing(File f, std::string const& path) {
  const bool failed = std::ferror(f.get()) != 0;
  if (std::fclose(f.release()) != 0 || failed) throw MatrixMarketError(path, 0, "write error");
}

void require_finite(double v, std::string const& path, char const* what, std::size_t index) {
  if (!std::isfinite(v)) {
    throw std::invalid_argument(path + ": cannot write non-finite " + what + " at index " + std::to_string(index) +
                                " (the reader rejects it)");
  }
}

}  // namespace

MatrixMarketError::MatrixMarketError(std::string const& path, std::int64_t line, std::string const& problem)
    : std::runtime_error(located(path, line, problem)), path_(path), line_(line) {}

namespace {
// A linear system's matrix: square and not empty.
void check_system_size(MtxReader& r, Header const& h) {
  if (h.rows != h.cols) {
    r.fail_at(h.size_line, "expected a square matrix for a linear system, found " + std::to_string(h.rows) + " x " +
                               std::to_string(h.cols));
  }
  if (h.rows == 0) r.fail_at(h.size_line, "a 0 x 0 matrix: a linear system needs at least one unknown");
}
}  // namespace

MatrixMarketSize read_matrix_market_size(std::string const& path) {
  MtxReader r(path);
  const Header h = read_header(r);
  check_system_size(r, h);
  return {h.rows, h.cols, h.format == Format::coordinate ? h.entries : h.rows * h.cols};
}

HostCsr read_matrix_market(std::string const& path) {
  MtxReader r(path);
  const Header h = read_header(r);
  check_system_size(r, h);
  // Before anything of size rows is allocated: the CSR row map and the assembly's row starts
  // (16 bytes a row), the entries (16 a stored one, twice for a symmetric file) and the
  // problem's vectors (b, x_true, the solver's x and residual, host and device: ~64 a row).
  double const stored = h.format == Format::coordinate ? double(h.entries) : double(h.rows) * double(h.cols);
  require_host_bytes(double(h.rows) * 80.0 + stored * 32.0,
                     fmt::format("the {} x {} matrix of '{}' and its vectors", h.rows, h.cols, path));
  std::vector<ordinal_t> rows, cols;
  std::vector<double> vals;
  if (h.format == Format::coordinate) {
    // Capped: a lying size line must not allocate before the entries prove it.
    const auto stated = static_cast<std::size_t>(std::min<std::int64_t>(h.entries, std::int64_t{1} << 24));
    const std::size_t reserve = h.symmetry == Symmetry::general ? stated : 2 * stated;
    rows.reserve(reserve);
    cols.reserve(reserve);
    vals.reserve(reserve);
  }
  auto push = [&](std::int64_t i, std::int64_t j, double v) {
    rows.push_back(static_cast<ordinal_t>(i));
    cols.push_back(static_cast<ordinal_t>(j));
    vals.push_back(v);
  };
  read_entries(r, h, [&](std::int64_t i, std::int64_t j, double v) {
    // A dense array states every entry; keep its nonzeros and its diagonal.
    if (h.format == Format::array && v == 0.0 && i != j) return;
    push(i, j, v);
    if (i != j && h.symmetry == Symmetry::symmetric) push(j, i, v);
    if (i != j && h.symmetry == Symmetry::skew_symmetric) push(j, i, -v);
  });
  return assemble(h.rows, rows, cols, vals);
}

HostVector read_matrix_market_vector(std::string const& path) {
  MtxReader r(path);
  const Header h = read_header(r);
  if (h.cols != 1 && h.rows != 1) {
    r.fail_at(h.size_line, "expected a vector (n x 1 or 1 x n), found " + std::to_string(h.rows) + " x " +
                               std::to_string(h.cols));
  }
  if (h.symmetry != Symmetry::general && h.rows > 1) {
    r.fail_at(h.size_line, "expected symmetry 'general' for a vector");
  }
  if (h.field == Field::pattern) r.fail_at(h.size_line, "expected a real or integer vector, found a pattern file");
  const std::int64_t n = h.cols == 1 ? h.rows : h.cols;
  HostVector v("numlab::mtx::vector", static_cast<std::size_t>(n));   // zero: coordinate gaps are 0
  // Assign the first value (keeps -0.0 bit-exact), sum later duplicates.
  std::vector<bool> seen(static_cast<std::size_t>(n), false);
  read_entries(r, h, [&](std::int64_t i, std::int64_t j, double x) {
    const auto k = static_cast<std::size_t>(h.cols == 1 ? i : j);
    v(k) = seen[k] ? v(k) + x : x;
    seen[k] = true;
  });
  return v;
}

void write_matrix_market(std::string const& path, HostCsr const& A, std::string const& comment) {
  const std::size_t nnz = A.nnz();
  for (std::size_t k = 0; k < nnz; ++k) require_finite(A.values(k), path, "matrix value", k);
  File f = open_for_writing(path);
  std::fputs("%%MatrixMarket matrix coordinate real general\n", f.get());
  std::size_t pos = 0;
  while (pos < comment.size()) {
    const std::size_t eol = std::min(comment.find('\n', pos), comment.size());
    std::fprintf(f.get(), "%% %s\n", comment.substr(pos, eol - pos).c_str());
    pos = eol + 1;
  }
  std::fprintf(f.get(), "%d %d %zu\n", static_cast<int>(A.numRows()), static_cast<int>(A.numCols()), nnz);
  auto const& row_map = A.graph.row_map;
  auto const& entries = A.graph.entries;
  for (std::int64_t i = 0; i < A.numRows(); ++i) {
    for (std::size_t k = row_map(i); k < row_map(i + 1); ++k) {
      std::fprintf(f.get(), "%lld %d %.17g\n", static_cast<long long>(i + 1), entries(k) + 1, A.values(k));
    }
  }
  finish_writing(std::move(f), path);
}

void write_matrix_market_vector(std::string const& path, HostVector const& v) {
  const std::size_t n = v.extent(0);
  for (std::size_t k = 0; k < n; ++k) require_finite(v(k), path, "vector value", k);
  File f = open_for_writing(path);
  std::fprintf(f.get(), "%%%%MatrixMarket matrix array real general\n%zu 1\n", n);
  for (std::size_t k = 0; k < n; ++k) std::fprintf(f.get(), "%.17g\n", v(k));
  finish_writing(std::move(f), path);
}

}  // namespace numlab::linsolve
