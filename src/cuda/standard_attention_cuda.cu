// SPDX-License-Identifier: MIT
// Standard attention on cuBLAS tensor-core GEMMs with fp32 row kernels between (see
// standard_attention_cuda.hpp). Row-major [rows, cols] tensors are column-major [cols, rows]
// to cuBLAS, so each product C = A B is issued as C^T = B^T A^T.
#include "cuda/standard_attention_cuda.hpp"

#include "cuda/cublas_lazy.hpp"

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>

namespace numlab::cuda {

namespace {

constexpr int kRowThreads = 256;  // one CTA per row of S (or dP)
constexpr int kRowVec = 4;        // elements per thread per chunk of the in-place pass
constexpr int kRowChunk = kRowThreads * kRowVec;

void check_cuda(cudaError_t e, std::string const& what) {
  if (e != cudaSuccess)
    throw std::runtime_error("numlab::cuda::standard: " + what + ": " + cudaGetErrorName(e) + " (" +
                             cudaGetErrorString(e) + ")");
}
void check_cublas(cublasStatus_t st, std::string const& what) {
  if (st != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error("numlab::cuda::standard: " + what + ": cuBLAS status " + std::to_string(int(st)));
}

// One cuBLAS handle per device, made on first use (a warm-up run, outside the timed ones) and
// kept for the process; set to the caller's stream before each call.
cublasHandle_t handle_for(cudaStream_t stream) {
  static std::mutex mu;
  static cublasHandle_t handles[64] = {};
  int dev = 0;
  check_cuda(cudaGetDevice(&dev), "cudaGetDevice");
  if (dev < 0 || dev >= 64) throw std::runtime_error("numlab::cuda::standard: device index out of range");
  std::lock_guard<std::mutex> lock(mu);
  if (!handles[dev]) check_cublas(lazy_cublas::api().create(&handles[dev]), "cublasCreate");
  check_cublas(lazy_cublas::api().set_stream(handles[dev], stream), "cublasSetStream");
  return handles[dev];
}

// What ran, for the point's kernel_variant: the GEMM call, its precisions and cuBLAS' version.
std::string make_variant(char const* dtype) {
  int ma = 0, mi = 0, pa = 0;
  auto const& cb = lazy_cublas::api();
  cb.get_property(MAJOR_VERSION, &ma);
  cb.get_property(MINOR_VERSION, &mi);
  cb.get_property(PATCH_LEVEL, &pa);
  return std::string("cublasGemmStridedBatchedEx, ") + dtype +
         " operands, fp32 accumulation (CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT: tensor cores); S fp32, fp32 row "
         "softmax, P rounded in place; cuBLAS " + std::to_string(ma) + "." + std::to_string(mi) + "." +
         std::to_string(pa);
}
std::string const& variant_text(DType t) {
  static std::string const bf16 = make_variant("bf16"), fp16 = make_variant("fp16");
  return t == DType::bf16 ? bf16 : fp16;
}

template <class T>
__device__ __forceinline__ T to_t(float x);
template <>
__device__ __forceinline__ __nv_bfloat16 to_t<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <>
__device__ __forceinline__ __half to_t<__half>(float x) { return __float2half_rn(x); }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }

// (m, l) of two parts of a row -> of the whole row: l = sum exp(s - m).
__device__ __forceinline__ void combine(float& m, float& l, float m2, float l2) {
  const float mx = fmaxf(m, m2);
  if (mx == -INFINITY) return;  // both empty
  l = l * expf(m - mx) + l2 * expf(m2 - mx);
  m = mx;
}

__device__ __forceinline__ void block_max_sum(float& m, float& l) {
  __shared__ float sm[kRowThreads / 32], sl[kRowThreads / 32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) combine(m, l, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, l, o));
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) sm[warp] = m, sl[warp] = l;
  __syncthreads();
  m = sm[0];
  l = sl[0];
  for (int w = 1; w < kRowThreads / 32; ++w) combine(m, l, sm[w], sl[w]);
}

__device__ __forceinline__ float block_sum(float x) {
  __shared__ float s[kRowThreads / 32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) s[warp] = x;
  __syncthreads();
  float t = 0.f;
  for (int w = 0; w < kRowThreads / 32; ++w) t += s[w];
  return t;
}

