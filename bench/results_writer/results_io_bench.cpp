// SPDX-License-Identifier: MIT
// Appends `points` synthetic points of `doubles` float64 values each (incompressible, like
// real outputs) to a new results file and prints one JSON line per append with its wall time:
//   scheme parts: numlab's PointWriter (a part per point committed by fsync + rename, one pack)
//   scheme copy:  the protocol numlab used before (copy the file, add the point, fsync, rename)
// then a line with the pack's time. bench/results_io drives it and times the peer.
#include "core/point_writer.hpp"
#include "core/results_file.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

using namespace numlab;

int main(int argc, char** argv) {
  if (argc != 5) {
    fmt::print(stderr, "usage: {} parts|copy POINTS DOUBLES OUT.h5\n", argv[0]);
    return 2;
  }
  std::string const scheme = argv[1];
  long const points = std::atol(argv[2]), n = std::atol(argv[3]);
  std::string const out = argv[4];
  if ((scheme != "parts" && scheme != "copy") || points < 1 || n < 1) {
    fmt::print(stderr, "bad arguments\n");
    return 2;
  }
  std::error_code ec;
  std::filesystem::remove(out, ec);
  std::filesystem::remove_all(results::parts_dir(out), ec);
  results::create(out, {{"kind", std::string("bench")}, {"total_points", std::int64_t(points)}});
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(-1, 1);
  PointResult r;
  r.status = "ok";
  r.arrays["O"].resize(std::size_t(n));
  for (auto& x : r.arrays["O"]) x = u(rng);
  r.metrics["time_seconds_median"] = 1e-3;
  using clock = std::chrono::steady_clock;
  std::unique_ptr<results::PointWriter> writer;
  if (scheme == "parts") writer = std::make_unique<results::PointWriter>(out);
  for (long i = 0; i < points; ++i) {
    PointSpec pt;
    pt.index = std::size_t(i);
    pt.method = "bench";
    pt.problem = {{"i", std::int64_t(i)}};
    r.arrays["O"][0] = double(i);  // every point its own bytes
    auto t0 = clock::now();
    if (writer) {
      writer->append(pt, r);
    } else {
      results::detail::replace_file(out, true, [&](hid_t f) { results::detail::write_point(f, pt, r); });
    }
    double const s = std::chrono::duration<double>(clock::now() - t0).count();
    fmt::print("{{\"scheme\": \"{}\", \"point\": {}, \"seconds\": {:.6e}}}\n", scheme, i + 1, s);
  }
  double pack = 0;
  if (writer) {
    auto t0 = clock::now();
    writer->pack();
    pack = std::chrono::duration<double>(clock::now() - t0).count();
    writer.reset();
  }
  fmt::print("{{\"scheme\": \"{}\", \"pack_seconds\": {:.6e}, \"file_bytes\": {}, \"points_read_back\": {}}}\n", scheme,
             pack, std::filesystem::file_size(out), results::read_points(out).size());
  return 0;
}
