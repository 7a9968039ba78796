// SPDX-License-Identifier: MIT
#include "linsolve/generators.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace numlab::linsolve {

namespace {

using HostExec = Kokkos::DefaultHostExecutionSpace;
using RowMap = HostCsr::row_map_type::non_const_type;
using Entries = HostCsr::index_type::non_const_type;
using Values = HostCsr::values_type::non_const_type;

// Rows per random stream. Part of the generator's definition: changing it
// changes every matrix, but the thread count never does.
constexpr std::int64_t kRowsPerStream = 1024;

// Stream tags, so the counts, the pattern/values and x_true never share a stream
// even when the caller uses one seed for everything.
constexpr std::uint64_t kTagRowCounts = 0x636f756e74730001ULL;
constexpr std::uint64_t kTagRowEntries = 0x656e747269650002ULL;
constexpr std::uint64_t kTagSolution = 0x736f6c7574690003ULL;
constexpr std::uint64_t kTagGaussian = 0x6761757373690004ULL;

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::mt19937_64 stream_engine(std::uint64_t seed, std::uint64_t tag, std::uint64_t block) {
  return std::mt19937_64(splitmix64(splitmix64(splitmix64(seed) ^ tag) + block));
}

// [0, 1) from the top 53 bits: exact and identical on every platform.
double uniform01(std::mt19937_64& g) { return static_cast<double>(g() >> 11) * 0x1.0p-53; }

// [-1, 1): 2u - 1 is exact for u = m * 2^-53.
double uniform_pm1(std::mt19937_64& g) { return 2.0 * uniform01(g) - 1.0; }

// Unbiased integer in [0, n), n > 0: reject the 2^64 mod n lowest draws.
std::uint64_t uniform_below(std::mt19937_64& g, std::uint64_t n) {
  const std::uint64_t threshold = (0 - n) % n;
  for (;;) {
    const std::uint64_t x = g();
    if (x >= threshold) return x % n;
  }
}

// CDF of Binomial(n, p), truncated where the pmf falls below 1e-20 of its peak.
// Built outward from the mode with ratio recurrences (only * / +), so it needs no
// libm and does not underflow for large means.
struct CountDistribution {
  std::int64_t first = 0;   // cdf[t] = P(K <= first + t)
  std::vector<double> cdf;

  std::int64_t draw(std::mt19937_64& g) const {
    if (cdf.size() == 1) return first;
    const double u = uniform01(g);
    const auto it = std::upper_bound(cdf.begin(), cdf.end(), u);
    return first + static_cast<std::int64_t>(it - cdf.begin());
  }
};

CountDistribution binomial_distribution(std::int64_t n, double p) {
  CountDistribution d;
  if (n == 0 || p <= 0.0) {
    d.cdf = {1.0};
    return d;
  }
  if (p >= 1.0) {
    d.first = n;
    d.cdf = {1.0};
    return d;
  }
  constexpr double kNegligible = 1e-20;
  const double odds = p / (1.0 - p);
  const auto mode = std::min<std::int64_t>(n, static_cast<std::int64_t>((static_cast<double>(n) + 1.0) * p));

  std::vector<double> below;   // weights of mode-1, mode-2, ... relative to the mode
  double w = 1.0;
  for (std::int64_t k = mode; k > 0; --k) {   // pmf(k-1)/pmf(k) = k / ((n-k+1) odds)
    w = w * (static_cast<double>(k) / static_cast<double>(n - k + 1)) / odds;
    if (w < kNegligible) break;
    below.push_back(w);
  }
  std::vector<double> above;   // weights of mode+1, mode+2, ...
  w = 1.0;
  for (std::int64_t k = mode; k < n; ++k) {   // pmf(k+1)/pmf(k) = (n-k)/(k+1) odds
    w = w * (static_cast<double>(n - k) / static_cast<double>(k + 1)) * odds;
    if (w < kNegligible) break;
    above.push_back(w);
  }

  d.first = mode - static_cast<std::int64_t>(below.size());
  std::vector<double> weights(below.rbegin(), below.rend());
  weights.push_back(1.0);
  weights.insert(weights.end(), above.begin(), above.end());
  double total = 0.0;
  for (double x : weights) total += x;
  d.cdf.resize(weights.size());
  double partial = 0.0;
  for (std::size_t t = 0; t < weights.size(); ++t) {
    partial += weights[t];
    d.cdf[t] = partial / total;
  }
  d.cdf.back() = 1.0;   // every u in [0, 1) finds a count
  return d;
}

// k distinct integers from [0, n) by Floyd's algorithm: O(k) draws whatever k/n.
// Membership by linear scan for short rows, a small open-addressing set otherwise.
class DistinctSampler {
 public:
  void sample(std::mt19937_64& g, std::int64_t n, std::int64_t k, std::vector<std::int64_t>& out) {
    out.clear();
    use_table_ = k > kLinearMax;
    if (use_table_) reset_table(k);
    for (std::int64_t j = n - k; j < n; ++j) {
      const auto t = static_cast<std::int64_t>(uniform_below(g, static_cast<std::uint64_t>(j) + 1));
      const std::int64_t pick = contains(out, t) ? j : t;
      out.push_back(pick);
      if (use_table_) insert(pick);
    }
  }

