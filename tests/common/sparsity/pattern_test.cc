#include "common/sparsity/pattern.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/sparsity/junction.h"
#include "tests/support/every_pattern_kind.h"

namespace spex {
namespace {

using ::testing::HasSubstr;

// Checks every invariant a pattern promises, independently of the
// validation inside Pattern.
void ExpectExactDegrees(const Pattern& pattern) {
  const JunctionSpec& spec = pattern.spec();
  std::vector<int> uses(spec.n_in, 0);
  for (int o = 0; o < spec.n_out; ++o) {
    const auto row = pattern.row(o);
    ASSERT_EQ(row.size(), static_cast<size_t>(spec.d_in));
    std::set<uint32_t> distinct(row.begin(), row.end());
    ASSERT_EQ(distinct.size(), row.size()) << "row " << o << " repeats";
    for (uint32_t i : row) {
      ASSERT_LT(i, static_cast<uint32_t>(spec.n_in));
      ++uses[i];
    }
  }
  for (int i = 0; i < spec.n_in; ++i) {
    ASSERT_EQ(uses[i], spec.d_out) << "input " << i;
  }
}

// Random shapes for a pattern kind: widths, then a valid out-degree.
JunctionSpec RandomSpec(std::mt19937_64& rng, PatternKind kind) {
  std::uniform_int_distribution<int> width(1, 300);
  for (;;) {
    int n_in = width(rng), n_out = width(rng);
    if (kind == PatternKind::kBlock) {
      n_in = (n_in + 7) / 8 * 8;
      n_out = (n_out + 7) / 8 * 8;
    }
    const int g = TileGroupSize(kind);
    n_out = (n_out + g - 1) / g * g;
    std::vector<int> valid;
    for (int d_out : ValidOutDegrees(n_in, n_out)) {
      if (d_out % g == 0) valid.push_back(d_out);
    }
    const int d_out =
        valid[std::uniform_int_distribution<size_t>(0, valid.size() - 1)(rng)];
    auto spec = JunctionFromFanOut(0, n_in, n_out, d_out);
    if (spec.ok()) return *spec;
  }
}

class PatternKindTest : public ::testing::TestWithParam<PatternKind> {};

TEST_P(PatternKindTest, ExactDegreesOverRandomShapesAndSeeds) {
  const uint64_t run_seed = std::random_device{}();
  SCOPED_TRACE(absl::StrCat("run seed ", run_seed));
  std::mt19937_64 rng(run_seed);
  for (int trial = 0; trial < 150; ++trial) {
    const JunctionSpec spec = RandomSpec(rng, GetParam());
    const uint64_t seed = rng();
    SCOPED_TRACE(absl::StrCat(spec.DebugString(), " seed ", seed));
    auto pattern = GeneratePattern(spec, GetParam(), seed);
    ASSERT_TRUE(pattern.ok()) << pattern.status();
    EXPECT_EQ(pattern->kind(), GetParam());
    ExpectExactDegrees(*pattern);
  }
}

TEST_P(PatternKindTest, SameSeedSamePatternOtherSeedOtherPattern) {
  const JunctionSpec spec = *JunctionFromDensity(0, 256, 128, 0.125);
  auto a = GeneratePattern(spec, GetParam(), 7);
  auto b = GeneratePattern(spec, GetParam(), 7);
  auto c = GeneratePattern(spec, GetParam(), 8);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(
      std::vector<uint32_t>(a->row_indices().begin(), a->row_indices().end()),
      std::vector<uint32_t>(b->row_indices().begin(), b->row_indices().end()));
  EXPECT_NE(
      std::vector<uint32_t>(a->row_indices().begin(), a->row_indices().end()),
      std::vector<uint32_t>(c->row_indices().begin(), c->row_indices().end()));
}

TEST_P(PatternKindTest, FullDensityIsComplete) {
  const JunctionSpec spec = *JunctionFromDensity(0, 48, 24, 1.0);
  auto pattern = GeneratePattern(spec, GetParam(), 3);
  ASSERT_TRUE(pattern.ok()) << pattern.status();
  ExpectExactDegrees(*pattern);
}

// Every (output, input) pair should be connected with probability d_in/n_in
// when the sampler is uniform; a biased construction (windows without the
// switch chain, say) fails this by far.
TEST_P(PatternKindTest, PairFrequenciesMatchDensity) {
  // Tiles of 8 need d_out = 8: density 1/2 there, 1/4 elsewhere.
  const JunctionSpec spec = *JunctionFromDensity(
      0, 32, 16, GetParam() == PatternKind::kTile8 ? 0.5 : 0.25);
  const int kSeeds = 1500;
  std::vector<int> hits(spec.n_in * spec.n_out, 0);
  for (int seed = 0; seed < kSeeds; ++seed) {
    auto pattern = GeneratePattern(spec, GetParam(), seed);
    ASSERT_TRUE(pattern.ok());
    for (int o = 0; o < spec.n_out; ++o) {
      for (uint32_t i : pattern->row(o)) ++hits[o * spec.n_in + i];
    }
  }
  const double p = spec.density();
  const double sigma = std::sqrt(kSeeds * p * (1 - p));
  for (int o = 0; o < spec.n_out; ++o) {
    for (int i = 0; i < spec.n_in; ++i) {
      EXPECT_NEAR(hits[o * spec.n_in + i], kSeeds * p, 5 * sigma)
          << "pair (" << o << ", " << i << ")";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryKind, PatternKindTest, EveryPatternKind(),
                         PatternKindTestName);

TEST(BlockPatternTest, EachSlotIsOneRotatedBlock) {
  const JunctionSpec spec = *JunctionFromDensity(0, 128, 64, 0.25);
  auto pattern = GeneratePattern(spec, PatternKind::kBlock, 11);
  ASSERT_TRUE(pattern.ok()) << pattern.status();
  const auto codes = pattern->block_codes();
  ASSERT_EQ(codes.size(), static_cast<size_t>(spec.n_out / 8 * spec.d_in));
  for (int s = 0; s < spec.n_out / 8; ++s) {
    for (int lane = 0; lane < 8; ++lane) {
      std::set<int> from_codes;
      for (int k = 0; k < spec.d_in; ++k) {
        from_codes.insert(BlockCodeInput(codes[s * spec.d_in + k], lane));
      }
      const auto row = pattern->row(s * 8 + lane);
      EXPECT_EQ(from_codes, std::set<int>(row.begin(), row.end()));
    }
  }
}

TEST(BlockPatternTest, LowDensityVisitsEachBlockOncePerSlice) {
  const JunctionSpec spec = *JunctionFromDensity(0, 1024, 1024, 0.125);
  auto pattern = GeneratePattern(spec, PatternKind::kBlock, 5);
  ASSERT_TRUE(pattern.ok()) << pattern.status();
  const auto codes = pattern->block_codes();
  for (int s = 0; s < spec.n_out / 8; ++s) {
    std::set<int> blocks;
    for (int k = 0; k < spec.d_in; ++k) {
      blocks.insert(BlockOfCode(codes[s * spec.d_in + k]));
    }
    EXPECT_EQ(blocks.size(), static_cast<size_t>(spec.d_in));
  }
}

TEST(BlockPatternTest, WidthsNotMultipleOfEightSayWhichWork) {
  const JunctionSpec spec = *JunctionFromFanOut(0, 64, 10, 10);
  auto pattern = GeneratePattern(spec, PatternKind::kBlock, 1);
  ASSERT_FALSE(pattern.ok());
  EXPECT_THAT(pattern.status().message(), HasSubstr("multiples of 8"));
  EXPECT_THAT(pattern.status().message(), HasSubstr("64 -> 10"));
}

TEST(TilePatternTest, OutputsOfATileShareTheirInputs) {
  for (PatternKind kind : {PatternKind::kTile4, PatternKind::kTile8}) {
    const JunctionSpec spec = *JunctionFromDensity(0, 200, 64, 0.125);
    auto pattern = GeneratePattern(spec, kind, 11);
    ASSERT_TRUE(pattern.ok()) << pattern.status();
    const int g = pattern->group_size();
    EXPECT_EQ(g, TileGroupSize(kind));
    std::set<std::vector<uint32_t>> distinct_tiles;
    for (int o = 0; o < spec.n_out; ++o) {
      const auto tile = pattern->tile_inputs(o / g);
      const auto row = pattern->row(o);
      ASSERT_EQ(std::vector<uint32_t>(row.begin(), row.end()),
                std::vector<uint32_t>(tile.begin(), tile.end()))
          << "output " << o;
      distinct_tiles.insert(std::vector<uint32_t>(row.begin(), row.end()));
    }
    // Different tiles draw different input sets (a generator that gave
    // every tile the same window would pass the degree checks at density 1).
    EXPECT_GT(distinct_tiles.size(), static_cast<size_t>(spec.n_out / g / 2));
  }
}

TEST(TilePatternTest, MisfitNamesTheJunctionAndTheSizesThatFit) {
  // n_out 12, d_out 4: tiles of 4 fit, tiles of 8 do not.
  const JunctionSpec spec = *JunctionFromFanOut(0, 24, 12, 4);
  auto pattern = GeneratePattern(spec, PatternKind::kTile8, 1);
  ASSERT_FALSE(pattern.ok());
  EXPECT_THAT(pattern.status().message(), HasSubstr("24->12"));
  EXPECT_THAT(pattern.status().message(), HasSubstr("multiples of 8"));
  EXPECT_THAT(pattern.status().message(), HasSubstr("sizes that fit: tile4"));
  const JunctionSpec odd = *JunctionFromFanOut(0, 20, 10, 5);
  EXPECT_THAT(GeneratePattern(odd, PatternKind::kTile4, 1).status().message(),
              HasSubstr("no tile group size fits"));
}

TEST(PatternValidationTest, RejectsBadTileInputs) {
  const JunctionSpec spec = *JunctionFromFanOut(0, 4, 8, 4);  // d_in = 2
  // Two tiles of 4 outputs, each input in one tile.
  EXPECT_TRUE(Pattern::FromTileInputs(spec, 4, {0, 2, 1, 3}).ok());
  EXPECT_THAT(Pattern::FromTileInputs(spec, 4, {0, 2, 1}).status().message(),
              HasSubstr("3 indices"));
  EXPECT_THAT(Pattern::FromTileInputs(spec, 4, {2, 0, 1, 3}).status().message(),
              HasSubstr("tile 0 slot 1: inputs not strictly ascending"));
  EXPECT_THAT(Pattern::FromTileInputs(spec, 4, {0, 1, 0, 1}).status().message(),
              HasSubstr("input 0 feeds 8 outputs"));
  EXPECT_THAT(Pattern::FromTileInputs(spec, 4, {0, 2, 1, 9}).status().message(),
              HasSubstr("out of range"));
  EXPECT_THAT(Pattern::FromTileInputs(spec, 3, {0, 2, 1, 3}).status().message(),
              HasSubstr("group size 3 unsupported"));
  EXPECT_THAT(Pattern::FromTileInputs(spec, 8, {0, 1}).status().message(),
              HasSubstr("multiples of 8"));
}

TEST(PatternValidationTest, RejectsBadRowIndices) {
  const JunctionSpec spec = *JunctionFromFanOut(0, 4, 2, 1);  // d_in = 2
  EXPECT_TRUE(Pattern::FromRowIndices(spec, {0, 1, 2, 3}).ok());
  EXPECT_THAT(Pattern::FromRowIndices(spec, {0, 1, 2}).status().message(),
              HasSubstr("3 indices"));
  EXPECT_THAT(Pattern::FromRowIndices(spec, {0, 4, 2, 3}).status().message(),
              HasSubstr("out of range"));
  EXPECT_THAT(Pattern::FromRowIndices(spec, {1, 0, 2, 3}).status().message(),
              HasSubstr("not strictly ascending"));
  EXPECT_THAT(Pattern::FromRowIndices(spec, {0, 1, 0, 1}).status().message(),
              HasSubstr("input 0 feeds 2 outputs"));
  JunctionSpec inconsistent = spec;
  inconsistent.d_in = 3;
  EXPECT_THAT(Pattern::FromRowIndices(inconsistent, {}).status().message(),
              HasSubstr("inconsistent junction"));
}

TEST(PatternValidationTest, RejectsBadBlockCodes) {
  const JunctionSpec spec = *JunctionFromFanOut(0, 16, 8, 4);  // d_in = 8
  // One slice visiting both blocks with rotations 0..3: valid.
  std::vector<uint16_t> good;
  for (int b = 0; b < 2; ++b) {
    for (int r = 0; r < 4; ++r) good.push_back(MakeBlockCode(b, r));
  }
  EXPECT_TRUE(Pattern::FromBlockCodes(spec, good).ok());
  std::vector<uint16_t> repeated = good;
  repeated[1] = repeated[0];
  EXPECT_THAT(Pattern::FromBlockCodes(spec, repeated).status().message(),
              HasSubstr("not strictly ascending"));
  std::vector<uint16_t> out_of_range = good;
  out_of_range[7] = MakeBlockCode(2, 0);
  EXPECT_THAT(Pattern::FromBlockCodes(spec, out_of_range).status().message(),
              HasSubstr("block 2 out of range"));
  std::vector<uint16_t> unbalanced = {MakeBlockCode(0, 0), MakeBlockCode(0, 1),
                                      MakeBlockCode(0, 2), MakeBlockCode(0, 3),
                                      MakeBlockCode(0, 4), MakeBlockCode(1, 0),
                                      MakeBlockCode(1, 1), MakeBlockCode(1, 2)};
  EXPECT_THAT(Pattern::FromBlockCodes(spec, unbalanced).status().message(),
              HasSubstr("feeds 5 outputs"));
}

TEST(PatternKindNameTest, RoundTrip) {
  for (PatternKind kind : {PatternKind::kRandom, PatternKind::kBlock,
                           PatternKind::kTile4, PatternKind::kTile8}) {
    auto parsed = ParsePatternKind(PatternKindName(kind));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_THAT(ParsePatternKind("basic").status().message(),
              HasSubstr("unknown pattern kind 'basic'"));
}

}  // namespace
}  // namespace spex
