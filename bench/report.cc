#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <map>
#include <string>
#include <tuple>

#include "absl/strings/str_format.h"

namespace spex::bench {
namespace {

bool IsDenseLibrary(const Measurement& m) {
  return m.impl == "eigen_dense" || m.impl == "onednn" || m.impl == "xnnpack";
}

// Fraction of the machine's limit reached, and which limit.
std::pair<double, std::string> LimitFraction(const Measurement& m,
                                             const MachineLimits& limits) {
  if (m.batch == 1) {
    const CacheLevel& level = limits.LevelFor(m.bytes);
    const double limit_ns = m.bytes / level.read_gbps;  // bytes / (GB/s) = ns
    return {limit_ns / m.ns, level.name + " bw"};
  }
  const double limit_ns = 2 * m.macs / limits.peak_gflops;
  return {limit_ns / m.ns, "peak FMA"};
}

struct LayerKey {
  int n_out, n_in, batch;
  bool operator<(const LayerKey& o) const {
    return std::tie(n_out, n_in, batch) < std::tie(o.n_out, o.n_in, o.batch);
  }
};

const Measurement* Find(const std::vector<Measurement>& results,
                        const std::string& impl, int n_out, int n_in,
                        double density_requested, int batch) {
  for (const Measurement& m : results) {
    if (m.chosen && m.impl == impl && m.n_out == n_out && m.n_in == n_in &&
        m.batch == batch &&
        (IsDenseLibrary(m) || m.density_requested == density_requested)) {
      return &m;
    }
  }
  return nullptr;
}

const Measurement* FastestDense(const std::vector<Measurement>& results,
                                int n_out, int n_in, int batch) {
  const Measurement* best = nullptr;
  for (const Measurement& m : results) {
    if (IsDenseLibrary(m) && m.n_out == n_out && m.n_in == n_in &&
        m.batch == batch && (best == nullptr || m.ns < best->ns)) {
      best = &m;
    }
  }
  return best;
}

}  // namespace

void PrintJsonLines(const std::vector<Measurement>& results, std::FILE* out) {
  for (const Measurement& m : results) {
    std::string extra;
    if (!IsDenseLibrary(m)) {
      extra =
          absl::StrFormat(", \"density_requested\": %.6g", m.density_requested);
    }
    if (!m.kernel.empty())
      extra += absl::StrFormat(", \"kernel\": \"%s\"", m.kernel);
    if (!m.chosen) extra += ", \"chosen\": false";
    absl::FPrintF(
        out,
        "{\"impl\": \"%s\", \"out\": %d, \"in\": %d, \"density\": %.6g, "
        "\"batch\": %d, \"ns\": %.0f%s}\n",
        m.impl, m.n_out, m.n_in, m.density, m.batch, m.ns, extra);
  }
}

void PrintReport(const std::vector<Measurement>& results,
                 const MachineLimits& limits, std::FILE* out) {
  absl::FPrintF(out, "\nmachine: peak FMA %.1f GFLOP/s; read bandwidth",
                limits.peak_gflops);
  for (const CacheLevel& level : limits.levels) {
    absl::FPrintF(out, " %s %.1f GB/s", level.name, level.read_gbps);
  }
  absl::FPrintF(out,
                "\n(x dense = fastest dense library's time / this time; "
                "x eigen_sp = Eigen SparseMatrix time / this time;\n"
                " density* = the nearest valid density, timed for a requested "
                "one the layer cannot take)\n");

  std::map<LayerKey, std::vector<double>> densities;
  for (const Measurement& m : results) {
    if (IsDenseLibrary(m)) continue;
    auto& list = densities[{m.n_out, m.n_in, m.batch}];
    if (std::find(list.begin(), list.end(), m.density_requested) ==
        list.end()) {
      list.push_back(m.density_requested);
    }
  }
  for (auto& [key, list] : densities) {
    std::sort(list.rbegin(), list.rend());
    const Measurement* dense =
        FastestDense(results, key.n_out, key.n_in, key.batch);
    if (dense == nullptr) continue;
    absl::FPrintF(out, "\n%d -> %d, batch %d (fastest dense: %s, %.0f ns)\n",
                  key.n_in, key.n_out, key.batch, dense->impl, dense->ns);
    absl::FPrintF(out, "%-9s %-13s %-16s %12s %9s %10s %8s %s\n", "density",
                  "impl", "kernel", "ns", "x dense", "x eigen_sp", "limit",
                  "of");
    for (double density : list) {
      const Measurement* eigen_sparse = Find(results, "eigen_sparse", key.n_out,
                                             key.n_in, density, key.batch);
      for (const char* impl : {"spex_random", "spex_block", "spex_tile4",
                               "spex_tile8", "eigen_sparse"}) {
        const Measurement* m =
            Find(results, impl, key.n_out, key.n_in, density, key.batch);
        if (m == nullptr) continue;
        const auto [fraction, limit] = LimitFraction(*m, limits);
        // A size that cannot take the requested density times the nearest.
        const std::string shown = m->density == density
                                      ? absl::StrFormat("%.5g", m->density)
                                      : absl::StrFormat("%.5g*", m->density);
        absl::FPrintF(out, "%-9s %-13s %-16s %12.0f %8.2fx %9.2fx %7.0f%% %s\n",
                      shown, impl, m->kernel, m->ns, dense->ns / m->ns,
                      eigen_sparse ? eigen_sparse->ns / m->ns : NAN,
                      100 * fraction, limit);
      }
    }
  }

  // The floors, at 1024 -> 1024. `impl` may be a list: its fastest member
  // is checked.
  absl::FPrintF(out, "\nfloors (1024 -> 1024):\n");
  auto fastest = [&](std::initializer_list<const char*> impls, double density,
                     int batch) {
    const Measurement* best = nullptr;
    for (const char* impl : impls) {
      const Measurement* m = Find(results, impl, 1024, 1024, density, batch);
      if (m != nullptr && (best == nullptr || m->ns < best->ns)) best = m;
    }
    return best;
  };
  auto check = [&](const char* label, std::initializer_list<const char*> impls,
                   double density, int batch, const char* against,
                   double floor) {
    const Measurement* m = fastest(impls, density, batch);
    const std::string against_name(against);
    const Measurement* base =
        against_name == "dense"
            ? FastestDense(results, 1024, 1024, batch)
            : Find(results, against, 1024, 1024, density, batch);
    if (m == nullptr || base == nullptr) return;
    const double ratio = base->ns / m->ns;
    absl::FPrintF(out,
                  "  %-11s density %-6g batch %-3d vs %-12s %6.2fx  floor "
                  "%4.1fx  %s (%s)\n",
                  label, density, batch, against, ratio, floor,
                  ratio >= floor ? "met" : "MISSED", m->impl);
  };
  auto check_peak = [&](const char* label,
                        std::initializer_list<const char*> impls) {
    const Measurement* m = fastest(impls, 0.125, 64);
    if (m == nullptr) return;
    const double fraction = LimitFraction(*m, limits).first;
    absl::FPrintF(out,
                  "  %-11s density 0.125  batch 64  of peak FMA   %5.0f%%   "
                  "floor  60%%  %s (%s)\n",
                  label, 100 * fraction, fraction >= 0.6 ? "met" : "MISSED",
                  m->impl);
  };
  const auto kTiles = {"spex_tile4", "spex_tile8"};
  check("spex_random", {"spex_random"}, 0.125, 1, "dense", 2.5);
  check("spex_block", {"spex_block"}, 0.125, 1, "dense", 4.5);
  check("spex_random", {"spex_random"}, 0.125, 1, "eigen_sparse", 4.0);
  check("spex_block", {"spex_block"}, 0.125, 1, "eigen_sparse", 4.0);
  check("best tile", kTiles, 0.125, 1, "spex_block", 1.0);
  check("best tile", kTiles, 0.125, 64, "dense", 6.0);
  check("best tile", kTiles, 0.125, 64, "eigen_sparse", 2.5);
  check_peak("best tile", kTiles);
  for (int batch : {1, 64}) {
    check("best spex",
          {"spex_random", "spex_block", "spex_tile4", "spex_tile8"}, 0.5, batch,
          "dense", 1.0);
  }
}

}  // namespace spex::bench
