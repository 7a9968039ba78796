// SPDX-License-Identifier: MIT
// exp2 / exp that gcc -O3 vectorises without -ffast-math (branch-free: selects, integer bit
// tricks, one polynomial), for the softmax of the attention forward kernels. std::exp / expf
// per score is a library call that stays scalar and costs about as much as the score's share
// of the two GEMMs at D = 64; this costs ~2 SIMD instructions per score.
#pragma once

#include <Kokkos_Core.hpp>

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace numlab::attention::detail {

// log2(e) and ln(2): the softmax folds log2(e) * scale into one constant (OnlineSoftmax).
template <class T>
inline constexpr T log2e_v = T(1.44269504088896340735992468100189214);
template <class T>
inline constexpr T ln2_v = T(0.693147180559945309417232121458176568);

template <class To, class From>
KOKKOS_FORCEINLINE_FUNCTION To bit_cast_fwd(From const& from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast_fwd: sizes differ");
  To to;
  std::memcpy(&to, &from, sizeof(To));  // folded into a register move; legal in device code
  return to;
}

// Per-precision parts of exp2: the IEEE format of T and 2^f on f in [-1/2, 1/2] as a minimax
// polynomial for the relative error (Remez with c0 = 1, coefficients as literals so device code
// can use them).
template <class T>
struct Exp2Traits;

template <>
struct Exp2Traits<float> {
  using bits_t = std::uint32_t;
  static constexpr int mantissa_bits = 23;
  static constexpr bits_t exponent_bias = 127;
  static constexpr float min_exponent = -125.0f;      // below: the result is flushed to 0
  static constexpr float overflow_exponent = 128.0f;  // at and above: +inf
  // 2^(f+1) = 2 * 2^f (doubled coefficients, exact): degree 6 minimax for 2^f, max relative
  // error 3.9e-9 (0.03 ulp) before rounding.
  KOKKOS_FORCEINLINE_FUNCTION static float poly(float f) {
    return 2.0f + f * (1.38629445079002217306f +
                       f * (0.48045302168234587148f +
                            f * (0.11100594628398649515f +
                                 f * (0.0192360615650103075956f +
                                      f * (0.0026820001932200314138f + f * 0.00030939463954951096228f)))));
  }
};

template <>
struct Exp2Traits<double> {
  using bits_t = std::uint64_t;
  static constexpr int mantissa_bits = 52;
  static constexpr bits_t exponent_bias = 1023;
  static constexpr double min_exponent = -1021.0;
  static constexpr double overflow_exponent = 1024.0;
  // 2^(f+1): degree 11 minimax for 2^f with doubled coefficients, max relative error 1.8e-17
  // (0.08 ulp) before rounding.
  KOKKOS_FORCEINLINE_FUNCTION static double poly(double f) {
    double p = 8.156143859176673330008442e-10;
    p = p * f + 1.4145140825628847019156484e-8;
    p = p * f + 0.000000203612953184682777769204;
    p = p * f + 0.000002643088535065964428647492;
    p = p * f + 0.0000305054547703877363937742;
    p = p * f + 0.00030807060883144260659408;
    p = p * f + 0.002666711630687992949409338;
    p = p * f + 0.019236258215214004759168924;
    p = p * f + 0.11100821732958078910330546;
    p = p * f + 0.4804530139182019601313196;
    p = p * f + 1.386294361119891393501276;
    return p * f + 2.0;
  }
};

// c ? a : b on the bit patterns. Under gcc's default -ftrapping-math a ?: whose condition is a
// floating-point comparison is never if-converted (the comparison "may trap"), so it stays a
// branch and the loop around it does not vectorise; this integer-mask form does (cmpps + and/or).
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T bit_select(bool c, T a, T b) {
  using bits_t = typename Exp2Traits<T>::bits_t;
  bits_t const m = bits_t(0) - bits_t(c);
  return bit_cast_fwd<T>(bits_t((bit_cast_fwd<bits_t>(a) & m) | (bit_cast_fwd<bits_t>(b) & ~m)));
}

// Order-preserving integer key of a float/double: for non-NaN x, y, x < y <=> key(x) < key(y)
// (negative values get their magnitude bits flipped). It is an involution on the bit pattern,
// so from_ordered_key(key(x)) == x. Used for the row max on the host: an integer max reduction
// vectorises under -ftrapping-math, a floating-point one does not.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION std::make_signed_t<typename Exp2Traits<T>::bits_t> ordered_key(T x) {
  using bits_t = typename Exp2Traits<T>::bits_t;
  bits_t const u = bit_cast_fwd<bits_t>(x);
  bits_t const negative = bits_t(0) - (u >> (8 * sizeof(bits_t) - 1));  // all ones if the sign is set
  bits_t const magnitude = bits_t(~bits_t(0)) >> 1;
  return bit_cast_fwd<std::make_signed_t<bits_t>>(bits_t(u ^ (negative & magnitude)));
}
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T from_ordered_key(std::make_signed_t<typename Exp2Traits<T>::bits_t> k) {
  using bits_t = typename Exp2Traits<T>::bits_t;
  bits_t const u = bit_cast_fwd<bits_t>(k);
  bits_t const negative = bits_t(0) - (u >> (8 * sizeof(bits_t) - 1));
  bits_t const magnitude = bits_t(~bits_t(0)) >> 1;
  return bit_cast_fwd<T>(bits_t(u ^ (negative & magnitude)));
}

