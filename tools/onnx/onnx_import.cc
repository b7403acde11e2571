#include "tools/onnx/onnx_import.h"

#include <algorithm>
#include <cstdint>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/model/model.h"
#include "common/model/model_file.h"
#include "common/model/model_init.h"
#include "common/status/status_macros.h"
#include "tools/onnx/onnx_file.h"
#include "tools/onnx/onnx_nodes.h"
#include "tools/onnx/onnx_tensors.h"
#include "tools/onnx/weighted_layer.h"

namespace spex {
namespace {

constexpr char kSupported[] =
    "spex imports Gemm, MatMul, Add (a bias), Relu, Flatten, Reshape (to "
    "batch x values), Softmax (last), Identity, Dropout, Pad (of zeros), "
    "Conv, MaxPool, AveragePool, GlobalAveragePool";

struct Shape {
  int channels = 0;
  int height = 0;  // 0: a vector of `channels` values
  int width = 0;
  bool is_map() const { return height > 0; }
  int64_t values() const {
    return int64_t{channels} * std::max(height, 1) * std::max(width, 1);
  }
  std::string ToString() const {
    return is_map() ? absl::StrFormat("%dx%dx%d", channels, height, width)
                    : absl::StrCat(channels);
  }
};

// Where a chain stands after a tensor: layers so far and the shape.
struct TensorState {
  int layers = 0;
  Shape shape;
};

class GraphImporter {
 public:
  GraphImporter(const onnx::GraphProto& graph, const OnnxImportOptions& options)
      : graph_(graph), options_(options), initializers_(graph) {}

  absl::StatusOr<OnnxImport> Run();

 private:
  absl::StatusOr<std::string> DataInput(const onnx::NodeProto& node,
                                        int index) const;
  absl::StatusOr<std::vector<int>> TraceBack(const std::string& output,
                                             const std::set<std::string>& stops,
                                             std::string* reached) const;
  absl::Status Convert(const std::vector<int>& nodes, const std::string& where,
                       TensorState state,
                       google::protobuf::RepeatedPtrField<v1::Layer>* layers,
                       bool record_tensors);
  absl::Status AddWeighted(const onnx::NodeProto& node,
                           const std::string& where, Shape* shape,
                           v1::Layer* layer, std::string* found);

  const onnx::GraphProto& graph_;
  const OnnxImportOptions& options_;
  OnnxInitializers initializers_;
  absl::flat_hash_map<std::string, int> producer_;
  std::map<std::string, TensorState> backbone_tensors_;
  std::vector<std::string> report_;
};

absl::StatusOr<std::string> GraphImporter::DataInput(
    const onnx::NodeProto& node, int index) const {
  std::vector<std::string> data;
  for (const std::string& input : node.input()) {
    if (!input.empty() && !initializers_.Has(input)) data.push_back(input);
  }
  if (data.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        NodeName(node, index), ": takes ", data.size(),
        " computed inputs; spex runs a chain (each node one computed input "
        "and weights), no branches that join"));
  }
  return data[0];
}

absl::StatusOr<std::vector<int>> GraphImporter::TraceBack(
    const std::string& output, const std::set<std::string>& stops,
    std::string* reached) const {
  std::vector<int> nodes;
  std::string tensor = output;
  while (stops.count(tensor) == 0) {
    const auto p = producer_.find(tensor);
    if (p == producer_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", tensor, "' (on the way to output '", output,
          "') is neither computed by a node nor the graph's input"));
    }
    if (nodes.size() > static_cast<size_t>(graph_.node_size())) {
      return absl::InvalidArgumentError(
          absl::StrCat("the graph has a cycle through ",
                       NodeName(graph_.node(p->second), p->second)));
    }
    nodes.push_back(p->second);
    SPEX_ASSIGN_OR_RETURN(tensor, DataInput(graph_.node(p->second), p->second));
  }
  *reached = tensor;
  std::reverse(nodes.begin(), nodes.end());
  return nodes;
}

