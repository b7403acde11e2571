// The Open Inference Protocol through CloudCore: the whole model and its
// tail, typed and raw contents, and each refusal named.
#include "cloud_service/oip_request.h"

#include <cstring>
#include <future>

#include "cloud_service/cloud_core.h"
#include "cloud_service/oip_inference.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cloud_service/cloud_test_support.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

struct OipAnswer {
  absl::Status status;
  inference::ModelInferResponse response;
};

class OipRequestTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cloud_.ok());
    core_ = &cloud_.core();
    oip_ = std::make_unique<OipInference>(core_);
    model_ = cloud_.model();
  }

  OipAnswer Call(const inference::ModelInferRequest& request) {
    std::promise<OipAnswer> promise;
    oip_->ModelInfer(request, [&promise](absl::Status status,
                                         inference::ModelInferResponse r) {
      promise.set_value({std::move(status), std::move(r)});
    });
    return promise.get_future().get();
  }

  // The probabilities and labels of a response, typed or raw.
  static void Outputs(const inference::ModelInferResponse& response,
                      std::vector<float>* probabilities,
                      std::vector<int64_t>* labels) {
    for (int i = 0; i < response.outputs_size(); ++i) {
      const auto& output = response.outputs(i);
      const bool raw = response.raw_output_contents_size() > 0;
      if (output.name() == "probabilities") {
        if (raw) {
          const std::string& bytes = response.raw_output_contents(i);
          probabilities->resize(bytes.size() / 4);
          std::memcpy(probabilities->data(), bytes.data(), bytes.size());
        } else {
          probabilities->assign(output.contents().fp32_contents().begin(),
                                output.contents().fp32_contents().end());
        }
      } else if (output.name() == "label") {
        if (raw) {
          const std::string& bytes = response.raw_output_contents(i);
          labels->resize(bytes.size() / 8);
          std::memcpy(labels->data(), bytes.data(), bytes.size());
        } else {
          labels->assign(output.contents().int64_contents().begin(),
                         output.contents().int64_contents().end());
        }
      }
    }
  }

  TestCloud cloud_{"oip_request_test", DefaultModelPath()};
  CloudCore* core_ = nullptr;
  std::unique_ptr<OipInference> oip_;
  std::shared_ptr<const Model> model_;
};

TEST_F(OipRequestTest, WholeModelTypedAndRawGiveTheModelsAnswers) {
  const std::vector<float> raw = RawSamples(10, 5);
  const std::vector<float> reference = ReferenceProbabilities(
      *model_, MakeRequest(*model_, 0, v1::ENCODING_UINT8, raw, 1));
  for (const std::string form :
       {"UINT8 typed", "UINT8 raw", "FP32 typed", "FP32 raw"}) {
    SCOPED_TRACE(form);
    inference::ModelInferRequest request;
    request.set_model_name("fashion-default");
    request.set_id("req-1");
    auto* input = request.add_inputs();
    input->set_name("input");
    // An image batch as NHWC, as the metadata gives it.
    input->add_shape(5);
    input->add_shape(28);
    input->add_shape(28);
    input->add_shape(1);
    const bool uint8 = form.rfind("UINT8", 0) == 0;
    input->set_datatype(uint8 ? "UINT8" : "FP32");
    if (form.find("raw") != std::string::npos) {
      std::string bytes;
      for (float v : raw) {
        if (uint8) {
          bytes.push_back(static_cast<char>(static_cast<uint8_t>(v)));
        } else {
          bytes.append(reinterpret_cast<const char*>(&v), 4);
        }
      }
      request.add_raw_input_contents(bytes);
    } else {
      for (float v : raw) {
        if (uint8) {
          input->mutable_contents()->add_uint_contents(
              static_cast<uint32_t>(v));
        } else {
          input->mutable_contents()->add_fp32_contents(v);
        }
      }
    }
    const OipAnswer answer = Call(request);
    ASSERT_TRUE(answer.status.ok()) << answer.status;
    EXPECT_EQ(answer.response.id(), "req-1");
    EXPECT_EQ(answer.response.model_version(), model_->id());
    std::vector<float> probabilities;
    std::vector<int64_t> labels;
    Outputs(answer.response, &probabilities, &labels);
    ASSERT_EQ(probabilities.size(), reference.size());
    ASSERT_EQ(labels.size(), 5u);
    for (size_t i = 0; i < reference.size(); ++i) {
      EXPECT_NEAR(probabilities[i], reference[i], 1e-5);
    }
    for (int s = 0; s < 5; ++s) {
      const float* p = reference.data() + s * 10;
      EXPECT_EQ(labels[s], std::max_element(p, p + 10) - p);
    }
  }
}

TEST_F(OipRequestTest, TailTakesTheSplitActivation) {
  const std::vector<float> split = SplitActivations(*model_, RawSamples(0, 3));
  inference::ModelInferRequest request;
  request.set_model_name("fashion-default-tail");
  request.add_outputs()->set_name("label");
  auto* input = request.add_inputs();
  input->set_name("activation");
  input->set_datatype("FP32");
  input->add_shape(3);  // the cut's map, NCHW
  for (int d : model_->split_shape().extents()) input->add_shape(d);
  for (float v : split) input->mutable_contents()->add_fp32_contents(v);
  const OipAnswer answer = Call(request);
  ASSERT_TRUE(answer.status.ok()) << answer.status;
  ASSERT_EQ(answer.response.outputs_size(), 1);
  std::vector<float> probabilities;
  std::vector<int64_t> labels;
  Outputs(answer.response, &probabilities, &labels);
  const std::vector<float> reference = ReferenceProbabilities(
      *model_, MakeRequest(*model_, 1, v1::ENCODING_FLOAT32, split, 1));
  for (int s = 0; s < 3; ++s) {
    const float* p = reference.data() + s * 10;
    EXPECT_EQ(labels[s], std::max_element(p, p + 10) - p);
  }
}

