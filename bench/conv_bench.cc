// The convolution benchmark: spex's predefined-sparse convolutions (each
// pattern kind, the kernels a user gets) against the dense convolutions a
// user would otherwise pick, in one run: oneDNN's convolution (its own
// layouts, chosen with format_tag::any, reordered once outside the timing),
// XNNPACK's NHWC convolution, and im2col + Eigen's GEMM. One thread each.
//
// stdout: one JSON line per timed (impl, shape, density, batch):
//   {"op": "conv2d", "impl", "kernel", "h", "w", "c_in", "c_out", "k",
//    "stride", "density", "batch", "ns", "macs"}
// then a table: per shape and batch, the fastest dense library and each
// spex kind's speed-up over it at each density, and the fraction of the FMA
// peak spex reaches counting only the connections that exist. stderr:
// progress.
// Usage: spex_conv_bench [--quick] [Google Benchmark flags]
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <dnnl.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/conv_problem.h"
#include "bench/machine_limits.h"
#include "common/kernels/conv2d.h"
#include "common/kernels/kernel.h"
#include "common/sparsity/junction.h"
#include "common/sparsity/pattern.h"

namespace spex::bench {
namespace {

class OneDnnConv : public ConvImpl {
 public:
  OneDnnConv(const Conv2dShape& s, int batch)
      : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    using dnnl::memory;
    const auto f32 = memory::data_type::f32;
    const memory::dims src = {batch, s.c_in, s.in_h, s.in_w};
    const memory::dims weights = {s.c_out, s.c_in, s.kernel, s.kernel};
    const memory::dims bias = {s.c_out};
    const memory::dims dst = {batch, s.c_out, s.out_h(), s.out_w()};
    const memory::dims strides = {s.stride, s.stride};
    const memory::dims padding = {s.pad, s.pad};
    const dnnl::convolution_forward::primitive_desc pd(
        dnnl::convolution_forward::desc(
            dnnl::prop_kind::forward_inference,
            dnnl::algorithm::convolution_auto,
            memory::desc(src, f32, memory::format_tag::any),
            memory::desc(weights, f32, memory::format_tag::any),
            memory::desc(bias, f32, memory::format_tag::x),
            memory::desc(dst, f32, memory::format_tag::any), strides, padding,
            padding),
        engine_);
    primitive_ = dnnl::convolution_forward(pd);
    std::vector<float> w =
        Numbers(static_cast<size_t>(s.c_out) * s.c_in * s.taps(), 1);
    memory user_weights({weights, f32, memory::format_tag::oihw}, engine_,
                        w.data());
    weights_ = memory(pd.weights_desc(), engine_);
    dnnl::reorder(user_weights, weights_)
        .execute(stream_, user_weights, weights_);
    bias_ = memory({bias, f32, memory::format_tag::x}, engine_);
    src_ = memory(pd.src_desc(), engine_);
    dst_ = memory(pd.dst_desc(), engine_);
    float* x = static_cast<float*>(src_.get_data_handle());
    std::fill(x, x + pd.src_desc().get_size() / sizeof(float), 0.5f);
    stream_.wait();
  }
  void Run() override {
    primitive_.execute(stream_, {{DNNL_ARG_SRC, src_},
                                 {DNNL_ARG_WEIGHTS, weights_},
                                 {DNNL_ARG_BIAS, bias_},
                                 {DNNL_ARG_DST, dst_}});
    stream_.wait();
  }

 private:
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::convolution_forward primitive_;
  dnnl::memory src_, weights_, bias_, dst_;
};

// im2col (spex's own, tap-major patches) then one dense GEMM.
class EigenIm2ColConv : public ConvImpl {
 public:
  EigenIm2ColConv(const Conv2dShape& s, int batch) : shape_(s), batch_(batch) {
    const int features = s.c_in * s.taps();
    const size_t columns = static_cast<size_t>(batch) * s.out_pixels();
    w_ = Eigen::Map<const Eigen::MatrixXf>(
        Numbers(static_cast<size_t>(s.c_out) * features, 1).data(), s.c_out,
        features);
    col_.resize(features, static_cast<Eigen::Index>(columns));
    y_.resize(s.c_out, static_cast<Eigen::Index>(columns));
    x_ = Numbers(static_cast<size_t>(s.c_in) * batch * s.in_pixels(), 3);
  }
  void Run() override {
    const size_t columns = static_cast<size_t>(batch_) * shape_.out_pixels();
    // The patches row-major (a feature's columns contiguous), read by Eigen
    // through a row-major map of the same buffer.
    Im2Col(shape_, batch_, x_.data(),
           static_cast<size_t>(batch_) * shape_.in_pixels(), col_.data(),
           columns);
    y_.noalias() =
        w_ * Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic,
                                            Eigen::Dynamic, Eigen::RowMajor>>(
                 col_.data(), col_.rows(), col_.cols());
    benchmark::DoNotOptimize(y_.data());
  }

 private:
  Conv2dShape shape_;
  int batch_;
  Eigen::MatrixXf w_, col_, y_;
  std::vector<float> x_;
};

struct Measurement {
  std::string impl, kernel, case_name;
  Conv2dShape shape;
  double density = 1.0;
  int batch = 1;
  double macs = 0;  // connections that exist x output pixels x batch
  double ns = 0;
};

class Registry {
 public:
  void Add(const std::string& impl, const ConvCase& c, double density,
           int batch, std::shared_ptr<ConvImpl> conv) {
    Measurement m;
    m.impl = impl;
    m.kernel = conv->KernelName();
    m.case_name = c.name;
    m.shape = c.shape;
    m.density = density;
    m.batch = batch;
    m.macs = ConvMacs(c.shape, density, batch);
    const std::string name = absl::StrFormat(
        "%s/%s/d%.4f/b%d", impl, c.shape.DebugString(), density, batch);
    measurements_[name] = m;
    benchmark::RegisterBenchmark(name.c_str(),
                                 [conv](benchmark::State& state) {
                                   for (auto _ : state) conv->Run();
                                 })
        ->Unit(benchmark::kNanosecond)
        ->MinTime(0.1)
        ->Repetitions(3)
        ->ReportAggregatesOnly(true)
        ->UseRealTime();
  }
  std::map<std::string, Measurement>& measurements() { return measurements_; }