absl::Status GraphImporter::AddWeighted(const onnx::NodeProto& node,
                                        const std::string& where, Shape* shape,
                                        v1::Layer* layer, std::string* found) {
  const std::string& op = node.op_type();
  const bool conv = op == "Conv";
  // W as n_out x n_in (x window x window), row-major.
  std::vector<double> w;
  std::vector<double> bias;
  int n_out = 0, n_in = 0, window = 1;
  if (conv) {
    if (!shape->is_map()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": a convolution needs a map, its input is ",
                       shape->ToString()));
    }
    if (node.input_size() < 2 || !initializers_.Has(node.input(1))) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": its weights are not an initializer"));
    }
    SPEX_ASSIGN_OR_RETURN(OnnxTensor weights,
                          initializers_.Read(node.input(1)));
    if (weights.dims.size() != 4 || weights.dims[2] != weights.dims[3]) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": weights of dims [", absl::StrJoin(weights.dims, ", "),
          "]; spex takes [out, in, k, k]"));
    }
    if (IntAttribute(node, "group", 1) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": group ", IntAttribute(node, "group", 1),
          "; spex's sparse convolutions are predefined channel graphs "
          "(group 1 with zeros)"));
    }
    const onnx::AttributeProto* pad_mode = Attribute(node, "auto_pad");
    if (pad_mode != nullptr && pad_mode->s() != "NOTSET" &&
        !pad_mode->s().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": auto_pad ", pad_mode->s(), "; spex takes explicit pads"));
    }
    for (int64_t d : weights.dims) {
      if (d < 1 || d > kMaxJunctionWidth) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": weights of dims [", absl::StrJoin(weights.dims, ", "),
            "]; each from 1 to ", kMaxJunctionWidth));
      }
    }
    n_out = static_cast<int>(weights.dims[0]);
    n_in = static_cast<int>(weights.dims[1]);
    window = static_cast<int>(weights.dims[2]);
    SPEX_ASSIGN_OR_RETURN(
        const int kernel,
        UniformAttribute(where, node, "kernel_shape", window, 1, 15));
    SPEX_ASSIGN_OR_RETURN(const int stride,
                          UniformAttribute(where, node, "strides", 1, 1, 15));
    SPEX_ASSIGN_OR_RETURN(const int padding,
                          UniformAttribute(where, node, "pads", 0, 0, 14));
    SPEX_ASSIGN_OR_RETURN(const int dilation,
                          UniformAttribute(where, node, "dilations", 1, 1, 1));
    (void)dilation;
    if (kernel != window || n_in != shape->channels) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": a ", window, "x", window, " kernel over ",
                       n_in, " channels (kernel_shape ", kernel,
                       "), its input is ", shape->ToString()));
    }
    layer->set_kind(v1::LAYER_KIND_CONV2D);
    layer->set_in_height(static_cast<uint32_t>(shape->height));
    layer->set_in_width(static_cast<uint32_t>(shape->width));
    layer->set_window(static_cast<uint32_t>(window));
    layer->set_stride(static_cast<uint32_t>(stride));
    layer->set_padding(static_cast<uint32_t>(padding));
    const int out_h = (shape->height + 2 * padding - window) / stride + 1;
    const int out_w = (shape->width + 2 * padding - window) / stride + 1;
    if (shape->height + 2 * padding < window ||
        shape->width + 2 * padding < window) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": a ", window, "x", window,
                       " window does not fit the ", shape->ToString(), " map"));
    }
    w = std::move(weights.values);
    if (node.input_size() > 2 && !node.input(2).empty()) {
      SPEX_ASSIGN_OR_RETURN(OnnxTensor b, initializers_.Read(node.input(2)));
      bias = std::move(b.values);
    }
    *shape = Shape{n_out, out_h, out_w};
  } else {  // Gemm or MatMul: y = x W' (+ c)
    if (node.input_size() < 2 || !initializers_.Has(node.input(1))) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": its B (the weights) is not an initializer"));
    }
    if (op == "Gemm" && IntAttribute(node, "transA", 0) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": transA 1; spex takes the samples as rows"));
    }
    SPEX_ASSIGN_OR_RETURN(OnnxTensor b, initializers_.Read(node.input(1)));
    if (b.dims.size() != 2 || b.dims[0] < 1 || b.dims[1] < 1 ||
        b.dims[0] > kMaxJunctionWidth || b.dims[1] > kMaxJunctionWidth) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": B of dims [", absl::StrJoin(b.dims, ", "),
                       "]; spex takes a matrix of widths 1 to 65,536"));
    }
    const bool trans_b = op == "Gemm" && IntAttribute(node, "transB", 0) != 0;
    n_in = static_cast<int>(trans_b ? b.dims[1] : b.dims[0]);
    n_out = static_cast<int>(trans_b ? b.dims[0] : b.dims[1]);
    if (n_in != shape->values()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": takes ", n_in, " inputs, but its input has ",
                       shape->values(), " (", shape->ToString(), ")"));
    }
    const double alpha =
        op == "Gemm" ? FloatAttribute(node, "alpha", 1.0f) : 1.0;
    w.resize(static_cast<size_t>(n_out) * n_in);
    for (int o = 0; o < n_out; ++o) {
      for (int i = 0; i < n_in; ++i) {
        w[static_cast<size_t>(o) * n_in + i] =
            alpha * b.values[trans_b ? static_cast<size_t>(o) * n_in + i
                                     : static_cast<size_t>(i) * n_out + o];
      }
    }
    if (op == "Gemm" && node.input_size() > 2 && !node.input(2).empty()) {
      SPEX_ASSIGN_OR_RETURN(OnnxTensor c, initializers_.Read(node.input(2)));
      const double beta = FloatAttribute(node, "beta", 1.0f);
      if (c.size() == 1)
        c.values.assign(static_cast<size_t>(n_out), c.values[0]);
      for (double& v : c.values) v *= beta;
      bias = std::move(c.values);
    }
    *shape = Shape{n_out, 0, 0};
  }
  if (n_out < 1 || n_in < 1 || n_out > kMaxJunctionWidth ||
      n_in > kMaxJunctionWidth) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", n_in, " -> ", n_out,
                     " is outside spex's widths [1, ", kMaxJunctionWidth, "]"));
  }
  if (bias.empty()) bias.assign(static_cast<size_t>(n_out), 0.0);
  if (static_cast<int>(bias.size()) != n_out) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": ", bias.size(), " biases for ", n_out, " outputs"));
  }
  absl::StatusOr<std::string> filled = FillWeightedLayer(
      w, bias, n_out, n_in, window * window, options_.allow_dense, layer);
  if (!filled.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", filled.status().message()));
  }
  *found = *filled;
  return absl::OkStatus();
}

