// SPDX-License-Identifier: MIT
// Every tile decision of the Kokkos forward kernels in one place: register block, padded tile
// shapes, team scratch layout and level, team/vector sizes, validation against the backend's
// scratch, and the default tiles.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/fwd_backend.hpp"

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace numlab::attention {

// Forward variants (tag dispatch of the scratch layouts below).
struct StandardFwdTag {};
struct TiledFwdTag {};
struct FlashFwdTag {};

namespace detail {
KOKKOS_INLINE_FUNCTION constexpr int round_up(int n, int m) { return (n + m - 1) / m * m; }
KOKKOS_INLINE_FUNCTION constexpr int ceil_div(int n, int m) { return (n + m - 1) / m; }
}  // namespace detail

namespace detail {
// SIMD register width the host compiler targets, in bytes: the x86-64 baseline (SSE2) 16,
// -mavx/-mavx2 32, -mavx512f 64 (other targets: 16, e.g. NEON).
#if defined(__AVX512F__)
inline constexpr int host_simd_bytes = 64;
#elif defined(__AVX__)
inline constexpr int host_simd_bytes = 32;
#else
inline constexpr int host_simd_bytes = 16;
#endif
}  // namespace detail

// Register block of the tile GEMMs (S = Q K^T and O += P V): one vector lane computes R rows x
// W columns of the product in registers.
//  - host: 4 rows x two SIMD vectors (SSE2: 8 floats / 4 doubles) = 8 accumulator registers of
//    the 16, which gcc -O3 unrolls and vectorises; each loaded K^T/V value feeds 4 rows.
//  - device: 4 rows x 1 column, consecutive lanes on consecutive columns, so the shared memory
//    reads of K^T/V are conflict-free and the Q/P values are broadcasts.
template <class ExecSpace, class T>
struct FwdRegisterBlock {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "attention kernels: T is float or double");
  static constexpr int R = 4;
  static constexpr int W = detail::is_host_exec_v<ExecSpace> ? int(2 * detail::host_simd_bytes / sizeof(T)) : 1;
};

// A validated tile configuration of one forward call: what the launch builds its policy from
// and the kernel carves its scratch from.
struct FwdTilePlan {
  int Br = 0, Bc = 0;             // tile_q, tile_k: rows of a Q tile / of a K,V tile
  int Tr = 0, Tc = 0;             // number of Q tiles (ceil(N / Br)) and K,V tiles (ceil(N_kv / Bc))
  int D = 0;                      // head dim
  int BrP = 0, BcP = 0, DP = 0;   // Br, Bc, D rounded up to the register block (zero padding)
  int ldKt = 0;                   // leading dim of the K^T tile (D, ldKt): BcP, +1 on a GPU (banks)
  int level = 0;                  // team scratch level
  std::size_t scratch_bytes = 0;  // team scratch per team
  int team_size = 1;              // 0: Kokkos::AUTO
  int vector_length = 1;
};

