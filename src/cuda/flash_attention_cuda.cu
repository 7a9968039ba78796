// SPDX-License-Identifier: MIT
// Public API of the native CUDA FlashAttention: argument checks and dispatch over
// (dtype, head dim); causal is a run-time flag of every kernel.
#include "flash_attention_cuda.hpp"
#include "flash_launch.cuh"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace numlab::cuda {
namespace detail {

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw std::runtime_error(std::string("numlab::cuda: ") + what + ": " + cudaGetErrorString(e));
}

}  // namespace detail

namespace {

void check_shape(AttnShape const& s, DType t, const char* who) {
  const std::string w = std::string("numlab::cuda::") + who + ": ";
  if (!supports_head_dim(t, s.D))
    throw std::runtime_error(w + "unsupported head dim " + std::to_string(s.D) +
                             (t == DType::fp32 ? " for fp32 (64, 128)" : " (64, 128, 256)"));
  if (s.B < 1 || s.H < 1 || s.N < 0 || s.N_kv < 0) throw std::runtime_error(w + "bad shape");
  if (long(s.B) * s.H > 65535) throw std::runtime_error(w + "B*H must be <= 65535");
}

void check_ptr(const void* p, const char* name, const char* who) {
  if (p == nullptr || reinterpret_cast<std::uintptr_t>(p) % 16 != 0)
    throw std::runtime_error(std::string("numlab::cuda::") + who + ": " + name + " must be a non-null, 16-byte aligned device pointer");
}

float resolve_scale(float scale, int D) { return scale != 0.f ? scale : float(1.0 / std::sqrt(double(D))); }

template <class T>
KernelRun dispatch_fwd(ForwardArgs const& a, float scale, cudaStream_t st) {
  switch (a.shape.D) {
    case 64: return detail::launch_fwd<T, 64>(a, scale, st);
    case 128: return detail::launch_fwd<T, 128>(a, scale, st);
    default: return detail::launch_fwd<T, 256>(a, scale, st);
  }
}
template <class T>
KernelRun dispatch_tiled_fwd(ForwardArgs const& a, float scale, cudaStream_t st) {
  switch (a.shape.D) {
    case 64: return detail::launch_tiled_fwd<T, 64>(a, scale, st);
    case 128: return detail::launch_tiled_fwd<T, 128>(a, scale, st);
    default: return detail::launch_tiled_fwd<T, 256>(a, scale, st);
  }
}
template <class T>
KernelRun dispatch_bwd(BackwardArgs const& a, float scale, cudaStream_t st) {
  switch (a.shape.D) {
    case 64: return detail::launch_bwd<T, 64>(a, scale, st);
    case 128: return detail::launch_bwd<T, 128>(a, scale, st);
    default: return detail::launch_bwd<T, 256>(a, scale, st);
  }
}

void memset_or_throw(void* p, std::size_t bytes, cudaStream_t st, const char* what) {
  if (bytes && cudaMemsetAsync(p, 0, bytes, st) != cudaSuccess) detail::check_launch(what);
}

}  // namespace

bool supports_head_dim(int D) { return D == 64 || D == 128 || D == 256; }
bool supports_head_dim(DType t, int D) { return t == DType::fp32 ? D == 64 || D == 128 : supports_head_dim(D); }
std::size_t element_bytes(DType t) { return t == DType::fp32 ? 4 : 2; }

std::size_t backward_workspace_bytes(AttnShape const& s, bool deterministic) {
  return detail::rowstat_bytes(s) + (deterministic ? 0 : detail::dq_accum_bytes(s));
}

std::size_t forward_flops(AttnShape const& s) {
  const std::size_t f = 4 * std::size_t(s.B) * s.H * std::size_t(s.N) * std::size_t(s.N_kv) * s.D;
  return s.causal ? f / 2 : f;
}

