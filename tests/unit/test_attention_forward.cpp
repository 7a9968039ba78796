// SPDX-License-Identifier: MIT
// Forward attention kernels (standard, tiled, flash), the online softmax and the vectorisable
// exp2, against an independent naive reference written here with plain loops (fp64 for the
// fp32 kernels, long double for the fp64 ones).
//
// Error model (tolerances are not magic numbers). With inputs rounded to T and the reference
// computed from those rounded values in higher precision, the error of O comes from the scores
// (each q . k * scale has an absolute error of about eps * sum_d |q_d k_d| * scale ~ eps sqrt(D)
// for unit-variance inputs, which exp turns into a relative error of P), from the row sums and
// the P V sums (~ eps sqrt(N_kv) relative, random-walk rounding) and from exp itself (~ eps):
//     rel_fro(O)   <= c_O eps(T) (sqrt(D) + sqrt(N_kv)),
//     |L - L_ref|  <= c_L eps(T) (sqrt(D) + sqrt(N_kv) + |L_ref|),
// with c_O = 1, c_L = 2: about 5x the largest errors measured over the cases below (0.21 and
// 0.39 in these units, in both precisions and all three methods). On top, the lab rule of the
// official FlashAttention tests: every method's error is at most 2x the error of standard
// attention computed in the same precision, plus eps(T) where standard attention happens to be
// exact (N_kv = 1), and for L plus 4 ulp of L itself (L = m_i ln 2 + ln l_i is assembled from
// terms of size |L|, each rounded once or twice).
#include "attention/detail/fwd_exp2.hpp"
#include "attention/flash_attention.hpp"
#include "attention/online_softmax.hpp"
#include "attention/standard_attention.hpp"
#include "attention/standard_blas.hpp"
#include "attention/tile_size.hpp"
#include "attention/tiled_attention.hpp"

#include <gtest/gtest.h>
#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace {

namespace na = numlab::attention;
using Exec = Kokkos::DefaultExecutionSpace;
using Mem = Exec::memory_space;
using na::AttentionShape;
using na::TileSizes;

constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double c_O = 1.0;
constexpr double c_L = 2.0;

template <class T>
constexpr double eps_v = std::numeric_limits<T>::epsilon();

std::size_t idx4(AttentionShape const& s, int b, int h, int i, int d, int rows) {
  return ((std::size_t(b) * s.H + h) * rows + i) * std::size_t(s.D) + d;
}

// Inputs of one problem: device Views in T and the same (rounded) values in fp64 on the host.
template <class T>
struct Problem {
  AttentionShape s;
  na::Tensor4<T, Mem> Q, K, V;
  std::vector<double> q, k, v;

  Problem(AttentionShape shape, unsigned seed, double input_scale = 1.0) : s(shape) {
    std::mt19937_64 gen(seed);
    std::normal_distribution<double> dist(0.0, 1.0);
    auto make = [&](std::string const& label, int rows, std::vector<double>& host) {
      na::Tensor4<T, Mem> d(label, s.B, s.H, rows, s.D);
      auto m = Kokkos::create_mirror_view(d);
      host.resize(m.size());
      for (int b = 0; b < s.B; ++b)
        for (int h = 0; h < s.H; ++h)
          for (int i = 0; i < rows; ++i)
            for (int e = 0; e < s.D; ++e) {
              T const x = T(input_scale * dist(gen));
              m(b, h, i, e) = x;
              host[idx4(s, b, h, i, e, rows)] = double(x);
            }
      Kokkos::deep_copy(d, m);
      return d;
    };
    Q = make("Q", s.N, q);
    K = make("K", s.N_kv, k);
    V = make("V", s.N_kv, v);
  }
};

struct Outputs {
  std::vector<double> O, L;
};