namespace detail {

// Element counts of the team scratch buffers, in carving order (the kernels allocate exactly
// these, in this order; unused slots are 0).
//  flash:    Q (BrP, D) | K^T (D, ldKt) then V (BcP, DP) | S = P (BrP, BcP) | O acc (BrP, DP) |
//            m_i, l_i, alpha (3 BrP)
//  tiled:    Q (BrP, D) | K^T then V | O acc (BrP, DP) | row max, row sum (2 BrP)   (S lives
//            in a global workspace, see tiled_attention.hpp)
//  standard: scores kernel Q (BrP, D) | K^T (D, ldKt) | S (BrP, BcP); P V kernel P (BrP, BcP) |
//            V (BcP, DP) | O acc (BrP, DP); the larger of the two kernels
// (A plain struct, not std::array: the kernels call these in device code.)
struct ScratchCounts {
  std::size_t n[5] = {0, 0, 0, 0, 0};
};

KOKKOS_INLINE_FUNCTION std::size_t kv_buffer_count(FwdTilePlan const& p) {
  // K^T and V of one tile are never needed at the same time: one buffer holds either.
  std::size_t const kt = std::size_t(p.D) * p.ldKt, v = std::size_t(p.BcP) * p.DP;
  return kt > v ? kt : v;
}
KOKKOS_INLINE_FUNCTION ScratchCounts scratch_counts(FlashFwdTag, FwdTilePlan const& p) {
  return {{std::size_t(p.BrP) * p.D, kv_buffer_count(p), std::size_t(p.BrP) * p.BcP, std::size_t(p.BrP) * p.DP,
           3 * std::size_t(p.BrP)}};
}
KOKKOS_INLINE_FUNCTION ScratchCounts scratch_counts(TiledFwdTag, FwdTilePlan const& p) {
  return {{std::size_t(p.BrP) * p.D, kv_buffer_count(p), std::size_t(p.BrP) * p.DP, 2 * std::size_t(p.BrP), 0}};
}
KOKKOS_INLINE_FUNCTION ScratchCounts scratch_counts_scores(FwdTilePlan const& p) {
  return {{std::size_t(p.BrP) * p.D, std::size_t(p.D) * p.ldKt, std::size_t(p.BrP) * p.BcP, 0, 0}};
}
KOKKOS_INLINE_FUNCTION ScratchCounts scratch_counts_pv(FwdTilePlan const& p) {
  return {{std::size_t(p.BrP) * p.BcP, std::size_t(p.BcP) * p.DP, std::size_t(p.BrP) * p.DP, 0, 0}};
}

template <class ExecSpace, class T>
std::size_t scratch_bytes(ScratchCounts const& c) {
  using ScratchVec = Kokkos::View<T*, typename ExecSpace::scratch_memory_space, Kokkos::MemoryUnmanaged>;
  std::size_t bytes = 0;
  for (std::size_t n : c.n)
    if (n > 0) bytes += ScratchVec::shmem_size(n);  // includes the alignment slack of each buffer
  return bytes;
}
template <class ExecSpace, class T>
std::size_t scratch_bytes(FlashFwdTag t, FwdTilePlan const& p) {
  return scratch_bytes<ExecSpace, T>(scratch_counts(t, p));
}
template <class ExecSpace, class T>
std::size_t scratch_bytes(TiledFwdTag t, FwdTilePlan const& p) {
  return scratch_bytes<ExecSpace, T>(scratch_counts(t, p));
}
template <class ExecSpace, class T>
std::size_t scratch_bytes(StandardFwdTag, FwdTilePlan const& p) {
  return std::max(scratch_bytes<ExecSpace, T>(scratch_counts_scores(p)),
                  scratch_bytes<ExecSpace, T>(scratch_counts_pv(p)));
}

constexpr int bit_ceil(int n) {
  int p = 1;
  while (p < n) p *= 2;
  return p;
}

// Tile shapes without the scratch check.
template <class ExecSpace, class T>
FwdTilePlan shape_plan(AttentionShape const& s, TileSizes t) {
  using RB = FwdRegisterBlock<ExecSpace, T>;
  FwdTilePlan p;
  p.Br = t.tile_q;
  p.Bc = t.tile_k;
  p.Tr = ceil_div(s.N, p.Br);
  p.Tc = ceil_div(s.N_kv, p.Bc);
  p.D = s.D;
  p.BrP = round_up(p.Br, RB::R);
  p.BcP = round_up(p.Bc, RB::W);
  p.DP = round_up(s.D, RB::W);
  p.ldKt = is_host_exec_v<ExecSpace> ? p.BcP : p.BcP + 1;
  if constexpr (is_host_exec_v<ExecSpace>) {
    // One thread per team, so the league spreads over all host threads; the compiler
    // vectorises the loops of the single lane.
    p.team_size = 1;
    p.vector_length = 1;
  } else {
    // Vector lanes over the columns of a register block row (up to a warp); Kokkos picks the
    // team size from the scratch and register use.
    p.team_size = 0;
    p.vector_length = std::min(32, bit_ceil(std::max(p.BcP, p.DP) / RB::W));
  }
  return p;
}

constexpr char const* kernel_name(StandardFwdTag) { return "numlab::attention::standard_forward"; }
constexpr char const* kernel_name(TiledFwdTag) { return "numlab::attention::tiled_forward"; }
constexpr char const* kernel_name(FlashFwdTag) { return "numlab::attention::flash_forward"; }

}  // namespace detail

