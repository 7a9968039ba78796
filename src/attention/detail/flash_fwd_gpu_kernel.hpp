// SPDX-License-Identifier: MIT
// Kernel body of flash_forward on a GPU for fp32 at D = 64 and 128: register-tiled like a SIMT
// GEMM. The generic kernel (flash_fwd_kernel.hpp) computes a 4 x 1 block per lane and pays about
// one shared-memory load per FMA; here each of the 128 threads of a team keeps an 8 x 4 block of
// S and an 8 x D/16 block of O in registers, so two 16-byte loads of Q and one of K (broadcasts
// within a row group) feed 32 FMAs.
//
// Shared memory is what Kokkos 4.6 gives a CUDA team (40,936 bytes, no opt-in to Hopper's
// 227 KiB), so Q, K and V are streamed through two small stages in chunks of 16 (columns of Q/K,
// rows of V), the next chunk prefetched into registers while the current one is multiplied;
// P^T goes through shared memory between the two GEMMs. The row max needs the 16 threads that
// share a row: their partial maxima meet in a small shared table (portable: no warp shuffles).
// The 16 steps of each product are unrolled in full (nvcc unrolls them only partly by itself), so
// the loads of a step can be scheduled ahead of the FMAs of the steps before it
// (docs/native-attention-kernels.md has the measured effect).
//
// Team of 128 threads, thread t: row group rg = t / 16 owns query rows 8 rg .. 8 rg + 7 of the
// 64-row tile; cg = t % 16 owns S columns 4 cg .. 4 cg + 3 (one float4 of the staged K^T per
// step, where columns cg + 16 j would take four scalar loads and 1.5x the shared-memory
// wavefronts) and O columns 4 cg .. 4 cg + 3 (+ 64 at D = 128).
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/fwd_exp2.hpp"
#include "attention/detail/gpu_tile_io.hpp"
#include "attention/online_softmax.hpp"
#include "attention/tile_size.hpp"

