#include "tools/train/input_from_data.h"

#include <cmath>
#include <vector>

namespace spex {

void SetInputFromData(const Dataset& data, ModelTopology* topology) {
  topology->input_shape = data.shape;
  topology->input_scale = 1.0f;
  topology->input_offset = 0.0f;
  topology->input_range.reset();
  topology->feature_scale.clear();
  topology->feature_offset.clear();
  if (data.shape.size() >= 2) {
    float largest = 0.0f;
    for (float v : data.values) largest = std::max(largest, std::fabs(v));
    topology->input_scale = largest > 0.0f ? 1.0f / largest : 1.0f;
    if (data.eight_bit) topology->input_range = std::make_pair(0.0f, 255.0f);
    return;
  }
  const int n = data.size();
  std::vector<double> sum(data.width, 0.0), squares(data.width, 0.0);
  for (int i = 0; i < n; ++i) {
    const float* x = data.sample(i);
    for (int f = 0; f < data.width; ++f) sum[f] += x[f];
  }
  for (int f = 0; f < data.width; ++f) sum[f] /= std::max(n, 1);
  for (int i = 0; i < n; ++i) {
    const float* x = data.sample(i);
    for (int f = 0; f < data.width; ++f) {
      squares[f] += (x[f] - sum[f]) * (x[f] - sum[f]);
    }
  }
  for (int f = 0; f < data.width; ++f) {
    const double sd = std::sqrt(squares[f] / std::max(n, 1));
    const double scale = sd > 1e-12 ? 1.0 / sd : 1.0;
    topology->feature_scale.push_back(static_cast<float>(scale));
    topology->feature_offset.push_back(static_cast<float>(-sum[f] * scale));
  }
}

}  // namespace spex