// Naive attention in precision Ref, plain loops: for each row the visible keys j <=
// last_key(i), a stable softmax (max subtracted) and the weighted sum of V rows. Ref = double for
// the fp32 kernels; for the fp64 kernels long double (x87 extended on x86-64: 11 more bits), so
// that their reference is more precise than they are, as the lab rule presumes.
template <class Ref>
Outputs reference(AttentionShape const& s, std::vector<double> const& q, std::vector<double> const& k,
                  std::vector<double> const& v) {
  Outputs r;
  r.O.assign(std::size_t(s.B) * s.H * s.N * s.D, 0.0);
  r.L.assign(std::size_t(s.B) * s.H * s.N, -inf);
  Ref const scale = Ref(1) / std::sqrt(Ref(s.D));
  std::vector<Ref> p(std::max(s.N_kv, 1));
  for (int b = 0; b < s.B; ++b)
    for (int h = 0; h < s.H; ++h)
      for (int i = 0; i < s.N; ++i) {
        int const n = std::clamp(s.causal ? i + (s.N_kv - s.N) + 1 : s.N_kv, 0, s.N_kv);
        if (n == 0) continue;  // no visible key: O = 0, L = -inf
        Ref m = -std::numeric_limits<Ref>::infinity();
        for (int j = 0; j < n; ++j) {
          Ref dot = 0;
          for (int e = 0; e < s.D; ++e) dot += Ref(q[idx4(s, b, h, i, e, s.N)]) * Ref(k[idx4(s, b, h, j, e, s.N_kv)]);
          p[j] = dot * scale;
          m = std::max(m, p[j]);
        }
        Ref sum = 0;
        for (int j = 0; j < n; ++j) sum += (p[j] = std::exp(p[j] - m));
        for (int e = 0; e < s.D; ++e) {
          Ref o = 0;
          for (int j = 0; j < n; ++j) o += p[j] * Ref(v[idx4(s, b, h, j, e, s.N_kv)]);
          r.O[idx4(s, b, h, i, e, s.N)] = double(o / sum);
        }
        r.L[(std::size_t(b) * s.H + h) * s.N + i] = double(m + std::log(sum));
      }
  return r;
}

template <class T>
Outputs reference(Problem<T> const& p) {
  using Ref = std::conditional_t<std::is_same_v<T, float>, double, long double>;
  return reference<Ref>(p.s, p.q, p.k, p.v);
}

enum class Method { standard, tiled, flash, standard_blas };
char const* name(Method m) {
  return m == Method::standard ? "standard" : m == Method::tiled ? "tiled" : m == Method::flash ? "flash" : "standard_blas";
}

template <class T>
Outputs run(Method method, Problem<T> const& p, TileSizes tiles, bool with_L = true) {
  AttentionShape const& s = p.s;
  na::Tensor4<T, Mem> O("O", s.B, s.H, s.N, s.D);
  na::Tensor3<T, Mem> L;
  if (with_L) L = na::Tensor3<T, Mem>("L", s.B, s.H, s.N);
  Exec space;
  switch (method) {
    case Method::standard:
      na::standard_forward<Exec, T, Mem>(space, s, p.Q, p.K, p.V, O, L);
      break;
    case Method::tiled:
      na::tiled_forward<Exec, T, Mem>(space, s, tiles, p.Q, p.K, p.V, O, L);
      break;
    case Method::flash:
      na::flash_forward<Exec, T, Mem>(space, s, tiles, p.Q, p.K, p.V, O, L);
      break;
    case Method::standard_blas:
      na::standard_forward_blas<Exec, T, Mem>(space, s, p.Q, p.K, p.V, O, L);
      break;
  }
  space.fence();
  Outputs r;
  auto Oh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), O);
  r.O.assign(Oh.data(), Oh.data() + Oh.size());
  if (with_L) {
    auto Lh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), L);
    r.L.assign(Lh.data(), Lh.data() + Lh.size());
  }
  return r;
}

struct Errors {
  double O_rel_fro = 0;          // ||O - O_ref||_F / ||O_ref||_F (absolute when O_ref = 0)
  double L_max_abs = 0;          // over rows with finite L_ref
  double L_ref_max = 0;          // max |L_ref| over those rows
  bool all_finite = true;        // O and the finite-L rows
  bool empty_rows_exact = true;  // rows with L_ref = -inf: O == 0 and L == -inf exactly
};