#include "core/kokkos_ext/compat.hpp"

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace numlab::attention::detail {

template <class ExecSpace, class Mem, int D>
struct FlashFwdGpuKernel {
  static_assert(D == 64 || D == 128, "register-tiled flash forward: D is 64 or 128");
  using G = FlashFwdGpuGeometry;
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  static constexpr int Br = G::Br, Bc = G::Bc, NT = G::threads, KC = G::chunk, LD = G::ld;
  static constexpr int OC = D / 16;        // O columns per thread
  static constexpr int OV = OC / 4;        // ... as float4s: 1 (D = 64) or 2 (D = 128)
  static constexpr int VPT = KC * D / 4 / NT;  // float4s of a V chunk per thread
  using Io = GpuTileIo<NT, D>;

  AttentionShape shape;
  int Tr = 0;        // query tiles per head
  float scale_log2;  // softmax scale * log2(e)
  Tensor4<const float, Mem> Q, K, V;
  Tensor4<float, Mem> O;
  Tensor3<float, Mem> L;  // may be empty

  // One 16-byte aligned block (the float4 accesses need it; Kokkos aligns scratch views to 8).
  static constexpr int NS = G::stages;
  KOKKOS_INLINE_FUNCTION static constexpr std::size_t scratch_floats() {
    return NS * G::stage_floats(D) + G::pt_floats() + G::red_floats();
  }
  KOKKOS_INLINE_FUNCTION static constexpr std::size_t scratch_bytes() { return scratch_floats() * sizeof(float) + 16; }

  KOKKOS_FUNCTION void operator()(member_type const& member) const {
    int const t = member.team_rank();
    int const rg = t / 16, cg = t % 16;
    int const bh = member.league_rank() / Tr, tile = member.league_rank() % Tr;
    int const b = bh / shape.H, h = bh % shape.H;
    int const q0 = tile * Br;
    int const q_len = q0 + Br <= shape.N ? Br : shape.N - q0;
    float const* const Qbh = Q.data() + std::size_t(bh) * shape.N * D;
    float const* const Kbh = K.data() + std::size_t(bh) * shape.N_kv * D;
    float const* const Vbh = V.data() + std::size_t(bh) * shape.N_kv * D;

    float* const stage = static_cast<float*>(member.team_scratch(0).get_shmem_aligned(scratch_floats() * sizeof(float), 16));
    float* const Pt = stage + NS * G::stage_floats(D);  // offsets are multiples of 4 floats
    float* const red = Pt + G::pt_floats();
    // Chunk g of the team's sequence (Q^T and K^T chunks [KC][LD] each, or a V chunk [KC][D])
    // goes to stage g % NS. One stage: a barrier before each fill. Two: the fill of chunk g + 1
    // cannot meet a thread still reading chunk g - 1, which every thread finished before the
    // barrier of chunk g.
    int g = 0;
    auto stage_of = [&](int i) { return stage + (i % NS) * G::stage_floats(D); };

    float o[8][OC];
    float m[8], l[8];  // running max (log2 units) and this thread's partial row sum
    for (int i = 0; i < 8; ++i) {
      m[i] = negative_infinity<float>();
      l[i] = 0.f;
      for (int c = 0; c < OC; ++c) o[i][c] = 0.f;
    }

    // Causal: K/V tiles past the last key of the tile's last row are skipped.
    int const kv_end = imin_(shape.N_kv, shape.last_key(q0 + q_len - 1) + 1);
    int const n_tiles = kv_end > 0 ? (kv_end + Bc - 1) / Bc : 0;

    for (int kt = 0; kt < n_tiles; ++kt) {
      int const k0 = kt * Bc;
      int const kv_len = k0 + Bc <= shape.N_kv ? Bc : shape.N_kv - k0;

      // S (8 x 4 per thread) = Q K^T, raw q . k, streamed over D in chunks of 16.
      float s[8][4];
      for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 4; ++j) s[i][j] = 0.f;
      Float4 qr[2], kr[2];
      Io::template fetch_cols<Br>(Qbh, q0, q_len, 0, t, qr);
      Io::template fetch_cols<Bc>(Kbh, k0, kv_len, 0, t, kr);
      for (int c0 = 0; c0 < D; c0 += KC, ++g) {
        float* const Qs = stage_of(g);
        float* const Ks = Qs + KC * LD;
        if (NS == 1) member.team_barrier();  // the stage (and, first time, P^T) is free
        Io::template store_cols_transposed<Br, LD>(qr, t, Qs);
        Io::template store_cols_transposed<Bc, LD>(kr, t, Ks);
        member.team_barrier();
        if (c0 + KC < D) {  // the next chunk travels while this one is multiplied
          Io::template fetch_cols<Br>(Qbh, q0, q_len, c0 + KC, t, qr);
          Io::template fetch_cols<Bc>(Kbh, k0, kv_len, c0 + KC, t, kr);
        }
        NUMLAB_FLASH_FWD_GPU_UNROLL_K
        for (int k = 0; k < KC; ++k) {
          Float4 const a0 = *reinterpret_cast<Float4 const*>(Qs + k * LD + 8 * rg);
          Float4 const a1 = *reinterpret_cast<Float4 const*>(Qs + k * LD + 8 * rg + 4);
          Float4 const bv = *reinterpret_cast<Float4 const*>(Ks + k * LD + 4 * cg);
          for (int j = 0; j < 4; ++j) {
            for (int i = 0; i < 4; ++i) s[i][j] += a0.v[i] * bv.v[j];
            for (int i = 0; i < 4; ++i) s[i + 4][j] += a1.v[i] * bv.v[j];
          }
        }
      }

      // Online softmax. Masked (past N_kv, above the causal diagonal, padding rows): -inf.
      float mt[8];
      for (int i = 0; i < 8; ++i) {
        int const q = q0 + 8 * rg + i;
        int const last = q < shape.N ? imin_(shape.last_key(q), shape.N_kv - 1) : -1;
        mt[i] = negative_infinity<float>();
        for (int j = 0; j < 4; ++j) {
          int const key = k0 + 4 * cg + j;
          s[i][j] = key <= last ? s[i][j] * scale_log2 : negative_infinity<float>();
          mt[i] = mt[i] > s[i][j] ? mt[i] : s[i][j];
        }
        red[(8 * rg + i) * 16 + cg] = mt[i];
      }
      member.team_barrier();
      for (int i = 0; i < 8; ++i) {
        float const* row = red + (8 * rg + i) * 16;
        float tm = m[i];
        for (int c = 0; c < 16; c += 4) {
          Float4 const x = *reinterpret_cast<Float4 const*>(row + c);
          for (int u = 0; u < 4; ++u) tm = tm > x.v[u] ? tm : x.v[u];
        }
        float const m_safe = safe_max(tm);  // a row that has seen no key: P = 0
        float const alpha = numlab::kx::exp2(m[i] - m_safe);  // MUFU.EX2 (<= 2 ulp), not fast_exp2's polynomial
        m[i] = tm;
        float sum = 0.f;
        for (int j = 0; j < 4; ++j) {
          s[i][j] = numlab::kx::exp2(s[i][j] - m_safe);
          sum += s[i][j];
        }
        l[i] = alpha * l[i] + sum;
        for (int c = 0; c < OC; ++c) o[i][c] *= alpha;
      }
      for (int j = 0; j < 4; ++j) {
        float* dst = Pt + (4 * cg + j) * LD + 8 * rg;
        *reinterpret_cast<Float4*>(dst) = Float4{{s[0][j], s[1][j], s[2][j], s[3][j]}};
        *reinterpret_cast<Float4*>(dst + 4) = Float4{{s[4][j], s[5][j], s[6][j], s[7][j]}};
      }

      // O (8 x D/16 per thread) += P V, streamed over the tile's keys in chunks of 16.
      Float4 vr[VPT];
      Io::template fetch_rows<KC>(Vbh, k0, kv_len, t, vr);
      for (int kc = 0; kc < Bc; kc += KC, ++g) {
        float* const Vs = stage_of(g);
        if (NS == 1) member.team_barrier();  // the stage is free
        Io::template store_rows<KC>(vr, t, Vs);
        member.team_barrier();  // (and P^T written)
        if (kc + KC < Bc) Io::template fetch_rows<KC>(Vbh, k0 + kc + KC, kv_len - kc - KC, t, vr);
        NUMLAB_FLASH_FWD_GPU_UNROLL_K
        for (int k = 0; k < KC; ++k) {
          Float4 const p0 = *reinterpret_cast<Float4 const*>(Pt + (kc + k) * LD + 8 * rg);
          Float4 const p1 = *reinterpret_cast<Float4 const*>(Pt + (kc + k) * LD + 8 * rg + 4);
          for (int ov = 0; ov < OV; ++ov) {
            Float4 const v = *reinterpret_cast<Float4 const*>(Vs + k * D + 64 * ov + 4 * cg);
            for (int u = 0; u < 4; ++u) {
              for (int i = 0; i < 4; ++i) o[i][4 * ov + u] += p0.v[i] * v.v[u];
              for (int i = 0; i < 4; ++i) o[i + 4][4 * ov + u] += p1.v[i] * v.v[u];
            }
          }
        }
      }
    }

    // Row sums of the 16 threads of a row meet in the table; O = O~ / l, L = m ln 2 + ln l.
    member.team_barrier();
    for (int i = 0; i < 8; ++i) red[(8 * rg + i) * 16 + cg] = l[i];
    member.team_barrier();
    bool const store_L = L.size() > 0;
    for (int i = 0; i < 8; ++i) {
      int const q = q0 + 8 * rg + i;
      if (q >= shape.N) break;
      float lt = 0.f;
      for (int c = 0; c < 16; ++c) lt += red[(8 * rg + i) * 16 + c];
      float const inv = lt > 0.f ? 1.f / lt : 0.f;  // a row that saw no key: O = 0
      float* out = O.data() + (std::size_t(bh) * shape.N + q) * D;
      for (int ov = 0; ov < OV; ++ov)
        *reinterpret_cast<Float4*>(out + 64 * ov + 4 * cg) =
            Float4{{o[i][4 * ov] * inv, o[i][4 * ov + 1] * inv, o[i][4 * ov + 2] * inv, o[i][4 * ov + 3] * inv}};
      if (store_L && cg == 0)
        L(b, h, q) = lt > 0.f ? m[i] * ln2_v<float> + numlab::kx::log(lt) : negative_infinity<float>();
    }
  }

 private:
  KOKKOS_INLINE_FUNCTION static int imin_(int a, int b) { return a < b ? a : b; }
};

