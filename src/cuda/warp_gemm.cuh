// SPDX-License-Identifier: MIT
// Warp-tile GEMMs on m16n8k16 and the global->shared tile loader shared by all kernels.
//
// Accumulator layout (the mma C fragment): acc[mt][nt][r] is element
//   row = mt*16 + lane/4 + (r/2)*8,  col = nt*8 + (lane%4)*2 + (r%2)
// of the warp's tile. Two adjacent n-tiles of a C fragment form the A fragment of one 16-wide
// k-step, which is how P and dS feed the next GEMM straight from registers.
#pragma once

#include "mma_sm80.cuh"

namespace numlab::cuda::detail {

// R x D tile of a row-major [rows, D] tensor into swizzled shared memory; rows >= valid_rows
// are zero-filled (fallback is any readable address: it is never dereferenced).
template <class T, int R, int D, int NThreads>
__device__ __forceinline__ void load_tile(T* s, const T* g, int valid_rows, const T* fallback, int tid) {
  constexpr int kChunks = D / 8;
  static_assert((R * kChunks) % NThreads == 0, "tile chunks must split evenly over the threads");
#pragma unroll
  for (int i = 0; i < R * kChunks / NThreads; ++i) {
    const int c = tid + i * NThreads;
    const int r = c / kChunks, ch = c % kChunks;
    const bool ok = r < valid_rows;
    cp_async16(s + swz<D>(r, ch * 8), ok ? g + (size_t)r * D + ch * 8 : fallback, ok);
  }
}

// acc[MT][NT] += A(MT*16 rows from a_r0, KDIM) * B(KDIM, NT*8 cols from b_c0), both in shared.
//  A_T = false: A stored [m][k] (rows of AW);  true: stored [k][m] (the transpose is read).
//  B_T = false: B stored [n][k] (like K in Q K^T); true: stored [k][n] (like V in P V).
// a_r0 and b_c0 must be multiples of 16. ldmatrix.x4 lane addresses: lanes 8j..8j+7 give the rows
// of 8x8 matrix j, and register j receives matrix j (PTX ISA, "ldmatrix"); matrices are ordered
// to land in the m16n8k16 A fragment {a0..a3} and two n-tiles' B fragments {b0,b1}.
template <class T, int MT, int NT, int KDIM, int AW, bool A_T, int BW, bool B_T>
__device__ __forceinline__ void warp_gemm_ss(float (&acc)[MT][NT][4], const T* sA, int a_r0, const T* sB, int b_c0,
                                             int lane) {
  static_assert(NT % 2 == 0 && KDIM % 16 == 0, "warp tile");
  // A: non-trans row a_r0 + (lane&15), chunk 2ks + lane/16; trans row 8*(lane/16) + lane%8 (+16 ks),
  //    chunk a_r0/8 + 2mt + (lane/8)%2.  B: non-trans row b_c0 + 8*(lane/16) + lane%8 (+16 np),
  //    chunk 2ks + (lane/8)%2; trans row lane%16 (+16 ks), chunk b_c0/8 + 2np + lane/16.
  const LdsmAddr<AW> ad = A_T ? LdsmAddr<AW>(sA, (lane >> 4) * 8 + (lane & 7), a_r0 >> 3, (lane >> 3) & 1)
                              : LdsmAddr<AW>(sA, a_r0 + (lane & 15), 0, lane >> 4);
  const LdsmAddr<BW> bd = B_T ? LdsmAddr<BW>(sB, lane & 15, b_c0 >> 3, lane >> 4)
                              : LdsmAddr<BW>(sB, b_c0 + (lane >> 4) * 8 + (lane & 7), 0, (lane >> 3) & 1);
#pragma unroll
  for (int ks = 0; ks < KDIM / 16; ++ks) {
    uint32_t a[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      if constexpr (!A_T) ldsm_x4(a[mt], ad.at(ks, mt * 16));
      else ldsm_x4_t(a[mt], ad.at(mt, ks * 16));
    }
#pragma unroll
    for (int np = 0; np < NT / 2; ++np) {
      uint32_t b[4];
      if constexpr (!B_T) ldsm_x4(b, bd.at(ks, np * 16));
      else ldsm_x4_t(b, bd.at(np, ks * 16));
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        mma16816<T>(acc[mt][2 * np], a[mt], b[0], b[1]);
        mma16816<T>(acc[mt][2 * np + 1], a[mt], b[2], b[3]);
      }
    }
  }
}

// acc[MT][NT] += A * B where A (MT*16 x KT*8) is an fp32 C fragment in registers (rounded to T here)
// and B is stored [k][n] in shared (rows of BW), columns from b_c0 (a multiple of 16).
template <class T, int MT, int KT, int NT, int BW>
__device__ __forceinline__ void warp_gemm_rs(float (&acc)[MT][NT][4], const float (&a)[MT][KT][4], const T* sB,
                                             int b_c0, int lane) {
  static_assert(NT % 2 == 0 && KT % 2 == 0, "warp tile");
  const LdsmAddr<BW> bd(sB, lane & 15, b_c0 >> 3, lane >> 4);
#pragma unroll
  for (int kk = 0; kk < KT / 2; ++kk) {
    uint32_t af[MT][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
      af[mt][0] = pack2<T>(a[mt][2 * kk][0], a[mt][2 * kk][1]);
      af[mt][1] = pack2<T>(a[mt][2 * kk][2], a[mt][2 * kk][3]);
      af[mt][2] = pack2<T>(a[mt][2 * kk + 1][0], a[mt][2 * kk + 1][1]);
      af[mt][3] = pack2<T>(a[mt][2 * kk + 1][2], a[mt][2 * kk + 1][3]);
    }
#pragma unroll
    for (int np = 0; np < NT / 2; ++np) {
      uint32_t b[4];
      ldsm_x4_t(b, bd.at(np, kk * 16));
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        mma16816<T>(acc[mt][2 * np], af[mt], b[0], b[1]);
        mma16816<T>(acc[mt][2 * np + 1], af[mt], b[2], b[3]);
      }
    }
  }
}

template <int MT, int NT>
__device__ __forceinline__ void zero(float (&acc)[MT][NT][4]) {
#pragma unroll
  for (int i = 0; i < MT; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = 0.f;
}

// Stores a C fragment (rounded to T) row-major to global, rows >= valid_rows skipped.
template <class T, int MT, int NT>
__device__ __forceinline__ void store_frag_global(T* g, int ld, int r0, int c0, int valid_rows,
                                                  const float (&acc)[MT][NT][4], float mul, int lane) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = r0 + mt * 16 + (lane >> 2) + h * 8;
      if (r >= valid_rows) continue;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        const int c = c0 + nt * 8 + (lane & 3) * 2;
        *reinterpret_cast<uint32_t*>(g + (size_t)r * ld + c) =
            pack2<T>(acc[mt][nt][2 * h] * mul, acc[mt][nt][2 * h + 1] * mul);
      }
    }
}

}  // namespace numlab::cuda::detail
