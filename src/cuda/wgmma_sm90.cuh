// SPDX-License-Identifier: MIT
// Hopper (sm_90a) warpgroup MMA: shared-memory matrix descriptors for the 128-byte swizzle,
// wgmma.mma_async m64nNk16 (bf16/fp16 -> fp32, A from shared memory or registers) and the fences
// that order it. Everything here exists only when compiling for sm_90a (NUMLAB_HAS_WGMMA).
//
// Accumulators d[N/8][4] of the warpgroup's 64 x N tile: warp w of the group holds rows 16w..16w+15
// in exactly the mma.sync C-fragment order of warp_gemm.cuh (row lane/4 (+8), column 8j + 2(lane%4)
// (+1)), and the register A operand of m64k16 is the m16n8k16 A fragment of each warp's 16 rows.
#pragma once

#include "mma_sm80.cuh"

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define NUMLAB_HAS_WGMMA 1
#else
#define NUMLAB_HAS_WGMMA 0
#endif

#if NUMLAB_HAS_WGMMA
namespace numlab::cuda::detail {

// Descriptor of a tile in the canonical 128-byte-swizzle layout: atoms of 8 rows x 128 bytes, rows
// 128 bytes apart, 16-byte chunk c of row r stored at chunk c ^ (r % 8), atoms 1024-byte aligned
// (base offset 0) -- the layout swz<64> of mma_sm80.cuh produces.
//   K-major operand (a k-step's 16 elements lie in one row): sbo = 1024 (next 8 rows); lbo unused.
//   MN-major operand: sbo = 1024 (next 8 k-rows), lbo = bytes between 64-element column slabs.
// A k-step inside the 128-byte row advances the start address by 32 bytes; the hardware applies the
// XOR on the final address bits, so this matches the stored swizzle.
__device__ __forceinline__ uint64_t gmma_desc(uint32_t saddr, uint32_t lbo, uint32_t sbo) {
  return uint64_t((saddr & 0x3FFFF) >> 4) | uint64_t(lbo >> 4) << 16 | uint64_t(sbo >> 4) << 32 | 1ull << 62;
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Shared memory written through the generic proxy (cp.async, st.shared), then read by wgmma.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

// The compiler sees a wgmma's register operands as consumed/produced at issue; pinning them after the
// wait keeps it from reading accumulators early or reusing A registers while the MMA still runs.
template <int A, int B>
__device__ __forceinline__ void reg_fence(float (&r)[A][B]) {
#pragma unroll
  for (int i = 0; i < A; ++i)
#pragma unroll
    for (int j = 0; j < B; ++j) asm volatile("" : "+f"(r[i][j])::"memory");
}
template <int A, int B>
__device__ __forceinline__ void reg_fence(uint32_t (&r)[A][B]) {
#pragma unroll
  for (int i = 0; i < A; ++i)
#pragma unroll
    for (int j = 0; j < B; ++j) asm volatile("" : "+r"(r[i][j])::"memory");
}

// m64nNk16 with fp32 accumulation.
//   ss:    A and B from shared memory, both K-major; accumulate = 0 overwrites d.
//   rs_tb: A from registers, B MN-major in shared memory (stored [k][n]); always accumulates.
template <class T, int N>
struct Wgmma;

#define NUMLAB_R0 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, " \
  "%21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define NUMLAB_R1 "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, " \
  "%51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define NUMLAB_R2 "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, " \
  "%83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95"
#define NUMLAB_R3 "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "    \
  "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"
#define NUMLAB_A4(j) "+f"(d[j][0]), "+f"(d[j][1]), "+f"(d[j][2]), "+f"(d[j][3])
#define NUMLAB_A32(j) NUMLAB_A4(j), NUMLAB_A4(j + 1), NUMLAB_A4(j + 2), NUMLAB_A4(j + 3), NUMLAB_A4(j + 4), \
  NUMLAB_A4(j + 5), NUMLAB_A4(j + 6), NUMLAB_A4(j + 7)
// Per N: accumulator names, their operand list, and the operand numbers that follow them
// (ss: descriptor A, descriptor B, accumulate flag; rs_tb: accumulate flag (always 1), A registers,
// descriptor B).
#define NUMLAB_REGS_64 NUMLAB_R0
#define NUMLAB_ACC_64 NUMLAB_A32(0)
#define NUMLAB_SS_64 "%32, %33", "%34"
#define NUMLAB_RS1_64 "%37"
#define NUMLAB_RS_64 "{%32, %33, %34, %35}, %36"
#define NUMLAB_REGS_128 NUMLAB_R0 ", " NUMLAB_R1
#define NUMLAB_ACC_128 NUMLAB_A32(0), NUMLAB_A32(8)
#define NUMLAB_SS_128 "%64, %65", "%66"
#define NUMLAB_RS1_128 "%69"
#define NUMLAB_RS_128 "{%64, %65, %66, %67}, %68"
#define NUMLAB_REGS_256 NUMLAB_R0 ", " NUMLAB_R1 ", " NUMLAB_R2 ", " NUMLAB_R3
#define NUMLAB_ACC_256 NUMLAB_A32(0), NUMLAB_A32(8), NUMLAB_A32(16), NUMLAB_A32(24)
#define NUMLAB_SS_256 "%128, %129", "%130"
#define NUMLAB_RS1_256 "%133"
#define NUMLAB_RS_256 "{%128, %129, %130, %131}, %132"
// Tile widths beyond 64/128/256 (kBlockN of the warp-specialised forward), in groups of 8 registers.
#define NUMLAB_R8_0 "%0, %1, %2, %3, %4, %5, %6, %7"
#define NUMLAB_R8_1 "%8, %9, %10, %11, %12, %13, %14, %15"
#define NUMLAB_R8_2 "%16, %17, %18, %19, %20, %21, %22, %23"
#define NUMLAB_R8_3 "%24, %25, %26, %27, %28, %29, %30, %31"
#define NUMLAB_R8_4 "%32, %33, %34, %35, %36, %37, %38, %39"
#define NUMLAB_R8_5 "%40, %41, %42, %43, %44, %45, %46, %47"
#define NUMLAB_R8_6 "%48, %49, %50, %51, %52, %53, %54, %55"
#define NUMLAB_R8_7 "%56, %57, %58, %59, %60, %61, %62, %63"
#define NUMLAB_R8_8 "%64, %65, %66, %67, %68, %69, %70, %71"
#define NUMLAB_R8_9 "%72, %73, %74, %75, %76, %77, %78, %79"
#define NUMLAB_R8_10 "%80, %81, %82, %83, %84, %85, %86, %87"
#define NUMLAB_R8_11 "%88, %89, %90, %91, %92, %93, %94, %95"
#define NUMLAB_A8(g) NUMLAB_A4(2 * (g)), NUMLAB_A4(2 * (g) + 1)
#define NUMLAB_REGS_80 NUMLAB_R8_0 ", " NUMLAB_R8_1 ", " NUMLAB_R8_2 ", " NUMLAB_R8_3 ", " NUMLAB_R8_4
#define NUMLAB_ACC_80 NUMLAB_A8(0), NUMLAB_A8(1), NUMLAB_A8(2), NUMLAB_A8(3), NUMLAB_A8(4)
#define NUMLAB_SS_80 "%40, %41", "%42"
#define NUMLAB_RS1_80 "%45"
#define NUMLAB_RS_80 "{%40, %41, %42, %43}, %44"
#define NUMLAB_REGS_96 NUMLAB_R8_0 ", " NUMLAB_R8_1 ", " NUMLAB_R8_2 ", " NUMLAB_R8_3 ", " NUMLAB_R8_4 ", " NUMLAB_R8_5
#define NUMLAB_ACC_96 NUMLAB_A8(0), NUMLAB_A8(1), NUMLAB_A8(2), NUMLAB_A8(3), NUMLAB_A8(4), NUMLAB_A8(5)
#define NUMLAB_SS_96 "%48, %49", "%50"
#define NUMLAB_RS1_96 "%53"
#define NUMLAB_RS_96 "{%48, %49, %50, %51}, %52"
#define NUMLAB_REGS_176 NUMLAB_R8_0 ", " NUMLAB_R8_1 ", " NUMLAB_R8_2 ", " NUMLAB_R8_3 ", " NUMLAB_R8_4 ", " NUMLAB_R8_5 ", " NUMLAB_R8_6 ", " NUMLAB_R8_7 ", " NUMLAB_R8_8 ", " NUMLAB_R8_9 ", " NUMLAB_R8_10
#define NUMLAB_ACC_176 NUMLAB_A8(0), NUMLAB_A8(1), NUMLAB_A8(2), NUMLAB_A8(3), NUMLAB_A8(4), NUMLAB_A8(5), NUMLAB_A8(6), NUMLAB_A8(7), NUMLAB_A8(8), NUMLAB_A8(9), NUMLAB_A8(10)
#define NUMLAB_SS_176 "%88, %89", "%90"
#define NUMLAB_RS1_176 "%93"
#define NUMLAB_RS_176 "{%88, %89, %90, %91}, %92"
#define NUMLAB_REGS_192 NUMLAB_R8_0 ", " NUMLAB_R8_1 ", " NUMLAB_R8_2 ", " NUMLAB_R8_3 ", " NUMLAB_R8_4 ", " NUMLAB_R8_5 ", " NUMLAB_R8_6 ", " NUMLAB_R8_7 ", " NUMLAB_R8_8 ", " NUMLAB_R8_9 ", " NUMLAB_R8_10 ", " NUMLAB_R8_11
#define NUMLAB_ACC_192 NUMLAB_A8(0), NUMLAB_A8(1), NUMLAB_A8(2), NUMLAB_A8(3), NUMLAB_A8(4), NUMLAB_A8(5), NUMLAB_A8(6), NUMLAB_A8(7), NUMLAB_A8(8), NUMLAB_A8(9), NUMLAB_A8(10), NUMLAB_A8(11)
#define NUMLAB_SS_192 "%96, %97", "%98"
#define NUMLAB_RS1_192 "%101"
#define NUMLAB_RS_192 "{%96, %97, %98, %99}, %100"
#define NUMLAB_SS_ASM(TY, N, REGS, DESCS, FLAG)                                                                    \
  "{\n.reg .pred p;\nsetp.ne.b32 p, " FLAG ", 0;\nwgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TY "." TY " {" \
  REGS "}, " DESCS ", p, 1, 1, 0, 0;\n}\n"
#define NUMLAB_SS_ASM_(args) NUMLAB_SS_ASM args

#define NUMLAB_WGMMA(T, TY, N)                                                                                   \
  template <>                                                                                                    \
  struct Wgmma<T, N> {                                                                                           \
    static __device__ __forceinline__ void ss(float (&d)[N / 8][4], uint64_t da, uint64_t db, int accumulate) {   \
      asm volatile(NUMLAB_SS_ASM_((TY, N, NUMLAB_REGS_##N, NUMLAB_SS_##N))                                        \
                   : NUMLAB_ACC_##N                                                                              \
                   : "l"(da), "l"(db), "r"(accumulate));                                                         \
    }                                                                                                            \
    static __device__ __forceinline__ void rs_tb(float (&d)[N / 8][4], const uint32_t (&a)[4], uint64_t db) {    \
      asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " NUMLAB_RS1_##N ", 0;\n"                                     \
                   "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TY "." TY " {" NUMLAB_REGS_##N "}, "         \
                   NUMLAB_RS_##N ", p, 1, 1, 1;\n}\n"                                                            \
                   : NUMLAB_ACC_##N                                                                              \
                   : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "n"(1));                               \
    }                                                                                                            \
  };

NUMLAB_WGMMA(__nv_bfloat16, "bf16", 64)
NUMLAB_WGMMA(__half, "f16", 64)
NUMLAB_WGMMA(__nv_bfloat16, "bf16", 128)
NUMLAB_WGMMA(__half, "f16", 128)
NUMLAB_WGMMA(__nv_bfloat16, "bf16", 256)
NUMLAB_WGMMA(__half, "f16", 256)
NUMLAB_WGMMA(__nv_bfloat16, "bf16", 80)
NUMLAB_WGMMA(__half, "f16", 80)
NUMLAB_WGMMA(__nv_bfloat16, "bf16", 96)
NUMLAB_WGMMA(__half, "f16", 96)
NUMLAB_WGMMA(__nv_bfloat16, "bf16", 176)
NUMLAB_WGMMA(__half, "f16", 176)
NUMLAB_WGMMA(__nv_bfloat16, "bf16", 192)
NUMLAB_WGMMA(__half, "f16", 192)
#undef NUMLAB_WGMMA
#undef NUMLAB_SS_ASM_
#undef NUMLAB_SS_ASM
#undef NUMLAB_R0
#undef NUMLAB_R1
#undef NUMLAB_R2
#undef NUMLAB_R3
#undef NUMLAB_A4
#undef NUMLAB_A32
#undef NUMLAB_REGS_64
#undef NUMLAB_REGS_128
#undef NUMLAB_REGS_256
#undef NUMLAB_ACC_64
#undef NUMLAB_ACC_128
#undef NUMLAB_ACC_256
#undef NUMLAB_SS_64
#undef NUMLAB_SS_128
#undef NUMLAB_SS_256
#undef NUMLAB_RS_64
#undef NUMLAB_RS_128
#undef NUMLAB_RS_256
#undef NUMLAB_RS1_64
#undef NUMLAB_RS1_128
#undef NUMLAB_RS1_256
#undef NUMLAB_R8_0
#undef NUMLAB_R8_1
#undef NUMLAB_R8_2
#undef NUMLAB_R8_3
#undef NUMLAB_R8_4
#undef NUMLAB_R8_5
#undef NUMLAB_R8_6
#undef NUMLAB_R8_7
#undef NUMLAB_R8_8
#undef NUMLAB_R8_9
#undef NUMLAB_R8_10
#undef NUMLAB_R8_11
#undef NUMLAB_A8
#undef NUMLAB_REGS_80
#undef NUMLAB_ACC_80
#undef NUMLAB_SS_80
#undef NUMLAB_RS1_80
#undef NUMLAB_RS_80
#undef NUMLAB_REGS_96
#undef NUMLAB_ACC_96
#undef NUMLAB_SS_96
#undef NUMLAB_RS1_96
#undef NUMLAB_RS_96
#undef NUMLAB_REGS_176
#undef NUMLAB_ACC_176
#undef NUMLAB_SS_176
#undef NUMLAB_RS1_176
#undef NUMLAB_RS_176
#undef NUMLAB_REGS_192
#undef NUMLAB_ACC_192
#undef NUMLAB_SS_192
#undef NUMLAB_RS1_192
#undef NUMLAB_RS_192

}  // namespace numlab::cuda::detail
#endif  // NUMLAB_HAS_WGMMA
