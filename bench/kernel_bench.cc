// The kernel benchmark: spex's sparse layers against the dense and sparse
// libraries a user would otherwise pick, in one run, with the machine's
// physical limits measured alongside.
//
// stdout: one JSON object per timed (implementation, layer, density, batch):
// for spex the kernel a user gets, then every other kernel of the table
// that can run the layer on this CPU ("chosen": false); then a table of
// ratios (chosen kernels only) and the performance floors checked. stderr:
// progress.
// Usage: spex_kernel_bench [--quick] [Google Benchmark flags]
//   --quick  one layer (1024 -> 1024), densities 1/2 and 1/8: for smoke runs.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/layer_problem.h"
#include "bench/machine_limits.h"
#include "bench/report.h"
#include "common/kernels/kernel.h"
#include "common/kernels/packed_weights.h"
#include "common/sparsity/junction.h"
#include "common/sparsity/pattern.h"

namespace spex::bench {
namespace {

struct LayerSize {
  int n_in;
  int n_out;
};

using Factory =
    absl::StatusOr<std::unique_ptr<LayerImpl>> (*)(const LayerProblem&);

class Registry {
 public:
  // The layer as a user gets it (for spex: the kernel SparseLayer chooses).
  void Add(const std::string& impl, const LayerProblem& problem,
           double density_requested, Factory factory) {
    Register(impl, problem, density_requested, factory(problem), true);
  }

  // Every other kernel of kernel_table.inc that can run the spex layer on
  // this CPU, forced: extra rows that say what the choice was worth.
  void AddOtherKernels(const std::string& impl, const LayerProblem& problem,
                       double density_requested) {
    const std::string chosen = (*MakeSpexImpl(problem))->KernelName();
    for (const KernelInfo& kernel : AllKernels()) {
      if (kernel.name == chosen || !IsaAvailable(kernel.isa) ||
          !FormatFitsPattern(kernel.format, problem.pattern.kind())) {
        continue;
      }
      Register(impl, problem, density_requested,
               MakeSpexKernelImpl(problem, kernel.name), false);
    }
  }

  std::map<std::string, Measurement>& measurements() { return measurements_; }

 private:
  void Register(const std::string& impl, const LayerProblem& problem,
                double density_requested,
                absl::StatusOr<std::unique_ptr<LayerImpl>> made, bool chosen) {
    if (!made.ok()) {
      std::fprintf(stderr, "%s: %s\n", impl.c_str(),
                   made.status().ToString().c_str());
      std::exit(1);
    }
    std::shared_ptr<LayerImpl> layer = *std::move(made);
    const JunctionSpec& spec = problem.pattern.spec();
    Measurement m;
    m.impl = impl;
    m.kernel = layer->KernelName();
    m.chosen = chosen;
    m.n_out = spec.n_out;
    m.n_in = spec.n_in;
    m.density = spec.density();
    m.density_requested = density_requested;
    m.batch = problem.batch;
    m.bytes = layer->BytesPerCall();
    m.macs = layer->MacsPerCall();
    const std::string name = absl::StrFormat(
        "%s%s/%dx%d/d%.6f/b%d", impl, chosen ? "" : "=" + m.kernel, m.n_out,
        m.n_in, density_requested, m.batch);
    measurements_[name] = m;
    benchmark::RegisterBenchmark(name.c_str(),
                                 [layer](benchmark::State& state) {
                                   for (auto _ : state) layer->Run();
                                 })
        ->Unit(benchmark::kNanosecond)
        ->MinTime(chosen ? 0.1 : 0.05)
        ->Repetitions(chosen ? 5 : 3)
        ->ReportAggregatesOnly(true)
        ->UseRealTime();
  }

  std::map<std::string, Measurement> measurements_;
};

// Keeps the median of each benchmark's repetitions; prints progress.
class MedianCollector : public benchmark::BenchmarkReporter {
 public:
  explicit MedianCollector(std::map<std::string, Measurement>* measurements)
      : measurements_(measurements) {}
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Aggregate || run.aggregate_name != "median") {
        continue;
      }
      auto it = measurements_->find(run.run_name.function_name);
      if (it == measurements_->end()) continue;
      it->second.ns = run.GetAdjustedRealTime();
      std::fprintf(stderr, "[%zu/%zu] %-44s %12.0f ns\n", ++done_,
                   measurements_->size(), run.run_name.function_name.c_str(),
                   it->second.ns);
    }
  }

 private:
  std::map<std::string, Measurement>* measurements_;
  size_t done_ = 0;
};

int Main(int argc, char** argv) {
  bool quick = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  int benchmark_argc = static_cast<int>(args.size());
  benchmark::Initialize(&benchmark_argc, args.data());

  std::vector<LayerSize> sizes = {{784, 512}, {1024, 1024}, {4096, 4096}};
  std::vector<double> densities = {1.0 / 2, 1.0 / 4, 1.0 / 8, 1.0 / 16,
                                   1.0 / 32};
  if (quick) {
    sizes = {{1024, 1024}};
    densities = {1.0 / 2, 1.0 / 8};
  }
  const int batches[] = {1, 64};

  std::fprintf(stderr, "measuring this machine's limits...\n");
  const MachineLimits limits = MeasureMachineLimits();
  Registry registry;
  for (const LayerSize& size : sizes) {
    for (int batch : batches) {
      std::fprintf(stderr, "preparing %d -> %d, batch %d\n", size.n_in,
                   size.n_out, batch);
      // The dense libraries do the same work at every density.
      const JunctionSpec dense_spec =
          *JunctionFromFanOut(0, size.n_in, size.n_out, size.n_out);
      const LayerProblem dense =
          MakeProblem(dense_spec, PatternKind::kRandom, batch);
      registry.Add("eigen_dense", dense, 1.0, &MakeEigenDenseImpl);
      registry.Add("onednn", dense, 1.0, &MakeOneDnnImpl);
      registry.Add("xnnpack", dense, 1.0, &MakeXnnpackImpl);
      for (double density : densities) {
        const int d_out = NearestValidOutDegree(size.n_in, size.n_out, density);
        const JunctionSpec spec =
            *JunctionFromFanOut(0, size.n_in, size.n_out, d_out);
        const LayerProblem random =
            MakeProblem(spec, PatternKind::kRandom, batch);
        const LayerProblem block =
            MakeProblem(spec, PatternKind::kBlock, batch);
        std::vector<std::pair<std::string, LayerProblem>> spex = {
            {"spex_random", random}, {"spex_block", block}};
        for (PatternKind tile : {PatternKind::kTile4, PatternKind::kTile8}) {
          // Tiles need d_out to be a multiple of g; every benchmark size
          // and density gives one.
          if (!CheckTileFits(spec, TileGroupSize(tile)).ok()) continue;
          spex.emplace_back(absl::StrCat("spex_", PatternKindName(tile)),
                            MakeProblem(spec, tile, batch));
        }
        for (const auto& [impl, problem] : spex) {
          registry.Add(impl, problem, density, &MakeSpexImpl);
          registry.AddOtherKernels(impl, problem, density);
        }
        registry.Add("eigen_sparse", random, density, &MakeEigenSparseImpl);
      }
    }
  }
  MedianCollector collector(&registry.measurements());
  benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::Shutdown();

  std::vector<Measurement> results;
  for (const auto& [name, m] : registry.measurements()) {
    if (m.ns > 0) results.push_back(m);
  }
  PrintJsonLines(results, stdout);
  PrintReport(results, limits, stdout);
  return 0;
}

}  // namespace
}  // namespace spex::bench

int main(int argc, char** argv) { return spex::bench::Main(argc, argv); }
