// SPDX-License-Identifier: MIT
// Which kernel runs a point, decided in one function per method family (the model is
// FlashAttention-3's hopper/tile_size.h): the `kernel` option names a kernel or `auto`, the tile
// options give tiles or 0 (= the kernel's own). A forced kernel that cannot run the point is an
// error naming the constraint; what was chosen is recorded with the point (kernel_run,
// tile_q_run, tile_k_run, kernel_variant).
#pragma once

#include "attention/attention_types.hpp"
#include "attention/tile_size.hpp"
#include "core/options.hpp"

#include <stdexcept>
#include <string>
#include <type_traits>

namespace numlab::attention {

// Kernels of the forward method `standard`.
enum class StandardFwdKernel {
  automatic,
  blas,          // S = Q K^T and O = P V through KokkosBlas::gemm per head, a row-parallel softmax between
  team_scratch,  // Kokkos team-tiled GEMMs in team scratch (standard_fwd_kernel.hpp): the lab's own GEMM
  cublas,        // native CUDA, bf16/fp16: cuBLAS tensor-core GEMMs, fp32 softmax (cuda/standard_attention_cuda.cu)
};

// Kernels of the forward method `flash`.
enum class FlashFwdKernel {
  automatic,
  team_scratch,    // Kokkos, any backend and dtype: K/V tiles in team scratch (flash_fwd_kernel.hpp)
  register_tiled,  // Kokkos on a GPU, fp32, D 64/128, tiles 64 x 64 (flash_fwd_gpu_kernel.hpp)
  wgmma_sm90,      // native CUDA, bf16/fp16, sm_90a: warpgroup MMA (cuda/flash_fwd_sm90_ws_kernel.cuh)
  mma_sm80,        // native CUDA, bf16/fp16, sm_80+: mma.sync (cuda/flash_fwd_kernel.cuh)
};

// Kernels of the backward method `flash_bwd`.
enum class FlashBwdKernel {
  automatic,
  team_scratch,    // Kokkos, any backend and dtype (flash_bwd_kernel.hpp)
  register_tiled,  // Kokkos on a GPU, fp32, D 64/128: the key-tile pass register-tiled (flash_bwd_gpu_kernel.hpp)
  mma_sm80,        // native CUDA, bf16/fp16: FA2 backward on mma.sync (cuda/flash_bwd_kernel.cuh)
};

// How flash_backward produces dQ.
enum class FlashBwdDq {
  atomic,    // FA2: the key-tile teams add their dS K_j contributions with atomics
  separate,  // a second pass parallel over query tiles writes dQ_i once (deterministic)
};

}  // namespace numlab::attention

