#include "tools/data/idx_file.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/data/dataset.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

class IdxFileTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(testing::TempDir()) /
           ("spex_idx_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) { return (dir_ / name).string(); }
  static std::string Bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void Write(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }
  std::filesystem::path dir_;
};

IdxArray Images(uint32_t n) {
  IdxArray a;
  a.dims = {n, 28, 28};
  for (uint32_t i = 0; i < n * 784; ++i)
    a.values.push_back(static_cast<uint8_t>(i * 31));
  return a;
}

TEST_F(IdxFileTest, RoundTripGzipAndPlain) {
  const IdxArray images = Images(5);
  ASSERT_TRUE(WriteIdxFile(Path("a.gz"), images).ok());
  auto read = ReadIdxFile(Path("a.gz"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->dims, images.dims);
  EXPECT_EQ(read->values, images.values);
  // The same content uncompressed reads the same.
  std::string plain = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 28, 0, 0, 0, 28};
  plain.append(images.values.begin(), images.values.end());
  Write(Path("a.idx"), plain);
  read = ReadIdxFile(Path("a.idx"));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->values, images.values);
}

TEST_F(IdxFileTest, TruncatedFilesAreNamedErrors) {
  ASSERT_TRUE(WriteIdxFile(Path("full.gz"), Images(20)).ok());
  const std::string gz = Bytes(Path("full.gz"));
  for (size_t n :
       {size_t{0}, size_t{3}, size_t{20}, gz.size() / 2, gz.size() - 9}) {
    Write(Path("cut.gz"), gz.substr(0, n));
    const auto read = ReadIdxFile(Path("cut.gz"));
    ASSERT_FALSE(read.ok()) << "prefix " << n;
    EXPECT_THAT(std::string(read.status().message()), HasSubstr("cut.gz"));
  }
  std::string plain = {0, 0, 8, 1, 0, 0, 0, 10, 1, 2, 3};
  Write(Path("short.idx"), plain);
  EXPECT_THAT(std::string(ReadIdxFile(Path("short.idx")).status().message()),
              HasSubstr("truncated: the header promises 10 values"));
  plain = {0, 0, 8, 1, 0, 0, 0, 2, 1, 2, 3};
  Write(Path("long.idx"), plain);
  EXPECT_THAT(std::string(ReadIdxFile(Path("long.idx")).status().message()),
              HasSubstr("more data than the header's 2 values"));
}

TEST_F(IdxFileTest, WrongHeadersAreNamedErrors) {
  Write(Path("magic.idx"),
        std::string("\x01\x02\x08\x01\x00\x00\x00\x01\x05", 9));
  EXPECT_THAT(std::string(ReadIdxFile(Path("magic.idx")).status().message()),
              HasSubstr("not an IDX file"));
  Write(Path("type.idx"),
        std::string("\x00\x00\x0d\x01\x00\x00\x00\x01\x05\x05\x05\x05", 12));
  EXPECT_THAT(std::string(ReadIdxFile(Path("type.idx")).status().message()),
              HasSubstr("value type 0x0d"));
  Write(Path("zero.idx"), std::string("\x00\x00\x08\x01\x00\x00\x00\x00", 8));
  EXPECT_THAT(std::string(ReadIdxFile(Path("zero.idx")).status().message()),
              HasSubstr("dimension 0 is 0"));
  Write(Path("huge.idx"),
        std::string("\x00\x00\x08\x02\xff\xff\xff\xff\xff\xff\xff\xff", 12));
  EXPECT_THAT(std::string(ReadIdxFile(Path("huge.idx")).status().message()),
              HasSubstr("at most"));
  EXPECT_EQ(ReadIdxFile(Path("missing.gz")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(IdxFileTest, MissingDatasetSaysWhichPackageProvidesIt) {
  ::setenv("SPEX_FASHION_MNIST_DIR", Path("nowhere").c_str(), 1);
  const auto fashion = LoadDataset("fashion-mnist", Split::kTest);
  ::unsetenv("SPEX_FASHION_MNIST_DIR");
  EXPECT_EQ(fashion.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(fashion.status().message()),
              HasSubstr("dataset-fashion-mnist"));
  ::setenv("SPEX_MNIST_DIGITS_DIR", Path("nowhere").c_str(), 1);
  const auto digits = LoadDataset("mnist-digits", Split::kTrain);
  ::unsetenv("SPEX_MNIST_DIGITS_DIR");
  EXPECT_THAT(std::string(digits.status().message()),
              HasSubstr("fetch-mnist-digits.sh"));
  EXPECT_THAT(
      std::string(LoadDataset("cifar", Split::kTrain).status().message()),
      HasSubstr("unknown dataset 'cifar'"));
}

// The real dataset, from its Debian package (deploy/install-deps.sh).
TEST(FashionMnistTest, PackageHoldsTheFullDataset) {
  const auto test = LoadDataset("fashion-mnist", Split::kTest);
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_EQ(test->size(), 10000);
  EXPECT_EQ(test->width, 784);
  EXPECT_EQ(test->classes, 10);
  EXPECT_EQ(test->class_names[9], "Ankle boot");
  const auto train = LoadDataset("fashion-mnist", Split::kTrain);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->size(), 60000);
  // 6,000 of each class in the training set.
  std::vector<int> per_class(10, 0);
  for (uint8_t label : train->labels) ++per_class[label];
  EXPECT_EQ(per_class, std::vector<int>(10, 6000));

  Dataset rest, held;
  SplitHoldOut(*train, 5000, 7, &rest, &held);
  EXPECT_EQ(rest.size(), 55000);
  EXPECT_EQ(held.size(), 5000);
  Dataset rest2, held2;
  SplitHoldOut(*train, 5000, 7, &rest2, &held2);
  EXPECT_EQ(held.labels, held2.labels);
  EXPECT_EQ(held.values, held2.values);
}

}  // namespace
}  // namespace spex
