// SPDX-License-Identifier: MIT
// C entry points over the native kernels' public API (cuda/flash_attention_cuda.hpp) for the
// device harness: bench.py loads them with ctypes from libfa.so, which numlab's build makes
// (target numlab_kernel_bench_native_flash) or build.sh here (kernel variants).
#include "cuda/flash_attention_cuda.hpp"

#include <cstdio>
#include <exception>

using namespace numlab::cuda;

static char g_err[512];
static FwdKernel g_fwd_kernel = FwdKernel::automatic;

extern "C" const char* fa_last_error() { return g_err; }

// The forward kernel of the following fa_forward calls: 0 automatic, 1 wgmma_sm90, 2 mma_sm80.
extern "C" void fa_set_forward_kernel(int k) {
  g_fwd_kernel = k == 1 ? FwdKernel::wgmma_sm90 : k == 2 ? FwdKernel::mma_sm80 : FwdKernel::automatic;
}

static AttnShape shape(int B, int H, int N, int Nkv, int D, int causal) {
  AttnShape s;
  s.B = B, s.H = H, s.N = N, s.N_kv = Nkv, s.D = D, s.causal = causal != 0;
  return s;
}

extern "C" int fa_forward(int B, int H, int N, int Nkv, int D, int causal, int fp16, float scale, const void* q,
                          const void* k, const void* v, void* o, float* lse, void* stream) {
  try {
    ForwardArgs a;
    a.shape = shape(B, H, N, Nkv, D, causal);
    a.dtype = fp16 ? DType::fp16 : DType::bf16;
    a.scale = scale, a.q = q, a.k = k, a.v = v, a.o = o, a.lse = lse;
    a.kernel = g_fwd_kernel;
    flash_forward(a, stream);
    return 0;
  } catch (std::exception const& e) {
    std::snprintf(g_err, sizeof g_err, "%s", e.what());
    return 1;
  }
}

// dtype fp32: terms 3 = 3xTF32 (the default kernel), 1 = 1xTF32.
extern "C" int fa_forward_fp32(int B, int H, int N, int Nkv, int D, int causal, int terms, float scale, const void* q,
                               const void* k, const void* v, void* o, float* lse, void* stream) {
  try {
    ForwardArgs a;
    a.shape = shape(B, H, N, Nkv, D, causal);
    a.dtype = DType::fp32;
    a.fp32_products = terms == 1 ? Fp32Products::tf32x1 : Fp32Products::tf32x3;
    a.scale = scale, a.q = q, a.k = k, a.v = v, a.o = o, a.lse = lse;
    flash_forward(a, stream);
    return 0;
  } catch (std::exception const& e) {
    std::snprintf(g_err, sizeof g_err, "%s", e.what());
    return 1;
  }
}

extern "C" long fa_workspace_bytes(int B, int H, int N, int Nkv, int D, int causal, int det) {
  return long(backward_workspace_bytes(shape(B, H, N, Nkv, D, causal), det != 0));
}

// flash_backward in `dtype` (fp32: with `products`); 0, or 1 with the message in fa_last_error().
static int backward(int B, int H, int N, int Nkv, int D, int causal, DType dtype, Fp32Products products, float scale,
                    int det, const void* q, const void* k, const void* v, const void* o, const void* dout,
                    const float* lse, void* dq, void* dk, void* dv, void* ws, long ws_bytes, void* stream) {
  try {
    BackwardArgs a;
    a.shape = shape(B, H, N, Nkv, D, causal);
    a.dtype = dtype;
    a.fp32_products = products;
    a.scale = scale, a.deterministic = det != 0;
    a.q = q, a.k = k, a.v = v, a.o = o, a.dout = dout, a.lse = lse, a.dq = dq, a.dk = dk, a.dv = dv;
    a.workspace = ws, a.workspace_bytes = std::size_t(ws_bytes);
    flash_backward(a, stream);
    return 0;
  } catch (std::exception const& e) {
    std::snprintf(g_err, sizeof g_err, "%s", e.what());
    return 1;
  }
}

extern "C" int fa_backward(int B, int H, int N, int Nkv, int D, int causal, int fp16, float scale, int det,
                           const void* q, const void* k, const void* v, const void* o, const void* dout,
                           const float* lse, void* dq, void* dk, void* dv, void* ws, long ws_bytes, void* stream) {
  return backward(B, H, N, Nkv, D, causal, fp16 ? DType::fp16 : DType::bf16, Fp32Products::tf32x3, scale, det, q, k,
                  v, o, dout, lse, dq, dk, dv, ws, ws_bytes, stream);
}

// dtype fp32: terms 3 = 3xTF32 (the default kernels), 1 = 1xTF32.
extern "C" int fa_backward_fp32(int B, int H, int N, int Nkv, int D, int causal, int terms, float scale, int det,
                                const void* q, const void* k, const void* v, const void* o, const void* dout,
                                const float* lse, void* dq, void* dk, void* dv, void* ws, long ws_bytes,
                                void* stream) {
  return backward(B, H, N, Nkv, D, causal, DType::fp32, terms == 1 ? Fp32Products::tf32x1 : Fp32Products::tf32x3,
                  scale, det, q, k, v, o, dout, lse, dq, dk, dv, ws, ws_bytes, stream);
}

extern "C" double fa_forward_flops(int B, int H, int N, int Nkv, int D, int causal) {
  return double(forward_flops(shape(B, H, N, Nkv, D, causal)));
}
