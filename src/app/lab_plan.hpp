// SPDX-License-Identifier: MIT
// What `numlab lab` runs: the lab's experiments (one config each, NAME.yaml in the config folder:
// configs/ for the full lab, configs/lab/quick/ for --quick) and the peers on them (scripts/peers/),
// on the host and, where the build has a GPU execution space, on the GPU.
#pragma once

#include <string>
#include <vector>

namespace numlab {

struct LabExperiment {
  std::string name;   // config NAME.yaml, output DIR/NAME.h5, log DIR/logs/NAME.log
  std::string what;   // for the progress lines
  bool gpu = false;   // GPU runs only
  bool needs_cuda_native = false;  // backend cuda_native (the native tensor-core kernels)
};

struct LabPeer {
  std::string name;        // output DIR/<experiment>_<name>.h5
  std::string script;      // under scripts/peers/
  std::string experiment;  // whose config it runs
  std::vector<std::string> args;     // beyond CONFIG -o OUT --numlab BIN
  std::vector<std::string> modules;  // Python modules it needs (else: skipped, with the import error)
  bool gpu = false;         // GPU runs only (needs torch.cuda)
  bool host_only = false;   // host runs only (a CPU peer of a host experiment)
  std::string what;
};

std::vector<LabExperiment> lab_experiments(bool gpu);
std::vector<LabPeer> lab_peers(bool gpu);

}  // namespace numlab
