// A proof, made once at load, that no input a model accepts can overflow
// float32 in any of its layers, so that no answer is ever NaN or depends on
// how samples were batched. Every value entering a stage is bounded: raw
// inputs by the input range (InputTransform), values crossing the network
// by kMaxDecodedMagnitude (the codec refuses the rest). A layer's output is
// then bounded by |y| <= d_in * max|w| * bound(x) + max|b| (d_in times the
// taps for a convolution; ReLU and pooling keep the bound),
// which holds for any order of summation; the bound is carried through the
// backbone and every exit. A model whose bound reaches float32's range is
// refused: some accepted input could make it answer NaN.
#ifndef SPEX_COMMON_MODEL_OVERFLOW_BOUND_H_
#define SPEX_COMMON_MODEL_OVERFLOW_BOUND_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "spex/v1/model.pb.h"

namespace spex {

// The bound on layer `layer`'s outputs given `input_bound` on its inputs.
double LayerOutputBound(const v1::Layer& layer, double input_bound);

// OK when every backbone and exit layer of `model` stays below float32's
// range for first-layer inputs of magnitude at most `input_bound`, with the
// activation at each of `cuts` (backbone layer numbers) arriving from the
// network within kMaxDecodedMagnitude; else InvalidArgument naming the
// layer.
// REQUIRES: the layers' shapes are valid (Model::FromProto checks them
// first).
absl::Status CheckNoOverflow(const v1::Model& model, double input_bound,
                             absl::Span<const int> cuts);

}  // namespace spex

#endif  // SPEX_COMMON_MODEL_OVERFLOW_BOUND_H_