 private:
  static constexpr std::int64_t kLinearMax = 16;

  void reset_table(std::int64_t k) {
    std::size_t cap = 16;
    while (cap < 2 * static_cast<std::size_t>(k)) cap *= 2;
    table_.assign(cap, -1);
    mask_ = cap - 1;
  }
  std::size_t slot(std::int64_t x) const {
    return static_cast<std::size_t>(splitmix64(static_cast<std::uint64_t>(x))) & mask_;
  }
  void insert(std::int64_t x) {
    std::size_t s = slot(x);
    while (table_[s] != -1 && table_[s] != x) s = (s + 1) & mask_;
    table_[s] = x;
  }
  bool contains(std::vector<std::int64_t> const& chosen, std::int64_t x) const {
    if (!use_table_) return std::find(chosen.begin(), chosen.end(), x) != chosen.end();
    for (std::size_t s = slot(x); table_[s] != -1; s = (s + 1) & mask_) {
      if (table_[s] == x) return true;
    }
    return false;
  }

  bool use_table_ = false;
  std::vector<std::int64_t> table_;
  std::size_t mask_ = 0;
};

// row_map(i+1) holds row i's count on entry, the offsets on return.
void counts_to_offsets(RowMap const& row_map) {
  row_map(0) = 0;
  const std::size_t n = row_map.extent(0);
  for (std::size_t i = 1; i < n; ++i) row_map(i) += row_map(i - 1);
}

void fence_host() { HostExec().fence(); }

}  // namespace

double dominance_factor_for(std::string const& name) {
  if (name == "strict") return kDominanceStrict;
  if (name == "weak") return kDominanceWeak;
  if (name == "none") return kDominanceNone;
  throw std::invalid_argument("unknown dominance '" + name + "' (expected strict, weak or none)");
}