Errors compare(AttentionShape const& s, Outputs const& got, Outputs const& ref) {
  Errors e;
  double num = 0, den = 0;
  for (std::size_t i = 0; i < ref.O.size(); ++i) {
    e.all_finite = e.all_finite && std::isfinite(got.O[i]);
    num += (got.O[i] - ref.O[i]) * (got.O[i] - ref.O[i]);
    den += ref.O[i] * ref.O[i];
  }
  e.O_rel_fro = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  for (std::size_t row = 0; row < ref.L.size(); ++row) {
    if (std::isinf(ref.L[row])) {
      bool zero = true;
      for (int d = 0; d < s.D; ++d) zero = zero && got.O[row * s.D + d] == 0.0;
      e.empty_rows_exact = e.empty_rows_exact && zero && (got.L.empty() || got.L[row] == -inf);
    } else if (!got.L.empty()) {
      e.all_finite = e.all_finite && std::isfinite(got.L[row]);
      e.L_max_abs = std::max(e.L_max_abs, std::abs(got.L[row] - ref.L[row]));
      e.L_ref_max = std::max(e.L_ref_max, std::abs(ref.L[row]));
    }
  }
  return e;
}

std::string describe(AttentionShape const& s, TileSizes t) {
  return "B=" + std::to_string(s.B) + " H=" + std::to_string(s.H) + " N=" + std::to_string(s.N) +
         " N_kv=" + std::to_string(s.N_kv) + " D=" + std::to_string(s.D) + (s.causal ? " causal" : "") +
         " tiles=" + std::to_string(t.tile_q) + "x" + std::to_string(t.tile_k);
}

AttentionShape shape(int B, int H, int N, int N_kv, int D, bool causal) {
  AttentionShape s;
  s.B = B;
  s.H = H;
  s.N = N;
  s.N_kv = N_kv;
  s.D = D;
  s.causal = causal;
  return s;
}

template <class T>
class AttentionForward : public ::testing::Test {};
using Precisions = ::testing::Types<float, double>;
TYPED_TEST_SUITE(AttentionForward, Precisions);

// Every method against the high-precision reference on awkward lengths (1, 3, 113, 239), N_kv = N, > N and < N,
// D in {16, 64, 128}, causal and not, square, skinny and odd tiles (7 x 5 exercises the padding
// of the register blocks).
TYPED_TEST(AttentionForward, MatchesReference) {
  using T = TypeParam;
  double const eps = eps_v<T>;
  std::vector<AttentionShape> const shapes = {
      shape(1, 1, 1, 1, 16, false),     shape(1, 2, 3, 3, 16, false),      shape(2, 2, 113, 113, 64, false),
      shape(1, 2, 239, 239, 64, false), shape(1, 1, 113, 239, 128, false), shape(1, 2, 239, 113, 64, false),
      shape(2, 1, 3, 239, 16, false),   shape(1, 1, 239, 1, 16, false),    shape(1, 1, 1, 113, 128, false)};
  std::vector<TileSizes> const tile_list = {{64, 64}, {32, 16}, {16, 64}, {7, 5}, {128, 128}};
  unsigned seed = 1;
  for (bool causal : {false, true})
    for (AttentionShape s : shapes) {
      s.causal = causal;
      Problem<T> const p(s, seed++);
      Outputs const ref = reference(p);
      double const tol_O = c_O * eps * (std::sqrt(double(s.D)) + std::sqrt(double(s.N_kv)));
      auto tol_L = [&](Errors const& e) {
        return c_L * eps * (std::sqrt(double(s.D)) + std::sqrt(double(s.N_kv)) + e.L_ref_max);
      };
      Errors const std_err = compare(s, run(Method::standard, p, {}), ref);
      SCOPED_TRACE(describe(s, {}));
      EXPECT_TRUE(std_err.all_finite && std_err.empty_rows_exact);
      EXPECT_LE(std_err.O_rel_fro, tol_O);
      EXPECT_LE(std_err.L_max_abs, tol_L(std_err));
      for (TileSizes t : tile_list)
        for (Method m : {Method::tiled, Method::flash}) {
          SCOPED_TRACE(std::string(name(m)) + " " + describe(s, t));
          Errors const e = compare(s, run(m, p, t), ref);
          EXPECT_TRUE(e.all_finite);
          EXPECT_TRUE(e.empty_rows_exact) << "rows that see no key must give O = 0, L = -inf";
          EXPECT_LE(e.O_rel_fro, tol_O);
          EXPECT_LE(e.L_max_abs, tol_L(e));
          // Lab rule: at most 2x standard attention's error in the same precision.
          EXPECT_LE(e.O_rel_fro, 2 * std_err.O_rel_fro + eps);
          EXPECT_LE(e.L_max_abs, 2 * std_err.L_max_abs + 4 * eps * (1 + e.L_ref_max));
        }
    }
}

