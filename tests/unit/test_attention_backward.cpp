// SPDX-License-Identifier: MIT
// The fp64 reference (reference.hpp) and the two backwards (tiled_backward, flash_backward in
// both dQ modes) and the BLAS baseline standard_backward on Kokkos::DefaultExecutionSpace.
//
// Checks:
//  - the reference against plain loops in fp64 and against central finite differences of the
//    scalar loss sum(O o dO);
//  - every backward against the reference gradients on seeded random inputs of awkward shapes
//    (N = 1, 3, 113; N_kv != N; D = 16, 64, 128; causal or not; fp32 and fp64), with O and L
//    from the fp64 reference cast to T, under two bounds:
//      * an error model: max-abs error <= c_model u sqrt(n) g, u the unit roundoff of T,
//        n = D + max(N, N_kv) the longest chain of sums a gradient entry goes through
//        (scores over D, softmax / D_i / dQ over N_kv, dK / dV over N), g the largest
//        reference gradient entry of the problem (dQ, dK and dV together: dS = P o (dP - D_i)
//        cancels, to exactly 0 when N_kv = 1, so one gradient alone can be far smaller than
//        the rounding errors of the terms it is made of). sqrt(n): rounding errors of long
//        sums add like a random walk for random inputs (Higham & Mary, SISC 2019);
//      * the lab rule (FlashAttention's): max-abs error <= 2 x the error of a plain
//        materialised-P backward in the same precision (naive_attention below)
//        + atol = c_atol u sqrt(n) g, for the cases where the naive error is tiny by luck
//        (N_kv = 1: the naive dS is exactly 0, a method using L from the forward is not).
//  - finite differences of tiled_backward, flash_backward and standard_backward in fp64;
//  - a fully masked causal row gets zero gradients;
//  - FlashBwdDq::separate is bitwise reproducible;
//  - bad arguments (tile sizes, extents, tiles that do not fit in team scratch) throw.
#include "attention/flash_backward.hpp"
#include "attention/reference.hpp"
#include "attention/standard_backward.hpp"
#include "attention/tiled_backward.hpp"

#include <gtest/gtest.h>
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace na = numlab::attention;
using Exec = Kokkos::DefaultExecutionSpace;
using Mem = Exec::memory_space;
using Host = Kokkos::HostSpace;
template <class T>
using Dev4 = na::Tensor4<T, Mem>;
template <class T>
using Dev3 = na::Tensor3<T, Mem>;
template <class T>
using Host4 = na::Tensor4<T, Host>;
template <class T>
using Host3 = na::Tensor3<T, Host>;

// Error-model constants (header comment). Observed worst over the case grid (printed by
// AttentionBackwardTyped/*.MatchesReference): error 1.3 (fp32) / 1.5 (fp64) u sqrt(n) g,
// excess over 2x naive 1.3 (fp32, N_kv = 1) / 0.9 (fp64). Without atol the fp32 methods stay
// within 1.8x naive at N = 113 (mean 0.6x tiled, 0.85x flash).
constexpr double c_model = 4.0;
constexpr double c_atol = 2.0;
template <class T>
constexpr double unit_roundoff = std::numeric_limits<T>::epsilon() / 2;

// ------------------------------------------------------------------------ inputs --

struct Case {
  int B = 1, H = 1, N = 1, N_kv = 1, D = 16;
  bool causal = false;
  na::TileSizes tiles{};
  na::AttentionShape shape() const { return {B, H, N, N_kv, D, causal}; }
  std::string str() const {
    return "B=" + std::to_string(B) + " H=" + std::to_string(H) + " N=" + std::to_string(N) +
           " N_kv=" + std::to_string(N_kv) + " D=" + std::to_string(D) + (causal ? " causal" : "") +
           " tile_q=" + std::to_string(tiles.tile_q) + " tile_k=" + std::to_string(tiles.tile_k);
  }
};

std::vector<double> normal_values(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, 1.0);
  std::vector<double> x(n);
  for (auto& v : x) v = dist(rng);
  return x;
}

