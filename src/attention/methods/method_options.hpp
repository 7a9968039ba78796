// SPDX-License-Identifier: MIT
// Typed options of the attention methods (core/options.hpp): one table each, from which the
// config schema, `numlab --list` and the points' attributes come.
#pragma once

#include "attention/kernel_select.hpp"
#include "core/options.hpp"

namespace numlab::attention {

struct TileOptions {
  int tile_q = 0;  // Br; 0 with tile_k = 0: the kernel's own tiles
  int tile_k = 0;  // Bc

  TileSizes tiles() const { return {tile_q, tile_k}; }
  static auto fields() {
    using O = TileOptions;
    return std::make_tuple(option("tile_q", &O::tile_q, "query rows per team tile (Br); 0 = the kernel's own",
                                  Range::closed(0, 1 << 16)),
                           option("tile_k", &O::tile_k, "key/value rows per scratch tile (Bc); 0 = the kernel's own",
                                  Range::closed(0, 1 << 16)));
  }
};

// The O(N^2) methods (standard, standard_bwd): their [B,H,N,N_kv] buffers have a bound.
struct MaxGibOptions {
  double max_gib = 8.0;  // skip the point when its N^2 buffers need more

  static auto fields() {
    return std::make_tuple(option("max_gib", &MaxGibOptions::max_gib,
                                  "skip the point (status skipped) when its [B,H,N,N_kv] buffers need more (standard: "
                                  "S/P in one with kernel blas, S and P with team_scratch; standard_bwd: P and dS)",
                                  Range::left_open(0, 1e6)));
  }
};

struct StandardOptions : MaxGibOptions {
  StandardFwdKernel kernel = StandardFwdKernel::automatic;

  static auto fields() {
    return std::tuple_cat(std::make_tuple(option("kernel", &StandardOptions::kernel, "which forward kernel runs")),
                          MaxGibOptions::fields());
  }
};

struct FlashOptions : TileOptions {
  FlashFwdKernel kernel = FlashFwdKernel::automatic;

  static auto fields() {
    return std::tuple_cat(std::make_tuple(option("kernel", &FlashOptions::kernel, "which forward kernel runs")),
                          TileOptions::fields());
  }
};

struct FlashBwdOptions : TileOptions {
  FlashBwdKernel kernel = FlashBwdKernel::automatic;
  FlashBwdDq dq = FlashBwdDq::atomic;

  static auto fields() {
    using O = FlashBwdOptions;
    return std::tuple_cat(
        std::make_tuple(option("kernel", &O::kernel, "which backward kernel runs"),
                        option("dq", &O::dq, "dQ accumulation: atomic adds, or a separate pass (deterministic)")),
        TileOptions::fields());
  }
};

}  // namespace numlab::attention