absl::Status GraphImporter::Convert(
    const std::vector<int>& nodes, const std::string& chain, TensorState state,
    google::protobuf::RepeatedPtrField<v1::Layer>* layers,
    bool record_tensors) {
  // Whether the last layer may still take a bias (an Add after MatMul) or
  // an activation.
  bool open_layer = false;
  std::string line;
  const auto flush = [&]() {
    if (!line.empty()) report_.push_back(line);
    line.clear();
  };
  for (size_t n = 0; n < nodes.size(); ++n) {
    const int index = nodes[n];
    const onnx::NodeProto& node = graph_.node(index);
    const std::string& op = node.op_type();
    const std::string where = absl::StrCat(chain, ": ", NodeName(node, index));
    if (op == "Gemm" || op == "MatMul" || op == "Conv" || op == "MaxPool" ||
        op == "AveragePool" || op == "GlobalAveragePool") {
      flush();
      v1::Layer* layer = layers->Add();
      std::string found;
      if (op == "Gemm" || op == "MatMul" || op == "Conv") {
        SPEX_RETURN_IF_ERROR(
            AddWeighted(node, where, &state.shape, layer, &found));
        open_layer = true;
      } else {
        if (!state.shape.is_map()) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": a pooling needs a map, its input is ",
                           state.shape.ToString()));
        }
        layer->set_n_in(static_cast<uint32_t>(state.shape.channels));
        layer->set_n_out(static_cast<uint32_t>(state.shape.channels));
        layer->set_d_in(1);
        layer->set_d_out(1);
        layer->set_in_height(static_cast<uint32_t>(state.shape.height));
        layer->set_in_width(static_cast<uint32_t>(state.shape.width));
        layer->set_activation(v1::ACTIVATION_IDENTITY);
        if (op == "GlobalAveragePool") {
          layer->set_kind(v1::LAYER_KIND_GLOBAL_AVERAGE_POOL);
          state.shape = Shape{state.shape.channels, 0, 0};
        } else {
          const std::vector<int64_t> kernel =
              IntsAttribute(node, "kernel_shape");
          if (kernel.empty()) {
            return absl::InvalidArgumentError(
                absl::StrCat(where, ": no kernel_shape"));
          }
          SPEX_ASSIGN_OR_RETURN(
              const int window,
              UniformAttribute(where, node, "kernel_shape", 0, 1, 15));
          SPEX_ASSIGN_OR_RETURN(
              const int stride,
              UniformAttribute(where, node, "strides", 1, 1, window));
          SPEX_ASSIGN_OR_RETURN(const int pads,
                                UniformAttribute(where, node, "pads", 0, 0, 0));
          SPEX_ASSIGN_OR_RETURN(
              const int dilation,
              UniformAttribute(where, node, "dilations", 1, 1, 1));
          (void)pads;
          (void)dilation;
          if (IntAttribute(node, "ceil_mode", 0) != 0 ||
              window > state.shape.height || window > state.shape.width) {
            return absl::InvalidArgumentError(absl::StrCat(
                where, ": a ", window, "x", window,
                " window without ceil_mode, inside the ",
                state.shape.ToString(), " map, is what spex pools"));
          }
          layer->set_kind(op == "MaxPool" ? v1::LAYER_KIND_MAX_POOL
                                          : v1::LAYER_KIND_AVERAGE_POOL);
          layer->set_window(static_cast<uint32_t>(window));
          layer->set_stride(static_cast<uint32_t>(stride));
          state.shape = Shape{state.shape.channels,
                              (state.shape.height - window) / stride + 1,
                              (state.shape.width - window) / stride + 1};
        }
        open_layer = false;
        found = "no numbers";
      }
      ++state.layers;
      if (state.shape.values() > kMaxJunctionWidth) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": gives ", state.shape.values(), " values (",
            state.shape.ToString(), "); spex's activations hold at most ",
            kMaxJunctionWidth));
      }
      line = absl::StrFormat("%s layer %d  %s '%s'  -> %s  %s", chain,
                             layers->size(), op, node.name(),
                             state.shape.ToString(), found);
    } else if (op == "Add") {
      std::string bias_name;
      for (const std::string& input : node.input()) {
        if (initializers_.Has(input)) bias_name = input;
      }
      if (!open_layer || bias_name.empty() ||
          layers->rbegin()->activation() != v1::ACTIVATION_IDENTITY) {
        return absl::InvalidArgumentError(absl::StrCat(
            where,
            ": spex takes an Add only as the bias of the Gemm, MatMul "
            "or Conv before it"));
      }
      SPEX_ASSIGN_OR_RETURN(const OnnxTensor bias,
                            initializers_.Read(bias_name));
      v1::Layer& layer = *layers->rbegin();
      if (bias.size() != static_cast<int64_t>(layer.n_out()) &&
          bias.size() != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": adds ", bias.size(), " values to ",
                         layer.n_out(), " outputs"));
      }
      for (uint32_t o = 0; o < layer.n_out(); ++o) {
        layer.set_bias(
            static_cast<int>(o),
            static_cast<float>(layer.bias(static_cast<int>(o)) +
                               bias.values[bias.size() == 1 ? 0 : o]));
      }
    } else if (op == "Relu") {
      if (!open_layer ||
          layers->rbegin()->activation() != v1::ACTIVATION_IDENTITY) {
        return absl::InvalidArgumentError(
            absl::StrCat(where,
                         ": a Relu follows a Gemm, MatMul or Conv in spex (a "
                         "pooling has no activation: put the Relu before it)"));
      }
      layers->rbegin()->set_activation(v1::ACTIVATION_RELU);
      absl::StrAppend(&line, " + Relu");
    } else if (op == "Flatten") {
      if (IntAttribute(node, "axis", 1) != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": axis ", IntAttribute(node, "axis", 1),
                         "; spex flattens from axis 1"));
      }
      state.shape = Shape{static_cast<int>(state.shape.values()), 0, 0};
    } else if (op == "Reshape") {
      if (node.input_size() < 2 || !initializers_.Has(node.input(1))) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": its shape is computed, not a constant"));
      }
      SPEX_ASSIGN_OR_RETURN(const OnnxTensor to,
                            initializers_.Read(node.input(1)));
      const int64_t values = state.shape.values();
      const bool flattens =
          to.size() == 2 &&
          (to.values[0] == 0 || to.values[0] == -1 || to.values[0] == 1) &&
          (to.values[1] == static_cast<double>(values) ||
           (to.values[1] == -1 && to.values[0] != -1));
      if (!flattens) {
        std::vector<int64_t> shape(to.values.begin(), to.values.end());
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": to [", absl::StrJoin(shape, ", "),
            "]; spex reshapes only to batch x values (here ", values, ")"));
      }
      state.shape = Shape{static_cast<int>(values), 0, 0};
    } else if (op == "Pad") {
      // PyTorch writes a Pad of zeros before an AveragePool: nothing to do.
      std::vector<double> pads;
      if (node.input_size() > 1 && !node.input(1).empty()) {
        if (!initializers_.Has(node.input(1))) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": its pads are computed, not a constant"));
        }
        SPEX_ASSIGN_OR_RETURN(const OnnxTensor p,
                              initializers_.Read(node.input(1)));
        pads = p.values;
      } else {
        for (int64_t p : IntsAttribute(node, "pads")) pads.push_back(p);
      }
      if (std::any_of(pads.begin(), pads.end(),
                      [](double p) { return p != 0; })) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": pads other than zero; spex pads only inside a Conv"));
      }
    } else if (op == "Softmax") {
      if (n + 1 != nodes.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": a Softmax only at the end of a classifier"));
      }
    } else if (op != "Identity" && op != "Dropout") {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": not supported; ", kSupported));
    }
    if (record_tensors) {
      for (const std::string& output : node.output()) {
        backbone_tensors_[output] = state;
      }
    }
  }
  flush();
  if (layers->empty() ||
      layers->rbegin()->kind() != v1::LAYER_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        absl::StrCat(chain, ": a classifier ends with a Gemm or MatMul"));
  }
  if (layers->rbegin()->activation() == v1::ACTIVATION_RELU) {
    return absl::InvalidArgumentError(absl::StrCat(
        chain, ": the classifier gives logits, not a Relu of them"));
  }
  layers->rbegin()->set_activation(v1::ACTIVATION_SOFTMAX);
  return absl::OkStatus();
}