template <class T, class M = Mem>
na::Tensor4<T, M> tensor4(std::vector<double> const& x, int B, int H, int n, int D) {
  na::Tensor4<T, M> t("numlab_test::t4", B, H, n, D);
  auto h = Kokkos::create_mirror_view(t);
  for (std::size_t i = 0; i < x.size(); ++i) h.data()[i] = static_cast<T>(x[i]);
  Kokkos::deep_copy(t, h);
  return t;
}

// A host view of doubles (a reference result) cast to T in Mem, same extents.
template <class DevView, class HostView>
DevView cast_to(HostView const& x) {
  DevView t("numlab_test::cast", x.layout());
  auto h = Kokkos::create_mirror_view(t);
  for (std::size_t i = 0; i < x.span(); ++i) h.data()[i] = static_cast<typename DevView::value_type>(x.data()[i]);
  Kokkos::deep_copy(t, h);
  return t;
}

template <class T>
struct Problem {
  Case c;
  Dev4<T> Q, K, V, dO;
};

template <class T>
Problem<T> make_problem(Case const& c, unsigned seed) {
  const std::size_t nq = std::size_t(c.B) * c.H * c.N * c.D, nk = std::size_t(c.B) * c.H * c.N_kv * c.D;
  Problem<T> p;
  p.c = c;
  p.Q = tensor4<T>(normal_values(nq, seed), c.B, c.H, c.N, c.D);
  p.K = tensor4<T>(normal_values(nk, seed + 1), c.B, c.H, c.N_kv, c.D);
  p.V = tensor4<T>(normal_values(nk, seed + 2), c.B, c.H, c.N_kv, c.D);
  p.dO = tensor4<T>(normal_values(nq, seed + 3), c.B, c.H, c.N, c.D);
  return p;
}

template <class T>
na::ReferenceResult reference_of(Problem<T> const& p) {
  return na::reference_attention<T, Mem>(p.c.shape(), p.Q, p.K, p.V, p.dO);
}

// -------------------------------------------------- plain-loop attention in precision R --

// Standard attention with P materialised per head, forward and backward, every operation in R:
// the fp64 check of the reference (R = double) and the "naive version in the same precision" of
// the lab rule. D_i as autograd's softmax backward has it, rowsum(dP o P).
template <class R>
struct NaiveResult {
  Host4<R> O, dQ, dK, dV;
  Host3<R> L;
};

