// SPDX-License-Identifier: MIT
// Host runner of the native CUDA FlashAttention kernels: see native_attention_runner.hpp.
#include "cuda/native_attention_runner.hpp"

#include "cuda/host_parallel.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

namespace numlab::cuda {

namespace {

constexpr char const* kWho = "numlab::cuda::NativeAttention";

void check(cudaError_t e, std::string const& what) {
  if (e != cudaSuccess)
    throw std::runtime_error(std::string(kWho) + ": " + what + ": " + cudaGetErrorName(e) + " (" +
                             cudaGetErrorString(e) + ")");
}

// Device bytes from cudaMalloc, freed when the buffer goes.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::size_t bytes, char const* what) : bytes_(bytes) {
    if (bytes_ > 0) check(cudaMalloc(&ptr_, bytes_), std::string("allocating ") + what + " (" +
                                                         std::to_string(bytes_) + " bytes)");
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  DeviceBuffer(DeviceBuffer const&) = delete;
  DeviceBuffer& operator=(DeviceBuffer const&) = delete;

  void* get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }
  explicit operator bool() const { return ptr_ != nullptr; }

 private:
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
};

// Copies ordered on the runner's (non-blocking) stream and complete on return: a plain
// cudaMemcpy runs on the legacy stream, which a non-blocking stream does not wait for.
void copy(void* dst, void const* src, std::size_t bytes, cudaMemcpyKind kind, cudaStream_t stream,
          std::string const& what) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(dst, src, bytes, kind, stream), what);
  check(cudaStreamSynchronize(stream), what);
}

// n host doubles -> a device buffer of n bf16/fp16 values (round to nearest even), or fp32 values.
DeviceBuffer upload(DType t, double const* host, std::size_t n, cudaStream_t stream, char const* what) {
  DeviceBuffer d(n * element_bytes(t), what);
  if (t == DType::fp32) {
    std::vector<float> f(n);
    parallel_elements(n, [&](std::size_t i) { f[i] = float(host[i]); });
    copy(d.get(), f.data(), n * sizeof(float), cudaMemcpyHostToDevice, stream, std::string("uploading ") + what);
    return d;
  }
  std::vector<std::uint16_t> bits(n);
  parallel_elements(n, [&](std::size_t i) { bits[i] = to_bits(t, host[i]); });
  copy(d.get(), bits.data(), n * sizeof(std::uint16_t), cudaMemcpyHostToDevice, stream,
       std::string("uploading ") + what);
  return d;
}

std::vector<double> download32(DeviceBuffer const& d, std::size_t n, cudaStream_t stream, char const* what);

// n values of dtype t back as doubles.
std::vector<double> download_values(DType t, DeviceBuffer const& d, std::size_t n, cudaStream_t stream,
                               char const* what) {
  if (t == DType::fp32) return download32(d, n, stream, what);
  std::vector<std::uint16_t> bits(n);
  copy(bits.data(), d.get(), n * sizeof(std::uint16_t), cudaMemcpyDeviceToHost, stream,
       std::string("downloading ") + what);
  std::vector<double> out(n);
  parallel_elements(n, [&](std::size_t i) { out[i] = from_bits(t, bits[i]); });
  return out;
}

std::vector<double> download32(DeviceBuffer const& d, std::size_t n, cudaStream_t stream, char const* what) {
  std::vector<float> f(n);
  copy(f.data(), d.get(), n * sizeof(float), cudaMemcpyDeviceToHost, stream, std::string("downloading ") + what);
  return std::vector<double>(f.begin(), f.end());
}

std::int64_t bytes_of(std::initializer_list<DeviceBuffer const*> bufs) {
  std::int64_t s = 0;
  for (auto const* b : bufs) s += std::int64_t(b->bytes());
  return s;
}

}  // namespace