// The BLAS standard (the method's default kernel) against the reference under the same error
// model, within 2x of the team-tiled standard's error (the lab rule, with that kernel as the
// naive version), and against the team-tiled one directly: two computations of the same
// materialised attention in T differ by at most their two rounding errors.
TYPED_TEST(AttentionForward, BlasStandardMatchesTeamTiledAndReference) {
  using T = TypeParam;
  double const eps = eps_v<T>;
  unsigned seed = 900;
  for (bool causal : {false, true})
    for (AttentionShape s : {shape(1, 1, 1, 1, 16, false), shape(2, 3, 113, 113, 64, false),
                             shape(1, 2, 239, 113, 64, false), shape(1, 1, 113, 239, 128, false),
                             shape(2, 1, 3, 239, 16, false), shape(1, 1, 239, 1, 16, false)}) {
      s.causal = causal;
      Problem<T> const p(s, seed++);
      Outputs const ref = reference(p);
      SCOPED_TRACE(describe(s, {}));
      double const tol_O = c_O * eps * (std::sqrt(double(s.D)) + std::sqrt(double(s.N_kv)));
      Outputs const team = run(Method::standard, p, {}), blas = run(Method::standard_blas, p, {});
      Errors const e_team = compare(s, team, ref), e_blas = compare(s, blas, ref);
      EXPECT_TRUE(e_blas.all_finite && e_blas.empty_rows_exact);
      EXPECT_LE(e_blas.O_rel_fro, tol_O);
      EXPECT_LE(e_blas.L_max_abs, c_L * eps * (std::sqrt(double(s.D)) + std::sqrt(double(s.N_kv)) + e_blas.L_ref_max));
      EXPECT_LE(e_blas.O_rel_fro, 2 * e_team.O_rel_fro + eps);
      Errors const e_direct = compare(s, blas, team);  // team as the reference
      EXPECT_LE(e_direct.O_rel_fro, e_team.O_rel_fro + e_blas.O_rel_fro + eps);
      EXPECT_LE(e_direct.L_max_abs, e_team.L_max_abs + e_blas.L_max_abs + 4 * eps * (1 + e_blas.L_ref_max));
      if (s.N_kv > 1) {
        EXPECT_GT(e_blas.O_rel_fro + e_team.O_rel_fro, 0.0);  // the fp64 check is not vacuous
      }
    }
}

// The default tiles of each backend (on a GPU, fp32 at D = 64 / 128: the register-tiled kernel
// with its fixed 64 x 64 geometry) on lengths that are not tile multiples, N_kv != N, causal
// rows without keys, against the reference and the 2x-standard rule.
TYPED_TEST(AttentionForward, DefaultTilesMatchReference) {
  using T = TypeParam;
  double const eps = eps_v<T>;
  unsigned seed = 500;
  for (int D : {64, 128})
    for (bool causal : {false, true})
      for (auto [N, N_kv] : {std::pair{113, 113}, std::pair{239, 97}, std::pair{65, 300}, std::pair{1, 64}}) {
        AttentionShape const s = shape(2, 3, N, N_kv, D, causal);
        Problem<T> const p(s, seed++);
        Outputs const ref = reference(p);
        TileSizes const t = na::default_forward_tiles<Exec, T>(D);
        SCOPED_TRACE(describe(s, t));
        Errors const std_err = compare(s, run(Method::standard, p, {}), ref);
        Errors const e = compare(s, run(Method::flash, p, t), ref);
        EXPECT_TRUE(e.all_finite);
        EXPECT_TRUE(e.empty_rows_exact);
        EXPECT_LE(e.O_rel_fro, c_O * eps * (std::sqrt(double(D)) + std::sqrt(double(N_kv))));
        EXPECT_LE(e.O_rel_fro, 2 * std_err.O_rel_fro + eps);
        EXPECT_LE(e.L_max_abs, 2 * std_err.L_max_abs + 4 * eps * (1 + e.L_ref_max));
      }
}

