// Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/): real
// requests as the daemons receive them, built from Fashion-MNIST test
// images and the default model, in every encoding and form, plus small
// model files, ONNX networks and token files. Run after changing a message or
// the model:
//   build/native/tests/spex_write_fuzz_seeds tests/fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "inference/open_inference_grpc.pb.h"
#include "spex/v1/edge_inference.pb.h"
#include "tests/cloud_service/cloud_test_support.h"
#include "tests/common/model/test_models.h"
#include "tests/tools/data/numpy_files.h"
#include "tests/tools/onnx/onnx_test_graphs.h"

namespace spex {
namespace {

class Corpus {
 public:
  explicit Corpus(std::string root) : root_(std::move(root)) {}
  void Write(const std::string& target, const std::string& name,
             const std::string& bytes) {
    const std::filesystem::path dir = std::filesystem::path(root_) / target;
    std::filesystem::create_directories(dir);
    std::ofstream(dir / name, std::ios::binary) << bytes;
  }

 private:
  std::string root_;
};

void WriteSeeds(const std::string& root) {
  Corpus corpus(root);
  absl::StatusOr<std::shared_ptr<const Model>> loaded =
      Model::Load(DefaultModelPath());
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n",
                 std::string(loaded.status().message()).c_str());
    std::exit(1);
  }
  const Model& model = **loaded;
  const std::vector<float> raw = RawSamples(0, 3);
  const std::vector<float> split = SplitActivations(model, raw);
  const std::vector<float> one_raw(raw.begin(), raw.begin() + 784);
  const std::vector<float> one_split(split.begin(),
                                     split.begin() + model.split_width());

  for (v1::Encoding encoding :
       {v1::ENCODING_FLOAT32, v1::ENCODING_FLOAT16, v1::ENCODING_INT8}) {
    const std::string name(EncodingName(encoding));
    corpus.Write("split_request", name + "-1",
                 MakeRequest(model, model.split_after(), encoding, one_split, 1)
                     .SerializeAsString());
    corpus.Write("split_request", name + "-3",
                 MakeRequest(model, model.split_after(), encoding, split, 2)
                     .SerializeAsString());
    v1::InferRequest no_id =
        MakeRequest(model, model.split_after(), encoding, split, 3);
    no_id.clear_model_id();
    corpus.Write("split_request", name + "-3-no-id", no_id.SerializeAsString());
    corpus.Write("activation_decoder", name,
                 MakeRequest(model, model.split_after(), encoding, split, 4)
                     .activation()
                     .SerializeAsString());
  }
  // Values at the bound on what crosses the network (+-65504), which the
  // fuzzer pushes beyond.
  std::vector<float> extreme(one_split.size(), 65504.0f);
  for (size_t i = 1; i < extreme.size(); i += 2) extreme[i] = -65504.0f;
  for (v1::Encoding encoding : {v1::ENCODING_FLOAT32, v1::ENCODING_INT8}) {
    const std::string name = absl::StrCat(EncodingName(encoding), "-extreme");
    const v1::InferRequest request =
        MakeRequest(model, model.split_after(), encoding, extreme, 9);
    corpus.Write("split_request", name, request.SerializeAsString());
    corpus.Write("activation_decoder", name,
                 request.activation().SerializeAsString());
  }
  corpus.Write("split_request", "uint8-raw",
               MakeRequest(model, 0, v1::ENCODING_UINT8, one_raw, 5)
                   .SerializeAsString());
  corpus.Write("activation_decoder", "uint8",
               MakeRequest(model, 0, v1::ENCODING_UINT8, one_raw, 6)
                   .activation()
                   .SerializeAsString());