DeviceInfo device_info() {
  DeviceInfo d;
  cudaRuntimeGetVersion(&d.runtime_version);
  if (cudaDriverGetVersion(&d.driver_version) != cudaSuccess) d.driver_version = 0;
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n <= 0) {
    d.reason = e != cudaSuccess ? std::string("cudaGetDeviceCount: ") + cudaGetErrorName(e) + " (" +
                                      cudaGetErrorString(e) + ")"
                                : std::string("cudaGetDeviceCount: 0 devices");
    cudaGetLastError();  // not sticky; leave no error behind for the next caller
    return d;
  }
  d.count = n;
  cudaDeviceProp p{};
  if ((e = cudaGetDevice(&d.device)) != cudaSuccess || (e = cudaGetDeviceProperties(&p, d.device)) != cudaSuccess) {
    d.reason = std::string("querying the device: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    cudaGetLastError();
    return d;
  }
  d.name = p.name;
  d.cc_major = p.major;
  d.cc_minor = p.minor;
  d.total_bytes = std::int64_t(p.totalGlobalMem);
  d.present = true;
  return d;
}

struct NativeAttention::Impl {
  AttnShape shape;
  DType dtype = DType::bf16;
  float scale = 0.f;
  DeviceInfo info;
  std::size_t nq = 0, nkv = 0, rows = 0;  // elements of Q (= O, dO, dQ), of K (= V, dK, dV), of lse
  DeviceBuffer q, k, v, dout;              // inputs, dtype
  DeviceBuffer o_fwd, lse_fwd;             // forward state of the backward
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;

  ~Impl() {
    if (start) cudaEventDestroy(start);
    if (stop) cudaEventDestroy(stop);
    if (stream) cudaStreamDestroy(stream);
  }

  ForwardArgs forward_args(void* o, float* lse) const {
    ForwardArgs a;
    a.shape = shape;
    a.dtype = dtype;
    a.scale = scale;
    a.q = q.get();
    a.k = k.get();
    a.v = v.get();
    a.o = o;
    a.lse = lse;
    return a;
  }

  // launch() between two events on the stream, as often as opt.repeat says: the seconds of the timed runs.
  template <class Launch>
  std::vector<double> timed(TimingOptions const& opt, char const* what, Launch&& launch) {
    if (!opt.repeat) throw std::invalid_argument(std::string(kWho) + ": TimingOptions::repeat is not set");
    return opt.repeat([&] {
      check(cudaEventRecord(start, stream), "recording the start event");
      launch();
      check(cudaGetLastError(), std::string("launching ") + what);
      check(cudaEventRecord(stop, stream), "recording the stop event");
      check(cudaEventSynchronize(stop), std::string("running ") + what);
      float ms = 0.f;
      check(cudaEventElapsedTime(&ms, start, stop), "reading the events");
      return double(ms) * 1e-3;
    });
  }

  void ensure_forward_state() {
    if (o_fwd) return;
    DeviceBuffer o(nq * element_bytes(dtype), "the forward state O"), lse(rows * sizeof(float), "the forward state lse");
    flash_forward(forward_args(o.get(), static_cast<float*>(lse.get())), stream);
    check(cudaGetLastError(), "launching flash_forward (forward state of the backward)");
    check(cudaStreamSynchronize(stream), "running flash_forward (forward state of the backward)");
    o_fwd = std::move(o);
    lse_fwd = std::move(lse);
  }
};