// One CTA per row of S [B H N, N_kv] (fp32, already scaled): P = softmax of the row's visible
// keys (0 for the masked ones), rounded to T and written over the row's first half (T elements
// at 2-byte offsets 0..N_kv-1 of the row, i.e. leading dimension 2 N_kv); lse (if not null) =
// m + log l, -inf for a row that sees no key. In place in chunks: chunk c's writes land in fp32
// elements [c/2, c/2 + chunk/2), all read before the chunk's barrier, none read later.
template <class T>
__global__ void __launch_bounds__(kRowThreads) standard_softmax_rows(float* S, float* lse, int N, int Nkv,
                                                                     bool causal) {
  const std::size_t row = blockIdx.x;
  const int i = int(row % std::size_t(N));
  float* s = S + row * std::size_t(Nkv);
  T* p = reinterpret_cast<T*>(s);
  const int n = causal ? max(0, min(Nkv, i + Nkv - N + 1)) : Nkv;  // keys j <= i + N_kv - N
  float m = -INFINITY, l = 0.f;
  for (int j = threadIdx.x; j < n; j += kRowThreads) {
    const float x = s[j];
    if (x > m) {
      l = l * expf(m - x) + 1.f;
      m = x;
    } else {
      l += expf(x - m);
    }
  }
  block_max_sum(m, l);
  if (lse && threadIdx.x == 0) lse[row] = n > 0 ? m + logf(l) : -INFINITY;
  for (int c0 = 0; c0 < Nkv; c0 += kRowChunk) {
    float x[kRowVec];
#pragma unroll
    for (int e = 0; e < kRowVec; ++e) {
      const int j = c0 + e * kRowThreads + int(threadIdx.x);
      x[e] = j < n ? s[j] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int e = 0; e < kRowVec; ++e) {
      const int j = c0 + e * kRowThreads + int(threadIdx.x);
      if (j < Nkv) p[j] = to_t<T>(j < n ? expf(x[e] - m) / l : 0.f);
    }
  }
}

// One CTA per row of dP [B H N, N_kv] (fp32): dS = P o (dP - rowsum(dP o P)) with P (T, leading
// dimension 2 N_kv, 0 where masked) from standard_softmax_rows, rounded to T and written over
// dP's row as that kernel writes P.
template <class T>
__global__ void __launch_bounds__(kRowThreads) standard_dsoftmax_rows(float const* Pbuf, float* dP, int Nkv) {
  const std::size_t row = blockIdx.x;
  T const* p = reinterpret_cast<T const*>(Pbuf + row * std::size_t(Nkv));
  float* dp = dP + row * std::size_t(Nkv);
  T* ds = reinterpret_cast<T*>(dp);
  float part = 0.f;
  for (int j = threadIdx.x; j < Nkv; j += kRowThreads) part += to_f(p[j]) * dp[j];
  const float Di = block_sum(part);
  for (int c0 = 0; c0 < Nkv; c0 += kRowChunk) {
    float x[kRowVec], pj[kRowVec];
#pragma unroll
    for (int e = 0; e < kRowVec; ++e) {
      const int j = c0 + e * kRowThreads + int(threadIdx.x);
      x[e] = j < Nkv ? dp[j] : 0.f;
      pj[e] = j < Nkv ? to_f(p[j]) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int e = 0; e < kRowVec; ++e) {
      const int j = c0 + e * kRowThreads + int(threadIdx.x);
      if (j < Nkv) ds[j] = to_t<T>(pj[e] * (x[e] - Di));
    }
  }
}

struct Mat {  // one operand of a strided-batched GEMM, as cuBLAS sees it (column-major)
  const void* ptr;
  cudaDataType type;
  int ld;
  long long stride;
};

void gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, float alpha, Mat A,
          Mat B, void* C, cudaDataType tc, int ldc, long long sc, int batch, char const* what) {
  const float beta = 0.f;
  check_cublas(lazy_cublas::api().gemm_strided_batched_ex(h, ta, tb, m, n, k, &alpha, A.ptr, A.type, A.ld, A.stride, B.ptr, B.type,
                                          B.ld, B.stride, &beta, C, tc, ldc, sc, batch, CUBLAS_COMPUTE_32F,
                                          CUBLAS_GEMM_DEFAULT),
               what);
}

