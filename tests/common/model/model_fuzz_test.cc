// Drives the loader's libFuzzer target (tests/fuzz/model_loader_fuzzer.cc)
// with mutations of valid model files for a bounded time, so that every test
// run fuzzes a little: bit flips, byte overwrites, truncations, insertions,
// duplicated and deleted spans.
#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "tests/common/model/test_models.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace spex {
namespace {

std::string Mutate(std::string bytes, std::mt19937_64& rng) {
  const int mutations = 1 + static_cast<int>(rng() % 3);
  for (int m = 0; m < mutations && !bytes.empty(); ++m) {
    const size_t at = rng() % bytes.size();
    switch (rng() % 6) {
      case 0:
        bytes[at] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 1:
        bytes[at] = static_cast<char>(rng());
        break;
      case 2:
        bytes.resize(at);
        break;
      case 3:
        bytes.insert(at, std::string(1 + rng() % 8, static_cast<char>(rng())));
        break;
      case 4: {
        const size_t length =
            1 + rng() % std::min<size_t>(64, bytes.size() - at);
        bytes.insert(rng() % bytes.size(), bytes.substr(at, length));
        break;
      }
      default:
        bytes.erase(at, 1 + rng() % 16);
        break;
    }
  }
  return bytes;
}

TEST(ModelLoaderFuzzTest, MutatedFilesNeverCrashTheLoader) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<std::string> corpus;
  for (PatternKind kind : {PatternKind::kRandom, PatternKind::kBlock,
                           PatternKind::kTile4, PatternKind::kTile8}) {
    for (const TestTopology& t : TestTopologies(kind)) {
      v1::Model model = MakeTestModel(t.topology, rng());
      corpus.push_back(SerializeModel(&model));
    }
  }
  // Bounded in time (the sanitizer build runs ~10x slower) and in count.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(8);
  int runs = 0;
  for (; runs < 20000 && std::chrono::steady_clock::now() < deadline; ++runs) {
    const std::string input = Mutate(corpus[rng() % corpus.size()], rng);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                           input.size());
  }
  RecordProperty("fuzz_runs", runs);
  EXPECT_GT(runs, 0);
}

}  // namespace
}  // namespace spex
