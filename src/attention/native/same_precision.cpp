// SPDX-License-Identifier: MIT
#include "attention/native/same_precision.hpp"

#include "cuda/host_parallel.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace numlab::attention::native {

namespace {

// fp32 -> the dtype, as fp32 (exact): RNE on the bits for the target's normal range,
// round_to_format for the rest (zero, the target's subnormals, overflow, NaN). Equal to
// round_to_format(double(x)) for every float, only faster (it runs N N_kv times per head).
class Rounder {
 public:
  explicit Rounder(cuda::DType t)
      : f_(cuda::format_of(t)),
        min_normal_(std::ldexp(1.0f, f_.min_exponent)),
        max_finite_(float(std::ldexp(2.0 - std::ldexp(1.0, -f_.mantissa_bits), f_.max_exponent))),
        shift_(23 - f_.mantissa_bits) {}

  float operator()(float x) const {
    if (shift_ == 0) return x;  // fp32: every float is already of the dtype
    const float a = std::fabs(x);
    if (!(a >= min_normal_) || !(a <= std::numeric_limits<float>::max()))
      return float(cuda::round_to_format(double(x), f_));
    std::uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    u += (1u << (shift_ - 1)) - 1u + ((u >> shift_) & 1u);  // ties to even; a carry bumps the exponent
    u &= ~((1u << shift_) - 1u);
    float r;
    std::memcpy(&r, &u, sizeof r);
    return std::fabs(r) > max_finite_ ? std::copysign(std::numeric_limits<float>::infinity(), x) : r;
  }

 private:
  cuda::LowPrecisionFormat f_;
  float min_normal_, max_finite_;
  int shift_;
};

}  // namespace

