// The model's input spec from the training data, so that the first layer
// sees values of about unit size whatever the data's units.
#ifndef SPEX_TOOLS_TRAIN_INPUT_FROM_DATA_H_
#define SPEX_TOOLS_TRAIN_INPUT_FROM_DATA_H_

#include "common/model/model_init.h"
#include "tools/data/dataset.h"

namespace spex {

// Sets topology's input shape, scale, offset, range and feature factors:
//  - images (two or more dimensions): one scale for every pixel, 1 / the
//    largest magnitude in the data (1/255 for 8-bit pixels), offset 0, and
//    the range [0, 255] when every value is an 8-bit pixel, so that a
//    convolution sees the same transform everywhere;
//  - vectors (a table's rows): each feature standardized by the training
//    data's mean and standard deviation (feature_scale = 1/sd,
//    feature_offset = -mean/sd; a constant feature gets scale 1), no range:
//    a table's columns have units of their own.
void SetInputFromData(const Dataset& data, ModelTopology* topology);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_INPUT_FROM_DATA_H_
