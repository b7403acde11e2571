// A user's dataset files: CSV, .npy and .npz (stored and deflated, with
// numpy.savez's ZIP64 extras) read into the values written, and every bad
// file an error naming the row, column, array or member.
#include "tools/data/data_files.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/tools/data/numpy_files.h"
#include "tools/data/dataset.h"
#include "tools/data/npy_file.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

class DataFilesTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(testing::TempDir()) /
           absl::StrCat("data_files_", std::random_device{}());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  std::filesystem::path dir_;
};

TEST_F(DataFilesTest, CsvWithHeaderQuotesAndCrlf) {
  const std::string train = Write(
      "t.csv",
      "\"length, cm\",width,class\r\n1.5,-2,0\r\n3,4e2,2\r\n\r\n5,6,1\r\n");
  const std::string test =
      Write("s.csv", "\"length, cm\",width,class\n7,8,1\n");
  const std::string spec =
      absl::StrCat("train=", train, ",test=", test, ",label=class");
  auto data = LoadDataset(spec, Split::kTrain);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->shape, std::vector<int>({2}));
  EXPECT_EQ(data->values, std::vector<float>({1.5f, -2, 3, 400, 5, 6}));
  EXPECT_EQ(data->labels, std::vector<uint8_t>({0, 2, 1}));
  EXPECT_EQ(data->classes, 3);
  EXPECT_FALSE(data->eight_bit);
  EXPECT_EQ(data->name, spec);
  auto held = LoadDataset(spec, Split::kTest);
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_EQ(held->values, std::vector<float>({7, 8}));
  EXPECT_TRUE(held->eight_bit);
}

TEST_F(DataFilesTest, BadCsvNamesRowAndColumn) {
  const struct {
    std::string content;
    std::string error;
  } cases[] = {
      {"a,b,label\n1,2,0\n1,2\n", "row 3: 2 values, the header names 3"},
      {"a,b,label\n1,nan,0\n", "row 2: column 2 ('b'): nan is not a finite"},
      {"a,b,label\n1,inf,0\n", "row 2: column 2 ('b'): inf is not a finite"},
      {"a,b,label\n1,x7,0\n", "row 2: column 2 ('b'): 'x7' is not a number"},
      {"a,b,label\n1,,0\n", "row 2: column 2 ('b'): empty"},
      {"a,b,label\n1,2,-1\n", "column 3 ('label'): label -1 is not a class"},
      {"a,b,label\n1,2,256\n", "label 256 is not a class number"},
      {"a,b,label\n1,2,1.5\n", "label 1.5 is not a class number"},
      {"a,b,kind\n1,2,0\n", "no column named 'label' for the labels"},
      {"a,b,label\n", "no samples after the header"},
      {"\"a,b,label\n1,2,0\n", "row 1: a quote is not closed"},
      {"", "empty file"},
  };
  for (const auto& c : cases) {
    const std::string path = Write("bad.csv", c.content);
    auto data = LoadDataset(absl::StrCat("train=", path, ",test=", path),
                            Split::kTrain);
    ASSERT_FALSE(data.ok()) << c.content;
    EXPECT_THAT(std::string(data.status().message()), HasSubstr(c.error));
    EXPECT_THAT(std::string(data.status().message()), HasSubstr(path));
  }
}