template <class R, class T>
NaiveResult<R> naive_attention(na::AttentionShape const& s, Dev4<T> Qd, Dev4<T> Kd, Dev4<T> Vd, Dev4<T> dOd) {
  auto Q = Kokkos::create_mirror_view_and_copy(Host(), Qd), K = Kokkos::create_mirror_view_and_copy(Host(), Kd),
       V = Kokkos::create_mirror_view_and_copy(Host(), Vd), dO = Kokkos::create_mirror_view_and_copy(Host(), dOd);
  NaiveResult<R> r{Host4<R>("O", s.B, s.H, s.N, s.D), Host4<R>("dQ", s.B, s.H, s.N, s.D),
                   Host4<R>("dK", s.B, s.H, s.N_kv, s.D), Host4<R>("dV", s.B, s.H, s.N_kv, s.D),
                   Host3<R>("L", s.B, s.H, s.N)};
  const R scale = R(s.scale());
  std::vector<R> P(std::size_t(s.N) * s.N_kv), dS(P.size());
  auto at = [&](int i, int j) -> std::size_t { return std::size_t(i) * s.N_kv + j; };
  for (int b = 0; b < s.B; ++b)
    for (int h = 0; h < s.H; ++h) {
      for (int i = 0; i < s.N; ++i) {
        const int n = std::clamp(s.last_key(i) + 1, 0, s.N_kv);
        R mx = -std::numeric_limits<R>::infinity(), sum = 0;
        for (int j = 0; j < s.N_kv; ++j) {
          R acc = 0;
          for (int d = 0; d < s.D; ++d) acc += R(Q(b, h, i, d)) * R(K(b, h, j, d));
          P[at(i, j)] = acc * scale;
          if (j < n) mx = std::max(mx, P[at(i, j)]);
        }
        for (int j = 0; j < s.N_kv; ++j) {
          P[at(i, j)] = j < n ? std::exp(P[at(i, j)] - mx) : R(0);
          sum += P[at(i, j)];
        }
        for (int j = 0; j < n; ++j) P[at(i, j)] /= sum;
        r.L(b, h, i) = n > 0 ? mx + std::log(sum) : -std::numeric_limits<R>::infinity();
        for (int d = 0; d < s.D; ++d) {
          R acc = 0;
          for (int j = 0; j < s.N_kv; ++j) acc += P[at(i, j)] * R(V(b, h, j, d));
          r.O(b, h, i, d) = acc;
        }
      }
      for (int j = 0; j < s.N_kv; ++j)
        for (int d = 0; d < s.D; ++d) {
          R acc = 0;
          for (int i = 0; i < s.N; ++i) acc += P[at(i, j)] * R(dO(b, h, i, d));
          r.dV(b, h, j, d) = acc;
        }
      for (int i = 0; i < s.N; ++i) {
        R Di = 0;
        for (int j = 0; j < s.N_kv; ++j) {
          R acc = 0;  // dP
          for (int d = 0; d < s.D; ++d) acc += R(dO(b, h, i, d)) * R(V(b, h, j, d));
          dS[at(i, j)] = acc;
          Di += acc * P[at(i, j)];
        }
        for (int j = 0; j < s.N_kv; ++j) dS[at(i, j)] = P[at(i, j)] * (dS[at(i, j)] - Di);
      }
      for (int i = 0; i < s.N; ++i)
        for (int d = 0; d < s.D; ++d) {
          R acc = 0;
          for (int j = 0; j < s.N_kv; ++j) acc += dS[at(i, j)] * R(K(b, h, j, d));
          r.dQ(b, h, i, d) = acc * scale;
        }
      for (int j = 0; j < s.N_kv; ++j)
        for (int d = 0; d < s.D; ++d) {
          R acc = 0;
          for (int i = 0; i < s.N; ++i) acc += dS[at(i, j)] * R(Q(b, h, i, d));
          r.dK(b, h, j, d) = acc * scale;
        }
    }
  return r;
}

template <class View>
double max_abs(View const& x) {
  double m = 0;
  for (std::size_t i = 0; i < x.span(); ++i)
    if (std::isfinite(x.data()[i])) m = std::max(m, std::abs(double(x.data()[i])));
  return m;
}

// na::compare with its template arguments taken from the result view.
template <class X, class R>
na::ErrorNorms err(X const& x, R const& ref) {
  return na::compare<typename X::non_const_value_type, typename X::memory_space>(x, ref);
}

// ------------------------------------------------------------------- the methods --

enum class Method { tiled, flash_atomic, flash_separate, standard };
constexpr std::array<Method, 4> all_methods = {Method::tiled, Method::flash_atomic, Method::flash_separate,
                                               Method::standard};
char const* method_name(Method m) {
  return m == Method::tiled          ? "tiled_backward"
         : m == Method::flash_atomic ? "flash_backward(atomic)"
         : m == Method::standard     ? "standard_backward(blas)"
                                     : "flash_backward(separate)";
}

template <class T>
struct Grads {
  Dev4<T> dQ, dK, dV;
};

