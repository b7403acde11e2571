#include "common/model/model_file.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/hash/sha256.h"
#include "common/model/model.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
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

  std::string Path(const std::string& name) const {
    return (dir_ / name).string();
  }

  static void WriteBytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
  }

  std::filesystem::path dir_;
};

TEST_F(ModelFileTest, LoadedThenSavedIsByteIdentical) {
  for (PatternKind kind : {PatternKind::kRandom, PatternKind::kBlock,
                           PatternKind::kTile4, PatternKind::kTile8}) {
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
      EXPECT_EQ(*ReadFileBytes(Path("again.spex"), kMaxModelFileBytes),
                written);
      auto runnable = Model::Load(path);
      ASSERT_TRUE(runnable.ok()) << runnable.status();
      EXPECT_EQ((*runnable)->id(), model->model_id());
    }
  }
}

TEST_F(ModelFileTest, ChangedFileIsRejectedByItsId) {
  v1::Model model =
      MakeTestModel(TestTopologies(PatternKind::kRandom)[0].topology, 1);
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
  v1::Model model =
      MakeTestModel(TestTopologies(PatternKind::kBlock)[1].topology, 3);
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
  v1::Model model =
      MakeTestModel(TestTopologies(PatternKind::kRandom)[2].topology, 3);
  model.set_format_version(7);
  WriteBytes(Path("v7.spex"), SerializeModel(&model));
  EXPECT_THAT(std::string(Model::Load(Path("v7.spex")).status().message()),
              HasSubstr("format_version: 7 is not supported; this build reads "
                        "versions 1 to 5"));
}

// A file carries the lowest version that describes it: version 1 unless a
// layer has a tile pattern, so files without tiles stay readable by builds
// that know only version 1; a tile layer in a version-1 file is refused.
TEST_F(ModelFileTest, VersionIsTheLowestThatDescribesTheModel) {
  const ModelTopology topology =
      TestTopologies(PatternKind::kRandom)[1].topology;
  EXPECT_EQ(MakeTestModel(topology, 3).format_version(), 1u);
  ModelTopology tiled = topology;
  tiled.pattern = PatternKind::kTile4;
  v1::Model model = MakeTestModel(tiled, 3);
  EXPECT_EQ(model.format_version(), 2u);
  WriteBytes(Path("v2.spex"), SerializeModel(&model));
  EXPECT_TRUE(Model::Load(Path("v2.spex")).ok());
  model.set_format_version(1);
  WriteBytes(Path("v1-tiles.spex"), SerializeModel(&model));
  EXPECT_THAT(
      std::string(Model::Load(Path("v1-tiles.spex")).status().message()),
      HasSubstr("format_version: 1, but the model has tile patterns, which "
                "version 2 added"));
  // Later cuts alone keep the version (a reader that ignores them serves an
  // edge-cloud pair correctly); an exit after the split needs version 3.
  ModelTopology chained = topology;
  chained.split_after = 1;
  chained.later_cuts = {3};
  chained.exits.resize(1);  // after layer 1
  v1::Model chain = MakeTestModel(chained, 3);
  EXPECT_EQ(chain.format_version(), 1u);
  chained.exits.push_back({3, {7}, {7}, 1.0f});
  chain = MakeTestModel(chained, 3);
  EXPECT_EQ(chain.format_version(), 3u);
  WriteBytes(Path("v3.spex"), SerializeModel(&chain));
  EXPECT_TRUE(Model::Load(Path("v3.spex")).ok());
  chain.set_format_version(2);
  WriteBytes(Path("v2-chain.spex"), SerializeModel(&chain));
  EXPECT_THAT(
      std::string(Model::Load(Path("v2-chain.spex")).status().message()),
      HasSubstr("format_version: 2, but the model has an exit after "
                "split_after, which version 3 added"));
}