TEST_F(DataFilesTest, NpyDtypesAndShapes) {
  const std::string x = Write(
      "x.npy", Npy("|u1", "(2, 2, 3)",
                   Bytes<uint8_t>({0, 1, 2, 3, 4, 255, 9, 8, 7, 6, 5, 4})));
  const std::string y =
      Write("y.npy", Npy("<i8", "(2,)", Bytes<int64_t>({3, 0})));
  const std::string tx = Write(
      "tx.npy", Npy("<f8", "(1, 6)", Bytes<double>({0.5, -1, 2, 3, 4, 5})));
  const std::string ty =
      Write("ty.npy", Npy("<i4", "(1, 1)", Bytes<int32_t>({2})));
  const std::string spec =
      absl::StrCat("train=", x, ",train_labels=", y, ",test=", tx,
                   ",test_labels=", ty, ",shape=2x3");
  auto train = LoadDataset(spec, Split::kTrain);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_EQ(train->shape, std::vector<int>({2, 3}));
  EXPECT_TRUE(train->eight_bit);
  EXPECT_EQ(train->values[5], 255.0f);
  EXPECT_EQ(train->labels, std::vector<uint8_t>({3, 0}));
  EXPECT_EQ(train->classes, 4);
  EXPECT_EQ(train->PixelBytes(1), std::string("\x09\x08\x07\x06\x05\x04"));
  auto test = LoadDataset(spec, Split::kTest);
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_EQ(test->values, std::vector<float>({0.5f, -1, 2, 3, 4, 5}));
  EXPECT_FALSE(test->eight_bit);
  // Signed integers and float32 read as written.
  auto a = ParseNpy(Npy("<i2", "(3,)", Bytes<int16_t>({-300, 7, 32767})), "a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->values, std::vector<float>({-300, 7, 32767}));
  auto f = ParseNpy(Npy("<f4", "(2,)", Bytes<float>({1.25f, -0.5f})), "f");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->values, std::vector<float>({1.25f, -0.5f}));
}

TEST_F(DataFilesTest, BadNpyNamesTheProblem) {
  const struct {
    std::string bytes;
    std::string error;
  } cases[] = {
      {"not numpy", "no \\x93NUMPY magic"},
      {Npy(">f4", "(1,)", "abcd"), "big-endian"},
      {Npy("<c8", "(1,)", "abcdefgh"), "dtype <c8: not supported"},
      {Npy("|O", "(1,)", "abcdefgh"), "not a plain numeric type"},
      {Npy("<f4", "(2,)", "abcd"), "needs 8 bytes of data, the file has 4"},
      {Npy("<f4", "(1000000000000, 1000000)", "abcd"), "needs more than"},
      {Npy("<f4", "(1,)", "abcd", true), "fortran_order is True"},
      {Npy("<f4", "[1]", "abcd"), "is not a tuple"},
      {Npy("<f4", "(-1,)", "abcd"), "not a tuple of sizes"},
      {std::string("\x93NUMPY\x01\x00\xff\x00{", 11), "truncated header"},
  };
  for (const auto& c : cases) {
    auto array = ParseNpy(c.bytes, "array.npy");
    ASSERT_FALSE(array.ok()) << c.error;
    EXPECT_THAT(std::string(array.status().message()), HasSubstr(c.error));
    EXPECT_THAT(std::string(array.status().message()), HasSubstr("array.npy"));
  }
}

