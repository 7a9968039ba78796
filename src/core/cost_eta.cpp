// SPDX-License-Identifier: MIT
#include "core/cost_eta.hpp"

#include <algorithm>
#include <cmath>

namespace numlab {

CostWeightedEta::CostWeightedEta(std::vector<double> costs, double prior_seconds_per_cost)
    : cost_(std::move(costs)), done_(cost_.size(), false), prior_(std::max(0.0, prior_seconds_per_cost)) {
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
  min_t_ = finished_.empty() ? seconds : std::min(min_t_, seconds);
  finished_.emplace_back(cost_[k], seconds);
  left_cost_ = std::max(0.0, left_cost_ - cost_[k]);
  --left_;
}

double CostWeightedEta::overhead_seconds() const { return min_t_; }

double CostWeightedEta::seconds_per_cost() const {
  if (finished_.empty()) return prior_;
  // The prior point: the cost whose time at the prior rate is one overhead (sums scaled by it,
  // so that costs of 1e12 FLOPs square without overflow or loss).
  double const k = prior_ > 0 && min_t_ > 0 ? min_t_ / prior_ : 0;
  double scale = k;
  for (auto const& [c, t] : finished_) scale = std::max(scale, c);
  if (!(scale > 0)) return prior_;
  double num = (k / scale) * prior_ * (k / scale), den = (k / scale) * (k / scale);
  for (auto const& [c, t] : finished_) {
    num += (c / scale) * std::max(0.0, t - min_t_) / scale;
    den += (c / scale) * (c / scale);
  }
  return den > 0 ? num / den : prior_;
}

double CostWeightedEta::remaining_seconds() const {
  if (finished_.empty()) return -1;
  return overhead_seconds() * double(left_) + seconds_per_cost() * left_cost_;
}

}  // namespace numlab