void check_common(AttnShape const& s, const char* who) {
  const std::string w = std::string("numlab::cuda::") + who + ": ";
  if (s.B < 1 || s.H < 1 || s.N < 1 || s.N_kv < 1 || s.D < 1)
    throw std::invalid_argument(w + "shape needs B, H, N, N_kv, D >= 1");
  if (double(s.B) * s.H > 2147483647.0 || double(s.B) * s.H * s.N > 2147483647.0)
    throw std::invalid_argument(w + "B H N must be < 2^31 (one CTA per row)");
}

void check_ptr(const void* p, const char* name, const char* who) {
  if (p == nullptr || reinterpret_cast<std::uintptr_t>(p) % 16 != 0)
    throw std::invalid_argument(std::string("numlab::cuda::") + who + ": " + name +
                                " must be a non-null, 16-byte aligned device pointer");
}

std::size_t score_bytes(AttnShape const& s) {
  return sizeof(float) * std::size_t(s.B) * std::size_t(s.H) * std::size_t(s.N) * std::size_t(s.N_kv);
}

float resolve_scale(float scale, int D) { return scale != 0.f ? scale : float(1.0 / std::sqrt(double(D))); }

// S = scale Q K^T (fp32) into ws, then P in place (and lse if not null).
template <class T>
void scores_and_softmax(cublasHandle_t h, AttnShape const& s, cudaDataType dt, float scale, const void* q,
                        const void* k, float* ws, float* lse, cudaStream_t st) {
  const int bh = s.B * s.H;
  const long long nq = (long long)s.N * s.D, nkv = (long long)s.N_kv * s.D, nS = (long long)s.N * s.N_kv;
  // S^T (N_kv x N, col-major) = K (N_kv x D) * Q^T: A = K^T stored (D x N_kv) transposed, B = Q^T (D x N).
  gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, s.N_kv, s.N, s.D, scale, {k, dt, s.D, nkv}, {q, dt, s.D, nq}, ws, CUDA_R_32F,
       s.N_kv, nS, bh, "S = scale Q K^T");
  standard_softmax_rows<T><<<unsigned(std::size_t(bh) * s.N), kRowThreads, 0, st>>>(ws, lse, s.N, s.N_kv, s.causal);
  check_cuda(cudaGetLastError(), "launching standard_softmax_rows");
}

template <class T>
KernelRun forward_t(ForwardArgs const& a, float scale, float* ws, cudaStream_t st) {
  AttnShape const& s = a.shape;
  const cudaDataType dt = a.dtype == DType::bf16 ? CUDA_R_16BF : CUDA_R_16F;
  cublasHandle_t h = handle_for(st);
  const int bh = s.B * s.H;
  const long long nq = (long long)s.N * s.D, nkv = (long long)s.N_kv * s.D, nS = (long long)s.N * s.N_kv;
  scores_and_softmax<T>(h, s, dt, scale, a.q, a.k, ws, a.lse, st);
  // O^T (D x N) = V^T (D x N_kv) * P^T (N_kv x N); P^T is col-major with leading dimension 2 N_kv.
  gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, s.D, s.N, s.N_kv, 1.f, {a.v, dt, s.D, nkv}, {ws, dt, 2 * s.N_kv, 2 * nS}, a.o,
       dt, s.D, nq, bh, "O = P V");
  return {"cublas", 0, 0, variant_text(a.dtype).c_str()};
}

