// What the cloud's tests share: the default model, real Fashion-MNIST test
// images, requests built the way an edge agent builds them, and the answers
// the in-process model gives for the same samples.
#ifndef SPEX_TESTS_CLOUD_SERVICE_CLOUD_TEST_SUPPORT_H_
#define SPEX_TESTS_CLOUD_SERVICE_CLOUD_TEST_SUPPORT_H_

#include <algorithm>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "cloud_service/cloud_core.h"
#include "common/codec/activation_codec.h"
#include "common/model/model.h"
#include "gtest/gtest.h"
#include "spex/v1/split_inference.pb.h"
#include "tools/data/dataset.h"

namespace spex {

inline std::string DefaultModelPath() {
  return std::string(SPEX_SOURCE_DIR) + "/results/fashion-default.spex";
}
// The sparse MLP (the research's shape): a head of microseconds.
inline std::string MlpModelPath() {
  return std::string(SPEX_SOURCE_DIR) + "/results/fashion-mlp.spex";
}
// The three-stage model: edge, fog and cloud.
inline std::string ChainModelPath() {
  return std::string(SPEX_SOURCE_DIR) + "/results/fashion-chain.spex";
}

// The model at `path`; a test that cannot load it fails, naming why.
inline std::shared_ptr<const Model> LoadTestModel(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Load(path);
  EXPECT_TRUE(model.ok()) << path << ": " << model.status();
  return model.ok() ? *std::move(model) : nullptr;
}

// Removes `dir` when the test process exits (each test runs in its own
// process, whose daemons have stopped by then).
inline void RemoveAtExit(const std::filesystem::path& dir) {
  static struct Directories {
    std::vector<std::filesystem::path> all;
    ~Directories() {
      for (const auto& d : all) {
        std::error_code ignored;
        std::filesystem::remove_all(d, ignored);
      }
    }
  } directories;
  directories.all.push_back(dir);
}

// A fresh directory `name` in the test's temporary directory holding a copy
// of the model file at `model_path`, removed when the test process exits.
inline std::string ModelDirWith(const std::string& name,
                                const std::string& model_path) {
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()) /
                                    (name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  RemoveAtExit(dir);
  std::filesystem::copy_file(
      model_path, dir / std::filesystem::path(model_path).filename());
  return dir.string();
}
inline std::string ModelDirWithDefaultModel(const std::string& name) {
  return ModelDirWith(name, DefaultModelPath());
}

// A CloudCore serving one model file (copied into a fresh directory
// `name`), with its registry and metrics: the cloud the gRPC-free tests
// drive. `next`: a middle stage's next stages (null: the last stage).
class TestCloud {
 public:
  TestCloud(const std::string& name, const std::string& model_path,
            const CloudCoreOptions& options = CloudCoreOptions(),
            NextStages* next = nullptr)
      : metrics_("test", /*middle_stage=*/next != nullptr),
        dir_(ModelDirWith(name, model_path)) {
    absl::StatusOr<std::unique_ptr<ModelRegistry>> registry =
        ModelRegistry::Create(dir_, {}, &metrics_);
    EXPECT_TRUE(registry.ok()) << registry.status();
    if (!registry.ok()) return;
    registry_ = *std::move(registry);
    core_ =
        std::make_unique<CloudCore>(options, registry_.get(), &metrics_, next);
    model_ = registry_->Snapshot()->all().at(0).model;
  }

  bool ok() const { return core_ != nullptr; }
  CloudCore& core() { return *core_; }
  ModelRegistry& registry() { return *registry_; }
  CloudMetrics& metrics() { return metrics_; }
  const std::shared_ptr<const Model>& model() const { return model_; }
  const std::string& dir() const { return dir_; }