namespace detail {
// Teams per SM the register-tiled GPU flash kernels are compiled for (LaunchBounds: 65536 /
// (128 x this) registers per thread: 170 at 3). The dev harness (bench/kernels/kokkos_fp32_flash) builds variants.
#ifndef NUMLAB_FLASH_GPU_MIN_TEAMS
#define NUMLAB_FLASH_GPU_MIN_TEAMS 3
#endif
inline constexpr unsigned flash_gpu_min_teams_per_sm = NUMLAB_FLASH_GPU_MIN_TEAMS;
// The forward at D = 128 holds an 8 x 8 block of O per thread: at 170 registers it spills, at 2
// teams per SM (255) it does not and runs 5% faster (harness on the H100, unrolled products).
#ifndef NUMLAB_FLASH_FWD_GPU_MIN_TEAMS_D128
#define NUMLAB_FLASH_FWD_GPU_MIN_TEAMS_D128 2
#endif
// Stage buffers of the GPU flash forward: 2 lets a team fill the next chunk while the current
// one is multiplied (one barrier per chunk instead of two; 38,928 bytes of team scratch).
#ifndef NUMLAB_FLASH_FWD_GPU_STAGES
#define NUMLAB_FLASH_FWD_GPU_STAGES 2
#endif
// Full unrolling of the GPU flash forward's 16-step products (device pass only; a host compiler
// would warn about the pragma): nvcc unrolls them partly by itself.
#ifndef NUMLAB_FLASH_FWD_GPU_UNROLL
#define NUMLAB_FLASH_FWD_GPU_UNROLL 1
#endif
#if NUMLAB_FLASH_FWD_GPU_UNROLL && defined(__CUDA_ARCH__)
#define NUMLAB_FLASH_FWD_GPU_UNROLL_K _Pragma("unroll")
#else
#define NUMLAB_FLASH_FWD_GPU_UNROLL_K
#endif

// Fixed geometry of the register-tiled GPU flash forward (fp32, D = 64 or 128;
// flash_fwd_gpu_kernel.hpp): tile_q x tile_k = 64 x 64, the device default for those cases.
struct FlashFwdGpuGeometry {
  static constexpr int Br = 64, Bc = 64;    // query rows per team, keys per K/V tile
  static constexpr int threads = 128;       // 8 row groups x 16 column groups
  static constexpr int chunk = 16;          // Q/K columns (S phase) or V rows (P V phase) per stage
  static constexpr int ld = Br + 4;         // row pitch of the staged Q^T/K^T and of P^T: spreads banks
  static constexpr int stages = NUMLAB_FLASH_FWD_GPU_STAGES;
  static_assert(stages == 1 || stages == 2, "NUMLAB_FLASH_FWD_GPU_STAGES is 1 or 2");
  KOKKOS_INLINE_FUNCTION static constexpr bool supports(int D) { return D == 64 || D == 128; }
  static constexpr unsigned min_teams_per_sm(int D) {
    return D == 128 ? NUMLAB_FLASH_FWD_GPU_MIN_TEAMS_D128 : flash_gpu_min_teams_per_sm;
  }
  // Team scratch in floats: stages x stage (Q^T and K^T chunks, or a V chunk) | P^T | row
  // reduction table.
  KOKKOS_INLINE_FUNCTION static constexpr std::size_t stage_floats(int D) {
    return std::size_t(2 * chunk * ld) > std::size_t(chunk * D) ? std::size_t(2 * chunk * ld) : std::size_t(chunk * D);
  }
  KOKKOS_INLINE_FUNCTION static constexpr std::size_t pt_floats() { return std::size_t(Bc) * ld; }
  KOKKOS_INLINE_FUNCTION static constexpr std::size_t red_floats() { return std::size_t(Br) * 16; }
};

// Fixed geometry of the register-tiled GPU flash backward (fp32, D = 64 or 128;
// flash_bwd_gpu_kernel.hpp): a team of 128 threads owns Bc keys and walks the query tiles of Br
// rows. Bc x D of dK and of dV stay in registers, so D = 128 halves Bc to keep them at 64 per
// thread; Br grows to keep the S^T tile (Bc x Br) at 32 values per thread. The config's
// tile_q x tile_k must equal Br x Bc (32 x 64 at D = 64, 64 x 32 at D = 128) to select it.
template <int D>
struct FlashBwdGpuGeometry {
  static_assert(D == 64 || D == 128, "register-tiled flash backward: D is 64 or 128");
  static constexpr int Bc = D == 64 ? 64 : 32;  // keys per team (rows of dK_j, dV_j)
  static constexpr int Br = D == 64 ? 32 : 64;  // query rows per step
  static constexpr int threads = 128;           // 8 key groups x 16 query/column groups
  static constexpr int chunk = 16;              // columns of D per stage in the S^T, dP^T products
  static constexpr int row_chunk = 1024 / D;    // rows of Q, dO (dK, dV products) or K (dQ) per stage
  static constexpr int ldk = Bc + 4;            // pitch of key-indexed rows: spreads banks, keeps float4 alignment
  static constexpr int ldq = Br + 4;            // pitch of query-indexed rows
  // Team scratch in floats: stage (K^T, V^T, Q^T, dO^T chunks, or row chunks) | P and dS by query
  // row | dS by key.
  KOKKOS_INLINE_FUNCTION static constexpr std::size_t stage_floats() {
    return std::size_t(2 * chunk * (ldk + ldq)) > std::size_t(2 * row_chunk * D) ? std::size_t(2 * chunk * (ldk + ldq))
                                                                                  : std::size_t(2 * row_chunk * D);
  }
  KOKKOS_INLINE_FUNCTION static constexpr std::size_t scratch_floats() {
    return stage_floats() + 2 * std::size_t(Br) * ldk + std::size_t(Bc) * ldq;
  }
};

}  // namespace detail

