// The ONNX importer against float64 references computed from the same
// weights, the sparsity it recovers, every way an initializer can hold its
// numbers, and what it refuses (with the node or tensor named).
#include "tools/onnx/onnx_import.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/model/model.h"
#include "common/model/model_init.h"
#include "common/sparsity/seeded_random.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/onnx/onnx_test_graphs.h"
#include "tools/onnx/recovered_pattern.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

std::string Bytes(const onnx::ModelProto& model) {
  return model.SerializeAsString();
}

OnnxImportOptions Options(int split_after, std::vector<OnnxExit> exits = {}) {
  OnnxImportOptions options;
  options.split_after = split_after;
  options.exits = std::move(exits);
  options.input_range = std::make_pair(-4.0f, 4.0f);
  return options;
}

std::vector<double> Softmax(std::vector<double> z) {
  const double top = *std::max_element(z.begin(), z.end());
  double sum = 0;
  for (double& v : z) sum += (v = std::exp(v - top));
  for (double& v : z) v /= sum;
  return z;
}

void ExpectNear(const std::vector<float>& got,
                const std::vector<double>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-5 * std::max(1.0, std::fabs(want[i])))
        << "value " << i;
  }
}

// What spex computes for one sample, the full network and its exits.
void RunFull(const Model& model, const std::vector<float>& x,
             std::vector<float>* y, std::vector<float>* exits) {
  const ModelPart& full = model.full();
  Workspace workspace(full);
  y->assign(full.output_width(), 0.0f);
  exits->assign(full.exits().size() * model.num_classes(), 0.0f);
  full.Forward(x.data(), y->data(), exits->data(), &workspace);
}

TEST(OnnxImportTest, GemmMatMulAndAnExitComputeAsTheGraphSays) {
  const Pattern p1 = *GeneratePattern({24, 16, 6, 4}, PatternKind::kRandom, 7);
  const Pattern dense =
      *GeneratePattern({16, 8, 16, 8}, PatternKind::kRandom, 1);
  const std::vector<float> w1 = PatternWeights(p1, 1, 1);
  const std::vector<float> w2 = PatternWeights(dense, 1, 2);
  const std::vector<float> we = PatternWeights(dense, 1, 3);
  const std::vector<float> b2 = {0.1f, -0.1f, 0.2f, 0, 0, 0.3f, 0, -0.2f};

  absl::StatusOr<OnnxImport> imported =
      ImportOnnx(Bytes(SmallMlp()), Options(1, {{"exit", 1, 0.75f}}));
  ASSERT_TRUE(imported.ok()) << imported.status();
  const v1::Model& proto = imported->model;
  ASSERT_EQ(proto.layers_size(), 2);
  EXPECT_EQ(proto.layers(0).pattern(), v1::PATTERN_KIND_RANDOM);
  EXPECT_EQ(proto.layers(0).d_in(), 6u);
  EXPECT_EQ(proto.layers(0).d_out(), 4u);
  EXPECT_THAT(proto.layers(0).indices(),
              testing::ElementsAreArray(p1.row_indices()));
  EXPECT_EQ(proto.layers(1).pattern(), v1::PATTERN_KIND_DENSE);
  ASSERT_EQ(proto.exits_size(), 1);
  EXPECT_EQ(proto.exits(0).threshold(), 0.75f);
  EXPECT_THAT(imported->report[0],
              HasSubstr("d_in 6 of 24, d_out 4 of 16: random"));

  absl::StatusOr<std::shared_ptr<const Model>> model = Model::FromProto(proto);
  ASSERT_TRUE(model.ok()) << model.status();
  SeededRandom random(11);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> x(24);
    for (float& v : x) v = static_cast<float>(random.Normal());
    std::vector<double> h(16), logits(8), exit_logits(8, 0.0);
    for (int o = 0; o < 16; ++o) {
      double sum = 0;
      for (int i = 0; i < 24; ++i) sum += double{w1[o * 24 + i]} * x[i];
      h[o] = std::max(0.0, 0.5 * sum + 2.0 * 0.05 * (o % 5));
    }
    for (int o = 0; o < 8; ++o) {
      logits[o] = b2[o];
      for (int i = 0; i < 16; ++i) {
        logits[o] += double{w2[o * 16 + i]} * h[i];
        exit_logits[o] += double{we[o * 16 + i]} * h[i];
      }
    }
    std::vector<float> y, exits;
    RunFull(**model, x, &y, &exits);
    ExpectNear(y, Softmax(logits));
    ExpectNear(exits, Softmax(exit_logits));
  }
}