// 2^x for T = float or double, within ~1 ulp of the correctly rounded value for normal
// results. Corner cases: -inf -> 0 exactly, +inf -> +inf, NaN -> NaN; results below 2^-125
// (fp32; 2^-1021 in fp64, twice the smallest normal number) are flushed to +0, an absolute
// error a softmax sum >= 1 cannot see. Branch-free, so loops over it vectorise.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T fast_exp2(T x) {
  using Tr = Exp2Traits<T>;
  using bits_t = typename Tr::bits_t;
  // Round-to-nearest of x by the "shifter" trick: adding 1.5 * 2^mantissa_bits leaves
  // round(x) in the low mantissa bits of kd, so no float->int conversion is needed (SSE2 has
  // none for 64-bit integers) and it vectorises.
  constexpr T shifter = T(1.5) * T(bits_t(1) << Tr::mantissa_bits);
  T const lo = Tr::min_exponent;  // values, not references: usable in device code
  T const hi = Tr::overflow_exponent;
  // Out-of-range x (including +-inf) give garbage below and are replaced by the two selects at
  // the end, so no clamp is needed.
  bool const below = x < lo;
  bool const above = x >= hi;
  T const kd = x + shifter;
  T const n = kd - shifter;  // round(x), exact for |x| < 2^22
  T const f = x - n;         // in [-1/2, 1/2], exact
  T const p = Tr::poly(f);   // 2^(f+1)
  // 2^(n-1) built in the exponent field: the low bits of kd's pattern hold n in two's
  // complement; adding the bias and shifting drops the shifter's bits off the top. (n - 1 keeps
  // the exponent field in range for n = 128, where 2^x is still finite for x < 128.)
  bits_t const scale_bits = (bit_cast_fwd<bits_t>(kd) + (Tr::exponent_bias - 1)) << Tr::mantissa_bits;
  T const y = p * bit_cast_fwd<T>(scale_bits);
  return bit_select(below, T(0), bit_select(above, Kokkos::Experimental::infinity<T>::value, y));
}

// e^x = 2^(x log2 e). The rounding of x * log2(e) adds |x| * eps relative error for large
// |x| (as for any exp built on exp2); the softmax calls fast_exp2 on pre-scaled arguments.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION T fast_exp(T x) {
  return fast_exp2(x * log2e_v<T>);
}

}  // namespace numlab::attention::detail