HostCsr random_sparse(RandomSparseParams const& p) {
  if (p.N < 1 || p.N > INT_MAX) {
    throw std::invalid_argument("random_sparse: N = " + std::to_string(p.N) + " outside [1, INT_MAX]");
  }
  if (!(p.density >= 0.0 && p.density <= 1.0)) {
    throw std::invalid_argument("random_sparse: density " + std::to_string(p.density) + " outside [0, 1]");
  }
  if (!(std::isfinite(p.dominance_factor) && p.dominance_factor >= 0.0)) {
    throw std::invalid_argument("random_sparse: dominance_factor must be finite and >= 0");
  }
  const std::int64_t n = p.N;
  const std::int64_t candidates = n - 1;   // off-diagonal columns of a row
  const double p_entry =
      candidates == 0 ? 0.0 : std::min(1.0, p.density * static_cast<double>(n) / static_cast<double>(candidates));
  const CountDistribution row_count = binomial_distribution(candidates, p_entry);
  const std::int64_t num_streams = (n + kRowsPerStream - 1) / kRowsPerStream;
  using StreamPolicy = Kokkos::RangePolicy<HostExec, Kokkos::IndexType<std::int64_t>>;

  // Pass 1: off-diagonal count of every row (+1 for the diagonal).
  RowMap row_map(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::random_sparse::row_map"), n + 1);
  Kokkos::parallel_for("numlab::random_sparse::counts", StreamPolicy(0, num_streams), [&](std::int64_t s) {
    auto g = stream_engine(p.seed, kTagRowCounts, static_cast<std::uint64_t>(s));
    const std::int64_t end = std::min(n, (s + 1) * kRowsPerStream);
    for (std::int64_t i = s * kRowsPerStream; i < end; ++i) {
      row_map(i + 1) = static_cast<std::size_t>(row_count.draw(g) + 1);
    }
  });
  fence_host();
  counts_to_offsets(row_map);
  const std::size_t nnz = row_map(n);

  // Pass 2: columns (sorted, diagonal in place), then values in column order.
  Entries entries(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::random_sparse::entries"), nnz);
  Values values(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::random_sparse::values"), nnz);
  const double factor = p.dominance_factor;
  Kokkos::parallel_for("numlab::random_sparse::fill", StreamPolicy(0, num_streams), [&](std::int64_t s) {
    auto g = stream_engine(p.seed, kTagRowEntries, static_cast<std::uint64_t>(s));
    DistinctSampler sampler;
    std::vector<std::int64_t> picks;
    const std::int64_t end = std::min(n, (s + 1) * kRowsPerStream);
    for (std::int64_t i = s * kRowsPerStream; i < end; ++i) {
      const std::size_t begin = row_map(i);
      const auto k = static_cast<std::int64_t>(row_map(i + 1) - begin) - 1;
      sampler.sample(g, candidates, k, picks);
      for (auto& c : picks) c += (c >= i);   // skip the diagonal column
      picks.push_back(i);
      std::sort(picks.begin(), picks.end());
      double off_sum = 0.0;
      std::size_t diag = begin;
      for (std::size_t t = 0; t < picks.size(); ++t) {
        entries(begin + t) = static_cast<ordinal_t>(picks[t]);
        if (picks[t] == i) {
          diag = begin + t;
          continue;
        }
        const double v = uniform_pm1(g);
        values(begin + t) = v;
        off_sum += std::fabs(v);
      }
      values(diag) = off_sum == 0.0 ? 1.0 : factor * off_sum;
    }
  });
  fence_host();
  const auto n_ord = static_cast<ordinal_t>(n);
  return HostCsr("numlab::random_sparse", n_ord, n_ord, nnz, values, row_map, entries);
}

HostCsr poisson2d(int nx, int ny) {
  if (nx < 1 || ny < 1 || static_cast<std::int64_t>(nx) * ny > INT_MAX) {
    throw std::invalid_argument("poisson2d: grid " + std::to_string(nx) + " x " + std::to_string(ny) +
                                " must have 1 <= nx*ny <= INT_MAX");
  }
  const std::int64_t n = static_cast<std::int64_t>(nx) * ny;
  using RowPolicy = Kokkos::RangePolicy<HostExec, Kokkos::IndexType<std::int64_t>>;

  RowMap row_map(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::poisson2d::row_map"), n + 1);
  Kokkos::parallel_for("numlab::poisson2d::counts", RowPolicy(0, n), [&](std::int64_t r) {
    const std::int64_t i = r % nx, j = r / nx;
    row_map(r + 1) = 1 + (j > 0) + (i > 0) + (i < nx - 1) + (j < ny - 1);
  });
  fence_host();
  counts_to_offsets(row_map);
  const std::size_t nnz = row_map(n);

  Entries entries(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::poisson2d::entries"), nnz);
  Values values(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::poisson2d::values"), nnz);
  Kokkos::parallel_for("numlab::poisson2d::fill", RowPolicy(0, n), [&](std::int64_t r) {
    const std::int64_t i = r % nx, j = r / nx;
    std::size_t k = row_map(r);
    auto put = [&](std::int64_t col, double v) {
      entries(k) = static_cast<ordinal_t>(col);
      values(k) = v;
      ++k;
    };
    // Ascending column order: south, west, centre, east, north.
    if (j > 0) put(r - nx, -1.0);
    if (i > 0) put(r - 1, -1.0);
    put(r, 4.0);
    if (i < nx - 1) put(r + 1, -1.0);
    if (j < ny - 1) put(r + nx, -1.0);
  });
  fence_host();
  const auto n_ord = static_cast<ordinal_t>(n);
  return HostCsr("numlab::poisson2d", n_ord, n_ord, nnz, values, row_map, entries);
}

std::pair<int, int> poisson_grid_for(std::int64_t N) {
  if (N < 1 || N > INT_MAX) {
    throw std::invalid_argument("poisson_grid_for: N = " + std::to_string(N) + " outside [1, INT_MAX]");
  }
  // Exact integer floor(sqrt(N)): correct the floating estimate both ways.
  auto root = static_cast<std::int64_t>(std::sqrt(static_cast<double>(N)));
  while (root * root > N) --root;
  while ((root + 1) * (root + 1) <= N) ++root;
  for (std::int64_t nx = root; nx >= 1; --nx) {
    if (N % nx == 0) return {static_cast<int>(nx), static_cast<int>(N / nx)};
  }
  return {1, static_cast<int>(N)};   // unreachable: nx = 1 divides N
}

void fill_gaussian(std::uint64_t seed, std::uint64_t stream, double* out, std::size_t count) {
  auto g = stream_engine(seed, kTagGaussian, stream);
  constexpr double two_pi = 6.283185307179586476925286766559;
  for (std::size_t i = 0; i < count; i += 2) {
    const double u1 = 1.0 - uniform01(g);  // (0, 1]: log(u1) is finite
    const double u2 = uniform01(g);
    const double r = std::sqrt(-2.0 * std::log(u1));
    out[i] = r * std::cos(two_pi * u2);
    if (i + 1 < count) out[i + 1] = r * std::sin(two_pi * u2);
  }
}

HostLinearSystem with_known_solution(HostCsr A, std::uint64_t seed) {
  if (A.numRows() != A.numCols()) {
    throw std::invalid_argument("with_known_solution: matrix is " + std::to_string(A.numRows()) + " x " +
                                std::to_string(A.numCols()) + ", not square");
  }
  const std::int64_t n = A.numRows();
  HostVector x_true(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::x_true"), n);
  HostVector b(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::b"), n);
  // One sequential stream: x_true does not depend on any blocking.
  auto g = stream_engine(seed, kTagSolution, 0);
  for (std::int64_t i = 0; i < n; ++i) x_true(i) = uniform_pm1(g);

  auto const& row_map = A.graph.row_map;
  auto const& entries = A.graph.entries;
  auto const& values = A.values;
  Kokkos::parallel_for("numlab::with_known_solution::b",
                       Kokkos::RangePolicy<HostExec, Kokkos::IndexType<std::int64_t>>(0, n), [&](std::int64_t i) {
                         double sum = 0.0;
                         for (std::size_t k = row_map(i); k < row_map(i + 1); ++k) sum += values(k) * x_true(entries(k));
                         b(i) = sum;
                       });
  fence_host();
  return HostLinearSystem{std::move(A), b, x_true};
}

}  // namespace numlab::linsolve