// The log-sum-exp output is optional: an empty L View is accepted and O is unchanged.
TYPED_TEST(AttentionForward, EmptyLogSumExpView) {
  using T = TypeParam;
  AttentionShape const s = shape(1, 2, 113, 97, 64, true);
  Problem<T> const p(s, 77);
  for (Method m : {Method::standard, Method::tiled, Method::flash, Method::standard_blas}) {
    SCOPED_TRACE(name(m));
    Outputs const with = run(m, p, {32, 32}, true);
    Outputs const without = run(m, p, {32, 32}, false);
    EXPECT_EQ(with.O, without.O);
  }
}

// Scores ~1e4 (Q and K scaled by 35): exp of a raw score overflows in both precisions, the
// max-subtracted softmax must stay finite and match the fp64 reference (computed stably).
// The scores' own rounding now dominates (absolute error ~ eps * |s|), so the bound scales
// with the score magnitude; the 2x-standard rule applies unchanged.
TYPED_TEST(AttentionForward, LargeScoresStayFinite) {
  using T = TypeParam;
  double const eps = eps_v<T>;
  for (bool causal : {false, true}) {
    AttentionShape const s = shape(1, 2, 113, 239, 64, causal);
    Problem<T> const p(s, 5, 35.0);
    Outputs const ref = reference(p);
    double smax = 0;
    for (std::size_t i = 0; i < ref.L.size(); ++i) smax = std::max(smax, std::abs(ref.L[i]));
    ASSERT_GT(smax, 1000.0);  // the regime where exp(score) overflows
    ASSERT_TRUE(std::isinf(std::exp(T(smax))));
    Errors const std_err = compare(s, run(Method::standard, p, {}), ref);
    for (Method m : {Method::standard, Method::tiled, Method::flash, Method::standard_blas}) {
      SCOPED_TRACE(std::string(name(m)) + (causal ? " causal" : ""));
      Errors const e = compare(s, run(m, p, {64, 32}), ref);
      EXPECT_TRUE(e.all_finite);
      EXPECT_LE(e.O_rel_fro, c_O * eps * smax * std::sqrt(double(s.D)));
      EXPECT_LE(e.L_max_abs, c_L * eps * smax * std::sqrt(double(s.D)));
      EXPECT_LE(e.O_rel_fro, 2 * std_err.O_rel_fro + eps);
    }
  }
}

// Bottom-right causal mask with N > N_kv: the first N - N_kv rows see no key and must give
// O = 0 and L = -inf exactly (no NaN from a fully masked row), in every method and tiling.
TYPED_TEST(AttentionForward, CausalRowsWithoutKeys) {
  using T = TypeParam;
  for (AttentionShape s : {shape(1, 2, 239, 113, 16, true), shape(2, 1, 113, 3, 64, true), shape(1, 1, 3, 1, 16, true),
                           shape(1, 1, 5, 0, 16, false)}) {
    Problem<T> const p(s, 11);
    Outputs const ref = reference(p);
    int const empty_rows = s.causal ? std::max(0, s.N - s.N_kv) : (s.N_kv == 0 ? s.N : 0);
    ASSERT_GT(empty_rows, 0);
    for (Method m : {Method::standard, Method::tiled, Method::flash, Method::standard_blas})
      for (TileSizes t : {TileSizes{64, 64}, TileSizes{16, 8}, TileSizes{5, 3}}) {
        SCOPED_TRACE(std::string(name(m)) + " " + describe(s, t));
        Outputs const got = run(m, p, t);
        Errors const e = compare(s, got, ref);
        EXPECT_TRUE(e.empty_rows_exact);
        EXPECT_TRUE(e.all_finite);
        EXPECT_EQ(got.L[0], -inf);  // row 0 sees nothing in all of these shapes
        EXPECT_LE(e.O_rel_fro, c_O * eps_v<T> * (std::sqrt(double(s.D)) + std::sqrt(double(s.N_kv))));
      }
  }
}

