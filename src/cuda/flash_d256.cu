// SPDX-License-Identifier: MIT
// Kernels for head dim 256 (bf16 and fp16): one TU per head dim keeps compilation parallel.
#include "flash_launch_impl.cuh"

NUMLAB_FLASH_INSTANTIATE(256)
