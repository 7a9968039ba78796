// SPDX-License-Identifier: MIT
// The ETA of a sweep whose points differ in cost by orders of magnitude (a dense solve at
// N = 2000 against one at N = 100: 8000x): each point's time is modelled as a + b * cost, with a
// (the per-point overhead) the shortest time seen and b fitted by least squares through the
// finished points' (cost, time - a), plus one prior point at the cost whose compute time equals a,
// at the prior rate. Small points, whose times are overhead and noise, then hardly move b off the
// prior; the costly ones, which say most about b, decide it. Counting points instead would say
// "half done" after the cheap half of a sweep. (Tried and dropped: a free least-squares line,
// whose slope on overhead-bound points fits noise, often 0: ETA 0:00 before the costly points;
// sum (t - a) / sum cost, which the noise of many small points inflated to hours.)
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace numlab {

class CostWeightedEta {
 public:
  // The estimated cost of each point to run, in run order (Experiment::estimated_cost); a cost
  // <= 0 (unknown) counts as the average of the known ones. prior_seconds_per_cost: the rate
  // assumed before costly points have run (e.g. 1 / (1e9 FLOP/s x host threads)).
  CostWeightedEta(std::vector<double> costs, double prior_seconds_per_cost);
  // Point k (an index into the costs) took `seconds`.
  void finished(std::size_t k, double seconds);
  // Seconds the points not finished yet are expected to take; < 0 before any point finished.
  double remaining_seconds() const;
  // The model's overhead per point and seconds per unit of cost (for tests).
  double overhead_seconds() const;
  double seconds_per_cost() const;

 private:
  std::vector<double> cost_;
  std::vector<bool> done_;
  double prior_ = 0;
  std::vector<std::pair<double, double>> finished_;  // (cost, seconds)
  double min_t_ = 0;
  double left_cost_ = 0;
  std::size_t left_ = 0;
};

}  // namespace numlab