TEST(OnnxImportTest, ConvolutionsAndPoolingsComputeAsTheGraphSays) {
  const Pattern c1 = *GeneratePattern({1, 4, 1, 4}, PatternKind::kRandom, 1);
  const Pattern c2 = *GeneratePattern({4, 8, 2, 4}, PatternKind::kRandom, 9);
  const Pattern fc = *GeneratePattern({8, 3, 8, 3}, PatternKind::kRandom, 1);
  const std::vector<float> k1 = PatternWeights(c1, 9, 4);
  const std::vector<float> k2 = PatternWeights(c2, 4, 5);
  const std::vector<float> w3 = PatternWeights(fc, 1, 6);
  const std::vector<double> kb1 = {0.1, 0.0, -0.1, 0.2};

  absl::StatusOr<OnnxImport> imported =
      ImportOnnx(Bytes(SmallCnn()), Options(2));
  ASSERT_TRUE(imported.ok()) << imported.status();
  const v1::Model& proto = imported->model;
  ASSERT_EQ(proto.layers_size(), 5);
  EXPECT_EQ(proto.layers(0).kind(), v1::LAYER_KIND_CONV2D);
  EXPECT_EQ(proto.layers(1).kind(), v1::LAYER_KIND_MAX_POOL);
  EXPECT_EQ(proto.layers(2).pattern(), v1::PATTERN_KIND_RANDOM);
  EXPECT_EQ(proto.layers(2).d_in(), 2u);
  EXPECT_EQ(proto.layers(3).kind(), v1::LAYER_KIND_GLOBAL_AVERAGE_POOL);
  EXPECT_EQ(proto.input().shape_size(), 2);

  absl::StatusOr<std::shared_ptr<const Model>> model = Model::FromProto(proto);
  ASSERT_TRUE(model.ok()) << model.status();
  SeededRandom random(12);
  for (int trial = 0; trial < 10; ++trial) {
    std::vector<float> x(36);
    for (float& v : x) v = static_cast<float>(random.Normal());
    // Conv 3x3 pads 1, ReLU: 4 x 6 x 6.
    std::vector<double> a(4 * 36);
    for (int o = 0; o < 4; ++o) {
      for (int y = 0; y < 6; ++y) {
        for (int xx = 0; xx < 6; ++xx) {
          double sum = kb1[o];
          for (int ky = 0; ky < 3; ++ky) {
            for (int kx = 0; kx < 3; ++kx) {
              const int iy = y + ky - 1, ix = xx + kx - 1;
              if (iy < 0 || iy >= 6 || ix < 0 || ix >= 6) continue;
              sum += double{k1[o * 9 + ky * 3 + kx]} * x[iy * 6 + ix];
            }
          }
          a[o * 36 + y * 6 + xx] = std::max(0.0, sum);
        }
      }
    }
    // MaxPool 2: 4 x 3 x 3.
    std::vector<double> p(4 * 9);
    for (int c = 0; c < 4; ++c) {
      for (int y = 0; y < 3; ++y) {
        for (int xx = 0; xx < 3; ++xx) {
          double top = -1e300;
          for (int dy = 0; dy < 2; ++dy) {
            for (int dx = 0; dx < 2; ++dx) {
              top = std::max(top, a[c * 36 + (2 * y + dy) * 6 + 2 * xx + dx]);
            }
          }
          p[c * 9 + y * 3 + xx] = top;
        }
      }
    }
    // Conv 2x2 (no pads), ReLU: 8 x 2 x 2, then the global average.
    std::vector<double> g(8, 0.0);
    for (int o = 0; o < 8; ++o) {
      for (int y = 0; y < 2; ++y) {
        for (int xx = 0; xx < 2; ++xx) {
          double sum = 0;
          for (int c = 0; c < 4; ++c) {
            for (int ky = 0; ky < 2; ++ky) {
              for (int kx = 0; kx < 2; ++kx) {
                sum += double{k2[((o * 4 + c) * 2 + ky) * 2 + kx]} *
                       p[c * 9 + (y + ky) * 3 + xx + kx];
              }
            }
          }
          g[o] += std::max(0.0, sum) / 4.0;
        }
      }
    }
    std::vector<double> logits(3, 0.0);
    for (int o = 0; o < 3; ++o) {
      for (int i = 0; i < 8; ++i) logits[o] += double{w3[o * 8 + i]} * g[i];
    }
    std::vector<float> y, exits;
    RunFull(**model, x, &y, &exits);
    ExpectNear(y, Softmax(logits));
  }
}

