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

}  // namespace numlab