// The register-tiled GPU flash backward (fp32) exists for these head dims, and runs when the
// backward's tile_q x tile_k equals flash_bwd_gpu_tiles(D) (its Br x Bc).
inline constexpr bool flash_bwd_gpu_supports(int D) { return D == 64 || D == 128; }
inline TileSizes flash_bwd_gpu_tiles(int D) {
  return D == 64 ? TileSizes{detail::FlashBwdGpuGeometry<64>::Br, detail::FlashBwdGpuGeometry<64>::Bc}
                 : TileSizes{detail::FlashBwdGpuGeometry<128>::Br, detail::FlashBwdGpuGeometry<128>::Bc};
}

// Team scratch offered to the forward kernels on ExecSpace: the larger of level 0 (GPU shared
// memory) and level 1. Tiles that fit level 0 run there; larger ones from level 1, which on
// host backends is the same per-thread buffer (level 0 is nominally capped at 32 KiB, "roughly
// L1") and on a GPU global memory: correct but slower, so the device default tiles below always
// fit level 0 where any candidate does (fp64 at D = 256 is the case where none does).
template <class ExecSpace>
std::size_t forward_scratch_capacity() {
  using Policy = Kokkos::TeamPolicy<ExecSpace>;
  return std::size_t(std::max(Policy::scratch_size_max(0), Policy::scratch_size_max(1)));
}

// Validates tiles for one forward call and returns its plan. Throws std::invalid_argument
// naming the kernel when a tile is not positive or the tiles do not fit the team scratch:
// "numlab::attention::flash_forward: tile_q=256, tile_k=256, D=128 need X bytes of team
// scratch; the backend offers Y".
template <class ExecSpace, class T, class Tag>
FwdTilePlan plan_forward_tiles(Tag tag, AttentionShape const& s, TileSizes t) {
  std::string const who = detail::kernel_name(tag);
  if (t.tile_q < 1 || t.tile_k < 1)
    throw std::invalid_argument(who + ": tile_q and tile_k must be >= 1 (got tile_q=" + std::to_string(t.tile_q) +
                                ", tile_k=" + std::to_string(t.tile_k) + ")");
  FwdTilePlan p = detail::shape_plan<ExecSpace, T>(s, t);
  p.scratch_bytes = detail::scratch_bytes<ExecSpace, T>(tag, p);
  using Policy = Kokkos::TeamPolicy<ExecSpace>;
  std::size_t const level0 = std::size_t(Policy::scratch_size_max(0));
  std::size_t const offered = forward_scratch_capacity<ExecSpace>();
  if (p.scratch_bytes > offered)
    throw std::invalid_argument(who + ": tile_q=" + std::to_string(t.tile_q) + ", tile_k=" + std::to_string(t.tile_k) +
                                ", D=" + std::to_string(s.D) + " need " + std::to_string(p.scratch_bytes) +
                                " bytes of team scratch; the backend offers " + std::to_string(offered) + " (" +
                                ExecSpace::name() + "); use smaller tiles");
  p.level = p.scratch_bytes <= level0 ? 0 : 1;
  return p;
}