TEST(OnnxImportTest, TileAndBlockPatternsAreRecoveredAsSuch) {
  for (const PatternKind kind :
       {PatternKind::kTile8, PatternKind::kTile4, PatternKind::kBlock}) {
    SCOPED_TRACE(std::string(PatternKindName(kind)));
    const Pattern pattern = *GeneratePattern({64, 32, 16, 8}, kind, 3);
    std::vector<bool> nonzero(32 * 64, false);
    for (int o = 0; o < 32; ++o) {
      for (uint32_t i : pattern.row(o)) nonzero[o * 64 + i] = true;
    }
    absl::StatusOr<RecoveredPattern> recovered =
        RecoverPattern(nonzero, 32, 64, false);
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    ASSERT_TRUE(recovered->pattern.has_value());
    EXPECT_EQ(recovered->pattern->kind(), kind);
    v1::Layer want, got;
    WritePattern(pattern, &want);
    WritePattern(*recovered->pattern, &got);
    EXPECT_THAT(got.indices(), testing::ElementsAreArray(want.indices()));
  }
}

TEST(OnnxImportTest, ZerosWithoutExactDegreesAreRefusedOrKeptDense) {
  std::vector<bool> nonzero(4 * 6, true);
  nonzero[0] = nonzero[7] = false;  // outputs 0 and 1 lose one input each
  absl::StatusOr<RecoveredPattern> refused =
      RecoverPattern(nonzero, 4, 6, false);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("nonzeros per output 5 to 6, per input 3 to 4"));
  EXPECT_THAT(refused.status().message(), HasSubstr("--allow-dense"));
  absl::StatusOr<RecoveredPattern> dense = RecoverPattern(nonzero, 4, 6, true);
  ASSERT_TRUE(dense.ok());
  EXPECT_FALSE(dense->pattern.has_value());
  EXPECT_THAT(dense->found, HasSubstr("stored dense"));

  // Through the importer: the layer named, and the dense model computes.
  onnx::ModelProto mlp = SmallMlp();
  onnx::TensorProto* w1 = mlp.mutable_graph()->mutable_initializer(0);
  std::vector<float> values(16 * 24);
  std::memcpy(values.data(), w1->raw_data().data(), w1->raw_data().size());
  const auto first = std::find_if(values.begin(), values.end(),
                                  [](float v) { return v != 0; });
  *first = 0.0f;
  *w1 = MakeTensor("w1", {16, 24}, values);
  absl::StatusOr<OnnxImport> imported =
      ImportOnnx(Bytes(mlp), Options(1, {{"exit", 1, std::nullopt}}));
  EXPECT_THAT(imported.status().message(),
              HasSubstr("backbone: node 0 'Gemm_h1' (Gemm): its zeros are not "
                        "a predefined-sparse pattern (nonzeros per output 5 "
                        "to 6"));
  OnnxImportOptions allow = Options(1);
  allow.allow_dense = true;
  allow.exits = {{"exit", 1, std::nullopt}};
  imported = ImportOnnx(Bytes(mlp), allow);
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->model.layers(0).pattern(), v1::PATTERN_KIND_DENSE);
}