template <class ExecSpace, class Mem, int D>
void launch_flash_fwd_gpu(ExecSpace const& space, AttentionShape const& shape, Tensor4<const float, Mem> Q,
                          Tensor4<const float, Mem> K, Tensor4<const float, Mem> V, Tensor4<float, Mem> O,
                          Tensor3<float, Mem> L) {
  using Kernel = FlashFwdGpuKernel<ExecSpace, Mem, D>;
  using G = FlashFwdGpuGeometry;
  int const Tr = (shape.N + G::Br - 1) / G::Br;
  int const league = shape.B * shape.H * Tr;
  if (league == 0) return;
  Kokkos::Profiling::pushRegion("numlab::attention::flash_forward");
  // 128 threads with up to 170 registers each at three teams per SM, 255 at two (D = 128).
  using Bounds = Kokkos::LaunchBounds<G::threads, G::min_teams_per_sm(D)>;
  Kokkos::TeamPolicy<ExecSpace, Bounds> policy(space, league, G::threads, 1);
  policy.set_scratch_size(0, Kokkos::PerTeam(Kernel::scratch_bytes()));
  Kokkos::parallel_for("numlab::attention::flash_fwd_gpu", policy,
                       Kernel{shape, Tr, softmax_scale_log2<float>(shape.scale()), Q, K, V, O, L});
  Kokkos::Profiling::popRegion();
}

}  // namespace numlab::attention::detail