// Runs one backward with O, L given (the forward's outputs). The gradients start as NaN so any
// entry a kernel fails to write shows.
template <class T>
Grads<T> run_backward(Method m, Case const& c, Problem<T> const& p, Dev4<T> O, Dev3<T> L) {
  const auto s = c.shape();
  Grads<T> g{Dev4<T>("dQ", s.B, s.H, s.N, s.D), Dev4<T>("dK", s.B, s.H, s.N_kv, s.D),
             Dev4<T>("dV", s.B, s.H, s.N_kv, s.D)};
  const T nan = std::numeric_limits<T>::quiet_NaN();
  Kokkos::deep_copy(g.dQ, nan);
  Kokkos::deep_copy(g.dK, nan);
  Kokkos::deep_copy(g.dV, nan);
  Exec space;
  if (m == Method::standard)  // no tiles: P and dS as [B,H,N,N_kv] buffers
    na::standard_backward(space, s, p.Q, p.K, p.V, O, p.dO, g.dQ, g.dK, g.dV);
  else if (m == Method::tiled)
    na::tiled_backward(space, s, c.tiles, p.Q, p.K, p.V, O, p.dO, g.dQ, g.dK, g.dV);
  else
    na::flash_backward(space, s, c.tiles, m == Method::flash_atomic ? na::FlashBwdDq::atomic : na::FlashBwdDq::separate,
                       p.Q, p.K, p.V, O, L, p.dO, g.dQ, g.dK, g.dV);
  space.fence();
  return g;
}

// ------------------------------------------------------------------ the reference --

std::vector<Case> reference_cases() {
  return {{1, 1, 1, 1, 16, false, {}},  {2, 3, 17, 17, 8, false, {}}, {2, 3, 17, 17, 8, true, {}},
          {1, 2, 13, 29, 16, true, {}}, {1, 2, 29, 13, 16, true, {}}, {1, 1, 40, 33, 64, false, {}}};
}

TEST(AttentionReference, MatchesPlainLoopsInFp64) {
  for (Case const& c : reference_cases()) {
    SCOPED_TRACE(c.str());
    auto p = make_problem<double>(c, 11);
    auto ref = reference_of(p);
    ASSERT_TRUE(ref.has_gradients);
    auto naive = naive_attention<double>(c.shape(), p.Q, p.K, p.V, p.dO);
    // Both in fp64: differences are rounding, c_model u sqrt(n) of the magnitude.
    const double n = c.D + std::max(c.N, c.N_kv);
    auto check = [&](char const* name, na::ErrorNorms e, double g) {
      SCOPED_TRACE(name);
      EXPECT_LE(e.max_abs, c_model * unit_roundoff<double> * std::sqrt(n) * std::max(g, 1.0));
    };
    check("O", err(naive.O, ref.O), max_abs(ref.O));
    check("L", err(naive.L, ref.L), max_abs(ref.L));
    const double g = std::max({max_abs(ref.dQ), max_abs(ref.dK), max_abs(ref.dV)});
    check("dQ", err(naive.dQ, ref.dQ), g);
    check("dK", err(naive.dK, ref.dK), g);
    check("dV", err(naive.dV, ref.dV), g);

    // The forward-only entry point computes the same O and L, and no gradients.
    auto fwd = na::reference_forward<double, Mem>(c.shape(), p.Q, p.K, p.V);
    EXPECT_FALSE(fwd.has_gradients);
    EXPECT_EQ(fwd.dQ.size(), 0u);
    EXPECT_EQ(err(fwd.O, ref.O).max_abs, 0.0);
    EXPECT_EQ(err(fwd.L, ref.L).max_abs, 0.0);
  }
}

TEST(AttentionReference, FullyMaskedRowsAndErrorNorms) {
  // N > N_kv causal: rows 0..4 see no key.
  Case c{1, 2, 9, 4, 8, true, {}};
  auto p = make_problem<double>(c, 5);
  auto ref = reference_of(p);
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(ref.L(0, h, i), -std::numeric_limits<double>::infinity());
      for (int d = 0; d < c.D; ++d) {
        EXPECT_EQ(ref.O(0, h, i, d), 0.0);
        EXPECT_EQ(ref.dQ(0, h, i, d), 0.0);
      }
    }
  EXPECT_TRUE(std::isfinite(ref.L(0, 0, 5)));
  // compare: equal infinities are exact; a finite value against -inf is an infinite error.
  auto L = cast_to<Host3<double>>(ref.L);
  EXPECT_EQ(err(L, ref.L).max_abs, 0.0);
  L(0, 0, 0) = 0.0;
  EXPECT_EQ(err(L, ref.L).max_abs, std::numeric_limits<double>::infinity());
  auto O = cast_to<Host4<double>>(ref.O);
  O(0, 1, 8, 3) += 0.5;
  auto e = err(O, ref.O);
  EXPECT_DOUBLE_EQ(e.max_abs, 0.5);
  EXPECT_GT(e.rel_fro, 0.0);
}