// Raw bytes, float_data, double_data, an initializer listed among the
// graph's inputs, and a sparse initializer (linear and coordinate indices)
// all give the same model.
TEST(OnnxImportTest, EveryWayToStoreWeightsGivesTheSameModel) {
  const std::vector<OnnxExit> exits = {{"exit", 1, std::nullopt}};
  absl::StatusOr<OnnxImport> reference =
      ImportOnnx(Bytes(SmallMlp(Storage::kRaw)), Options(1, exits));
  ASSERT_TRUE(reference.ok()) << reference.status();
  const std::string id = reference->model.model_id();

  for (Storage storage : {Storage::kFloatData, Storage::kDoubleData}) {
    absl::StatusOr<OnnxImport> other =
        ImportOnnx(Bytes(SmallMlp(storage)), Options(1, exits));
    ASSERT_TRUE(other.ok()) << other.status();
    EXPECT_EQ(other->model.model_id(), id);
  }

  onnx::ModelProto listed = SmallMlp();
  AddValue(listed.mutable_graph()->mutable_input(), "w1", {16, 24});
  absl::StatusOr<OnnxImport> with_listed =
      ImportOnnx(Bytes(listed), Options(1, exits));
  ASSERT_TRUE(with_listed.ok()) << with_listed.status();
  EXPECT_EQ(with_listed->model.model_id(), id);

  for (bool coordinates : {false, true}) {
    onnx::ModelProto sparse = SmallMlp();
    onnx::GraphProto* g = sparse.mutable_graph();
    const onnx::TensorProto w1 = g->initializer(0);
    std::vector<float> dense(16 * 24);
    std::memcpy(dense.data(), w1.raw_data().data(), w1.raw_data().size());
    g->mutable_initializer()->DeleteSubrange(0, 1);
    onnx::SparseTensorProto* s = g->add_sparse_initializer();
    s->add_dims(16);
    s->add_dims(24);
    std::vector<float> values;
    onnx::TensorProto* indices = s->mutable_indices();
    indices->set_data_type(onnx::TensorProto::INT64);
    for (int k = 0; k < 16 * 24; ++k) {
      if (dense[k] == 0) continue;
      values.push_back(dense[k]);
      if (coordinates) {
        indices->add_int64_data(k / 24);
        indices->add_int64_data(k % 24);
      } else {
        indices->add_int64_data(k);
      }
    }
    indices->add_dims(static_cast<int64_t>(values.size()));
    if (coordinates) indices->add_dims(2);
    *s->mutable_values() =
        MakeTensor("w1", {static_cast<int64_t>(values.size())}, values);
    absl::StatusOr<OnnxImport> from_sparse =
        ImportOnnx(Bytes(sparse), Options(1, exits));
    ASSERT_TRUE(from_sparse.ok()) << from_sparse.status();
    EXPECT_EQ(from_sparse->model.model_id(), id)
        << "coordinates " << coordinates;
  }
}