namespace numlab {
// The docs read "<where it runs>: <what it is>" (numlab --list shows both).
template <>
struct EnumNames<attention::StandardFwdKernel> {
  static constexpr EnumName<attention::StandardFwdKernel> values[] = {
      {attention::StandardFwdKernel::automatic, "auto",
       "the library GEMM is the baseline: blas (native: cublas)"},
      {attention::StandardFwdKernel::blas, "blas",
       "Kokkos, every backend, float32/float64: KokkosBlas::gemm per (b, h) head (host BLAS, cuBLAS with Kokkos "
       "Kernels' TPL), a row-parallel softmax between"},
      {attention::StandardFwdKernel::team_scratch, "team_scratch",
       "Kokkos, every backend, float32/float64: S and O = P V as team-tiled GEMMs in team scratch"},
      {attention::StandardFwdKernel::cublas, "cublas",
       "cuda_native, bfloat16/float16: cublasGemmStridedBatchedEx on tensor cores (fp32 accumulation), S fp32, "
       "fp32 row softmax, P rounded to the dtype in place"}};
};
template <>
struct EnumNames<attention::FlashFwdKernel> {
  static constexpr EnumName<attention::FlashFwdKernel> values[] = {
      {attention::FlashFwdKernel::automatic, "auto",
       "the fastest kernel that can run the point (register_tiled, else team_scratch; native: wgmma_sm90 on "
       "sm_90a, else mma_sm80)"},
      {attention::FlashFwdKernel::team_scratch, "team_scratch",
       "Kokkos, every backend, float32/float64: one team per (b, h, query tile), K/V tiles in team scratch"},
      {attention::FlashFwdKernel::register_tiled, "register_tiled",
       "Kokkos on a GPU, float32, D 64/128, tiles 64 x 64: 128 threads, 4 x 4 (D 64) or 8 x 8 (D 128) of O per "
       "thread in registers"},
      {attention::FlashFwdKernel::wgmma_sm90, "wgmma_sm90",
       "cuda_native, bfloat16/float16, sm_90a (H100/H200): warpgroup MMA, P in registers"},
      {attention::FlashFwdKernel::mma_sm80, "mma_sm80",
       "cuda_native, bfloat16/float16, sm_80+: mma.sync m16n8k16, ldmatrix, cp.async"}};
};
template <>
struct EnumNames<attention::FlashBwdKernel> {
  static constexpr EnumName<attention::FlashBwdKernel> values[] = {
      {attention::FlashBwdKernel::automatic, "auto",
       "the fastest kernel that can run the point (register_tiled, else team_scratch; native: mma_sm80)"},
      {attention::FlashBwdKernel::team_scratch, "team_scratch",
       "Kokkos, every backend, float32/float64: one team per (b, h, key tile), dK/dV in team scratch"},
      {attention::FlashBwdKernel::register_tiled, "register_tiled",
       "Kokkos on a GPU, float32, D 64/128, tiles 32 x 64 (D 64) / 64 x 32 (D 128): 128 threads own the keys, dK/dV "
       "in registers (dq separate: the team_scratch dQ pass after it)"},
      {attention::FlashBwdKernel::mma_sm80, "mma_sm80",
       "cuda_native, bfloat16/float16, sm_80+: FlashAttention-2 backward on mma.sync"}};
};
template <>
struct EnumNames<attention::FlashBwdDq> {
  static constexpr EnumName<attention::FlashBwdDq> values[] = {
      {attention::FlashBwdDq::atomic, "atomic", "dQ accumulated by fp32 atomic adds from the key-tile teams"},
      {attention::FlashBwdDq::separate, "separate", "a second pass over query tiles writes dQ once (deterministic)"}};
};
}  // namespace numlab

