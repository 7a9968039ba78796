// SPDX-License-Identifier: MIT
#include "core/cost_eta.hpp"

#include <algorithm>
#include <cmath>

namespace numlab {

CostWeightedEta::CostWeightedEta(std::vector<double> costs) : cost_(std::move(costs)), done_(cost_.size(), false) {
  double known = 0, count = 0;
  for (double c : cost_)
    if (c > 0 && std::isfinite(c)) {
      known += c;
      ++count;
    }
  double const average = count > 0 ? known / count : 1;
  for (double& c : cost_) {
    if (!(c > 0 && std::isfinite(c))) c = average;
    left_cost_ += c;
  }
  left_ = cost_.size();
}

void CostWeightedEta::finished(std::size_t k, double seconds) {
  if (k >= cost_.size() || done_[k] || !(seconds >= 0)) return;
  done_[k] = true;
  min_t_ = n_ == 0 ? seconds : std::min(min_t_, seconds);
  n_ += 1;
  sc_ += cost_[k];
  st_ += seconds;
  left_cost_ = std::max(0.0, left_cost_ - cost_[k]);
  --left_;
}

double CostWeightedEta::overhead_seconds() const { return min_t_; }

double CostWeightedEta::seconds_per_cost() const {
  return n_ > 0 && sc_ > 0 ? std::max(0.0, st_ - n_ * min_t_) / sc_ : 0;
}

double CostWeightedEta::remaining_seconds() const {
  if (n_ == 0) return -1;
  return overhead_seconds() * double(left_) + seconds_per_cost() * left_cost_;
}

}  // namespace numlab