namespace {
// The forward arguments checked (who names the caller); N_kv == 0 is allowed: every row sees no
// key (O = 0, lse = -inf), and K and V are then not read.
ForwardArgs checked_forward(ForwardArgs const& a, const char* who) {
  check_shape(a.shape, a.dtype, who);
  ForwardArgs b = a;
  if (a.shape.N == 0) return b;
  check_ptr(a.q, "q", who);
  check_ptr(a.o, "o", who);
  check_ptr(a.lse, "lse", who);
  check_ptr(a.shape.N_kv ? a.k : a.q, "k", who);
  check_ptr(a.shape.N_kv ? a.v : a.q, "v", who);
  if (a.shape.N_kv == 0) b.k = b.v = a.q;
  return b;
}
}  // namespace

KernelRun flash_forward(ForwardArgs const& a, void* cuda_stream) {
  ForwardArgs const b = checked_forward(a, "flash_forward");
  if (a.shape.N == 0) return {};
  const float scale = resolve_scale(a.scale, a.shape.D);
  auto st = static_cast<cudaStream_t>(cuda_stream);
  if (a.dtype == DType::fp32)
    return a.shape.D == 64 ? detail::launch_fwd_fp32<64>(b, scale, st) : detail::launch_fwd_fp32<128>(b, scale, st);
  if (a.dtype == DType::bf16) return dispatch_fwd<__nv_bfloat16>(b, scale, st);
  return dispatch_fwd<__half>(b, scale, st);
}

KernelRun tiled_forward(ForwardArgs const& a, void* cuda_stream) {
  if (a.dtype == DType::fp32) throw std::runtime_error("numlab::cuda::tiled_forward: no fp32 kernel (bf16, fp16)");
  ForwardArgs const b = checked_forward(a, "tiled_forward");
  if (a.shape.N == 0) return {};
  const float scale = resolve_scale(a.scale, a.shape.D);
  auto st = static_cast<cudaStream_t>(cuda_stream);
  if (a.dtype == DType::bf16) return dispatch_tiled_fwd<__nv_bfloat16>(b, scale, st);
  return dispatch_tiled_fwd<__half>(b, scale, st);
}

KernelRun flash_backward(BackwardArgs const& a, void* cuda_stream) {
  const AttnShape& s = a.shape;
  check_shape(s, a.dtype, "flash_backward");
  auto st = static_cast<cudaStream_t>(cuda_stream);
  const std::size_t e = element_bytes(a.dtype);
  const std::size_t q_bytes = e * s.B * s.H * s.N * s.D, kv_bytes = e * s.B * s.H * s.N_kv * s.D;
  if (s.N == 0 || s.N_kv == 0) {  // no query-key pair: every gradient is zero
    if (q_bytes) memset_or_throw(a.dq, q_bytes, st, "flash_backward: zero dQ");
    if (kv_bytes) memset_or_throw(a.dk, kv_bytes, st, "flash_backward: zero dK"),
        memset_or_throw(a.dv, kv_bytes, st, "flash_backward: zero dV");
    return {};
  }
  for (auto [p, n] : {std::pair<const void*, const char*>{a.q, "q"}, {a.k, "k"}, {a.v, "v"}, {a.o, "o"}, {a.dout, "dout"},
                      {a.lse, "lse"}, {a.dq, "dq"}, {a.dk, "dk"}, {a.dv, "dv"}, {a.workspace, "workspace"}})
    check_ptr(p, n, "flash_backward");
  if (a.workspace_bytes < backward_workspace_bytes(s, a.deterministic))
    throw std::runtime_error("numlab::cuda::flash_backward: workspace_bytes < backward_workspace_bytes()");
  const float scale = resolve_scale(a.scale, s.D);
  if (a.dtype == DType::fp32)
    return s.D == 64 ? detail::launch_bwd_fp32<64>(a, scale, st) : detail::launch_bwd_fp32<128>(a, scale, st);
  if (a.dtype == DType::bf16) return dispatch_bwd<__nv_bfloat16>(a, scale, st);
  return dispatch_bwd<__half>(a, scale, st);
}

}  // namespace numlab::cuda