// loss = sum(O o dO) from the reference forward in fp64, inputs as host vectors.
double loss_of(na::AttentionShape const& s, std::vector<double> const& q, std::vector<double> const& k,
               std::vector<double> const& v, std::vector<double> const& dO) {
  auto r = na::reference_forward<double, Host>(s, tensor4<double, Host>(q, s.B, s.H, s.N, s.D),
                                               tensor4<double, Host>(k, s.B, s.H, s.N_kv, s.D),
                                               tensor4<double, Host>(v, s.B, s.H, s.N_kv, s.D));
  double l = 0;
  for (std::size_t i = 0; i < dO.size(); ++i) l += r.O.data()[i] * dO[i];
  return l;
}

// Central differences of loss_of w.r.t. every entry of Q, K, V against the analytic gradients
// grad(which, index). Step h = 1e-5: truncation h^2/6 |f'''| plus rounding u |loss| / h, both
// ~1e-10 here (observed max 1.1e-10); tolerance 1e-8 (relative to max(1, |g|)).
template <class GradAt>
void check_finite_differences(Case const& c, GradAt&& grad_at) {
  const auto s = c.shape();
  const std::size_t nq = std::size_t(c.B) * c.H * c.N * c.D, nk = std::size_t(c.B) * c.H * c.N_kv * c.D;
  std::array<std::vector<double>, 3> x = {normal_values(nq, 21), normal_values(nk, 22), normal_values(nk, 23)};
  const auto dO = normal_values(nq, 24);
  constexpr double h = 1e-5, tol = 1e-8;
  auto grads = grad_at(x[0], x[1], x[2], dO);  // std::array<std::vector<double>, 3>: dQ, dK, dV
  char const* names[3] = {"dQ", "dK", "dV"};
  for (int w = 0; w < 3; ++w)
    for (std::size_t n = 0; n < x[w].size(); ++n) {
      auto xp = x, xm = x;
      xp[w][n] += h;
      xm[w][n] -= h;
      const double fd = (loss_of(s, xp[0], xp[1], xp[2], dO) - loss_of(s, xm[0], xm[1], xm[2], dO)) / (2 * h);
      const double g = grads[w][n];
      EXPECT_NEAR(g, fd, tol * std::max(1.0, std::abs(g))) << names[w] << "[" << n << "]";
    }
}

std::vector<double> host_doubles(Dev4<double> const& x) {
  auto h = Kokkos::create_mirror_view_and_copy(Host(), x);
  return std::vector<double>(h.data(), h.data() + h.span());
}

TEST(AttentionReference, FiniteDifferences) {
  for (bool causal : {false, true}) {
    Case c{1, 2, 5, 7, 4, causal, {}};
    SCOPED_TRACE(c.str());
    check_finite_differences(c, [&](auto const& q, auto const& k, auto const& v, auto const& dO) {
      auto s = c.shape();
      auto r = na::reference_attention<double, Host>(
          s, tensor4<double, Host>(q, s.B, s.H, s.N, s.D), tensor4<double, Host>(k, s.B, s.H, s.N_kv, s.D),
          tensor4<double, Host>(v, s.B, s.H, s.N_kv, s.D), tensor4<double, Host>(dO, s.B, s.H, s.N, s.D));
      auto vec = [](Host4<double> const& t) { return std::vector<double>(t.data(), t.data() + t.span()); };
      return std::array<std::vector<double>, 3>{vec(r.dQ), vec(r.dK), vec(r.dV)};
    });
  }
}