// Teams of tiled_forward in flight at once, G: its league of (b, h, query tile) teams runs in
// chunks of G teams, each with its own (BrP, Tc BcP) slot of the score workspace, so the
// workspace is O(G tile_q N_kv) instead of O(B H N N_kv).
//  - host: one team per thread (team size 1): G = space.concurrency().
//  - device: as many teams as fit resident at once, estimated from the threads a team uses
//    (BrP / R row blocks x vector_length): space.concurrency() (resident threads of the GPU)
//    / threads per team, a few teams per SM.
template <class ExecSpace, class T>
int tiled_forward_concurrent_teams(ExecSpace const& space, FwdTilePlan const& p, int league) {
  int threads_per_team = 1;
  if constexpr (!detail::is_host_exec_v<ExecSpace>)
    threads_per_team = std::max(1, p.BrP / FwdRegisterBlock<ExecSpace, T>::R) * std::max(1, p.vector_length);
  int const G = std::max(1, int(space.concurrency()) / threads_per_team);
  return std::max(1, std::min(G, league));
}

// Default tiles of a forward kernel on ExecSpace for head dim D.
//  - host: Br = Bc = 128. Measured (flash, fp32, D = 64, one core, interleaved runs on the
//    shared 2-core host): 128x128 is 5-10% ahead of 64x64 at N = 1024 and 4096 (each K/V tile
//    load and each P V epilogue serve twice the work), 96x64 and 128x64 in between; the tiles
//    (Q, K^T/V, S, O: 160 KiB at D = 64) live in L2 either way. The lab's N = 512 still gives
//    4 teams per head for the OpenMP threads.
//  - device: flash in fp32 at D = 64 / 128: 64 x 64, the register-tiled kernel's geometry
//    (unless team_scratch: the tiles of the team-scratch kernel alone);
//    otherwise the largest square-ish tiles from a short list that fit shared memory (level 0),
//    preferring more query rows (more work per K/V tile load).
template <class ExecSpace, class T, class Tag = FlashFwdTag>
TileSizes default_forward_tiles(int D, Tag tag = {}, bool team_scratch = false) {
  if constexpr (detail::is_host_exec_v<ExecSpace>) {
    (void)D;
    (void)tag;
    (void)team_scratch;
    return {128, 128};
  } else {
    if constexpr (std::is_same_v<Tag, FlashFwdTag> && std::is_same_v<T, float>)
      if (!team_scratch && detail::FlashFwdGpuGeometry::supports(D))
        return {detail::FlashFwdGpuGeometry::Br, detail::FlashFwdGpuGeometry::Bc};  // register-tiled kernel
    constexpr TileSizes candidates[] = {{128, 64}, {64, 64}, {64, 32}, {32, 32}, {32, 16}, {16, 16}, {16, 8}, {8, 8}};
    using Policy = Kokkos::TeamPolicy<ExecSpace>;
    AttentionShape s;
    s.N = s.N_kv = 1;
    s.D = D;
    for (TileSizes t : candidates) {
      FwdTilePlan p = detail::shape_plan<ExecSpace, T>(s, t);
      if (detail::scratch_bytes<ExecSpace, T>(tag, p) <= std::size_t(Policy::scratch_size_max(0))) return t;
    }
    return candidates[std::size(candidates) - 1];  // plan_forward_tiles reports the shortfall
  }
}

}  // namespace numlab::attention
