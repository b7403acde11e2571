// A model cut into the stages of a chain: every segment between two
// boundaries, composed along any path, computes what the full network does.
#include <random>
#include <utility>
#include <vector>

#include "common/model/model.h"
#include "gtest/gtest.h"
#include "tests/common/model/test_models.h"

namespace spex {
namespace {

// A chain of three stages with an exit in each of the first two and one in
// the last stage's range: any run of consecutive segments computes exactly
// what the full network computes, and each segment holds the exits after its
// own layers.
TEST(ChainTest, SegmentsComposeToFullBitForBit) {
  std::mt19937 rng(std::random_device{}());
  ModelTopology t;
  t.input_shape = {96};
  t.backbone = {{96, 64, 32, 48, 24, 7}, {16, 4, 24, 6, 7}};
  t.split_after = 1;
  t.later_cuts = {3};
  t.exits = {{1, {7}, {7}, 0.3f},
             {2, {16, 7}, {2, 7}, 0.5f},
             {3, {7}, {7}, 1.0f},
             {4, {7}, {7}, 1.0f}};
  t.pattern = PatternKind::kTile8;
  const v1::Model proto = MakeTestModel(t, rng());
  EXPECT_EQ(proto.format_version(), 3u);
  auto loaded = Model::FromProto(proto);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const Model& m = **loaded;
  EXPECT_EQ(m.boundaries(), (std::vector<int>{0, 1, 3, 5}));
  EXPECT_EQ(m.num_stages(), 3);
  EXPECT_EQ(m.WidthAfter(0), 96);
  EXPECT_EQ(m.WidthAfter(3), 48);
  EXPECT_EQ(m.Segment(1, 2), nullptr);  // 2 is no boundary
  EXPECT_EQ(m.Segment(3, 1), nullptr);
  EXPECT_EQ(m.Segment(3, 3), nullptr);
  const auto exit_layers = [](const ModelPart& part) {
    std::vector<std::pair<int, int>> out;  // (index, after_layer in the part)
    for (const ExitBranchRuntime& e : part.exits())
      out.push_back({e.index, e.after_layer});
    return out;
  };
  using Exits = std::vector<std::pair<int, int>>;
  EXPECT_EQ(exit_layers(m.head()), (Exits{{0, 1}}));
  EXPECT_EQ(exit_layers(*m.Segment(1, 3)), (Exits{{1, 1}, {2, 2}}));
  EXPECT_EQ(exit_layers(*m.Segment(3, 5)), (Exits{{3, 1}}));
  EXPECT_EQ(exit_layers(m.tail()), (Exits{{1, 1}, {2, 2}, {3, 3}}));
  EXPECT_EQ(m.tail().name(), "tail");
  EXPECT_EQ(m.Segment(1, 3)->name(), "layers 2-3");

  const int classes = m.num_classes();
  const ModelPart& full = m.full();
  Workspace full_ws(full);
  std::vector<float> full_exits(full.exits().size() * classes), y_full(classes);
  for (int trial = 0; trial < 3; ++trial) {
    const std::vector<float> x = RandomInput(m.input().width, rng);
    full.Forward(x.data(), y_full.data(), full_exits.data(), &full_ws);
    // Every path through the boundaries: 0-1-3-5, 0-3-5, 0-1-5, 0-5.
    for (const std::vector<int>& path : std::vector<std::vector<int>>{
             {0, 1, 3, 5}, {0, 3, 5}, {0, 1, 5}, {0, 5}}) {
      std::vector<float> a(x);
      for (size_t k = 0; k + 1 < path.size(); ++k) {
        const ModelPart* part = m.Segment(path[k], path[k + 1]);
        ASSERT_NE(part, nullptr);
        Workspace ws(*part);
        std::vector<float> b(part->output_width());
        std::vector<float> exits(part->exits().size() * classes);
        part->Forward(a.data(), b.data(),
                      exits.empty() ? nullptr : exits.data(), &ws);
        for (size_t e = 0; e < part->exits().size(); ++e) {
          ASSERT_TRUE(SameBits(&exits[e * classes],
                               &full_exits[part->exits()[e].index * classes],
                               classes))
              << "exit " << part->exits()[e].index;
        }
        a = b;
      }
      ASSERT_TRUE(SameBits(a.data(), y_full.data(), classes));
    }
  }
}

}  // namespace
}  // namespace spex
