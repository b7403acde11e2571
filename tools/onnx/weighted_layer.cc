#include "tools/onnx/weighted_layer.h"

#include <cstdint>

#include "common/model/model_init.h"
#include "common/status/status_macros.h"
#include "tools/onnx/recovered_pattern.h"

namespace spex {

absl::StatusOr<std::string> FillWeightedLayer(const std::vector<double>& w,
                                              const std::vector<double>& bias,
                                              int n_out, int n_in, int taps,
                                              bool allow_dense,
                                              v1::Layer* layer) {
  std::vector<bool> nonzero(static_cast<size_t>(n_out) * n_in, false);
  for (size_t c = 0; c < nonzero.size(); ++c) {
    for (int t = 0; t < taps; ++t) {
      if (w[c * taps + t] != 0.0) nonzero[c] = true;
    }
  }
  SPEX_ASSIGN_OR_RETURN(RecoveredPattern recovered,
                        RecoverPattern(nonzero, n_out, n_in, allow_dense));
  layer->set_n_in(static_cast<uint32_t>(n_in));
  layer->set_n_out(static_cast<uint32_t>(n_out));
  std::vector<uint32_t> rows;
  int d_in = n_in;
  if (recovered.pattern.has_value()) {
    const Pattern& pattern = *recovered.pattern;
    layer->set_d_in(static_cast<uint32_t>(pattern.spec().d_in));
    layer->set_d_out(static_cast<uint32_t>(pattern.spec().d_out));
    WritePattern(pattern, layer);
    rows.assign(pattern.row_indices().begin(), pattern.row_indices().end());
    d_in = pattern.spec().d_in;
  } else {
    layer->set_d_in(static_cast<uint32_t>(n_in));
    layer->set_d_out(static_cast<uint32_t>(n_out));
    layer->set_pattern(v1::PATTERN_KIND_DENSE);
    for (int o = 0; o < n_out; ++o) {
      for (int i = 0; i < n_in; ++i) rows.push_back(static_cast<uint32_t>(i));
    }
  }
  // The file's order: output-major; a convolution's taps before its inputs.
  for (int o = 0; o < n_out; ++o) {
    for (int t = 0; t < taps; ++t) {
      for (int k = 0; k < d_in; ++k) {
        const size_t i = rows[static_cast<size_t>(o) * d_in + k];
        layer->add_weights(static_cast<float>(
            w[(static_cast<size_t>(o) * n_in + i) * taps + t]));
      }
    }
  }
  for (double b : bias) layer->add_bias(static_cast<float>(b));
  layer->set_activation(v1::ACTIVATION_IDENTITY);
  return recovered.found;
}

}  // namespace spex