TEST_F(OipRequestTest, MetadataAndReadiness) {
  inference::ModelMetadataRequest request;
  request.set_name("fashion-default");
  auto metadata = oip_->ModelMetadata(request);
  ASSERT_TRUE(metadata.ok());
  EXPECT_EQ(metadata->versions(0), model_->id());
  EXPECT_EQ(metadata->inputs(0).name(), "input");
  EXPECT_THAT(metadata->inputs(0).shape(), testing::ElementsAre(-1, 28, 28, 1));
  EXPECT_EQ(metadata->properties().at("input_layout"), "NHWC");
  EXPECT_EQ(metadata->outputs(0).name(), "probabilities");
  request.set_name("fashion-default-tail");
  metadata = oip_->ModelMetadata(request);
  ASSERT_TRUE(metadata.ok());
  EXPECT_THAT(metadata->inputs(0).shape(), testing::ElementsAre(-1, 4, 7, 7));
  EXPECT_EQ(metadata->properties().at("input_layout"), "NCHW");
  request.set_name("other");
  EXPECT_EQ(oip_->ModelMetadata(request).status().code(),
            absl::StatusCode::kNotFound);
  inference::ModelReadyRequest ready;
  ready.set_name("fashion-default");
  EXPECT_TRUE(oip_->ModelReady(ready));
  ready.set_version("1");
  EXPECT_FALSE(oip_->ModelReady(ready));
  EXPECT_TRUE(core_->Ready());
}

TEST_F(OipRequestTest, EveryRefusalNamesTheProblem) {
  auto base = [] {
    inference::ModelInferRequest request;
    request.set_model_name("fashion-default");
    auto* input = request.add_inputs();
    input->set_name("input");
    input->set_datatype("UINT8");
    input->add_shape(1);
    input->add_shape(784);
    for (int i = 0; i < 784; ++i)
      input->mutable_contents()->add_uint_contents(7);
    return request;
  };
  ASSERT_TRUE(Call(base()).status.ok());
  struct Case {
    std::string name;
    inference::ModelInferRequest request;
    absl::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  auto add = [&](std::string name, absl::StatusCode code, std::string message,
                 auto change) {
    inference::ModelInferRequest r = base();
    change(&r);
    cases.push_back({std::move(name), std::move(r), code, std::move(message)});
  };
  add("unknown model", absl::StatusCode::kNotFound,
      "served: fashion-default, fashion-default-tail",
      [](auto* r) { r->set_model_name("resnet"); });
  add("input name", absl::StatusCode::kInvalidArgument,
      "takes one input named 'input'",
      [](auto* r) { r->mutable_inputs(0)->set_name("x"); });
  add("datatype", absl::StatusCode::kInvalidArgument, "datatype 'FP16'",
      [](auto* r) { r->mutable_inputs(0)->set_datatype("FP16"); });
  add("shape", absl::StatusCode::kInvalidArgument, "shape [1, 783]",
      [](auto* r) { r->mutable_inputs(0)->set_shape(1, 783); });
  add("count", absl::StatusCode::kInvalidArgument, "783 uint_contents",
      [](auto* r) {
        r->mutable_inputs(0)
            ->mutable_contents()
            ->mutable_uint_contents()
            ->RemoveLast();
      });
  add("byte range", absl::StatusCode::kInvalidArgument,
      "value 300 at 5 does not fit UINT8", [](auto* r) {
        r->mutable_inputs(0)->mutable_contents()->set_uint_contents(5, 300);
      });
  add("raw and typed", absl::StatusCode::kInvalidArgument,
      "both contents and raw_input_contents",
      [](auto* r) { r->add_raw_input_contents(std::string(784, '\0')); });
  add("output", absl::StatusCode::kInvalidArgument, "'logits' is not an output",
      [](auto* r) { r->add_outputs()->set_name("logits"); });
  add("two inputs", absl::StatusCode::kInvalidArgument, "inputs: 2 tensors",
      [](auto* r) { *r->add_inputs() = r->inputs(0); });
  add("NaN", absl::StatusCode::kInvalidArgument, "input value 3 is nan",
      [](auto* r) {
        auto* input = r->mutable_inputs(0);
        input->set_datatype("FP32");
        input->mutable_contents()->clear_uint_contents();
        for (int i = 0; i < 784; ++i) {
          input->mutable_contents()->add_fp32_contents(i == 3 ? NAN : 0.5f);
        }
      });
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const OipAnswer answer = Call(c.request);
    EXPECT_EQ(answer.status.code(), c.code) << answer.status;
    EXPECT_THAT(std::string(answer.status.message()), HasSubstr(c.message));
  }
}

}  // namespace
}  // namespace spex
