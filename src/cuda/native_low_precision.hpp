// SPDX-License-Identifier: MIT
// bfloat16 / float16 (and float32) on the host, in plain C++ (no CUDA headers): rounding of
// doubles to the formats (round to nearest, ties to even, as cuda_bf16.h's
// __float2bfloat16_rn and the tensor-core conversions), their bit patterns, and back.
// The native runner uploads with these, and the host references round with the same
// functions, so both see exactly the same input values.
#pragma once

#include "cuda/flash_attention_cuda.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace numlab::cuda {

// A binary floating-point format with an implicit leading bit.
struct LowPrecisionFormat {
  int mantissa_bits;  // stored fraction bits p: ulp(1) = 2^-p
  int min_exponent;   // exponent of the smallest normal number, 2^min_exponent
  int max_exponent;   // exponent of the largest finite numbers, < 2^(max_exponent + 1)
  int exponent_bits;  // width of the biased exponent field
};
inline constexpr LowPrecisionFormat kBFloat16{7, -126, 127, 8};
inline constexpr LowPrecisionFormat kFloat16{10, -14, 15, 5};
inline constexpr LowPrecisionFormat kFloat32{23, -126, 127, 8};  // IEEE single: round_to is float(x)

constexpr LowPrecisionFormat format_of(DType t) {
  return t == DType::bf16 ? kBFloat16 : t == DType::fp16 ? kFloat16 : kFloat32;
}
constexpr char const* dtype_name(DType t) {
  return t == DType::bf16 ? "bfloat16" : t == DType::fp16 ? "float16" : "float32";
}
// Unit roundoff u = 2^-(p+1): the relative error of one rounding.
inline double unit_roundoff(DType t) { return std::ldexp(1.0, -(format_of(t).mantissa_bits + 1)); }

// x rounded to the nearest value of format f (ties to even), as a double; beyond
// the largest finite value (after rounding) it is +-inf, NaN stays NaN.
inline double round_to_format(double x, LowPrecisionFormat f) {
  if (!std::isfinite(x) || x == 0.0) return x;
  int e = std::ilogb(x);                   // |x| in [2^e, 2^(e+1))
  if (e < f.min_exponent) e = f.min_exponent;  // subnormals: the fixed quantum of the smallest normals
  const int q = e - f.mantissa_bits;       // quantum (ulp) 2^q
  // Scaling by powers of two is exact; nearbyint rounds ties to even in the default mode.
  const double r = std::ldexp(std::nearbyint(std::ldexp(x, -q)), q);
  const double max_finite = std::ldexp(2.0 - std::ldexp(1.0, -f.mantissa_bits), f.max_exponent);
  if (std::abs(r) > max_finite) return std::copysign(std::numeric_limits<double>::infinity(), x);
  return r;
}
inline double round_to(DType t, double x) {
  // fp32: the cast rounds the same way, faster (out of float's range it is not defined: the general path).
  if (t == DType::fp32 && std::abs(x) <= double(std::numeric_limits<float>::max())) return double(float(x));
  return round_to_format(x, format_of(t));
}

// The 16-bit pattern of x rounded to format t (bf16 or fp16).
inline std::uint16_t to_bits(DType t, double x) {
  const LowPrecisionFormat f = format_of(t);
  const int bias = (1 << (f.exponent_bits - 1)) - 1;
  const std::uint16_t exp_mask = std::uint16_t(((1u << f.exponent_bits) - 1u) << f.mantissa_bits);
  if (std::isnan(x)) return std::uint16_t(exp_mask | (1u << (f.mantissa_bits - 1)));  // quiet NaN
  const double r = round_to_format(x, f);
  const std::uint16_t sign = std::signbit(r) ? std::uint16_t(0x8000) : std::uint16_t(0);
  const double a = std::abs(r);
  if (std::isinf(a)) return std::uint16_t(sign | exp_mask);
  if (a == 0.0) return sign;
  int e = std::ilogb(a);
  if (e < f.min_exponent)  // subnormal: biased exponent 0, fraction a / 2^(min_exponent - p)
    return std::uint16_t(sign | std::uint16_t(std::ldexp(a, f.mantissa_bits - f.min_exponent)));
  const auto frac = std::uint16_t(std::ldexp(a, f.mantissa_bits - e) - std::ldexp(1.0, f.mantissa_bits));
  return std::uint16_t(sign | std::uint16_t((e + bias) << f.mantissa_bits) | frac);
}

// The value of a 16-bit pattern of format t (bf16 or fp16).
inline double from_bits(DType t, std::uint16_t b) {
  const LowPrecisionFormat f = format_of(t);
  const int bias = (1 << (f.exponent_bits - 1)) - 1;
  const double sign = (b & 0x8000u) ? -1.0 : 1.0;
  const unsigned biased = (b >> f.mantissa_bits) & ((1u << f.exponent_bits) - 1u);
  const unsigned frac = b & ((1u << f.mantissa_bits) - 1u);
  if (biased == (1u << f.exponent_bits) - 1u)
    return frac ? std::numeric_limits<double>::quiet_NaN() : sign * std::numeric_limits<double>::infinity();
  if (biased == 0) return sign * std::ldexp(double(frac), f.min_exponent - f.mantissa_bits);
  return sign * std::ldexp(double(frac) + std::ldexp(1.0, f.mantissa_bits), int(biased) - bias - f.mantissa_bits);
}

}  // namespace numlab::cuda
