// The layers of a network as spex-train's --layers gives them, one per
// comma, in the words of any framework:
//
//   conv3x3 32 [fo F] [stride S] [pad P]   a convolution to 32 channels;
//                                          each input channel feeds F of
//                                          them (default all: dense);
//                                          padding "same" unless given
//   maxpool2 [stride S] / avgpool2 [...]   pooling over 2x2, stride 2
//   gap                                    global average pooling
//   fc 10 [fo F]                           fully connected
//
// e.g. "conv3x3 32, maxpool2, conv3x3 64 fo 16, maxpool2, conv1x1 4,
// conv3x3 64 fo 16, gap, fc 10". The last layer is the classifier.
#ifndef SPEX_TOOLS_TRAIN_LAYER_LIST_H_
#define SPEX_TOOLS_TRAIN_LAYER_LIST_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/model/model_init.h"

namespace spex {

// The chain from an input of `input_channels` channels; InvalidArgument
// naming `flag` (the option the text came from), the layer (1-based) and
// the word it could not read.
absl::StatusOr<ChainTopology> ParseLayerList(absl::string_view text,
                                             int input_channels,
                                             absl::string_view flag);

}  // namespace spex

#endif  // SPEX_TOOLS_TRAIN_LAYER_LIST_H_