TEST(OnnxImportTest, WhatSpexCannotRunIsNamed) {
  const auto error = [](const onnx::ModelProto& model,
                        OnnxImportOptions options = Options(1)) {
    absl::StatusOr<OnnxImport> imported = ImportOnnx(Bytes(model), options);
    EXPECT_FALSE(imported.ok());
    return std::string(imported.status().message());
  };
  {
    onnx::ModelProto m = SmallMlp();
    m.mutable_graph()->mutable_node(1)->set_op_type("Tanh");
    EXPECT_THAT(
        error(m, Options(1, {{"exit", 1, {}}})),
        HasSubstr("node 1 'Relu_r1' (Tanh): not supported; spex imports "
                  "Gemm, MatMul"));
  }
  {  // A cycle: the Relu reads the output of the Add after it.
    onnx::ModelProto m = SmallMlp();
    m.mutable_graph()->mutable_node(1)->set_input(0, "logits");
    EXPECT_THAT(error(m, Options(1, {{"exit", 1, {}}})), HasSubstr("cycle"));
  }
  {  // A residual: Add of two computed tensors.
    onnx::ModelProto m = SmallMlp();
    m.mutable_graph()->mutable_node(3)->set_input(1, "r1");
    EXPECT_THAT(error(m, Options(1, {{"exit", 1, {}}})),
                HasSubstr("takes 2 computed inputs"));
  }
  {  // Huge dims: refused before anything is allocated.
    onnx::ModelProto m = SmallMlp();
    onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
    w->set_dims(0, int64_t{1} << 40);
    EXPECT_THAT(error(m, Options(1, {{"exit", 1, {}}})),
                HasSubstr("tensor 'w1': dims [1099511627776, 24]: more than"));
  }
  {  // Wrong value count.
    onnx::ModelProto m = SmallMlp(Storage::kFloatData);
    m.mutable_graph()
        ->mutable_initializer(0)
        ->mutable_float_data()
        ->RemoveLast();
    EXPECT_THAT(error(m, Options(1, {{"exit", 1, {}}})),
                HasSubstr("tensor 'w1': 383 values, its dims need 384"));
  }
  {  // External data.
    onnx::ModelProto m = SmallMlp();
    m.mutable_graph()->mutable_initializer(0)->set_data_location(
        onnx::TensorProto::EXTERNAL);
    EXPECT_THAT(error(m, Options(1, {{"exit", 1, {}}})),
                HasSubstr("external file"));
  }
  {  // Two outputs, neither named an exit.
    EXPECT_THAT(
        error(SmallMlp()),
        HasSubstr("outputs besides the exits are [probabilities, exit]"));
  }
  {  // An exit after the wrong layer, a cut outside the network.
    EXPECT_THAT(error(SmallMlp(), Options(1, {{"exit", 2, {}}})),
                HasSubstr("branches off the backbone after layer 1"));
    EXPECT_THAT(error(SmallCnn(), Options(5)),
                HasSubstr("--split-after 5: the cut falls after a layer from 1 "
                          "to 4"));
  }
  {  // A grouped convolution, a non-square kernel.
    onnx::ModelProto m = SmallCnn();
    SetInt(m.mutable_graph()->mutable_node(0), "group", 2);
    EXPECT_THAT(error(m), HasSubstr("group 2"));
    m = SmallCnn();
    SetInts(m.mutable_graph()->mutable_node(3), "strides", {1, 2});
    EXPECT_THAT(error(m),
                HasSubstr("strides [1, 2]: spex needs the same value"));
  }
  {  // Two inputs.
    onnx::ModelProto m = SmallCnn();
    AddValue(m.mutable_graph()->mutable_input(), "other", {-1, 3});
    EXPECT_THAT(error(m), HasSubstr("2 inputs besides its weights"));
  }
}

// Every prefix of a valid file, and garbage: an error, never a crash. (A
// prefix that ends between two top-level fields is a whole message without
// them; it imports only if what it kept makes a model that loads.)
TEST(OnnxImportTest, TruncatedAndGarbageFilesGiveErrors) {
  const std::string bytes = Bytes(SmallCnn());
  int refused = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<OnnxImport> imported =
        ImportOnnx(bytes.substr(0, n), Options(2));
    if (!imported.ok()) {
      ++refused;
      EXPECT_FALSE(imported.status().message().empty());
    } else {
      EXPECT_TRUE(Model::FromProto(imported->model).ok()) << n;
    }
  }
  EXPECT_GE(refused, static_cast<int>(bytes.size()) - 8);
  SeededRandom random(3);
  for (int trial = 0; trial < 200; ++trial) {
    std::string garbage(static_cast<size_t>(random.Below(400)), '\0');
    for (char& c : garbage) c = static_cast<char>(random.Below(256));
    EXPECT_FALSE(ImportOnnx(garbage, Options(2)).ok());
  }
  // A million empty nodes: counted on the raw bytes, refused before parsing.
  onnx::ModelProto m = SmallCnn();
  std::string flood = Bytes(m);
  std::string nodes;
  for (int i = 0; i < (1 << 20) + 1; ++i) nodes += std::string("\x0a\x00", 2);
  std::string graph;
  m.graph().SerializeToString(&graph);
  graph += nodes;
  onnx::ModelProto outer;
  outer.set_ir_version(8);
  std::string with_graph = outer.SerializeAsString();
  // field 7 (graph), length-delimited.
  with_graph += '\x3a';
  uint64_t length = graph.size();
  while (length >= 0x80) {
    with_graph += static_cast<char>((length & 0x7f) | 0x80);
    length >>= 7;
  }
  with_graph += static_cast<char>(length);
  with_graph += graph;
  EXPECT_THAT(ImportOnnx(with_graph, Options(2)).status().message(),
              HasSubstr("more than 1048576 messages and strings"));
}

}  // namespace
}  // namespace spex