 private:
  CloudMetrics metrics_;
  const std::string dir_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<CloudCore> core_;
  std::shared_ptr<const Model> model_;
};

// CloudCore's answer to one SplitInference request, waited for.
struct CoreAnswer {
  absl::Status status;
  v1::InferResponse response;
};

inline CoreAnswer Ask(CloudCore& core, const v1::InferRequest& request,
                      const std::string& default_model = "") {
  std::promise<CoreAnswer> promise;
  core.Infer(request, default_model,
             [&promise](absl::Status status, v1::InferResponse response) {
               promise.set_value({std::move(status), std::move(response)});
             });
  return promise.get_future().get();
}

inline const Dataset& FashionTestSet() {
  static const Dataset* dataset = [] {
    absl::StatusOr<Dataset> loaded = LoadDataset("fashion-mnist", Split::kTest);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new Dataset(loaded.ok() ? *std::move(loaded) : Dataset());
  }();
  return *dataset;
}

// Raw pixels of test samples [first, first + count), as floats.
inline std::vector<float> RawSamples(int first, int count) {
  const Dataset& data = FashionTestSet();
  std::vector<float> raw;
  for (int s = first; s < first + count; ++s) {
    raw.insert(raw.end(), data.sample(s), data.sample(s) + data.width);
  }
  return raw;
}

// The head's split activation for each raw sample, as the edge computes it.
inline std::vector<float> SplitActivations(const Model& model,
                                           const std::vector<float>& raw) {
  const InputTransform& input = model.input();
  const int samples = static_cast<int>(raw.size()) / input.raw_width;
  Workspace workspace(model.head());
  std::vector<float> x(input.width), out;
  std::vector<float> y(model.split_width());
  for (int s = 0; s < samples; ++s) {
    EXPECT_TRUE(input
                    .Apply(absl::MakeConstSpan(raw).subspan(
                               static_cast<size_t>(s) * input.raw_width,
                               input.raw_width),
                           x.data())
                    .ok());
    model.head().Forward(x.data(), y.data(), nullptr, &workspace);
    out.insert(out.end(), y.begin(), y.end());
  }
  return out;
}

// A SplitInference request for the given values, encoded as the edge would.
inline v1::InferRequest MakeRequest(const Model& model, uint32_t from_layer,
                                    v1::Encoding encoding,
                                    const std::vector<float>& values,
                                    uint64_t request_id, uint32_t top_k = 3) {
  const int width =
      from_layer == 0 ? model.input().raw_width : model.split_width();
  v1::InferRequest request;
  request.set_request_id(request_id);
  request.set_model_id(model.id());
  request.set_from_layer(from_layer);
  request.set_top_k(top_k);
  EXPECT_TRUE(EncodeActivations(encoding, width,
                                static_cast<int>(values.size()) / width, values,
                                request.mutable_activation())
                  .ok());
  return request;
}

// What the in-process model answers for the request's samples: its payload
// decoded exactly as the server must, then the tail (or the whole model for
// raw inputs), one sample at a time. samples x classes probabilities.
inline std::vector<float> ReferenceProbabilities(
    const Model& model, const v1::InferRequest& request) {
  std::vector<float> values;
  EXPECT_TRUE(DecodeActivations(request.activation(), &values).ok());
  const bool raw = request.from_layer() == 0;
  const ModelPart& part = raw ? model.full() : model.tail();
  const int width = raw ? model.input().raw_width : model.split_width();
  const int samples = static_cast<int>(values.size()) / width;
  Workspace workspace(part);
  std::vector<float> x(part.input_width());
  std::vector<float> y(model.num_classes()), out;
  for (int s = 0; s < samples; ++s) {
    const float* v = values.data() + static_cast<size_t>(s) * width;
    if (raw) {
      EXPECT_TRUE(
          model.input().Apply(absl::MakeConstSpan(v, width), x.data()).ok());
    } else {
      std::copy(v, v + width, x.begin());
    }
    part.Forward(x.data(), y.data(), nullptr, &workspace);
    out.insert(out.end(), y.begin(), y.end());
  }
  return out;
}

// The response answers every sample as the reference does: same label, same
// confidence and top-k probabilities within float rounding (a batch pass
// sums in another order than the one-sample path).
inline void ExpectMatchesReference(const std::vector<float>& reference,
                                   int classes,
                                   const v1::InferResponse& response) {
  ASSERT_EQ(static_cast<size_t>(response.results_size()) * classes,
            reference.size());
  for (int s = 0; s < response.results_size(); ++s) {
    const float* p = reference.data() + static_cast<size_t>(s) * classes;
    const v1::SampleResult& result = response.results(s);
    const int label = static_cast<int>(std::max_element(p, p + classes) - p);
    EXPECT_EQ(result.label(), static_cast<uint32_t>(label)) << "sample " << s;
    EXPECT_NEAR(result.confidence(), p[label], 1e-5) << "sample " << s;
    for (const v1::ClassProbability& entry : result.top_k()) {
      EXPECT_NEAR(entry.probability(), p[entry.class_index()], 1e-5);
    }
  }
}

}  // namespace spex

#endif  // SPEX_TESTS_CLOUD_SERVICE_CLOUD_TEST_SUPPORT_H_
