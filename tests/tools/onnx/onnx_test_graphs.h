// Small ONNX graphs built in code for the importer's tests and the fuzz
// target's seeds: the operators PyTorch's exporter writes, weights with
// spex patterns' zeros.
#ifndef SPEX_TESTS_TOOLS_ONNX_ONNX_TEST_GRAPHS_H_
#define SPEX_TESTS_TOOLS_ONNX_ONNX_TEST_GRAPHS_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/sparsity/pattern.h"
#include "common/sparsity/seeded_random.h"
#include "onnx/onnx_pb.h"

namespace spex {

// How an initializer stores its numbers.
enum class Storage { kRaw, kFloatData, kDoubleData };

inline onnx::TensorProto MakeTensor(const std::string& name,
                                    const std::vector<int64_t>& dims,
                                    const std::vector<float>& values,
                                    Storage storage = Storage::kRaw) {
  onnx::TensorProto t;
  t.set_name(name);
  for (int64_t d : dims) t.add_dims(d);
  if (storage == Storage::kDoubleData) {
    t.set_data_type(onnx::TensorProto::DOUBLE);
    for (float v : values) t.add_double_data(v);
  } else if (storage == Storage::kFloatData) {
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (float v : values) t.add_float_data(v);
  } else {
    t.set_data_type(onnx::TensorProto::FLOAT);
    std::string raw(values.size() * sizeof(float), '\0');
    std::memcpy(raw.data(), values.data(), raw.size());
    t.set_raw_data(raw);
  }
  return t;
}

inline onnx::NodeProto* AddNode(onnx::GraphProto* graph, const std::string& op,
                                const std::vector<std::string>& inputs,
                                const std::string& output) {
  onnx::NodeProto* node = graph->add_node();
  node->set_op_type(op);
  node->set_name(op + "_" + output);
  for (const std::string& input : inputs) node->add_input(input);
  node->add_output(output);
  return node;
}

inline void SetInt(onnx::NodeProto* node, const std::string& name, int64_t v) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

inline void SetFloat(onnx::NodeProto* node, const std::string& name, float v) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

inline void SetInts(onnx::NodeProto* node, const std::string& name,
                    const std::vector<int64_t>& v) {
  onnx::AttributeProto* a = node->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

inline void AddValue(
    google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* to,
    const std::string& name, const std::vector<int64_t>& dims) {
  onnx::ValueInfoProto* v = to->Add();
  v->set_name(name);
  auto* tensor = v->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) {
    auto* dim = tensor->mutable_shape()->add_dim();
    if (d < 0) {
      dim->set_dim_param("batch");
    } else {
      dim->set_dim_value(d);
    }
  }
}

// n_out x n_in weights (out-major) with zeros off `pattern`, random on it.
inline std::vector<float> PatternWeights(const Pattern& pattern, int taps,
                                         uint64_t seed) {
  const JunctionSpec& spec = pattern.spec();
  std::vector<float> w(static_cast<size_t>(spec.n_out) * spec.n_in * taps,
                       0.0f);
  SeededRandom random(seed);
  for (int o = 0; o < spec.n_out; ++o) {
    for (uint32_t i : pattern.row(o)) {
      for (int t = 0; t < taps; ++t) {
        // Never exactly zero: a zero on the pattern would change the degrees.
        const double v = random.Normal() * 0.3;
        w[(static_cast<size_t>(o) * spec.n_in + i) * taps + t] =
            static_cast<float>(v >= 0 ? v + 0.01 : v - 0.01);
      }
    }
  }
  return w;
}

// W (n_out x n_in, out-major) as Gemm's B with transB = 1, or as MatMul's B
// (n_in x n_out).
inline std::vector<float> Transposed(const std::vector<float>& w, int n_out,
                                     int n_in) {
  std::vector<float> t(w.size());
  for (int o = 0; o < n_out; ++o) {
    for (int i = 0; i < n_in; ++i) {
      t[static_cast<size_t>(i) * n_out + o] =
          w[static_cast<size_t>(o) * n_in + i];
    }
  }
  return t;
}

// x [batch, 24] -> Gemm (transB, alpha 0.5, beta 2; a 24 -> 16 random
// pattern, d_out 4) -> Relu -> MatMul + Add (16 -> 8 dense) -> Softmax; an
// exit "exit" (Gemm 16 -> 8, transB 0) after the Relu.
inline onnx::ModelProto SmallMlp(Storage storage = Storage::kRaw) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(13);
  onnx::GraphProto* g = model.mutable_graph();
  g->set_name("small-mlp");
  AddValue(g->mutable_input(), "x", {-1, 24});
  const Pattern p1 = *GeneratePattern({24, 16, 6, 4}, PatternKind::kRandom, 7);
  *g->add_initializer() =
      MakeTensor("w1", {16, 24}, PatternWeights(p1, 1, 1), storage);
  std::vector<float> b1(16);
  for (int o = 0; o < 16; ++o) b1[o] = 0.05f * static_cast<float>(o % 5);
  *g->add_initializer() = MakeTensor("b1", {16}, b1, storage);
  onnx::NodeProto* gemm = AddNode(g, "Gemm", {"x", "w1", "b1"}, "h1");
  SetInt(gemm, "transB", 1);
  SetFloat(gemm, "alpha", 0.5f);
  SetFloat(gemm, "beta", 2.0f);
  AddNode(g, "Relu", {"h1"}, "r1");
  const Pattern dense =
      *GeneratePattern({16, 8, 16, 8}, PatternKind::kRandom, 1);
  *g->add_initializer() = MakeTensor(
      "w2", {16, 8}, Transposed(PatternWeights(dense, 1, 2), 8, 16), storage);
  *g->add_initializer() =
      MakeTensor("b2", {8}, {0.1f, -0.1f, 0.2f, 0, 0, 0.3f, 0, -0.2f}, storage);
  AddNode(g, "MatMul", {"r1", "w2"}, "m2");
  AddNode(g, "Add", {"m2", "b2"}, "logits");
  AddNode(g, "Softmax", {"logits"}, "probabilities");
  *g->add_initializer() = MakeTensor(
      "we", {16, 8}, Transposed(PatternWeights(dense, 1, 3), 8, 16), storage);
  AddNode(g, "Gemm", {"r1", "we"}, "exit");
  AddValue(g->mutable_output(), "probabilities", {-1, 8});
  AddValue(g->mutable_output(), "exit", {-1, 8});
  return model;
}