 private:
  std::map<std::string, Measurement> measurements_;
};

class MedianCollector : public benchmark::BenchmarkReporter {
 public:
  explicit MedianCollector(std::map<std::string, Measurement>* m) : m_(m) {}
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Aggregate || run.aggregate_name != "median") {
        continue;
      }
      auto it = m_->find(run.run_name.function_name);
      if (it == m_->end()) continue;
      it->second.ns = run.GetAdjustedRealTime();
      std::fprintf(stderr, "[%zu/%zu] %-64s %12.0f ns\n", ++done_, m_->size(),
                   run.run_name.function_name.c_str(), it->second.ns);
    }
  }

 private:
  std::map<std::string, Measurement>* m_;
  size_t done_ = 0;
};

bool IsDense(const std::string& impl) { return impl.rfind("spex_", 0) != 0; }

void PrintReport(const std::vector<Measurement>& results,
                 const MachineLimits& limits) {
  std::printf(
      "\nconvolutions: speed-up of each spex kind over the fastest "
      "dense library at the same shape and batch; FMA %% counts only "
      "the connections that exist (peak %.1f GFLOP/s)\n",
      limits.peak_gflops);
  std::map<std::string, std::pair<std::string, double>> fastest;  // key
  const auto key = [](const Measurement& m) {
    return absl::StrFormat("%s b%d", m.shape.DebugString(), m.batch);
  };
  for (const Measurement& m : results) {
    if (!IsDense(m.impl)) continue;
    auto& best = fastest[key(m)];
    if (best.second == 0 || m.ns < best.second) best = {m.impl, m.ns};
  }
  std::printf("%-52s %-8s %-12s %9s %8s %8s\n", "shape, batch", "density",
              "spex kind", "x fastest", "(lib)", "FMA %");
  for (const Measurement& m : results) {
    if (IsDense(m.impl)) continue;
    const auto& best = fastest[key(m)];
    const double gflops = 2 * m.macs / m.ns;  // a multiply-add is 2 flops
    std::printf("%-52s %-8.4f %-12s %9.2f %8s %7.1f%%\n", key(m).c_str(),
                m.density, m.impl.c_str(), best.second / m.ns,
                best.first.c_str(), 100.0 * gflops / limits.peak_gflops);
  }
}

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

  std::vector<ConvCase> cases = ConvCases();
  std::vector<double> densities = {1.0 / 2, 1.0 / 4, 1.0 / 8};
  std::vector<int> batches = {1, 16};
  if (quick) {
    cases = {ConvCases()[2]};  // the CNN's 7x7x128 layer
    densities = {1.0 / 4};
    batches = {1};
  }
  std::fprintf(stderr, "measuring this machine's limits...\n");
  const MachineLimits limits = MeasureMachineLimits();
  Registry registry;
  for (const ConvCase& c : cases) {
    for (int batch : batches) {
      std::fprintf(stderr, "preparing %s, batch %d\n",
                   c.shape.DebugString().c_str(), batch);
      registry.Add("onednn", c, 1.0, batch,
                   std::make_shared<OneDnnConv>(c.shape, batch));
      registry.Add("xnnpack", c, 1.0, batch,
                   std::shared_ptr<ConvImpl>(MakeXnnpackConv(c.shape, batch)));
      registry.Add("eigen_dense", c, 1.0, batch,
                   std::make_shared<EigenIm2ColConv>(c.shape, batch));
      for (double density : densities) {
        for (PatternKind kind : {PatternKind::kRandom, PatternKind::kBlock,
                                 PatternKind::kTile4, PatternKind::kTile8}) {
          absl::StatusOr<Pattern> channels =
              ChannelPattern(c.shape, kind, density);
          if (!channels.ok()) continue;  // the kind does not fit the shape
          registry.Add(absl::StrCat("spex_", PatternKindName(kind)), c,
                       channels->spec().density(), batch,
                       std::shared_ptr<ConvImpl>(
                           MakeSpexConv(c.shape, *channels, batch)));
        }
      }
    }
  }
  MedianCollector collector(&registry.measurements());
  benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::Shutdown();

  std::vector<Measurement> results;
  for (const auto& [name, m] : registry.measurements()) {
    if (m.ns <= 0) continue;
    results.push_back(m);
    std::printf(
        "{\"op\": \"conv2d\", \"impl\": \"%s\", \"kernel\": \"%s\", \"h\": %d, "
        "\"w\": %d, \"c_in\": %d, \"c_out\": %d, \"k\": %d, \"stride\": %d, "
        "\"density\": %.6f, \"batch\": %d, \"ns\": %.0f, \"macs\": %.0f}\n",
        m.impl.c_str(), m.kernel.c_str(), m.shape.in_h, m.shape.in_w,
        m.shape.c_in, m.shape.c_out, m.shape.kernel, m.shape.stride, m.density,
        m.batch, m.ns, m.macs);
  }
  PrintReport(results, limits);
  return 0;
}

}  // namespace
}  // namespace spex::bench

int main(int argc, char** argv) { return spex::bench::Main(argc, argv); }