TEST_F(DataFilesTest, NpzStoredAndDeflatedWithBothSplits) {
  const std::vector<std::pair<std::string, std::string>> members = {
      {"x_train.npy", Npy("<f4", "(3, 2)", Bytes<float>({1, 2, 3, 4, 5, 6}))},
      {"y_train.npy", Npy("<i8", "(3,)", Bytes<int64_t>({0, 1, 1}))},
      {"x_test.npy", Npy("<f4", "(1, 2)", Bytes<float>({7, 8}))},
      {"y_test.npy", Npy("<i8", "(1,)", Bytes<int64_t>({1}))},
  };
  for (bool deflate : {false, true}) {
    const std::string path = Write("d.npz", Zip(members, deflate));
    auto train = LoadDataset("train=" + path, Split::kTrain);
    ASSERT_TRUE(train.ok()) << train.status();
    EXPECT_EQ(train->values, std::vector<float>({1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(train->labels, std::vector<uint8_t>({0, 1, 1}));
    auto test = LoadDataset("train=" + path, Split::kTest);
    ASSERT_TRUE(test.ok()) << test.status();
    EXPECT_EQ(test->values, std::vector<float>({7, 8}));
  }
  // x and y alone: the test samples need a file of their own.
  const std::string xy = Write(
      "xy.npz",
      Zip({{"x.npy", members[0].second}, {"y.npy", members[1].second}}, true));
  EXPECT_TRUE(LoadDataset("train=" + xy, Split::kTrain).ok());
  auto no_test = LoadDataset("train=" + xy, Split::kTest);
  ASSERT_FALSE(no_test.ok());
  EXPECT_THAT(std::string(no_test.status().message()),
              HasSubstr("holds no x_test and y_test"));
  // A split without its labels.
  const std::string half =
      Write("half.npz", Zip({members[0], {"y.npy", members[1].second}}, true));
  auto missing = LoadDataset("train=" + half, Split::kTrain);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("has no array 'y_train' (it holds x_train, y;"));
}

TEST_F(DataFilesTest, BadNpzNamesTheMember) {
  const std::string x = Npy("<f4", "(2, 2)", Bytes<float>({1, 2, 3, 4}));
  std::string corrupt = Zip({{"x.npy", x}}, false);
  corrupt[corrupt.size() - 10] ^= 1;  // inside the data: the CRC fails
  std::string truncated = Zip({{"x.npy", x}}, true);
  truncated.resize(truncated.size() - 12);
  std::string huge = Zip({{"x.npy", x}}, true);
  // The ZIP64 extra's uncompressed size: 1 TiB.
  const size_t size_at = 30 + 5 + 4;
  for (int i = 0; i < 8; ++i) huge[size_at + i] = i == 5 ? 1 : 0;
  std::string inflated = huge;  // 1 MiB claimed from a few deflated bytes
  for (int i = 0; i < 8; ++i) inflated[size_at + i] = i == 2 ? 16 : 0;
  const struct {
    std::string bytes;
    std::string error;
  } cases[] = {
      {corrupt, "member x.npy: CRC-32"},
      {truncated, "member x.npy: truncated"},
      {huge, "member x.npy: declares 1099511627776 bytes"},
      {inflated, "member x.npy: declares 1048576 bytes from"},
      {"PK\x05\x06", "not an .npz archive"},
      {Zip({{"x.txt", x}}, false), "member x.txt: is not an .npy array"},
      {Zip({{"x.npy", "garbage"}}, false), "member x.npy: not a .npy array"},
  };
  for (const auto& c : cases) {
    const std::string path = Write("bad.npz", c.bytes);
    auto arrays = ReadNpzFile(path);
    ASSERT_FALSE(arrays.ok()) << c.error;
    EXPECT_THAT(std::string(arrays.status().message()), HasSubstr(c.error));
  }
}

TEST_F(DataFilesTest, SpecErrorsNameTheKey) {
  const struct {
    std::string spec;
    std::string error;
  } cases[] = {
      {"test=a.csv", "train=FILE is missing"},
      {"train=a.csv,colour=red", "unknown key 'colour'"},
      {"train=a.csv,shape=28by28", "shape=28by28 is not sizes joined by x"},
      {"train=", "is not KEY=VALUE"},
      {"train=a.parquet,test=b.parquet", "spex reads .csv, .npz and .npy"},
      {"train=a.npy,test=b.npy",
       "the labels of .npy samples come from "
       "train_labels=FILE.npy"},
      {"train=/nonexistent/a.csv,test=b.csv",
       "/nonexistent/a.csv: cannot open"},
  };
  for (const auto& c : cases) {
    auto data = LoadDataset(c.spec, Split::kTrain);
    ASSERT_FALSE(data.ok()) << c.spec;
    EXPECT_THAT(std::string(data.status().message()), HasSubstr(c.error));
  }
  // A shape that does not hold the features.
  const std::string csv = Write("s.csv", "a,b,c,label\n1,2,3,0\n");
  auto shaped = LoadDataset(
      absl::StrCat("train=", csv, ",test=", csv, ",shape=2x2"), Split::kTrain);
  ASSERT_FALSE(shaped.ok());
  EXPECT_THAT(std::string(shaped.status().message()),
              HasSubstr("shape=2x2 holds 4 values, but"));
}

}  // namespace
}  // namespace spex