SamePrecisionResult standard_same_precision(AttentionShape const& s, cuda::DType dtype, double const* Q,
                                            double const* K, double const* V, double const* dO) {
  const Rounder rnd(dtype);
  const int N = s.N, Nk = s.N_kv, D = s.D;
  const bool backward = dO != nullptr;
  const float scale = float(s.scale());  // the kernels' fp32 softmax scale
  constexpr float neg_inf = -std::numeric_limits<float>::infinity();
  const std::size_t heads = std::size_t(s.B) * std::size_t(s.H);
  const std::size_t nq = std::size_t(N) * D, nkv = std::size_t(Nk) * D, nS = std::size_t(N) * Nk;

  SamePrecisionResult r;
  r.O.assign(heads * nq, 0.0);
  r.L.assign(heads * std::size_t(N), double(neg_inf));
  if (backward) {
    r.dQ.assign(heads * nq, 0.0);
    r.dK.assign(heads * nkv, 0.0);
    r.dV.assign(heads * nkv, 0.0);
  }
  // One head at a time; every buffer fp32.
  std::vector<float> q(nq), k(nkv), v(nkv), kT(nkv), vT(nkv), o(nq), P(nS);  // P: softmax(S), [N, N_kv]
  std::vector<float> dout(backward ? nq : 0), dS(backward ? nS : 0), dq(backward ? nq : 0), dk(backward ? nkv : 0),
      dv(backward ? nkv : 0);
  auto visible = [&](int i) { return std::min(std::max(s.last_key(i) + 1, 0), Nk); };  // keys row i sees

  for (std::size_t bh = 0; bh < heads; ++bh) {
    double const* Qh = Q + bh * nq;
    double const* Kh = K + bh * nkv;
    double const* Vh = V + bh * nkv;
    for (std::size_t n = 0; n < nq; ++n) q[n] = float(Qh[n]);
    for (int j = 0; j < Nk; ++j)
      for (int d = 0; d < D; ++d) {
        const std::size_t jd = std::size_t(j) * D + d, dj = std::size_t(d) * Nk + j;
        kT[dj] = k[jd] = float(Kh[jd]);
        vT[dj] = v[jd] = float(Vh[jd]);
      }

    // Forward, one query row per task: S row (fp32), softmax, O = round(round(P) V).
    cuda::parallel_rows(N, [&](int i) {
      float* p = &P[std::size_t(i) * Nk];
      float* oi = &o[std::size_t(i) * D];
      std::fill(p, p + Nk, 0.0f);
      std::fill(oi, oi + D, 0.0f);
      const int n = visible(i);
      if (n == 0) return;  // no key: P = 0, O = 0, L = -inf
      for (int d = 0; d < D; ++d) {
        const float qd = q[std::size_t(i) * D + d];
        float const* kt = &kT[std::size_t(d) * Nk];
        for (int j = 0; j < n; ++j) p[j] += qd * kt[j];
      }
      float m = neg_inf;
      for (int j = 0; j < n; ++j) m = std::max(m, p[j] *= scale);
      float l = 0.0f;
      for (int j = 0; j < n; ++j) l += (p[j] = std::exp(p[j] - m));
      for (int j = 0; j < n; ++j) p[j] /= l;
      r.L[bh * std::size_t(N) + std::size_t(i)] = double(m + std::log(l));
      for (int j = 0; j < n; ++j) {
        const float pj = rnd(p[j]);
        if (pj == 0.0f) continue;
        float const* vj = &v[std::size_t(j) * D];
        for (int d = 0; d < D; ++d) oi[d] += pj * vj[d];
      }
      for (int d = 0; d < D; ++d) r.O[bh * nq + std::size_t(i) * D + d] = double(oi[d] = rnd(oi[d]));
    });
    if (!backward) continue;

    double const* dOh = dO + bh * nq;
    for (std::size_t n = 0; n < nq; ++n) dout[n] = float(dOh[n]);
    // Per query row: dP (fp32), D_i, dS = round(P o (dP - D_i)), dQ = round((dS K) scale).
    cuda::parallel_rows(N, [&](int i) {
      float* ds = &dS[std::size_t(i) * Nk];
      float const* p = &P[std::size_t(i) * Nk];
      float const* gi = &dout[std::size_t(i) * D];
      float* dqi = &dq[std::size_t(i) * D];
      std::fill(ds, ds + Nk, 0.0f);
      std::fill(dqi, dqi + D, 0.0f);
      const int n = visible(i);
      float Di = 0.0f;
      for (int d = 0; d < D; ++d) Di += gi[d] * o[std::size_t(i) * D + d];
      for (int d = 0; d < D; ++d) {
        const float g = gi[d];
        float const* vt = &vT[std::size_t(d) * Nk];
        for (int j = 0; j < n; ++j) ds[j] += g * vt[j];
      }
      for (int j = 0; j < n; ++j) {
        ds[j] = rnd(p[j] * (ds[j] - Di));
        if (ds[j] == 0.0f) continue;
        float const* kj = &k[std::size_t(j) * D];
        for (int d = 0; d < D; ++d) dqi[d] += ds[j] * kj[d];
      }
      for (int d = 0; d < D; ++d) r.dQ[bh * nq + std::size_t(i) * D + d] = double(rnd(dqi[d] * scale));
    });
    // Per key: dV = round(round(P)^T dO), dK = round((dS^T Q) scale).
    cuda::parallel_rows(Nk, [&](int j) {
      float* dkj = &dk[std::size_t(j) * D];
      float* dvj = &dv[std::size_t(j) * D];
      std::fill(dkj, dkj + D, 0.0f);
      std::fill(dvj, dvj + D, 0.0f);
      for (int i = 0; i < N; ++i) {
        const float pij = rnd(P[std::size_t(i) * Nk + j]), dsij = dS[std::size_t(i) * Nk + j];
        if (pij != 0.0f) {
          float const* gi = &dout[std::size_t(i) * D];
          for (int d = 0; d < D; ++d) dvj[d] += pij * gi[d];
        }
        if (dsij != 0.0f) {
          float const* qi = &q[std::size_t(i) * D];
          for (int d = 0; d < D; ++d) dkj[d] += dsij * qi[d];
        }
      }
      for (int d = 0; d < D; ++d) {
        r.dV[bh * nkv + std::size_t(j) * D + d] = double(rnd(dvj[d]));
        r.dK[bh * nkv + std::size_t(j) * D + d] = double(rnd(dkj[d] * scale));
      }
    });
  }
  return r;
}

}  // namespace numlab::attention::native