// ------------------------------------------------------------------ the backwards --

TEST(AttentionBackward, FiniteDifferencesFp64) {
  for (Method m : all_methods)
    for (bool causal : {false, true}) {
      Case c{1, 2, 5, 7, 4, causal, {2, 3}};  // several partial tiles, some masked
      SCOPED_TRACE(std::string(method_name(m)) + " " + c.str());
      check_finite_differences(c, [&](auto const& q, auto const& k, auto const& v, auto const& dO) {
        auto s = c.shape();
        Problem<double> p{c, tensor4<double>(q, s.B, s.H, s.N, s.D), tensor4<double>(k, s.B, s.H, s.N_kv, s.D),
                          tensor4<double>(v, s.B, s.H, s.N_kv, s.D), tensor4<double>(dO, s.B, s.H, s.N, s.D)};
        auto ref = na::reference_forward<double, Mem>(s, p.Q, p.K, p.V);
        auto g = run_backward<double>(m, c, p, cast_to<Dev4<double>>(ref.O), cast_to<Dev3<double>>(ref.L));
        return std::array<std::vector<double>, 3>{host_doubles(g.dQ), host_doubles(g.dK), host_doubles(g.dV)};
      });
    }
}

// N in {1, 3, 113} (not tile multiples), N_kv equal and not, D in {16, 64, 128}, causal or not;
// tile sizes cycle through small, odd and the default (fp64 D = 128 at 64 x 64 exceeds the
// host's 32 KiB level-0 scratch: level 1 is used).
std::vector<Case> backward_cases() {
  const na::TileSizes tiles[] = {{16, 32}, {32, 16}, {7, 5}, {64, 64}};
  std::vector<Case> cases;
  int t = 0;
  for (int N : {1, 3, 113}) {
    std::vector<int> nkv = N == 1   ? std::vector<int>{1, 7}
                           : N == 3 ? std::vector<int>{3, 50}
                                    : std::vector<int>{113, 77, 200};
    for (int N_kv : nkv)
      for (int D : {16, 64, 128})
        for (bool causal : {false, true}) cases.push_back({2, 2, N, N_kv, D, causal, tiles[t++ % 4]});
  }
  return cases;
}

template <class T>
class AttentionBackwardTyped : public ::testing::Test {};
using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(AttentionBackwardTyped, Precisions);

// Every method on every case against the fp64 reference under both bounds (header comment);
// prints the worst error of each method over the cases.
template <class T>
void check_against_reference(std::vector<Case> const& cases, char const* label) {
  constexpr double u = unit_roundoff<T>;
  // Worst over the grid, in units of u sqrt(n) g: the error, and its excess over 2x naive.
  double worst_model[all_methods.size()] = {}, worst_excess[all_methods.size()] = {};
  unsigned seed = 100;
  for (Case const& c : cases) {
    auto p = make_problem<T>(c, seed += 7);
    auto ref = reference_of(p);
    auto naive = naive_attention<T>(c.shape(), p.Q, p.K, p.V, p.dO);
    const auto O = cast_to<Dev4<T>>(ref.O);
    const auto L = cast_to<Dev3<T>>(ref.L);
    const double unit = u * std::sqrt(double(c.D + std::max(c.N, c.N_kv))) *
                        std::max({max_abs(ref.dQ), max_abs(ref.dK), max_abs(ref.dV)});
    for (Method m : all_methods) {
      SCOPED_TRACE(std::string(method_name(m)) + " " + c.str());
      auto g = run_backward<T>(m, c, p, O, L);
      const int mi = int(m);
      auto check = [&](char const* name, Dev4<T> const& x, Host4<T> const& x_naive, Host4<double> const& r) {
        SCOPED_TRACE(name);
        const double e = err(x, r).max_abs, e_naive = err(x_naive, r).max_abs;
        EXPECT_LE(e, c_model * unit);
        EXPECT_LE(e, 2 * e_naive + c_atol * unit) << "naive error " << e_naive;
        if (unit > 0) {
          worst_model[mi] = std::max(worst_model[mi], e / unit);
          worst_excess[mi] = std::max(worst_excess[mi], (e - 2 * e_naive) / unit);
        }
      };
      check("dQ", g.dQ, naive.dQ, ref.dQ);
      check("dK", g.dK, naive.dK, ref.dK);
      check("dV", g.dV, naive.dV, ref.dV);
    }
  }
  for (Method m : all_methods)
    std::printf("  %s %s %-25s worst error %.2f u sqrt(n) g (bound %.1f), excess over 2x naive %.2f (atol %.1f)\n",
                label, std::is_same_v<T, float> ? "fp32" : "fp64", method_name(m), worst_model[int(m)], c_model,
                worst_excess[int(m)], c_atol);
}

