// SPDX-License-Identifier: MIT
// The ETA of a sweep whose points differ in cost by orders of magnitude (a dense solve at
// N = 2000 against one at N = 100: 8000x): each point's time is modelled as a + b * cost, with a
// (the per-point overhead) the shortest time seen and b the finished points' time above a per
// unit of cost (sum (t - a) / sum cost, a ratio dominated by the costly points, which say most
// about b). Before the costs spread (one point, or only overhead-bound points) b is 0 and the
// ETA is the count of points left times a; counting points alone would say "half done" after
// the cheap half of a sweep. (A least-squares line was tried: on overhead-bound points its slope
// fits noise, often 0, and the ETA of the costly points that follow then read 0:00.)
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
  // The model's overhead per point and seconds per unit of cost (for tests).
  double overhead_seconds() const;
  double seconds_per_cost() const;

 private:
  std::vector<double> cost_;
  std::vector<bool> done_;
  double n_ = 0, sc_ = 0, st_ = 0;  // count, cost and time of the finished points
  double min_t_ = 0;
  double left_cost_ = 0;
  std::size_t left_ = 0;
};

}  // namespace numlab
