// SPDX-License-Identifier: MIT
// The ETA of a sweep whose points differ in cost by orders of magnitude (a dense solve at
// N = 2000 against one at N = 100: 8000x): each point's time is modelled as a + b * cost (a: the
// per-point overhead, b: seconds per unit of cost), fitted by least squares to the points
// finished so far, and summed over the points left. Counting points instead would say "half
// done" after the cheap half of a sweep.
#pragma once

#include <cstddef>
#include <vector>

namespace numlab {

class CostWeightedEta {
 public:
  // The estimated cost of each point to run, in run order (Experiment::estimated_cost); a cost
  // <= 0 (unknown) counts as the average of the known ones.
  explicit CostWeightedEta(std::vector<double> costs);
  // Point k (an index into the costs) took `seconds`.
  void finished(std::size_t k, double seconds);
  // Seconds the points not finished yet are expected to take; < 0 before any point finished.
  double remaining_seconds() const;
  // The fitted overhead per point and seconds per unit of cost (for tests).
  double overhead_seconds() const;
  double seconds_per_cost() const;

 private:
  void fit(double& a, double& b) const;
  std::vector<double> cost_;  // scaled to the largest cost (the sums stay well conditioned)
  std::vector<bool> done_;
  double scale_ = 1;
  double n_ = 0, sc_ = 0, st_ = 0, scc_ = 0, sct_ = 0;  // sums over the finished points
  double left_cost_ = 0;
  std::size_t left_ = 0;
};

}  // namespace numlab
