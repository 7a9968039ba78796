// SPDX-License-Identifier: MIT
// Host side of the native CUDA FlashAttention path, as plain C++ (no CUDA headers,
// so Kokkos code and tests include it with any compiler): host fp64 inputs in,
// rounded to bf16/fp16 (or fp32) on upload; flash_forward / flash_backward timed with CUDA
// events, repeated by the caller's harness; outputs back as fp64; the device memory each step allocates, counted.
//
//   NativeAttention a(shape, DType::bf16, scale, Q, K, V, dO);   // uploads Q, K, V (+dO)
//   ForwardRun f = a.forward({repeat});                            // O, lse
//   BackwardRun g = a.backward(/*deterministic=*/true, {...});     // dQ, dK, dV
//
// Every failure (no device, out of memory, an unsupported shape, a kernel error) is a
// std::runtime_error naming the step and the CUDA error.
#pragma once

#include "cuda/flash_attention_cuda.hpp"
#include "cuda/native_low_precision.hpp"
#include "cuda/standard_attention_cuda.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace numlab::cuda {

// The CUDA device this process would run on (the current one, device 0 by default).
struct DeviceInfo {
  bool present = false;    // cudaGetDeviceCount() > 0 and the device answered
  int count = 0;           // devices visible
  int device = -1;         // the one used
  std::string name;        // cudaDeviceProp::name, e.g. "NVIDIA H100 80GB HBM3"
  int cc_major = 0, cc_minor = 0;
  std::int64_t total_bytes = 0;
  int runtime_version = 0;  // cudaRuntimeGetVersion, e.g. 13000
  int driver_version = 0;   // cudaDriverGetVersion; 0 without a driver
  std::string reason;       // why not present (the CUDA error), empty when present
};
// Never throws; without a driver or a GPU, present = false and reason says why.
DeviceInfo device_info();

// How a method is repeated and timed: repeat(once) calls once() as often as the caller's
// harness wants (warmup and timed runs; numlab's is repeat_timed in core/repeat_timed.hpp) and
// returns the seconds of the timed calls; each once() runs the kernels once between two CUDA
// events on the stream and returns their elapsed time (the last run's outputs are returned).
struct TimingOptions {
  std::function<std::vector<double>(std::function<double()> const& once)> repeat;
  bool download = true;  // copy the outputs back (false: only time them)
};

struct ForwardRun {
  std::vector<double> seconds;                // of the timed runs
  KernelRun kernel;                           // what ran
  std::int64_t peak_device_bytes = 0;         // what the forward allocates: O and lse (+ standard's S/P)
  std::int64_t workspace_bytes = 0;           // of that, the workspace (standard: the S/P buffer)
  std::int64_t peak_device_bytes_inputs = 0;  // what it reads: Q, K, V
  std::vector<double> O;                      // [B,H,N,D], the device's dtype values
  std::vector<double> lse;                    // [B,H,N], natural log, fp32 values
};

struct BackwardRun {
  std::vector<double> seconds;                // of the timed runs
  KernelRun kernel;                           // what ran (the dQ pass aside)
  std::int64_t peak_device_bytes = 0;         // what the backward allocates: dQ, dK, dV and workspace
  std::int64_t peak_device_bytes_inputs = 0;  // what it reads: Q, K, V, O, lse, dO
  std::int64_t workspace_bytes = 0;           // backward_workspace_bytes(shape, deterministic)
  std::vector<double> dQ, dK, dV;             // [B,H,N,D], [B,H,N_kv,D] x 2
};

// One attention problem on the device: inputs uploaded once, the methods run on them.
class NativeAttention {
 public:
  // q, k, v: host [B,H,N,D] / [B,H,N_kv,D] row-major; dout [B,H,N,D] or null (then
  // backward() throws). scale 0 means 1/sqrt(D). Throws when no device is present, the
  // head dim is not supported, or the upload fails.
  NativeAttention(AttnShape const& shape, DType dtype, float scale, double const* q, double const* k,
                  double const* v, double const* dout);
  ~NativeAttention();
  NativeAttention(NativeAttention&&) noexcept;
  NativeAttention& operator=(NativeAttention&&) noexcept;
  NativeAttention(NativeAttention const&) = delete;
  NativeAttention& operator=(NativeAttention const&) = delete;

  AttnShape const& shape() const;
  DType dtype() const;
  DeviceInfo const& device() const;

  // flash_forward with `kernel`, as often as opt.repeat says, into one O and lse allocated for
  // the call.
  ForwardRun forward(TimingOptions const& opt, FwdKernel kernel = FwdKernel::automatic,
                     Fp32Products fp32_products = Fp32Products::tf32x3);
  // flash_backward likewise. Its forward state (O, lse) is made by one untimed
  // flash_forward on first use and kept, like the inputs.
  BackwardRun backward(bool deterministic, TimingOptions const& opt, Fp32Products fp32_products = Fp32Products::tf32x3);
  // Standard attention on cuBLAS (standard_attention_cuda.hpp): the S/P buffer is allocated for
  // the call and counted in peak_device_bytes, as O and lse are.
  ForwardRun standard_forward(TimingOptions const& opt);
  // Its backward: P recomputed, the S/P and dP/dS buffers allocated for the call (workspace_bytes);
  // it reads Q, K, V and dO only (no forward state).
  BackwardRun standard_backward(TimingOptions const& opt);
  // The lab's tiled forward without online softmax (tiled_forward in flash_attention_cuda.hpp).
  ForwardRun tiled_forward(TimingOptions const& opt);

  struct Impl;  // the state (defined in native_attention_runner.cu)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace numlab::cuda