// Tiles that do not fit the team scratch are refused with a message naming the function, the
// tiles, the bytes needed and the bytes offered; non-positive tiles and wrong extents too.
TEST(AttentionForwardApi, RejectsTilesAndExtents) {
  AttentionShape const s = shape(1, 1, 8, 8, 128, false);
  Problem<float> const p(s, 3);
  na::Tensor4<float, Mem> O("O", 1, 1, 8, 128);
  na::Tensor3<float, Mem> L("L", 1, 1, 8);
  Exec space;
  std::size_t const offered = na::forward_scratch_capacity<Exec>();
  // Square tiles whose scratch buffers need more than the backend offers.
  auto too_big = [&](auto tag) {
    int t = 64;
    while (na::detail::scratch_bytes<Exec, float>(tag, na::detail::shape_plan<Exec, float>(s, {t, t})) <= offered)
      t *= 2;
    return t;
  };
  int const big = too_big(na::FlashFwdTag{});
  int const big_tiled = too_big(na::TiledFwdTag{});
  try {
    na::flash_forward<Exec, float, Mem>(space, s, {big, big}, p.Q, p.K, p.V, O, L);
    FAIL() << "expected std::invalid_argument";
  } catch (std::invalid_argument const& e) {
    std::string const msg = e.what();
    std::string const tiles = "tile_q=" + std::to_string(big) + ", tile_k=" + std::to_string(big) + ", D=128 need ";
    EXPECT_NE(msg.find("numlab::attention::flash_forward"), std::string::npos) << msg;
    EXPECT_NE(msg.find(tiles), std::string::npos) << msg;
    EXPECT_NE(msg.find("bytes of team scratch; the backend offers " + std::to_string(offered)), std::string::npos)
        << msg;
  }
  EXPECT_THROW((na::tiled_forward<Exec, float, Mem>(space, s, {big_tiled, big_tiled}, p.Q, p.K, p.V, O, L)),
               std::invalid_argument);
  EXPECT_THROW((na::flash_forward<Exec, float, Mem>(space, s, {-1, 64}, p.Q, p.K, p.V, O, L)), std::invalid_argument);
  na::Tensor4<float, Mem> O_bad("O", 1, 1, 7, 128);
  try {
    na::standard_forward<Exec, float, Mem>(space, s, p.Q, p.K, p.V, O_bad, L);
    FAIL() << "expected std::invalid_argument";
  } catch (std::invalid_argument const& e) {
    EXPECT_NE(std::string(e.what()).find("numlab::attention::standard_forward: O is [1,1,7,128]"), std::string::npos)
        << e.what();
  }
  na::Tensor3<float, Mem> L_bad("L", 1, 1, 9);
  EXPECT_THROW((na::tiled_forward<Exec, float, Mem>(space, s, {}, p.Q, p.K, p.V, O, L_bad)), std::invalid_argument);
}

// The default tiles are accepted for the head dims of the lab and the CUDA path.
TEST(AttentionForwardApi, DefaultTilesFit) {
  for (int D : {16, 64, 128, 256}) {
    AttentionShape const s = shape(1, 1, 4096, 4096, D, false);
    EXPECT_NO_THROW(
        (na::plan_forward_tiles<Exec, float>(na::FlashFwdTag{}, s, na::default_forward_tiles<Exec, float>(D))));
    EXPECT_NO_THROW((na::plan_forward_tiles<Exec, double>(
        na::TiledFwdTag{}, s, na::default_forward_tiles<Exec, double>(D, na::TiledFwdTag{}))));
    EXPECT_NO_THROW((na::plan_forward_tiles<Exec, double>(
        na::StandardFwdTag{}, s, na::default_forward_tiles<Exec, double>(D, na::StandardFwdTag{}))));
  }
}