namespace numlab::attention {

// A tile of 0 means "the kernel's own" for that dimension.
inline TileSizes fill_tiles(TileSizes given, TileSizes own) {
  return {given.tile_q > 0 ? given.tile_q : own.tile_q, given.tile_k > 0 ? given.tile_k : own.tile_k};
}
// Whether the given (non-zero) tiles agree with a kernel's fixed ones.
inline bool tiles_fit(TileSizes given, TileSizes fixed) {
  return (given.tile_q == 0 || given.tile_q == fixed.tile_q) && (given.tile_k == 0 || given.tile_k == fixed.tile_k);
}

// The kernel that runs a Kokkos flash forward, with its tiles (never 0).
struct FlashFwdSelection {
  FlashFwdKernel kernel = FlashFwdKernel::team_scratch;
  TileSizes tiles;
  std::string variant;  // compile-time variant of the kernel (its knobs in tile_size.hpp)
};

struct FlashBwdSelection {
  FlashBwdKernel kernel = FlashBwdKernel::team_scratch;
  TileSizes tiles;     // of the key-tile pass
  TileSizes dq_tiles;  // of the separate dQ pass (dq separate)
  std::string variant;
};

namespace detail {

// The register-tiled kernels index their views as dense arrays.
template <class... Views>
bool all_contiguous(Views const&... v) {
  return (v.span_is_contiguous() && ...);
}

inline std::string tiles_text(TileSizes t) { return std::to_string(t.tile_q) + " x " + std::to_string(t.tile_k); }

inline void check_tiles(char const* who, TileSizes t) {
  if (t.tile_q < 0 || t.tile_k < 0)
    throw std::invalid_argument(std::string(who) + ": tiles must be >= 1, or 0 for the kernel's own (got tile_q x tile_k = " +
                                tiles_text(t) + ")");
}

template <class ExecSpace, class T>
std::string team_scratch_variant() {
  return "register block " + tiles_text({FwdRegisterBlock<ExecSpace, T>::R, FwdRegisterBlock<ExecSpace, T>::W});
}

}  // namespace detail

// Empty when the register-tiled forward can run head dim D at `tiles` (0 = its own) on
// ExecSpace in T, else the constraint it breaks.
template <class ExecSpace, class T>
std::string register_tiled_forward_constraint(int D, TileSizes tiles) {
  using Geo = detail::FlashFwdGpuGeometry;
  if constexpr (detail::is_host_exec_v<ExecSpace>)
    return std::string("kernel register_tiled runs on a GPU backend, not ") + ExecSpace::name();
  else if constexpr (!std::is_same_v<T, float>)
    return "kernel register_tiled runs dtype float32 only";
  else if (!Geo::supports(D))
    return "kernel register_tiled runs head dims 64 and 128, not D = " + std::to_string(D);
  else if (!tiles_fit(tiles, {Geo::Br, Geo::Bc}))
    return "kernel register_tiled runs tiles " + detail::tiles_text({Geo::Br, Geo::Bc}) +
           " (0 = its own), not tile_q x tile_k = " + detail::tiles_text(tiles);
  return {};
}

template <class ExecSpace, class T>
std::string register_tiled_backward_constraint(int D, TileSizes tiles) {
  if constexpr (detail::is_host_exec_v<ExecSpace>)
    return std::string("kernel register_tiled runs on a GPU backend, not ") + ExecSpace::name();
  else if constexpr (!std::is_same_v<T, float>)
    return "kernel register_tiled runs dtype float32 only";
  else if (!flash_bwd_gpu_supports(D))
    return "kernel register_tiled runs head dims 64 and 128, not D = " + std::to_string(D);
  else {
    TileSizes const g = flash_bwd_gpu_tiles(D);
    if (!tiles_fit(tiles, g))
      return "kernel register_tiled at D = " + std::to_string(D) + " runs tiles " + detail::tiles_text(g) +
             " (0 = its own), not tile_q x tile_k = " + detail::tiles_text(tiles);
  }
  return {};
}

// The native CUDA kernels (backend cuda_native) among a method's kernels; the others but auto
// are Kokkos kernels.
constexpr bool is_native(FlashFwdKernel k) { return k == FlashFwdKernel::wgmma_sm90 || k == FlashFwdKernel::mma_sm80; }
constexpr bool is_native(FlashBwdKernel k) { return k == FlashBwdKernel::mma_sm80; }
constexpr bool is_native(StandardFwdKernel k) { return k == StandardFwdKernel::cublas; }

// Empty when `kernel` can run on the native backend (native) or a Kokkos one, else why, naming
// the kernels that can.
template <class Kernel>
std::string kernel_backend_constraint(Kernel kernel, bool native) {
  if (kernel == Kernel::automatic || is_native(kernel) == native) return {};
  std::string offered;
  for (auto const& n : EnumNames<Kernel>::values)
    if (n.value == Kernel::automatic || is_native(n.value) == native) offered += (offered.empty() ? "" : ", ") + std::string(n.name);
  if (native)
    return std::string("kernel ") + enum_name(kernel) + " is a Kokkos kernel; with backend cuda_native the kernels are " +
           offered;
  return std::string("kernel ") + enum_name(kernel) +
         " is a native CUDA kernel: it runs with backend cuda_native; on a Kokkos backend the kernels are " + offered;
}

// Empty when a forced Kokkos kernel can run head dim D at `tiles` on ExecSpace in T (what the
// config can check before Kokkos starts), else the constraint it breaks.
template <class ExecSpace, class T>
std::string kernel_point_constraint(FlashFwdKernel k, int D, TileSizes tiles) {
  return k == FlashFwdKernel::register_tiled ? register_tiled_forward_constraint<ExecSpace, T>(D, tiles) : std::string();
}
template <class ExecSpace, class T>
std::string kernel_point_constraint(StandardFwdKernel, int, TileSizes) {
  return {};  // both kernels run every backend, dtype and head dim
}
template <class ExecSpace, class T>
std::string kernel_point_constraint(FlashBwdKernel k, int D, TileSizes tiles) {
  return k == FlashBwdKernel::register_tiled ? register_tiled_backward_constraint<ExecSpace, T>(D, tiles)
                                             : std::string();
}

namespace detail {
// The common part of the Kokkos selections: whether the register-tiled kernel runs for `kernel`
// (auto: where it can; register_tiled: it must, else std::invalid_argument naming why; a native
// kernel or negative tiles: std::invalid_argument too).
template <class ExecSpace, class T, class Kernel>
bool register_tiled_runs(char const* who, Kernel kernel, int D, TileSizes tiles) {
  check_tiles(who, tiles);
  if (auto why = kernel_backend_constraint(kernel, false); !why.empty())
    throw std::invalid_argument(std::string(who) + ": " + why);
  std::string const reg = kernel_point_constraint<ExecSpace, T>(Kernel::register_tiled, D, tiles);
  if (kernel == Kernel::register_tiled && !reg.empty()) throw std::invalid_argument(std::string(who) + ": " + reg);
  return kernel != Kernel::team_scratch && reg.empty();
}
}  // namespace detail

// The kernel and tiles of a Kokkos flash forward. auto: register_tiled where it can run, else
// team_scratch; team_scratch's own tiles are default_forward_tiles'. Throws std::invalid_argument
// naming the constraint a forced kernel breaks.
template <class ExecSpace, class T>
FlashFwdSelection select_flash_forward(AttentionShape const& s, FlashFwdKernel kernel, TileSizes tiles) {
  FlashFwdSelection sel;
  if (detail::register_tiled_runs<ExecSpace, T>("numlab::attention::flash_forward", kernel, s.D, tiles)) {
    using Geo = detail::FlashFwdGpuGeometry;
    sel.kernel = FlashFwdKernel::register_tiled;
    sel.tiles = {Geo::Br, Geo::Bc};
    sel.variant = "stages " + std::to_string(Geo::stages) + ", unroll " + std::to_string(NUMLAB_FLASH_FWD_GPU_UNROLL) +
                  ", teams/SM " + std::to_string(Geo::min_teams_per_sm(s.D));
    return sel;
  }
  sel.kernel = FlashFwdKernel::team_scratch;
  sel.tiles = fill_tiles(tiles, default_forward_tiles<ExecSpace, T>(s.D, FlashFwdTag{}, /*team_scratch=*/true));
  sel.variant = detail::team_scratch_variant<ExecSpace, T>();
  return sel;
}

// The kernel of a standard forward: auto is blas (the library GEMM is what a baseline must be;
// team_scratch stays as the lab's own GEMM to compare with it).
constexpr StandardFwdKernel select_standard_forward(StandardFwdKernel kernel) {
  return kernel == StandardFwdKernel::automatic ? StandardFwdKernel::blas : kernel;
}

// Tiles of the team-scratch backward kernels when none are given.
inline constexpr TileSizes kDefaultBackwardTiles{64, 64};

// Tiles of the forward methods standard and tiled (one kernel each): given, else the heuristic's.
template <class ExecSpace, class T, class Tag>
TileSizes select_forward_tiles(Tag tag, int D, TileSizes tiles) {
  detail::check_tiles(detail::kernel_name(tag), tiles);
  return fill_tiles(tiles, default_forward_tiles<ExecSpace, T>(D, tag));
}
// Tiles of tiled_bwd: given, else kDefaultBackwardTiles'.
inline TileSizes select_tiled_backward_tiles(TileSizes tiles) {
  detail::check_tiles("numlab::attention::tiled_backward", tiles);
  return fill_tiles(tiles, kDefaultBackwardTiles);
}

// The kernels and tiles of a Kokkos flash backward. auto: register_tiled where it can run, else
// team_scratch (kDefaultBackwardTiles where not given). With dq separate the dQ pass is always
// team_scratch, at the given tiles, or after register_tiled at the largest of a short list that
// fits level 0. Defined in flash_backward.hpp (it sizes that pass from the kernel's scratch).
template <class ExecSpace, class T>
FlashBwdSelection select_flash_backward(AttentionShape const& s, FlashBwdKernel kernel, TileSizes tiles);

}  // namespace numlab::attention