// x [batch, 1, 6, 6] -> Conv 1 -> 4 (3x3, pads 1) -> Relu -> MaxPool 2
// -> Conv 4 -> 8 (2x2, a channel pattern with d_in 2) -> Relu ->
// GlobalAveragePool -> Flatten -> Gemm 8 -> 3 (transB) -> probabilities.
inline onnx::ModelProto SmallCnn() {
  onnx::ModelProto model;
  model.set_ir_version(8);
  model.add_opset_import()->set_version(13);
  onnx::GraphProto* g = model.mutable_graph();
  g->set_name("small-cnn");
  AddValue(g->mutable_input(), "image", {-1, 1, 6, 6});
  const Pattern c1 = *GeneratePattern({1, 4, 1, 4}, PatternKind::kRandom, 1);
  *g->add_initializer() =
      MakeTensor("k1", {4, 1, 3, 3}, PatternWeights(c1, 9, 4));
  *g->add_initializer() = MakeTensor("kb1", {4}, {0.1f, 0.0f, -0.1f, 0.2f});
  onnx::NodeProto* conv = AddNode(g, "Conv", {"image", "k1", "kb1"}, "c1");
  SetInts(conv, "kernel_shape", {3, 3});
  SetInts(conv, "pads", {1, 1, 1, 1});
  SetInts(conv, "strides", {1, 1});
  AddNode(g, "Relu", {"c1"}, "r1");
  onnx::NodeProto* pool = AddNode(g, "MaxPool", {"r1"}, "p1");
  SetInts(pool, "kernel_shape", {2, 2});
  SetInts(pool, "strides", {2, 2});
  const Pattern c2 = *GeneratePattern({4, 8, 2, 4}, PatternKind::kRandom, 9);
  *g->add_initializer() =
      MakeTensor("k2", {8, 4, 2, 2}, PatternWeights(c2, 4, 5));
  AddNode(g, "Conv", {"p1", "k2"}, "c2");
  AddNode(g, "Relu", {"c2"}, "r2");
  AddNode(g, "GlobalAveragePool", {"r2"}, "g2");
  AddNode(g, "Flatten", {"g2"}, "f2");
  const Pattern fc = *GeneratePattern({8, 3, 8, 3}, PatternKind::kRandom, 1);
  *g->add_initializer() = MakeTensor("w3", {3, 8}, PatternWeights(fc, 1, 6));
  onnx::NodeProto* gemm = AddNode(g, "Gemm", {"f2", "w3"}, "logits");
  SetInt(gemm, "transB", 1);
  AddValue(g->mutable_output(), "logits", {-1, 3});
  return model;
}

}  // namespace spex

#endif  // SPEX_TESTS_TOOLS_ONNX_ONNX_TEST_GRAPHS_H_
