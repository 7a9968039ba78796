// SPDX-License-Identifier: MIT
#include "core/cost_eta.hpp"

#include <algorithm>
#include <cmath>

namespace numlab {

CostWeightedEta::CostWeightedEta(std::vector<double> costs) : cost_(std::move(costs)), done_(cost_.size(), false) {
  double known = 0, count = 0, largest = 0;
  for (double c : cost_)
    if (c > 0 && std::isfinite(c)) {
      known += c;
      ++count;
      largest = std::max(largest, c);
    }
  double const average = count > 0 ? known / count : 1;
  scale_ = largest > 0 ? largest : 1;
  for (double& c : cost_) {
    if (!(c > 0 && std::isfinite(c))) c = average;
    c /= scale_;
    left_cost_ += c;
  }
  left_ = cost_.size();
}

void CostWeightedEta::finished(std::size_t k, double seconds) {
  if (k >= cost_.size() || done_[k] || !(seconds >= 0)) return;
  done_[k] = true;
  double const c = cost_[k];
  n_ += 1;
  sc_ += c;
  st_ += seconds;
  scc_ += c * c;
  sct_ += c * seconds;
  left_cost_ = std::max(0.0, left_cost_ - c);
  --left_;
}

// Least squares of t = a + b c with a, b >= 0: the unconstrained fit where it is admissible,
// else the best line through the origin (a = 0) or the mean time (b = 0).
void CostWeightedEta::fit(double& a, double& b) const {
  double const det = n_ * scc_ - sc_ * sc_;
  if (n_ >= 2 && det > 1e-12 * n_ * scc_) {
    b = (n_ * sct_ - sc_ * st_) / det;
    a = (st_ - b * sc_) / n_;
    if (a >= 0 && b >= 0) return;
  }
  double const through_origin_error = scc_ > 0 ? -sct_ * sct_ / scc_ : 0;  // SSE minus sum t^2
  double const mean_error = -st_ * st_ / n_;
  if (scc_ > 0 && through_origin_error <= mean_error) {
    a = 0;
    b = sct_ / scc_;
  } else {
    a = st_ / n_;
    b = 0;
  }
}

double CostWeightedEta::remaining_seconds() const {
  if (n_ == 0) return -1;
  double a = 0, b = 0;
  fit(a, b);
  return a * double(left_) + b * left_cost_;
}

double CostWeightedEta::overhead_seconds() const {
  double a = 0, b = 0;
  if (n_ > 0) fit(a, b);
  return a;
}

double CostWeightedEta::seconds_per_cost() const {
  double a = 0, b = 0;
  if (n_ > 0) fit(a, b);
  return b / scale_;
}

}  // namespace numlab
