// SPDX-License-Identifier: MIT
// `backend:` names -> Kokkos execution spaces enabled in this build. Algorithm
// code is templated on the space; only this file names concrete spaces.
#pragma once

#include <Kokkos_Core.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace numlab {

inline std::vector<std::string> kokkos_backends() {
  std::vector<std::string> b = {"default"};
#ifdef KOKKOS_ENABLE_SERIAL
  b.push_back("serial");
#endif
#ifdef KOKKOS_ENABLE_OPENMP
  b.push_back("openmp");
#endif
#ifdef KOKKOS_ENABLE_THREADS
  b.push_back("threads");
#endif
#ifdef KOKKOS_ENABLE_CUDA
  b.push_back("cuda");
#endif
  return b;
}

// Calls f(space) with an instance of the named execution space.
template <class F>
decltype(auto) with_backend(std::string const& name, F&& f) {
  if (name == "default") return f(Kokkos::DefaultExecutionSpace{});
#ifdef KOKKOS_ENABLE_SERIAL
  if (name == "serial") return f(Kokkos::Serial{});
#endif
#ifdef KOKKOS_ENABLE_OPENMP
  if (name == "openmp") return f(Kokkos::OpenMP{});
#endif
#ifdef KOKKOS_ENABLE_THREADS
  if (name == "threads") return f(Kokkos::Threads{});
#endif
#ifdef KOKKOS_ENABLE_CUDA
  if (name == "cuda") return f(Kokkos::Cuda{});
#endif
  throw std::invalid_argument("backend '" + name + "' is not enabled in this Kokkos build");
}

template <class T>
struct type_tag {
  using type = T;
};

// Calls f(type_tag<ExecSpace>{}) for the named execution space without making an instance of it
// (so before Kokkos is initialised, e.g. in config validation).
template <class F>
decltype(auto) with_backend_type(std::string const& name, F&& f) {
  if (name == "default") return f(type_tag<Kokkos::DefaultExecutionSpace>{});
#ifdef KOKKOS_ENABLE_SERIAL
  if (name == "serial") return f(type_tag<Kokkos::Serial>{});
#endif
#ifdef KOKKOS_ENABLE_OPENMP
  if (name == "openmp") return f(type_tag<Kokkos::OpenMP>{});
#endif
#ifdef KOKKOS_ENABLE_THREADS
  if (name == "threads") return f(type_tag<Kokkos::Threads>{});
#endif
#ifdef KOKKOS_ENABLE_CUDA
  if (name == "cuda") return f(type_tag<Kokkos::Cuda>{});
#endif
  throw std::invalid_argument("backend '" + name + "' is not enabled in this Kokkos build");
}

}  // namespace numlab

// X(space) for every execution space with_backend can name (the default space is one of them), for
// explicit instantiations of heavy templates in translation units of their own; host and device
// backends apart, so the device code (minutes of nvcc) and the host code compile in parallel.
#ifdef KOKKOS_ENABLE_SERIAL
#define NUMLAB_KOKKOS_SERIAL_BACKEND_(X) X(Kokkos::Serial)
#else
#define NUMLAB_KOKKOS_SERIAL_BACKEND_(X)
#endif
#ifdef KOKKOS_ENABLE_OPENMP
#define NUMLAB_KOKKOS_OPENMP_BACKEND_(X) X(Kokkos::OpenMP)
#else
#define NUMLAB_KOKKOS_OPENMP_BACKEND_(X)
#endif
#ifdef KOKKOS_ENABLE_THREADS
#define NUMLAB_KOKKOS_THREADS_BACKEND_(X) X(Kokkos::Threads)
#else
#define NUMLAB_KOKKOS_THREADS_BACKEND_(X)
#endif
#ifdef KOKKOS_ENABLE_CUDA
#define NUMLAB_KOKKOS_CUDA_BACKEND_(X) X(Kokkos::Cuda)
#else
#define NUMLAB_KOKKOS_CUDA_BACKEND_(X)
#endif
#define NUMLAB_FOR_EACH_HOST_KOKKOS_BACKEND(X) \
  NUMLAB_KOKKOS_SERIAL_BACKEND_(X) NUMLAB_KOKKOS_OPENMP_BACKEND_(X) NUMLAB_KOKKOS_THREADS_BACKEND_(X)
#define NUMLAB_FOR_EACH_DEVICE_KOKKOS_BACKEND(X) NUMLAB_KOKKOS_CUDA_BACKEND_(X)
#define NUMLAB_FOR_EACH_KOKKOS_BACKEND(X) NUMLAB_FOR_EACH_HOST_KOKKOS_BACKEND(X) NUMLAB_FOR_EACH_DEVICE_KOKKOS_BACKEND(X)
