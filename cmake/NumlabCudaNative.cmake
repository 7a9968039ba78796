# SPDX-License-Identifier: MIT
# The native CUDA tensor-core path (src/cuda: FlashAttention kernels in plain CUDA,
# no Kokkos), built beside the Kokkos code whenever a CUDA compiler works.
#
#   NUMLAB_CUDA_NATIVE = AUTO (default: build it when nvcc is found and works)
#                      | ON   (required: configuring fails without it)
#                      | OFF
#
# nvcc is looked for as CMake does (CMAKE_CUDA_COMPILER, the CUDACXX environment
# variable, PATH), then at /usr/local/cuda/bin/nvcc, where the CUDA installers put it
# without adding it to PATH. This works whatever compiles the C++ (g++, or Kokkos'
# nvcc_wrapper on a Kokkos-CUDA build): the .cu files are their own CUDA target.
#
# Sets NUMLAB_HAVE_CUDA_NATIVE (ON/OFF, written to numlab_config.hpp) and, when ON,
# enables the CUDA language and finds CUDAToolkit (CUDA::cudart, CUDA::cublas).

set(NUMLAB_CUDA_NATIVE AUTO CACHE STRING "native CUDA FlashAttention path (src/cuda): AUTO, ON or OFF")
set_property(CACHE NUMLAB_CUDA_NATIVE PROPERTY STRINGS AUTO ON OFF)
# sm_80 (A100: mma.sync) and sm_90a (H100/H200: wgmma and TMA exist only for the
# architecture-specific 'a' target). CMake >= 3.25 passes "90a" through to nvcc.
set(NUMLAB_CUDA_ARCHITECTURES "80;90a" CACHE STRING "CUDA architectures of the native path (src/cuda)")

set(NUMLAB_HAVE_CUDA_NATIVE OFF)
string(TOUPPER "${NUMLAB_CUDA_NATIVE}" _numlab_cuda_mode)
if(_numlab_cuda_mode MATCHES "^(ON|YES|TRUE|Y|1)$")
  set(_numlab_cuda_mode ON)
elseif(_numlab_cuda_mode MATCHES "^(OFF|NO|FALSE|N|0)$")
  set(_numlab_cuda_mode OFF)
elseif(NOT _numlab_cuda_mode STREQUAL "AUTO")
  message(FATAL_ERROR "NUMLAB_CUDA_NATIVE='${NUMLAB_CUDA_NATIVE}': expected AUTO, ON or OFF")
endif()

set(_numlab_cuda_why "")
if(NOT _numlab_cuda_mode STREQUAL "OFF")
  # nvcc not on PATH but where the installers put it: let CMake's own search (and the
  # probe of check_language, a sub-configure that reads the environment) find it.
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    find_program(NUMLAB_NVCC_ON_PATH nvcc)
    mark_as_advanced(NUMLAB_NVCC_ON_PATH)
    if(NOT NUMLAB_NVCC_ON_PATH AND EXISTS /usr/local/cuda/bin/nvcc)
      set(ENV{CUDACXX} /usr/local/cuda/bin/nvcc)
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)  # probes in a sub-configure: a broken nvcc gives NOTFOUND, not an error
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    find_package(CUDAToolkit)
    if(NOT CUDAToolkit_FOUND)
      set(_numlab_cuda_why "nvcc ${CMAKE_CUDA_COMPILER} works but the CUDA toolkit (cudart) was not found")
    elseif(NOT TARGET CUDA::cublas)
      set(_numlab_cuda_why "the CUDA toolkit has no cuBLAS (CUDA::cublas), which the native standard attention needs")
    elseif(CMAKE_CUDA_COMPILER_VERSION VERSION_LESS 12.0 AND NUMLAB_CUDA_ARCHITECTURES MATCHES "90a")
      set(_numlab_cuda_why "nvcc ${CMAKE_CUDA_COMPILER_VERSION} is older than 12.0, which sm_90a needs")
    else()
      set(NUMLAB_HAVE_CUDA_NATIVE ON)
      # The shared cudart for every target that links CUDA code (numlab, the tests), as
      # Kokkos' CUDA backend links it: one runtime in the process, not a static one beside it.
      if(NOT DEFINED CMAKE_CUDA_RUNTIME_LIBRARY)
        set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
      endif()
    endif()
  else()
    set(_numlab_cuda_why "no working CUDA compiler (nvcc) found; pass -DCMAKE_CUDA_COMPILER=/path/to/nvcc")
  endif()
  if(_numlab_cuda_mode STREQUAL "ON" AND NOT NUMLAB_HAVE_CUDA_NATIVE)
    message(FATAL_ERROR "NUMLAB_CUDA_NATIVE=ON but ${_numlab_cuda_why}")
  endif()
else()
  set(_numlab_cuda_why "NUMLAB_CUDA_NATIVE=OFF")
endif()

if(NUMLAB_HAVE_CUDA_NATIVE)
  set(NUMLAB_CUDA_COMPILER_DESC "${CMAKE_CUDA_COMPILER_ID} ${CMAKE_CUDA_COMPILER_VERSION}")
  message(STATUS "numlab: native CUDA path: ON (${CMAKE_CUDA_COMPILER} ${CMAKE_CUDA_COMPILER_VERSION}, "
                 "architectures ${NUMLAB_CUDA_ARCHITECTURES})")
else()
  set(NUMLAB_CUDA_COMPILER_DESC "")
  message(STATUS "numlab: native CUDA path: OFF (${_numlab_cuda_why})")
endif()