TEST_F(ModelFileTest, FileSystemErrorsNameThePath) {
  const auto missing = Model::Load(Path("missing.spex"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("missing.spex"));
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

// Peak resident memory growth while `run` runs, in bytes; -1 when the kernel
// does not let the process reset its peak (/proc/self/clear_refs).
template <typename Fn>
int64_t PeakMemoryGrowth(Fn run) {
  auto read_kib = [](const std::string& key) -> int64_t {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size()));
    }
    return -1;
  };
  {
    std::ofstream clear("/proc/self/clear_refs");
    if (!clear || !(clear << "5") || !clear.flush()) return -1;
  }
  const int64_t before = read_kib("VmRSS:");
  run();
  const int64_t peak = read_kib("VmHWM:");
  if (before < 0 || peak < 0) return -1;
  return (peak - before) * 1024;
}

// A valid model's bytes followed by `repeats` copies of `entry`: to the
// parser, millions of empty repeated entries merged into the model.
std::string ModelFollowedBy(const std::string& entry, int64_t repeats) {
  v1::Model model =
      MakeTestModel(TestTopologies(PatternKind::kRandom)[0].topology, 3);
  std::string bytes = SerializeModel(&model);
  bytes.reserve(bytes.size() + entry.size() * repeats);
  for (int64_t i = 0; i < repeats; ++i) bytes += entry;
  return bytes;
}

TEST_F(ModelFileTest, EmptyRepeatedEntriesAreCountedBeforeParsing) {
  constexpr int64_t kRepeats = int64_t{8} << 20;  // 16 MiB of 2-byte entries
  struct Bomb {
    std::string name;
    std::string bytes;
    std::string error;
  };
  std::string exit_of_empty_layers;  // one exit holding 8 Mi empty layers
  {
    std::string layers;
    for (int64_t i = 0; i < kRepeats; ++i) layers += std::string("\x12\x00", 2);
    std::string length;
    for (uint64_t n = layers.size();; n >>= 7) {
      length += static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
      if (n < 0x80) break;
    }
    exit_of_empty_layers = ModelFollowedBy("", 0) + "\x32" + length + layers;
  }
  const std::vector<Bomb> bombs = {
      {"layers", ModelFollowedBy(std::string("\x22\x00", 2), kRepeats),
       "layers: more than 64 entries"},
      {"exits", ModelFollowedBy(std::string("\x32\x00", 2), kRepeats),
       "exits: more than 16 entries"},
      {"class_names", ModelFollowedBy(std::string("\x3a\x00", 2), kRepeats),
       "class_names: more than 65536 entries"},
      {"exit layers", exit_of_empty_layers,
       "exit 2: layers: more than 16 entries"},
  };
  for (const Bomb& bomb : bombs) {
    SCOPED_TRACE(bomb.name);
    ASSERT_LT(static_cast<int64_t>(bomb.bytes.size()), kMaxModelFileBytes);
    const std::string path = Path("bomb.spex");
    WriteBytes(path, bomb.bytes);
    absl::Status status;
    const int64_t growth =
        PeakMemoryGrowth([&] { status = Model::Load(path).status(); });
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(status.message()), HasSubstr(bomb.error));
    if (growth >= 0) {
      // The file's bytes once (read whole) and little else: far from the
      // gigabytes the parser would allocate for the entries.
      EXPECT_LT(growth,
                4 * static_cast<int64_t>(bomb.bytes.size()) + (64 << 20))
          << "peak memory grew by " << growth << " bytes";
    }
  }
}

TEST_F(ModelFileTest, ModelIdIsTheHashOfTheMessageWithoutItsId) {
  v1::Model model =
      MakeTestModel(TestTopologies(PatternKind::kRandom)[0].topology, 5);
  // Unknown fields count too: a field number no version uses.
  model.GetReflection()->MutableUnknownFields(&model)->AddVarint(999, 7);
  for (const std::string& stored : {std::string(), std::string(64, 'f')}) {
    model.set_model_id(stored);
    v1::Model without_id = model;
    without_id.clear_model_id();
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream stream(&bytes);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      without_id.SerializeToCodedStream(&coded);
    }
    EXPECT_EQ(ComputeModelId(model), Sha256Hex(bytes));
  }
  model.set_format_version(0);  // no field 1 before the id
  v1::Model without_id = model;
  without_id.clear_model_id();
  EXPECT_EQ(ComputeModelId(model), ComputeModelId(without_id));
}

}  // namespace
}  // namespace spex
