// SPDX-License-Identifier: MIT
// Kernel harness: the register-tiled fp32 flash forward and backward on the GPU (the kernels of
// attention/detail/flash_{fwd,bwd}_gpu_kernel.hpp) at the bench points of configs/attn_gpu_fp32*
// (B N = 16k tokens, H = 2048 / D), and a check of each against the generic kernels on ragged,
// causal and non-causal shapes. Numbers for kernel work only: numlab's sweeps are the record.
//   bench/kernels/kokkos_fp32_flash/build.sh /tmp/ad && /tmp/ad/fp32_gpu_bench [reps] [all|fwd|check]
// (fwd: time the forward only, to compare forward variants quickly; check: no timing).
// It prints to stdout only.
// On a host-only Kokkos (numlab's build compiles it there too) both sides of the check are the
// generic kernels at different tiles, and the timings are the host's.
#include "attention/flash_attention.hpp"
#include "attention/flash_backward.hpp"

#include <Kokkos_Core.hpp>
#include <Kokkos_Random.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace na = numlab::attention;
using Exec = Kokkos::DefaultExecutionSpace;
using Mem = Exec::memory_space;
using T4 = na::Tensor4<float, Mem>;
using T3 = na::Tensor3<float, Mem>;

namespace {

struct Problem {
  na::AttentionShape s;
  T4 Q, K, V, dO, O, dQ, dK, dV;
  T3 L;
  explicit Problem(na::AttentionShape sh) : s(sh) {
    Q = T4("Q", s.B, s.H, s.N, s.D);
    K = T4("K", s.B, s.H, s.N_kv, s.D);
    V = T4("V", s.B, s.H, s.N_kv, s.D);
    dO = T4("dO", s.B, s.H, s.N, s.D);
    O = T4("O", s.B, s.H, s.N, s.D);
    dQ = T4("dQ", s.B, s.H, s.N, s.D);
    dK = T4("dK", s.B, s.H, s.N_kv, s.D);
    dV = T4("dV", s.B, s.H, s.N_kv, s.D);
    L = T3("L", s.B, s.H, s.N);
    Kokkos::Random_XorShift64_Pool<Exec> pool(12345);
    for (T4* x : {&Q, &K, &V, &dO}) Kokkos::fill_random(*x, pool, -1.f, 1.f);
  }
  void forward(na::TileSizes t) { na::flash_forward<Exec, float, Mem>(Exec{}, s, t, Q, K, V, O, L); }
  void backward(na::TileSizes t) {
    na::flash_backward<Exec, float, Mem>(Exec{}, s, t, na::FlashBwdDq::atomic, Q, K, V, O, L, dO, dQ, dK, dV);
  }
};

template <class F>
double median_seconds(int reps, F&& f) {
  f();
  f();
  Kokkos::fence();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    Kokkos::fence();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// max |a - b| / max |b| over all entries; max |b| floored at 0.1, since some gradients are
// rounding noise (N_kv = 1: softmax of one key, dS = dP - D_i = 0 up to rounding, so dQ = dK ~ 1e-7)
double rel_diff(T4 const& a, T4 const& b) {
  auto ha = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), a);
  auto hb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), b);
  double d = 0, m = 0;
  for (std::size_t i = 0; i < ha.span(); ++i) {
    d = std::max(d, double(std::fabs(ha.data()[i] - hb.data()[i])));
    m = std::max(m, double(std::fabs(hb.data()[i])));
  }
  return d / std::max(m, 0.1);
}

}  // namespace

int main(int argc, char** argv) {
  Kokkos::ScopeGuard guard(argc, argv);
  int const reps = argc > 1 ? std::atoi(argv[1]) : 7;
  std::string const mode = argc > 2 ? argv[2] : "all";
  bool const bwd = mode != "fwd";
  bool ok = true;
  std::printf("check against the generic kernels (max |diff| / max |generic|, fp32):\n");
  for (int D : {64, 128})
    for (auto [N, Nkv, causal] : {std::tuple{1000, 777, false}, {777, 1000, true}, {300, 300, true}, {65, 1, false}}) {
      na::AttentionShape s{2, 3, N, Nkv, D, causal};
      Problem gpu(s), ref(s);
      Kokkos::deep_copy(ref.Q, gpu.Q), Kokkos::deep_copy(ref.K, gpu.K), Kokkos::deep_copy(ref.V, gpu.V);
      Kokkos::deep_copy(ref.dO, gpu.dO);
      gpu.forward({64, 64});
      ref.forward({16, 16});
      Kokkos::deep_copy(ref.O, gpu.O), Kokkos::deep_copy(ref.L, gpu.L);  // the same O, L into both backwards
      gpu.backward(na::flash_bwd_gpu_tiles(D));
      ref.backward(D == 64 ? na::TileSizes{16, 16} : na::TileSizes{16, 8});
      Kokkos::fence();
      Problem ref_fwd(s);  // forward check: a generic forward of its own
      Kokkos::deep_copy(ref_fwd.Q, gpu.Q), Kokkos::deep_copy(ref_fwd.K, gpu.K), Kokkos::deep_copy(ref_fwd.V, gpu.V);
      ref_fwd.forward({16, 16});
      double const eo = rel_diff(gpu.O, ref_fwd.O), eq = rel_diff(gpu.dQ, ref.dQ), ek = rel_diff(gpu.dK, ref.dK),
                   ev = rel_diff(gpu.dV, ref.dV);
      bool const good = eo < 1e-5 && eq < 1e-4 && ek < 1e-4 && ev < 1e-4;
      ok = ok && good;
      std::printf("  D=%3d N=%4d N_kv=%4d %-10s O %.1e dQ %.1e dK %.1e dV %.1e %s\n", D, N, Nkv,
                  causal ? "causal" : "", eo, eq, ek, ev, good ? "ok" : "FAIL");
    }
  if (mode == "check") return ok ? 0 : 1;
  std::printf("\n|   D |     N |  B |  H | fwd ms | fwd TFLOP/s | bwd ms | bwd TFLOP/s |\n|---|---|---|---|---|---|---|---|\n");
  for (int D : {64, 128})
    for (int N : {2048, 4096, 8192, 16384}) {
      na::AttentionShape s{16384 / N, 2048 / D, N, N, D, false};
      Problem p(s);
      double const flops = 4.0 * s.B * s.H * double(N) * N * D;
      double const tf = median_seconds(reps, [&] { p.forward({64, 64}); });
      double const tb = bwd ? median_seconds(reps, [&] { p.backward(na::flash_bwd_gpu_tiles(D)); }) : 0.0;
      std::printf("| %3d | %5d | %2d | %2d | %6.2f | %11.1f | %6.2f | %11.1f |\n", D, N, s.B, s.H, tf * 1e3,
                  flops / tf * 1e-12, tb * 1e3, tb > 0 ? 2.5 * flops / tb * 1e-12 : 0.0);
    }
  return ok ? 0 : 1;
}