NativeAttention::NativeAttention(AttnShape const& shape, DType dtype, float scale, double const* q, double const* k,
                                 double const* v, double const* dout)
    : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.info = device_info();
  if (!m.info.present) throw std::runtime_error(std::string(kWho) + ": no CUDA device (" + m.info.reason + ")");
  if (shape.B < 1 || shape.H < 1 || shape.N < 1 || shape.N_kv < 1)
    throw std::invalid_argument(std::string(kWho) + ": shape needs B, H, N, N_kv >= 1");
  if (!supports_head_dim(dtype, shape.D))
    throw std::invalid_argument(std::string(kWho) + ": head dim D = " + std::to_string(shape.D) +
                                " is not supported by the native kernels (64, 128, 256; fp32: 64, 128)");
  if (!q || !k || !v) throw std::invalid_argument(std::string(kWho) + ": Q, K and V are required");
  m.shape = shape;
  m.dtype = dtype;
  m.scale = scale;
  const std::size_t bh = std::size_t(shape.B) * std::size_t(shape.H);
  m.nq = bh * std::size_t(shape.N) * std::size_t(shape.D);
  m.nkv = bh * std::size_t(shape.N_kv) * std::size_t(shape.D);
  m.rows = bh * std::size_t(shape.N);
  check(cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking), "creating a stream");
  check(cudaEventCreate(&m.start), "creating an event");
  check(cudaEventCreate(&m.stop), "creating an event");
  m.q = upload(dtype, q, m.nq, m.stream, "Q");
  m.k = upload(dtype, k, m.nkv, m.stream, "K");
  m.v = upload(dtype, v, m.nkv, m.stream, "V");
  if (dout) m.dout = upload(dtype, dout, m.nq, m.stream, "dO");
}

NativeAttention::~NativeAttention() = default;
NativeAttention::NativeAttention(NativeAttention&&) noexcept = default;
NativeAttention& NativeAttention::operator=(NativeAttention&&) noexcept = default;

AttnShape const& NativeAttention::shape() const { return impl_->shape; }
DType NativeAttention::dtype() const { return impl_->dtype; }
DeviceInfo const& NativeAttention::device() const { return impl_->info; }

namespace {
// A forward into O and lse allocated for the call (plus `workspace_bytes` of workspace), timed as
// opt says; launch(args, workspace) runs it once and returns what it launched.
template <class Launch>
ForwardRun run_forward(NativeAttention::Impl& m, TimingOptions const& opt, std::size_t workspace_bytes,
                       char const* what, Launch&& launch) {
  ForwardRun r;
  DeviceBuffer o(m.nq * element_bytes(m.dtype), "O"), lse(m.rows * sizeof(float), "lse"), ws(workspace_bytes, "the forward workspace");
  ForwardArgs args = m.forward_args(o.get(), static_cast<float*>(lse.get()));
  r.seconds = m.timed(opt, what, [&] { r.kernel = launch(args, ws); });
  r.workspace_bytes = std::int64_t(ws.bytes());
  r.peak_device_bytes = bytes_of({&o, &lse, &ws});
  r.peak_device_bytes_inputs = bytes_of({&m.q, &m.k, &m.v});
  if (opt.download) {
    r.O = download_values(m.dtype, o, m.nq, m.stream, "O");
    r.lse = download32(lse, m.rows, m.stream, "lse");
  }
  return r;
}
}  // namespace

ForwardRun NativeAttention::forward(TimingOptions const& opt, FwdKernel kernel, Fp32Products fp32_products) {
  return run_forward(*impl_, opt, 0, "flash_forward", [&](ForwardArgs args, DeviceBuffer const&) {
    args.kernel = kernel;
    args.fp32_products = fp32_products;
    return flash_forward(args, impl_->stream);
  });
}

ForwardRun NativeAttention::tiled_forward(TimingOptions const& opt) {
  return run_forward(*impl_, opt, 0, "tiled_forward",
                     [&](ForwardArgs const& args, DeviceBuffer const&) { return cuda::tiled_forward(args, impl_->stream); });
}

ForwardRun NativeAttention::standard_forward(TimingOptions const& opt) {
  return run_forward(*impl_, opt, cuda::standard_forward_workspace_bytes(impl_->shape), "standard_forward",
                     [&](ForwardArgs const& args, DeviceBuffer const& ws) {
                       return cuda::standard_forward(args, ws.get(), ws.bytes(), impl_->stream);
                     });
}