// fast_exp2 / fast_exp against std::exp2 / std::exp: within 2 ulp for every result above the
// flush threshold 2^(min_exponent) (twice the smallest normal), exactly 0 below it and for -inf,
// +inf at and above the overflow threshold, NaN for NaN. fast_exp's argument rounding
// (x * log2 e) adds |x log2 e| * eps relative error, as for any exp built on exp2; its bound
// includes that term.
template <class T>
void check_exp(std::vector<T> const& xs) {
  double const eps = eps_v<T>;
  double const flush = std::numeric_limits<T>::min_exponent;  // -125 (fp32), -1021 (fp64)
  double const log2e = 1.4426950408889634;
  for (T x : xs) {
    T const got2 = na::detail::fast_exp2(x);
    T const want2 = std::exp2(x);
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(got2) && std::isnan(na::detail::fast_exp(x))) << x;
    } else if (x < flush) {
      EXPECT_EQ(got2, T(0)) << "x=" << x;
    } else if (std::isinf(want2)) {
      EXPECT_TRUE(std::isinf(got2) && got2 > 0) << "x=" << x;
    } else {
      EXPECT_LE(std::abs(double(got2) - double(want2)), 2 * eps * double(want2)) << "x=" << x;
    }
    double const x2 = double(x) * log2e;
    T const got = na::detail::fast_exp(x);
    T const want = std::exp(x);
    if (!std::isnan(x) && x2 > flush + 1 && !std::isinf(want)) {
      EXPECT_LE(std::abs(double(got) - double(want)), (2 + std::abs(x2)) * eps * double(want)) << "x=" << x;
    }
  }
  EXPECT_EQ(na::detail::fast_exp2(-std::numeric_limits<T>::infinity()), T(0));
  EXPECT_EQ(na::detail::fast_exp(-std::numeric_limits<T>::infinity()), T(0));
  EXPECT_EQ(na::detail::fast_exp2(std::numeric_limits<T>::infinity()), std::numeric_limits<T>::infinity());
  EXPECT_EQ(na::detail::fast_exp2(T(0)), T(1));
  EXPECT_EQ(na::detail::fast_exp2(T(-1)), T(0.5));
  EXPECT_EQ(na::detail::fast_exp2(T(10)), T(1024));
}

TYPED_TEST(AttentionForward, FastExpMatchesStd) {
  using T = TypeParam;
  constexpr int emin = std::numeric_limits<T>::min_exponent, emax = std::numeric_limits<T>::max_exponent;
  std::vector<T> xs = {T(0),
                       T(-0.0),
                       T(1e-30),
                       T(-1e-30),
                       T(0.5),
                       T(-0.5),
                       T(-1e4),
                       T(-1e30),
                       T(1e30),
                       std::numeric_limits<T>::quiet_NaN(),
                       std::numeric_limits<T>::infinity(),
                       -std::numeric_limits<T>::infinity(),
                       -std::numeric_limits<T>::max(),
                       std::numeric_limits<T>::max(),
                       T(emin),
                       T(emin - 0.5),
                       T(emax - 0.5),
                       T(emax - 0.01),
                       T(emax)};
  std::mt19937 gen(42);
  double const lo = std::numeric_limits<T>::min_exponent - 3, hi = std::numeric_limits<T>::max_exponent + 1;
  std::uniform_real_distribution<double> wide(lo, hi), near(-2.0, 2.0);
  for (int i = 0; i < 200000; ++i) xs.push_back(T(wide(gen)));
  for (int i = 0; i < 50000; ++i) xs.push_back(T(near(gen)));
  for (int n = int(lo); n < int(hi); ++n) xs.push_back(T(n));  // exact powers of two, and their edges
  check_exp(xs);
}

// The order-preserving integer key behind the host row max: monotone over the whole range
// (including -inf, +-0, subnormals, +inf) and an involution back to the same value.
TYPED_TEST(AttentionForward, OrderedKeyPreservesOrder) {
  using T = TypeParam;
  using lim = std::numeric_limits<T>;
  std::vector<T> xs = {-lim::infinity(), -lim::max(), T(-1e4),           T(-1),      -lim::min(), -lim::denorm_min(),
                       T(-0.0),          T(0),        lim::denorm_min(), lim::min(), T(1e-3),     T(1),
                       T(1e4),           lim::max(),  lim::infinity()};
  for (std::size_t i = 0; i < xs.size(); ++i) {
    EXPECT_EQ(na::detail::from_ordered_key<T>(na::detail::ordered_key(xs[i])), xs[i]) << xs[i];
    EXPECT_EQ(std::signbit(na::detail::from_ordered_key<T>(na::detail::ordered_key(xs[i]))), std::signbit(xs[i]));
    if (i > 0) {
      EXPECT_LT(na::detail::ordered_key(xs[i - 1]), na::detail::ordered_key(xs[i])) << xs[i - 1] << " " << xs[i];
    }
  }
}

// The online softmax written once: folding a row in tiles (with a fully masked block in the
// middle and a row that sees nothing) gives the plain softmax of the whole row, with no NaN.
// A functor, not a KOKKOS_LAMBDA: CUDA forbids extended lambdas in gtest's private TestBody.
template <class T>
struct OnlineSoftmaxProbe {
  static constexpr int R = 4, n = 24, tile = 8;
  using Policy = Kokkos::TeamPolicy<Exec>;
  Kokkos::View<T[R][n], Kokkos::LayoutRight, Mem> S, P;  // row-major scores / probabilities
  Kokkos::View<T[R], Mem> lse;
  Kokkos::View<int[R], Mem> visible;  // visible prefix of each row
  T scale_log2;