template <class T>
KernelRun backward_t(StandardBackwardArgs const& a, float scale, cudaStream_t st) {
  AttnShape const& s = a.shape;
  const cudaDataType dt = a.dtype == DType::bf16 ? CUDA_R_16BF : CUDA_R_16F;
  cublasHandle_t h = handle_for(st);
  const int bh = s.B * s.H;
  const long long nq = (long long)s.N * s.D, nkv = (long long)s.N_kv * s.D, nS = (long long)s.N * s.N_kv;
  float* P = static_cast<float*>(a.workspace);  // S, then P (T) in place
  float* dP = P + std::size_t(bh) * std::size_t(nS);  // dP, then dS (T) in place
  scores_and_softmax<T>(h, s, dt, scale, a.q, a.k, P, nullptr, st);
  // dV^T (D x N_kv) = dO^T (D x N) * P (N x N_kv): P is op(T) of the col-major (N_kv x N) P^T.
  gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, s.D, s.N_kv, s.N, 1.f, {a.dout, dt, s.D, nq}, {P, dt, 2 * s.N_kv, 2 * nS}, a.dv,
       dt, s.D, nkv, bh, "dV = P^T dO");
  // dP^T (N_kv x N) = V (N_kv x D) * dO^T, fp32.
  gemm(h, CUBLAS_OP_T, CUBLAS_OP_N, s.N_kv, s.N, s.D, 1.f, {a.v, dt, s.D, nkv}, {a.dout, dt, s.D, nq}, dP, CUDA_R_32F,
       s.N_kv, nS, bh, "dP = dO V^T");
  standard_dsoftmax_rows<T><<<unsigned(std::size_t(bh) * s.N), kRowThreads, 0, st>>>(P, dP, s.N_kv);
  check_cuda(cudaGetLastError(), "launching standard_dsoftmax_rows");
  // dQ^T (D x N) = scale K^T (D x N_kv) * dS^T (N_kv x N).
  gemm(h, CUBLAS_OP_N, CUBLAS_OP_N, s.D, s.N, s.N_kv, scale, {a.k, dt, s.D, nkv}, {dP, dt, 2 * s.N_kv, 2 * nS}, a.dq,
       dt, s.D, nq, bh, "dQ = scale dS K");
  // dK^T (D x N_kv) = scale Q^T (D x N) * dS (N x N_kv).
  gemm(h, CUBLAS_OP_N, CUBLAS_OP_T, s.D, s.N_kv, s.N, scale, {a.q, dt, s.D, nq}, {dP, dt, 2 * s.N_kv, 2 * nS}, a.dk,
       dt, s.D, nkv, bh, "dK = scale dS^T Q");
  return {"cublas", 0, 0, variant_text(a.dtype).c_str()};
}

}  // namespace

std::size_t standard_forward_workspace_bytes(AttnShape const& s) { return score_bytes(s); }
std::size_t standard_backward_workspace_bytes(AttnShape const& s) { return 2 * score_bytes(s); }

KernelRun standard_forward(ForwardArgs const& a, void* workspace, std::size_t workspace_bytes, void* cuda_stream) {
  constexpr char const* who = "standard_forward";
  check_common(a.shape, who);
  if (a.dtype == DType::fp32) throw std::invalid_argument("numlab::cuda::standard_forward: bf16 or fp16, not fp32");
  for (auto [p, n] : {std::pair<const void*, const char*>{a.q, "q"}, {a.k, "k"}, {a.v, "v"}, {a.o, "o"},
                      {a.lse, "lse"}, {workspace, "workspace"}})
    check_ptr(p, n, who);
  if (workspace_bytes < standard_forward_workspace_bytes(a.shape))
    throw std::invalid_argument("numlab::cuda::standard_forward: workspace_bytes < standard_forward_workspace_bytes()");
  const float scale = resolve_scale(a.scale, a.shape.D);
  auto st = static_cast<cudaStream_t>(cuda_stream);
  if (a.dtype == DType::bf16) return forward_t<__nv_bfloat16>(a, scale, static_cast<float*>(workspace), st);
  return forward_t<__half>(a, scale, static_cast<float*>(workspace), st);
}

KernelRun standard_backward(StandardBackwardArgs const& a, void* cuda_stream) {
  constexpr char const* who = "standard_backward";
  check_common(a.shape, who);
  if (a.dtype == DType::fp32) throw std::invalid_argument("numlab::cuda::standard_backward: bf16 or fp16, not fp32");
  for (auto [p, n] : {std::pair<const void*, const char*>{a.q, "q"}, {a.k, "k"}, {a.v, "v"}, {a.dout, "dout"},
                      {a.dq, "dq"}, {a.dk, "dk"}, {a.dv, "dv"}, {a.workspace, "workspace"}})
    check_ptr(p, n, who);
  if (a.workspace_bytes < standard_backward_workspace_bytes(a.shape))
    throw std::invalid_argument("numlab::cuda::standard_backward: workspace_bytes < standard_backward_workspace_bytes()");
  const float scale = resolve_scale(a.scale, a.shape.D);
  auto st = static_cast<cudaStream_t>(cuda_stream);
  if (a.dtype == DType::bf16) return backward_t<__nv_bfloat16>(a, scale, st);
  return backward_t<__half>(a, scale, st);
}

}  // namespace numlab::cuda