absl::StatusOr<OnnxImport> GraphImporter::Run() {
  for (int i = 0; i < graph_.node_size(); ++i) {
    for (const std::string& output : graph_.node(i).output()) {
      if (output.empty()) continue;
      if (!producer_.emplace(output, i).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("tensor '", output, "' is computed twice"));
      }
    }
  }
  // The one input that is not a weight.
  std::vector<const onnx::ValueInfoProto*> inputs;
  for (const auto& input : graph_.input()) {
    if (!initializers_.Has(input.name())) inputs.push_back(&input);
  }
  if (inputs.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the graph has ", inputs.size(),
                     " inputs besides its weights; spex "
                     "takes one"));
  }
  const onnx::ValueInfoProto& input = *inputs[0];
  std::vector<int64_t> dims;
  for (const auto& d : input.type().tensor_type().shape().dim()) {
    dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  }
  if (input.type().tensor_type().elem_type() != onnx::TensorProto::FLOAT) {
    return absl::InvalidArgumentError(
        absl::StrCat("input '", input.name(),
                     "' is not FLOAT: spex scales raw samples "
                     "into float inputs itself"));
  }
  // Batch first; the rest: [1, H, W] or [H, W] a map, [D] a vector.
  std::vector<int64_t> sample(dims.begin() + std::min<size_t>(1, dims.size()),
                              dims.end());
  if (!sample.empty() && sample.size() == 3 && sample[0] == 1) {
    sample.erase(sample.begin());
  }
  if (sample.empty() || sample.size() > 2 ||
      std::any_of(sample.begin(), sample.end(),
                  [](int64_t d) { return d < 1 || d > 65536; })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input '", input.name(), "' of dims [", absl::StrJoin(dims, ", "),
        "]: spex takes [batch, 1, height, width], [batch, height, width] or "
        "[batch, values], sizes known"));
  }

  std::set<std::string> exit_outputs;
  for (const OnnxExit& e : options_.exits) exit_outputs.insert(e.output);
  std::vector<std::string> finals;
  std::set<std::string> outputs;
  for (const auto& output : graph_.output()) {
    outputs.insert(output.name());
    if (exit_outputs.count(output.name()) == 0) finals.push_back(output.name());
  }
  for (const std::string& e : exit_outputs) {
    if (outputs.count(e) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--exit ", e, ": not an output of the graph (its outputs: ",
          absl::StrJoin(outputs, ", "), ")"));
    }
  }
  if (finals.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the graph's outputs besides the exits are [",
        absl::StrJoin(finals, ", "),
        "]; spex takes one (name the others with --exit OUTPUT:LAYER)"));
  }

  OnnxImport result;
  v1::Model& model = result.model;
  for (int64_t d : sample)
    model.mutable_input()->add_shape(static_cast<uint32_t>(d));
  model.mutable_input()->set_scale(options_.input_scale);
  model.mutable_input()->set_offset(options_.input_offset);
  if (options_.input_range.has_value()) {
    model.mutable_input()->mutable_range()->set_min(
        options_.input_range->first);
    model.mutable_input()->mutable_range()->set_max(
        options_.input_range->second);
  }

  std::string reached;
  SPEX_ASSIGN_OR_RETURN(const std::vector<int> backbone,
                        TraceBack(finals[0], {input.name()}, &reached));
  // A map when the first layer is spatial, else the flattened values.
  const bool spatial =
      !backbone.empty() &&
      (graph_.node(backbone[0]).op_type() == "Conv" ||
       absl::EndsWith(graph_.node(backbone[0]).op_type(), "Pool"));
  TensorState start;
  if (spatial && sample.size() == 2) {
    start.shape =
        Shape{1, static_cast<int>(sample[0]), static_cast<int>(sample[1])};
  } else {
    start.shape = Shape{
        static_cast<int>(sample[0] * (sample.size() == 2 ? sample[1] : 1)), 0,
        0};
  }
  backbone_tensors_[input.name()] = start;
  SPEX_RETURN_IF_ERROR(
      Convert(backbone, "backbone", start, model.mutable_layers(), true));

  std::vector<OnnxExit> exits = options_.exits;
  std::stable_sort(exits.begin(), exits.end(),
                   [](const OnnxExit& a, const OnnxExit& b) {
                     return a.after_layer < b.after_layer;
                   });
  std::set<std::string> stops;
  for (const auto& [name, state] : backbone_tensors_) stops.insert(name);
  for (size_t e = 0; e < exits.size(); ++e) {
    const std::string chain = absl::StrCat("exit '", exits[e].output, "'");
    SPEX_ASSIGN_OR_RETURN(const std::vector<int> nodes,
                          TraceBack(exits[e].output, stops, &reached));
    const TensorState at = backbone_tensors_[reached];
    if (at.layers != exits[e].after_layer) {
      return absl::InvalidArgumentError(absl::StrCat(
          chain, ": branches off the backbone after layer ", at.layers,
          " (tensor '", reached, "'), not after layer ", exits[e].after_layer));
    }
    v1::ExitBranch* branch = model.add_exits();
    branch->set_after_layer(static_cast<uint32_t>(at.layers));
    branch->set_loss_weight(1.0f);
    if (exits[e].threshold.has_value()) {
      branch->set_confidence(v1::CONFIDENCE_MEASURE_MAX_SOFTMAX);
      branch->set_threshold(*exits[e].threshold);
    }
    SPEX_RETURN_IF_ERROR(
        Convert(nodes, chain, at, branch->mutable_layers(), false));
  }
  if (options_.split_after < 1 || options_.split_after >= model.layers_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--split-after ", options_.split_after,
                     ": the cut falls after a layer "
                     "from 1 to ",
                     model.layers_size() - 1));
  }
  model.set_split_after(static_cast<uint32_t>(options_.split_after));
  for (const std::string& name : options_.class_names)
    model.add_class_names(name);
  model.mutable_training()->set_trainer(options_.source);
  model.set_format_version(MinimumFormatVersion(model));
  model.set_model_id(ComputeModelId(model));
  // Exactly the daemons' checks (sizes, degrees, overflow bound).
  SPEX_RETURN_IF_ERROR(Model::FromProto(model).status());
  result.report = std::move(report_);
  return result;
}

}  // namespace

absl::StatusOr<OnnxImport> ImportOnnx(absl::string_view bytes,
                                      const OnnxImportOptions& options) {
  SPEX_ASSIGN_OR_RETURN(const onnx::ModelProto onnx_model,
                        ParseOnnxModel(bytes));
  GraphImporter importer(onnx_model.graph(), options);
  return importer.Run();
}

}  // namespace spex