  // The Open Inference Protocol: the whole model on raw pixels (typed and
  // raw contents), the tail on a split activation.
  for (const bool raw_contents : {false, true}) {
    inference::ModelInferRequest request;
    request.set_model_name("fashion-default");
    request.set_id("seed");
    auto* input = request.add_inputs();
    input->set_name("input");
    input->set_datatype("UINT8");
    for (int64_t d : {1, 28, 28, 1}) input->add_shape(d);  // NHWC
    std::string bytes;
    for (float v : one_raw) {
      if (raw_contents) {
        bytes.push_back(static_cast<char>(static_cast<uint8_t>(v)));
      } else {
        input->mutable_contents()->add_uint_contents(static_cast<uint32_t>(v));
      }
    }
    if (raw_contents) request.add_raw_input_contents(bytes);
    request.add_outputs()->set_name("probabilities");
    corpus.Write("oip_request", raw_contents ? "uint8-raw" : "uint8",
                 request.SerializeAsString());
  }
  inference::ModelInferRequest tail;
  tail.set_model_name("fashion-default-tail");
  auto* input = tail.add_inputs();
  input->set_name("activation");
  input->set_datatype("FP32");
  input->add_shape(1);  // the cut's shape, NCHW
  for (int d : model.split_shape().extents()) input->add_shape(d);
  for (float v : one_split) input->mutable_contents()->add_fp32_contents(v);
  corpus.Write("oip_request", "tail-fp32", tail.SerializeAsString());

  // The edge's local API.
  v1::ClassifyRequest pixels;
  pixels.set_request_id(7);
  pixels.set_top_k(3);
  for (float v : one_raw)
    pixels.mutable_pixels()->push_back(static_cast<char>(v));
  corpus.Write("edge_classify", "pixels", pixels.SerializeAsString());
  v1::ClassifyRequest values;
  values.set_request_id(8);
  for (float v : one_raw) values.mutable_values()->add_values(v);
  corpus.Write("edge_classify", "values", values.SerializeAsString());

  // Small valid models (the default one is 480 KB: slow to mutate), one
  // with tile patterns (format version 2), one a chain of three stages
  // with an exit in the middle one (format version 3).
  corpus.Write(
      "model_loader", "small",
      MakeTestModel(TestTopologies(PatternKind::kRandom).front().topology, 1)
          .SerializeAsString());
  corpus.Write("model_loader", "small-tile4",
               MakeTestModel(TestTopologies(PatternKind::kTile4)[1].topology, 1)
                   .SerializeAsString());
  ModelTopology chain = TestTopologies(PatternKind::kRandom)[1].topology;
  chain.split_after = 1;
  chain.later_cuts = {3};
  chain.exits = {{1, {7}, {7}, 0.5f}, {3, {7}, {7}, 1.0f}};
  corpus.Write("model_loader", "small-chain",
               MakeTestModel(chain, 1).SerializeAsString());

  // Small ONNX networks as PyTorch's exporter writes them: an MLP with an
  // exit (Gemm, MatMul + Add), a CNN (Conv, MaxPool, GlobalAveragePool).
  corpus.Write("onnx_import", "small-mlp", SmallMlp().SerializeAsString());
  corpus.Write("onnx_import", "small-cnn", SmallCnn().SerializeAsString());

  // A user's dataset files, after the byte that picks the reader: a CSV
  // with a quoted header, an .npy of 8-bit images, an .npz of both splits
  // (deflated).
  corpus.Write("data_files", "csv",
               std::string(1, '\0') +
                   "\"length, cm\",width,label\r\n1.5,-2,0\r\n3,4e2,2\r\n");
  const std::string images =
      Npy("|u1", "(2, 2, 3)",
          Bytes<uint8_t>({0, 1, 2, 3, 4, 255, 9, 8, 7, 6, 5, 4}));
  corpus.Write("data_files", "npy", std::string(1, '\1') + images);
  corpus.Write(
      "data_files", "npz",
      std::string(1, '\2') +
          Zip({{"x_train.npy",
                Npy("<f4", "(2, 2)", Bytes<float>({1, 2, 3, 4}))},
               {"y_train.npy", Npy("<i8", "(2,)", Bytes<int64_t>({0, 1}))},
               {"x_test.npy", images},
               {"y_test.npy", Npy("<i8", "(2,)", Bytes<int64_t>({1, 0}))}},
              true));

  // A token file's text, a NUL, an authorization value.
  auto token_seed = [](std::string text, const std::string& authorization) {
    text.push_back('\0');
    return text + authorization;
  };
  corpus.Write("token_file", "two-tokens",
               token_seed("# edge fleet\nalpha-token\n  beta-token  \n",
                          "Bearer beta-token"));
  corpus.Write("token_file", "wrong", token_seed("alpha\n", "Bearer alp"));
}

}  // namespace
}  // namespace spex

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
    return 2;
  }
  spex::WriteSeeds(argv[1]);
  return 0;
}
