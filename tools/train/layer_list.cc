#include "tools/train/layer_list.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace spex {
namespace {

absl::Status LayerError(absl::string_view flag, int index,
                        absl::string_view layer, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrFormat(
      "%s: layer %d (\"%s\"): %s", flag, index, layer, problem));
}

// "3x3" -> 3; "2" -> 2.
bool ParseWindow(absl::string_view text, int* window) {
  const std::vector<absl::string_view> sides = absl::StrSplit(text, 'x');
  if (sides.size() == 2 && sides[0] != sides[1]) return false;
  return absl::SimpleAtoi(sides[0], window) && *window >= 1 && *window <= 15;
}

}  // namespace

absl::StatusOr<ChainTopology> ParseLayerList(absl::string_view text,
                                             int input_channels,
                                             absl::string_view flag) {
  ChainTopology chain;
  chain.widths.push_back(input_channels);
  int channels = input_channels;
  int index = 0;
  for (absl::string_view layer : absl::StrSplit(text, ',')) {
    ++index;
    layer = absl::StripAsciiWhitespace(layer);
    const std::vector<absl::string_view> words =
        absl::StrSplit(layer, ' ', absl::SkipEmpty());
    if (words.empty()) return LayerError(flag, index, layer, "empty");
    LayerGeometry geometry;
    int width = channels, fan_out = 0;
    size_t next = 1;
    // The width after the layer's name, for convolutions and fc.
    const auto take_width = [&]() -> absl::Status {
      if (next >= words.size() || !absl::SimpleAtoi(words[next], &width) ||
          width < 1) {
        return LayerError(flag, index, layer, "a positive width must follow");
      }
      ++next;
      return absl::OkStatus();
    };
    if (absl::StartsWith(words[0], "conv")) {
      geometry.kind = v1::LAYER_KIND_CONV2D;
      if (!ParseWindow(words[0].substr(4), &geometry.window)) {
        return LayerError(flag, index, layer,
                          "a convolution is written convKxK (K from 1 to 15)");
      }
      geometry.padding = (geometry.window - 1) / 2;
      if (absl::Status s = take_width(); !s.ok()) return s;
    } else if (absl::StartsWith(words[0], "maxpool") ||
               absl::StartsWith(words[0], "avgpool")) {
      geometry.kind = words[0][0] == 'm' ? v1::LAYER_KIND_MAX_POOL
                                         : v1::LAYER_KIND_AVERAGE_POOL;
      if (!ParseWindow(words[0].substr(7), &geometry.window)) {
        return LayerError(flag, index, layer,
                          "a pooling is written maxpoolK or avgpoolK");
      }
      geometry.stride = geometry.window;
    } else if (words[0] == "gap") {
      geometry.kind = v1::LAYER_KIND_GLOBAL_AVERAGE_POOL;
    } else if (words[0] == "fc") {
      if (absl::Status s = take_width(); !s.ok()) return s;
    } else {
      return LayerError(
          flag, index, layer,
          "unknown layer; one of convKxK, maxpoolK, avgpoolK, gap, fc");
    }
    // Options: name value pairs.
    for (; next < words.size(); next += 2) {
      int value = 0;
      if (next + 1 >= words.size() ||
          !absl::SimpleAtoi(words[next + 1], &value) || value < 0) {
        return LayerError(
            flag, index, layer,
            absl::StrFormat("option %s needs a number", words[next]));
      }
      const bool pooling = geometry.kind == v1::LAYER_KIND_MAX_POOL ||
                           geometry.kind == v1::LAYER_KIND_AVERAGE_POOL;
      const bool conv = geometry.kind == v1::LAYER_KIND_CONV2D;
      if (words[next] == "fo" &&
          (conv || geometry.kind == v1::LAYER_KIND_UNSPECIFIED)) {
        fan_out = value;
      } else if (words[next] == "stride" && (conv || pooling) && value >= 1) {
        geometry.stride = value;
      } else if (words[next] == "pad" && conv) {
        geometry.padding = value;
      } else {
        return LayerError(
            flag, index, layer,
            absl::StrFormat("option %s does not apply here", words[next]));
      }
    }
    chain.widths.push_back(width);
    chain.fan_out.push_back(fan_out == 0 ? width : fan_out);
    chain.geometry.push_back(geometry);
    channels = width;
  }
  if (chain.geometry.empty() ||
      chain.geometry.back().kind != v1::LAYER_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": the last layer is the classifier, an fc layer"));
  }
  return chain;
}

}  // namespace spex