TYPED_TEST(AttentionBackwardTyped, MatchesReference) { check_against_reference<TypeParam>(backward_cases(), "grid"); }

// The tiles of the register-tiled GPU backward (fp32, D = 64 / 128: 32 x 64 and 64 x 32), which
// select it on a GPU (the generic kernel elsewhere): lengths around and across its tiles, ragged
// tails, N_kv != N both ways, rows that see no key (causal, N > N_kv), several heads and batches.
TEST(AttentionBackward, GpuKernelTilesMatchReferenceFp32) {
  std::vector<Case> cases;
  for (int D : {64, 128})
    for (auto [N, N_kv] : {std::pair{1, 1}, {1, 77}, {3, 50}, {31, 33}, {113, 113}, {113, 77}, {77, 200}, {300, 257}})
      for (bool causal : {false, true}) cases.push_back({2, 3, N, N_kv, D, causal, na::flash_bwd_gpu_tiles(D)});
  check_against_reference<float>(cases, "gpu-tiles");
}

TYPED_TEST(AttentionBackwardTyped, FullyMaskedRowsHaveZeroGradients) {
  using T = TypeParam;
  // Causal with N - N_kv = 6: query rows 0..5 see no key (L = -inf); their dO must not leak.
  Case c{1, 2, 10, 4, 16, true, {4, 3}};
  auto p = make_problem<T>(c, 3);
  auto ref = reference_of(p);
  for (Method m : all_methods) {
    SCOPED_TRACE(method_name(m));
    auto g = run_backward<T>(m, c, p, cast_to<Dev4<T>>(ref.O), cast_to<Dev3<T>>(ref.L));
    auto dQ = Kokkos::create_mirror_view_and_copy(Host(), g.dQ);
    for (int h = 0; h < c.H; ++h)
      for (int i = 0; i < 6; ++i)
        for (int d = 0; d < c.D; ++d) ASSERT_EQ(dQ(0, h, i, d), T(0)) << "h=" << h << " i=" << i;
    const double tol = c_model * unit_roundoff<T> * std::sqrt(c.D + c.N) *
                       std::max({max_abs(ref.dQ), max_abs(ref.dK), max_abs(ref.dV)});
    EXPECT_LE(err(g.dQ, ref.dQ).max_abs, tol);
    EXPECT_LE(err(g.dK, ref.dK).max_abs, tol);
    EXPECT_LE(err(g.dV, ref.dV).max_abs, tol);
  }
}

TYPED_TEST(AttentionBackwardTyped, SeparateDqIsBitwiseReproducible) {
  using T = TypeParam;
  for (auto [causal, tiles] : {std::pair{false, na::TileSizes{16, 32}}, {true, na::TileSizes{16, 32}},
                                {false, na::flash_bwd_gpu_tiles(64)}, {true, na::flash_bwd_gpu_tiles(64)}}) {
    Case c{2, 3, 113, 77, 64, causal, tiles};
    SCOPED_TRACE(c.str());
    auto p = make_problem<T>(c, 9);
    auto ref = reference_of(p);
    const auto O = cast_to<Dev4<T>>(ref.O);
    const auto L = cast_to<Dev3<T>>(ref.L);
    auto g1 = run_backward<T>(Method::flash_separate, c, p, O, L);
    auto g2 = run_backward<T>(Method::flash_separate, c, p, O, L);
    auto same = [](Dev4<T> const& a, Dev4<T> const& b) {
      auto ha = Kokkos::create_mirror_view_and_copy(Host(), a), hb = Kokkos::create_mirror_view_and_copy(Host(), b);
      return std::memcmp(ha.data(), hb.data(), ha.span() * sizeof(T)) == 0;
    };
    EXPECT_TRUE(same(g1.dQ, g2.dQ));
    EXPECT_TRUE(same(g1.dK, g2.dK));
    EXPECT_TRUE(same(g1.dV, g2.dV));
  }
}

