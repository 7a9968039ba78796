// SPDX-License-Identifier: MIT
// The factorisation precisions of the mixed-precision solver and the portable emulation of the
// 16-bit formats: bfloat16 and IEEE binary16 values held in floats (round to nearest even, with
// binary16's range: overflow to inf past 65504, subnormals down to 2^-24). Portable on every
// backend; it gives the formats' numerics (where refinement stops converging), not their speed:
// that needs tensor-core GEMMs (cuBLAS gemmEx with 16-bit inputs), a CUDA-only path.
#pragma once

#include "core/kokkos_ext/compat.hpp"
#include "core/options.hpp"

#include <Kokkos_Core.hpp>

#include <cstdint>

namespace numlab::linsolve {

// tf32: float32 storage, the factorisation's GEMMs on TF32 tensor cores (inputs rounded to a 10-bit
// fraction, products accumulated in fp32): cuBLAS math mode on CUDA builds, nothing to emulate it elsewhere.
enum class FactorPrecision { float64, float32, bfloat16, float16, tf32 };

// Unit roundoff u (half the machine epsilon) of each format.
constexpr double unit_roundoff(FactorPrecision p) {
  switch (p) {
    case FactorPrecision::float64: return 0x1.0p-53;
    case FactorPrecision::float32: return 0x1.0p-24;
    case FactorPrecision::bfloat16: return 0x1.0p-8;
    case FactorPrecision::float16: return 0x1.0p-11;
    case FactorPrecision::tf32: return 0x1.0p-11;  // of the GEMMs' inputs
  }
  return 0;
}

// Stored as floats and rounded to the format after every kernel (see detail::round_to).
constexpr bool is_emulated(FactorPrecision p) { return p == FactorPrecision::bfloat16 || p == FactorPrecision::float16; }

}  // namespace numlab::linsolve

namespace numlab {
template <>
struct EnumNames<linsolve::FactorPrecision> {
  static constexpr EnumName<linsolve::FactorPrecision> values[] = {
      {linsolve::FactorPrecision::float64, "float64", "fp64 factors (refinement as a check: 0-1 steps)"},
      {linsolve::FactorPrecision::float32, "float32", "fp32 factors and triangular solves"},
      {linsolve::FactorPrecision::bfloat16, "bfloat16",
       "bfloat16 storage emulated in fp32 (8-bit significand), fp32 arithmetic inside each kernel"},
      {linsolve::FactorPrecision::float16, "float16",
       "IEEE binary16 storage emulated in fp32 (11-bit significand, max 65504), fp32 arithmetic inside each kernel"},
      {linsolve::FactorPrecision::tf32, "tf32",
       "fp32 factors whose GEMMs run on TF32 tensor cores (11-bit significand inputs, fp32 accumulation; CUDA only)"}};
};
}  // namespace numlab

namespace numlab::linsolve::detail {

// x rounded to the nearest bfloat16 (ties to even); NaN stays NaN, overflow rounds to inf.
KOKKOS_INLINE_FUNCTION float round_to_bfloat16(float x) {
  const unsigned int u = kx::float_bits(x);
  if ((u & 0x7f800000u) == 0x7f800000u) return x;  // inf, NaN
  const unsigned int lsb = (u >> 16) & 1u;
  return kx::float_from_bits((u + 0x7fffu + lsb) & 0xffff0000u);
}

// x rounded to the nearest binary16 value (ties to even), as a float.
KOKKOS_INLINE_FUNCTION float round_to_float16(float x) {
  const unsigned int u = kx::float_bits(x);
  const unsigned int sign = u & 0x80000000u;
  const unsigned int a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) return x;                       // inf, NaN
  if (a >= 0x477ff000u) return kx::float_from_bits(sign | 0x7f800000u);  // >= 65520: rounds past 65504
  if (a < 0x38800000u) {  // below 2^-14: binary16's subnormals, multiples of 2^-24
    // 0.5 + |x| has ulp 2^-24: the float addition rounds |x| to that grid (ties to even), exactly.
    volatile float shifted = kx::float_from_bits(a) + 0.5f;  // volatile: no reassociation
    const float r = shifted - 0.5f;
    return kx::float_from_bits(sign | kx::float_bits(r));
  }
  const unsigned int lsb = (a >> 13) & 1u;  // keep 10 fraction bits
  return kx::float_from_bits(sign | ((a + 0xfffu + lsb) & 0xffffe000u));
}

KOKKOS_INLINE_FUNCTION float round_to(FactorPrecision p, float x) {
  return p == FactorPrecision::bfloat16 ? round_to_bfloat16(x) : p == FactorPrecision::float16 ? round_to_float16(x) : x;
}
KOKKOS_INLINE_FUNCTION double round_to(FactorPrecision, double x) { return x; }

// Every entry of the rank-2 view A rounded to p's format (nothing for float32 / float64).
template <class ExecSpace, class AV>
void round_block(ExecSpace const& space, AV const& A, FactorPrecision p) {
  if (!is_emulated(p) || A.extent(0) == 0 || A.extent(1) == 0) return;
  using policy_t = Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2, Kokkos::Iterate::Left, Kokkos::Iterate::Left>>;
  Kokkos::parallel_for(
      "numlab::lowp::round",
      policy_t(space, {0, 0}, {static_cast<std::int64_t>(A.extent(0)), static_cast<std::int64_t>(A.extent(1))}),
      KOKKOS_LAMBDA(const std::int64_t i, const std::int64_t j) { A(i, j) = round_to(p, A(i, j)); });
}

// dst(i, j) = src(i, j) converted (and rounded to p's format).
template <class ExecSpace, class DV, class SV>
void convert_matrix(ExecSpace const& space, DV const& dst, SV const& src, FactorPrecision p) {
  using T = typename DV::non_const_value_type;
  using policy_t = Kokkos::MDRangePolicy<ExecSpace, Kokkos::Rank<2, Kokkos::Iterate::Left, Kokkos::Iterate::Left>>;
  if (src.extent(0) == 0 || src.extent(1) == 0) return;
  Kokkos::parallel_for(
      "numlab::lowp::convert",
      policy_t(space, {0, 0}, {static_cast<std::int64_t>(src.extent(0)), static_cast<std::int64_t>(src.extent(1))}),
      KOKKOS_LAMBDA(const std::int64_t i, const std::int64_t j) { dst(i, j) = round_to(p, static_cast<T>(src(i, j))); });
}

}  // namespace numlab::linsolve::detail
