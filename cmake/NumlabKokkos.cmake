# SPDX-License-Identifier: MIT
# Finds Kokkos and Kokkos Kernels and exposes them as the one target
# numlab::kokkos. Two layouts are accepted:
#  1. a real install (find_package(Kokkos) / find_package(KokkosKernels) with
#     the Kokkos::kokkos and Kokkos::kokkoskernels targets), e.g. a CUDA build
#     given by -DKokkos_ROOT=... -DKokkosKernels_ROOT=...;
#  2. Debian's Trilinos packages (libtrilinos-kokkos*-dev, Kokkos 3.4), whose
#     KokkosConfig.cmake points at a missing /usr/lib/include: there we use the
#     TriBITS variables of KokkosKernelsConfig.cmake instead.

add_library(numlab_kokkos INTERFACE)
add_library(numlab::kokkos ALIAS numlab_kokkos)

set(_numlab_kokkos_found FALSE)
find_package(Kokkos CONFIG QUIET)
if(Kokkos_FOUND AND TARGET Kokkos::kokkos)
  get_target_property(_kk_inc Kokkos::kokkos INTERFACE_INCLUDE_DIRECTORIES)
  set(_kk_ok TRUE)
  foreach(_d IN LISTS _kk_inc)
    if(NOT _d MATCHES "\\$<" AND NOT EXISTS "${_d}")
      set(_kk_ok FALSE)   # Debian's broken config: include dir does not exist
    endif()
  endforeach()
  if(_kk_ok)
    find_package(KokkosKernels CONFIG REQUIRED)
    target_link_libraries(numlab_kokkos INTERFACE Kokkos::kokkos Kokkos::kokkoskernels)
    set(NUMLAB_KOKKOS_LAYOUT "install")
    set(_numlab_kokkos_found TRUE)
  endif()
endif()

if(NOT _numlab_kokkos_found)
  # Debian/TriBITS layout.
  find_package(KokkosKernels CONFIG REQUIRED NAMES KokkosKernels)
  if(NOT KokkosKernels_INCLUDE_DIRS)
    message(FATAL_ERROR "KokkosKernels found but it gives no KokkosKernels_INCLUDE_DIRS; "
                        "pass -DKokkos_ROOT=... for a real Kokkos install")
  endif()
  set(_kk_libs "")
  foreach(_lib IN LISTS KokkosKernels_LIBRARIES)
    find_library(_kk_lib_${_lib} NAMES ${_lib} HINTS ${KokkosKernels_LIBRARY_DIRS} REQUIRED)
    list(APPEND _kk_libs ${_kk_lib_${_lib}})
  endforeach()
  target_include_directories(numlab_kokkos SYSTEM INTERFACE ${KokkosKernels_INCLUDE_DIRS})
  target_link_libraries(numlab_kokkos INTERFACE ${_kk_libs} ${KokkosKernels_TPL_LIBRARIES})
  set(Kokkos_VERSION "from-headers")
  set(NUMLAB_KOKKOS_LAYOUT "debian-tribits")
endif()
# Where this Kokkos came from, from what was found (recorded in every file's provenance as
# kokkos_origin, and in numlab-kokkos-origin.txt of the build folder for scripts/build.sh and
# scripts/test.sh): the OpenMP build of scripts/kokkos_openmp.sh, Debian's Serial packages, or
# another install.
if(NUMLAB_KOKKOS_LAYOUT STREQUAL "debian-tribits")
  set(NUMLAB_KOKKOS_ORIGIN "debian-serial-packages")
elseif(Kokkos_DIR MATCHES "/kokkos-openmp/kokkos/")
  set(NUMLAB_KOKKOS_ORIGIN "trilinos-source-openmp")
else()
  set(NUMLAB_KOKKOS_ORIGIN "user (${Kokkos_DIR})")
endif()
file(WRITE ${PROJECT_BINARY_DIR}/numlab-kokkos-origin.txt "${NUMLAB_KOKKOS_ORIGIN}\n")
message(STATUS "numlab: Kokkos layout: ${NUMLAB_KOKKOS_LAYOUT}, devices: ${Kokkos_DEVICES}, origin: ${NUMLAB_KOKKOS_ORIGIN}")

# With the OpenMP backend, Debian's OpenMP-threaded OpenBLAS (libopenblas0-openmp) instead of the
# system default (the pthreads one): its BLAS calls then run on the same libgomp thread pool as
# the Kokkos kernels around them. With two pools on the same cores, each one's threads, spinning
# after their region, took the cores the other's next region needed (2-core host, dense LU at
# N = 100: 0.30 ms with the pthreads OpenBLAS, 0.075 ms with the OpenMP one, same run). Linked by
# its path, so the process loads it (by its soname, libopenblas.so.0, also for Kokkos Kernels)
# from that folder whatever the system's alternatives say.
option(NUMLAB_OPENMP_BLAS "with Kokkos OpenMP, link Debian's OpenMP-threaded OpenBLAS where installed" ON)
if(NUMLAB_OPENMP_BLAS AND "${Kokkos_DEVICES}" MATCHES "OPENMP" AND CMAKE_LIBRARY_ARCHITECTURE)
  find_file(NUMLAB_OPENBLAS_OPENMP libopenblas.so.0 PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp
            NO_DEFAULT_PATH)
  if(NUMLAB_OPENBLAS_OPENMP)
    target_link_libraries(numlab_kokkos INTERFACE "${NUMLAB_OPENBLAS_OPENMP}")
    set(NUMLAB_LINKS_OPENMP_BLAS TRUE)
    target_link_options(numlab_kokkos INTERFACE "LINKER:--no-as-needed")
    message(STATUS "numlab: BLAS: ${NUMLAB_OPENBLAS_OPENMP} (OpenMP-threaded, the Kokkos pool's threads)")
  else()
    message(STATUS "numlab: BLAS: the system's (install libopenblas0-openmp for one OpenMP thread pool)")
  endif()
endif()