TEST(AttentionBackward, RejectsBadArguments) {
  Case c{1, 1, 8, 8, 64, false, {4, 4}};
  auto p = make_problem<double>(c, 1);
  auto ref = reference_of(p);
  auto O = cast_to<Dev4<double>>(ref.O);
  auto L = cast_to<Dev3<double>>(ref.L);
  // D = 2^17 in fp64: even 4-row tiles (4 MiB each) exceed every backend's team scratch.
  Case huge{1, 1, 8, 8, 1 << 17, false, {4, 4}};
  auto ph = make_problem<double>(huge, 2);
  auto refh = na::reference_forward<double, Mem>(huge.shape(), ph.Q, ph.K, ph.V);
  auto Oh = cast_to<Dev4<double>>(refh.O);
  auto Lh = cast_to<Dev3<double>>(refh.L);
  for (Method m : all_methods) {
    SCOPED_TRACE(method_name(m));
    Case bad = c;
    bad.N_kv = 9;  // K, V have 8 rows
    EXPECT_THROW(run_backward<double>(m, bad, p, O, L), std::invalid_argument);
    if (m == Method::standard) continue;  // no tiles, no team scratch
    bad = c;
    bad.tiles = {-1, 4};
    EXPECT_THROW(run_backward<double>(m, bad, p, O, L), std::invalid_argument);
    try {
      run_backward<double>(m, huge, ph, Oh, Lh);
      ADD_FAILURE() << "no exception for tiles that do not fit in team scratch";
    } catch (std::invalid_argument const& e) {
      EXPECT_NE(std::string(e.what()).find("team scratch"), std::string::npos) << e.what();
    }
  }
}

TEST(AttentionBackward, DefaultSpaceOverloadsAndEmptyShapes) {
  // The overloads without an execution space, and N = 0 / N_kv = 0 (no keys: zero gradients).
  for (auto [N, N_kv] : {std::pair{5, 0}, std::pair{0, 5}, std::pair{6, 5}}) {
    Case c{1, 2, N, N_kv, 16, true, {4, 4}};
    SCOPED_TRACE(c.str());
    auto p = make_problem<double>(c, 2);
    auto ref = reference_of(p);
    auto O = cast_to<Dev4<double>>(ref.O);
    auto L = cast_to<Dev3<double>>(ref.L);
    Dev4<double> dQ("dQ", c.B, c.H, c.N, c.D), dK("dK", c.B, c.H, c.N_kv, c.D), dV("dV", c.B, c.H, c.N_kv, c.D);
    const auto s = c.shape();
    na::tiled_backward(s, c.tiles, p.Q, p.K, p.V, O, p.dO, dQ, dK, dV);
    Kokkos::fence();
    EXPECT_LE(err(dQ, ref.dQ).max_abs, 1e-13);
    EXPECT_LE(err(dK, ref.dK).max_abs, 1e-13);
    na::flash_backward(s, c.tiles, na::FlashBwdDq::separate, p.Q, p.K, p.V, O, L, p.dO, dQ, dK, dV);
    Kokkos::fence();
    EXPECT_LE(err(dQ, ref.dQ).max_abs, 1e-13);
    EXPECT_LE(err(dV, ref.dV).max_abs, 1e-13);
  }
}

}  // namespace
