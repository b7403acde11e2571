#include "common/sparsity/junction.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace spex {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(JunctionTest, FanOutGivesWholeInDegree) {
  auto spec = JunctionFromFanOut(0, 800, 40, 2);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->d_in, 40);
  EXPECT_EQ(spec->d_out, 2);
  EXPECT_EQ(spec->connections(), 1600);
  EXPECT_DOUBLE_EQ(spec->density(), 0.05);
}

TEST(JunctionTest, FractionalInDegreeNamesJunctionAndValidOutDegrees) {
  // 800 -> 40 with out-degree 3 gives d_in = 60: valid. 40 -> 40 with
  // out-degree 9 gives 9: valid. 800 -> 30 with out-degree 2 gives 53.3.
  auto spec = JunctionFromFanOut(2, 800, 30, 2);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("junction 2"));
  EXPECT_THAT(spec.status().message(), HasSubstr("valid out-degrees: 3, 6, 9"));
}

TEST(JunctionTest, OutDegreeOutOfRange) {
  EXPECT_FALSE(JunctionFromFanOut(0, 10, 4, 0).ok());
  EXPECT_FALSE(JunctionFromFanOut(0, 10, 4, 5).ok());
  EXPECT_FALSE(JunctionFromFanOut(0, 0, 4, 1).ok());
  EXPECT_FALSE(JunctionFromFanOut(0, kMaxJunctionWidth + 1, 4, 1).ok());
}

TEST(JunctionTest, ValidOutDegrees) {
  EXPECT_THAT(ValidOutDegrees(4, 6), ElementsAre(3, 6));
  EXPECT_THAT(ValidOutDegrees(5, 5), ElementsAre(1, 2, 3, 4, 5));
}

TEST(JunctionTest, ReferenceLaunchConfigurations) {
  const int widths[] = {800, 40, 40, 10};
  const int fan_out[] = {2, 9, 10};
  auto topology = TopologyFromFanOut(widths, fan_out);
  ASSERT_TRUE(topology.ok()) << topology.status();
  ASSERT_EQ(topology->size(), 3u);
  EXPECT_DOUBLE_EQ((*topology)[0].density(), 0.05);
  EXPECT_DOUBLE_EQ((*topology)[1].density(), 0.225);
  EXPECT_TRUE((*topology)[2].dense());
  int64_t params = 0;
  for (const JunctionSpec& j : *topology) params += j.connections() + j.n_out;
  EXPECT_EQ(params, 2450);  // as PAPERS.md counts it

  const int dense_widths[] = {800, 3, 3, 10};
  const int dense_fan_out[] = {3, 3, 10};  // config[1:] == fo: fully dense
  auto dense = TopologyFromFanOut(dense_widths, dense_fan_out);
  ASSERT_TRUE(dense.ok()) << dense.status();
  int64_t dense_params = 0;
  for (const JunctionSpec& j : *dense) {
    EXPECT_TRUE(j.dense());
    dense_params += j.connections() + j.n_out;
  }
  EXPECT_EQ(dense_params, 2455);
}

TEST(JunctionTest, TopologyCountsMustMatch) {
  const int widths[] = {800, 40, 10};
  const int fan_out[] = {2};
  EXPECT_THAT(TopologyFromFanOut(widths, fan_out).status().message(),
              HasSubstr("2 junctions but 1 out-degrees"));
}

TEST(JunctionTest, DensityExactOrNearestSuggested) {
  auto spec = JunctionFromDensity(0, 1024, 1024, 0.125);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->d_in, 128);

  // 784 inputs allow 1/16 but not 1/32 (784/32 = 24.5).
  EXPECT_TRUE(JunctionFromDensity(0, 784, 512, 1.0 / 16).ok());
  auto bad = JunctionFromDensity(1, 784, 512, 1.0 / 32);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("junction 1"));
  EXPECT_THAT(bad.status().message(), HasSubstr("nearest valid density"));

  EXPECT_FALSE(JunctionFromDensity(0, 8, 8, 0.0).ok());
  EXPECT_FALSE(JunctionFromDensity(0, 8, 8, 1.5).ok());
  EXPECT_FALSE(JunctionFromDensity(0, 8, 8, std::nan("")).ok());
}

TEST(JunctionTest, NearestValidOutDegree) {
  // 784 -> 512 needs out-degrees that are multiples of 32: 1/16 at least.
  EXPECT_EQ(NearestValidOutDegree(784, 512, 1.0 / 32), 32);
  EXPECT_EQ(NearestValidOutDegree(1024, 1024, 0.125), 128);
}

}  // namespace
}  // namespace spex
