// One layer of a model file as the runtime runs it: its fields checked
// against the activation it reads (widths, degrees, pattern, weight counts,
// the map's shape, window, stride and padding, activation), then built
// behind the Layer interface. Model::FromProto chains these over the
// backbone and each exit.
#ifndef SPEX_COMMON_MODEL_LAYER_BUILDER_H_
#define SPEX_COMMON_MODEL_LAYER_BUILDER_H_

#include <memory>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/kernels/kernel.h"
#include "common/model/layer.h"
#include "spex/v1/model.pb.h"

namespace spex {

// InvalidArgument "<where>: <field>: <problem>", the form of every error
// about a field of a model file.
absl::Status LayerFieldError(absl::string_view where, absl::string_view field,
                             absl::string_view problem);

// `layer` reading `in`; `last`: a classifier's last layer (softmax);
// `isa`: pin the kernels' instruction set (unset: the best this CPU has).
// Errors name `where` ("layer 3", "exit 1 layer 2") and the field.
absl::StatusOr<std::shared_ptr<const Layer>> BuildLayer(
    const v1::Layer& layer, absl::string_view where, const ActivationShape& in,
    bool last, std::optional<Isa> isa);

}  // namespace spex

#endif  // SPEX_COMMON_MODEL_LAYER_BUILDER_H_