BackwardRun NativeAttention::standard_backward(TimingOptions const& opt) {
  auto& m = *impl_;
  if (!m.dout) throw std::logic_error(std::string(kWho) + ": standard_backward() needs dO, which was not given");
  BackwardRun r;
  r.workspace_bytes = std::int64_t(cuda::standard_backward_workspace_bytes(m.shape));
  DeviceBuffer dq(m.nq * element_bytes(m.dtype), "dQ"), dk(m.nkv * element_bytes(m.dtype), "dK"),
      dv(m.nkv * element_bytes(m.dtype), "dV"),
      ws(std::size_t(r.workspace_bytes), "the standard backward's S/P and dP/dS buffers");
  StandardBackwardArgs a;
  a.shape = m.shape;
  a.dtype = m.dtype;
  a.scale = m.scale;
  a.q = m.q.get();
  a.k = m.k.get();
  a.v = m.v.get();
  a.dout = m.dout.get();
  a.dq = dq.get();
  a.dk = dk.get();
  a.dv = dv.get();
  a.workspace = ws.get();
  a.workspace_bytes = ws.bytes();
  r.seconds = m.timed(opt, "standard_backward", [&] { r.kernel = cuda::standard_backward(a, m.stream); });
  r.peak_device_bytes = bytes_of({&dq, &dk, &dv, &ws});
  r.peak_device_bytes_inputs = bytes_of({&m.q, &m.k, &m.v, &m.dout});
  if (opt.download) {
    r.dQ = download_values(m.dtype, dq, m.nq, m.stream, "dQ");
    r.dK = download_values(m.dtype, dk, m.nkv, m.stream, "dK");
    r.dV = download_values(m.dtype, dv, m.nkv, m.stream, "dV");
  }
  return r;
}

BackwardRun NativeAttention::backward(bool deterministic, TimingOptions const& opt, Fp32Products fp32_products) {
  auto& m = *impl_;
  if (!m.dout) throw std::logic_error(std::string(kWho) + ": backward() needs dO, which was not given");
  m.ensure_forward_state();
  BackwardRun r;
  r.workspace_bytes = std::int64_t(backward_workspace_bytes(m.shape, deterministic));
  DeviceBuffer dq(m.nq * element_bytes(m.dtype), "dQ"), dk(m.nkv * element_bytes(m.dtype), "dK"),
      dv(m.nkv * element_bytes(m.dtype), "dV"),
      ws(std::size_t(r.workspace_bytes), "the backward workspace");
  BackwardArgs a;
  a.shape = m.shape;
  a.dtype = m.dtype;
  a.scale = m.scale;
  a.deterministic = deterministic;
  a.fp32_products = fp32_products;
  a.q = m.q.get();
  a.k = m.k.get();
  a.v = m.v.get();
  a.o = m.o_fwd.get();
  a.dout = m.dout.get();
  a.lse = static_cast<float const*>(m.lse_fwd.get());
  a.dq = dq.get();
  a.dk = dk.get();
  a.dv = dv.get();
  a.workspace = ws.get();
  a.workspace_bytes = ws.bytes();
  // flash_backward zeroes what it accumulates into (the fp32 dQ of the workspace) itself,
  // so the buffers are not reset between runs: the timed run is all the method costs.
  r.seconds = m.timed(opt, "flash_backward", [&] { r.kernel = flash_backward(a, m.stream); });
  r.peak_device_bytes = bytes_of({&dq, &dk, &dv, &ws});
  r.peak_device_bytes_inputs = bytes_of({&m.q, &m.k, &m.v, &m.o_fwd, &m.lse_fwd, &m.dout});
  if (opt.download) {
    r.dQ = download_values(m.dtype, dq, m.nq, m.stream, "dQ");
    r.dK = download_values(m.dtype, dk, m.nkv, m.stream, "dK");
    r.dV = download_values(m.dtype, dv, m.nkv, m.stream, "dV");
  }
  return r;
}

}  // namespace numlab::cuda
