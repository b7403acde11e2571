#include "common/model/model_file.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/model/model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/model/test_models.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

class ModelFileTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(testing::TempDir()) /
           ("spex_model_file_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  static void WriteBytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  }

  std::filesystem::path dir_;
};

TEST_F(ModelFileTest, LoadedThenSavedIsByteIdentical) {
  for (PatternKind kind : {PatternKind::kRandom, PatternKind::kBlock}) {
    for (const TestTopology& t : TestTopologies(kind)) {
      SCOPED_TRACE(t.name);
      absl::StatusOr<v1::Model> model = InitializeModel(t.topology, 42);
      ASSERT_TRUE(model.ok());
      const std::string path = Path("model.spex");
      ASSERT_TRUE(WriteModelFile(path, &*model).ok());
      const std::string written = *ReadFileBytes(path, kMaxModelFileBytes);
      absl::StatusOr<v1::Model> loaded = ReadModelFile(path);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      EXPECT_EQ(loaded->model_id(), model->model_id());
      ASSERT_TRUE(WriteModelFile(Path("again.spex"), &*loaded).ok());
      EXPECT_EQ(*ReadFileBytes(Path("again.spex"), kMaxModelFileBytes), written);
      auto runnable = Model::Load(path);
      ASSERT_TRUE(runnable.ok()) << runnable.status();
      EXPECT_EQ((*runnable)->id(), model->model_id());
    }
  }
}

TEST_F(ModelFileTest, ChangedFileIsRejectedByItsId) {
  v1::Model model = MakeTestModel(TestTopologies(PatternKind::kRandom)[0].topology, 1);
  std::string bytes = SerializeModel(&model);
  // Flip one bit in the last weight's bytes: still a well-formed message.
  v1::Model tampered;
  ASSERT_TRUE(tampered.ParseFromString(bytes));
  auto* weights = tampered.mutable_layers(2)->mutable_weights();
  weights->Set(0, weights->Get(0) * 1.5f);
  std::string changed;
  tampered.SerializeToString(&changed);
  WriteBytes(Path("tampered.spex"), changed);
  const auto loaded = Model::Load(Path("tampered.spex"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("tampered.spex: model_id: stored"));
}

TEST_F(ModelFileTest, TruncatedAndGarbageFilesAreErrors) {
  v1::Model model = MakeTestModel(TestTopologies(PatternKind::kBlock)[1].topology, 3);
  const std::string bytes = SerializeModel(&model);
  // Every prefix: a clear error, never a crash and never a model.
  for (size_t n = 0; n < bytes.size(); n += 1 + n / 16) {
    WriteBytes(Path("cut.spex"), bytes.substr(0, n));
    const auto loaded = Model::Load(Path("cut.spex"));
    ASSERT_FALSE(loaded.ok()) << "prefix of " << n << " bytes loaded";
    EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("cut.spex"));
  }
  WriteBytes(Path("text.spex"), "this is not a model at all\n");
  EXPECT_THAT(std::string(Model::Load(Path("text.spex")).status().message()),
              HasSubstr("not a spex model"));
  WriteBytes(Path("empty.spex"), "");
  EXPECT_THAT(std::string(Model::Load(Path("empty.spex")).status().message()),
              HasSubstr("model is empty"));
}

TEST_F(ModelFileTest, UnsupportedVersionIsNamed) {
  v1::Model model = MakeTestModel(TestTopologies(PatternKind::kRandom)[2].topology, 3);
  model.set_format_version(7);
  WriteBytes(Path("v7.spex"), SerializeModel(&model));
  EXPECT_THAT(std::string(Model::Load(Path("v7.spex")).status().message()),
              HasSubstr("format_version: 7 is not supported; this build reads version 1"));
}

TEST_F(ModelFileTest, FileSystemErrorsNameThePath) {
  const auto missing = Model::Load(Path("missing.spex"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("missing.spex"));
  EXPECT_THAT(std::string(Model::Load(dir_.string()).status().message()),
              HasSubstr("is not a regular file"));
  // A file above the limit is refused before a byte of it is read (a sparse
  // file: no disk is used).
  const std::string huge = Path("huge.spex");
  WriteBytes(huge, "");
  std::filesystem::resize_file(huge, kMaxModelFileBytes + 1);
  EXPECT_THAT(std::string(Model::Load(huge).status().message()),
              HasSubstr("more than the limit"));
  v1::Model empty;
  EXPECT_EQ(WriteModelFile(Path("no/such/dir/m.spex"), &empty).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace spex