  KOKKOS_FUNCTION void operator()(typename Policy::member_type const& member) const {
    T* panel = static_cast<T*>(member.team_scratch(0).get_shmem(tile * R * sizeof(T)));
    na::OnlineSoftmax<T, R> sm;
    T acc[R][n] = {};  // the "accumulator": P of every tile, rescaled like O~
    for (int j0 = 0; j0 < n; j0 += tile) {
      int nv[R];
      for (int r = 0; r < R; ++r) nv[r] = visible(r) - j0 < 0 ? 0 : (visible(r) - j0 > tile ? tile : visible(r) - j0);
      for (int c = 0; c < tile; ++c)
        for (int r = 0; r < R; ++r) panel[c * R + r] = S(r, j0 + c);
      T alpha[R];
      sm.rescale(member, panel, tile, nv, scale_log2, alpha);
      for (int r = 0; r < R; ++r) {
        for (int c = 0; c < j0; ++c) acc[r][c] *= alpha[r];
        for (int c = 0; c < tile; ++c) acc[r][j0 + c] = panel[c * R + r];
      }
    }
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < n; ++c) P(r, c) = acc[r][c] * sm.inv_l(r);
      lse(r) = sm.finalize(r, scale_log2);
    }
  }
};

TYPED_TEST(AttentionForward, OnlineSoftmaxMatchesPlainSoftmax) {
  using T = TypeParam;
  using Probe = OnlineSoftmaxProbe<T>;
  constexpr int R = Probe::R, n = Probe::n;
  Probe probe;
  probe.S = decltype(probe.S)("S");
  probe.P = decltype(probe.P)("P");
  probe.lse = decltype(probe.lse)("lse");
  probe.visible = decltype(probe.visible)("visible");
  probe.scale_log2 = na::softmax_scale_log2<T>(0.7);
  auto Sh = Kokkos::create_mirror_view(probe.S);
  std::mt19937 gen(9);
  std::normal_distribution<double> dist(0.0, 3.0);
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < n; ++j) Sh(r, j) = T(dist(gen));
  Kokkos::deep_copy(probe.S, Sh);
  int const visible[R] = {n, 13, 3, 0};  // full row, 13 keys, 3 keys, none
  auto vis_h = Kokkos::create_mirror_view(probe.visible);
  for (int r = 0; r < R; ++r) vis_h(r) = visible[r];
  Kokkos::deep_copy(probe.visible, vis_h);
  Kokkos::parallel_for(
      "test::online_softmax",
      typename Probe::Policy(1, 1, 1).set_scratch_size(0, Kokkos::PerTeam(Probe::tile * R * sizeof(T) + 64)), probe);
  auto const& P = probe.P;
  auto const& lse = probe.lse;
  auto Ph = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), P);
  auto lse_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), lse);
  double const scale = 0.7, eps = eps_v<T>;
  for (int r = 0; r < R; ++r) {
    SCOPED_TRACE("row " + std::to_string(r));
    if (visible[r] == 0) {
      EXPECT_EQ(lse_h(r), -inf);
      for (int c = 0; c < n; ++c) EXPECT_EQ(Ph(r, c), T(0));
      continue;
    }
    double m = -inf, sum = 0;
    for (int c = 0; c < visible[r]; ++c) m = std::max(m, scale * double(Sh(r, c)));
    for (int c = 0; c < visible[r]; ++c) sum += std::exp(scale * double(Sh(r, c)) - m);
    EXPECT_NEAR(lse_h(r), m + std::log(sum), 8 * eps * (std::abs(m) + std::log(sum) + 1));
    for (int c = 0; c < n; ++c) {
      double const want = c < visible[r] ? std::exp(scale * double(Sh(r, c)) - m) / sum : 0.0;
      EXPECT_NEAR(Ph(r, c), want, 8 * eps * (std::abs(m) + 1) * (want + eps)) << "c=" << c;
    }
  }
}

}  // namespace
