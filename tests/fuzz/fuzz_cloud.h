// The cloud the serving fuzz targets send requests into: spex-cloud's
// gRPC-free CloudCore serving the default model, made once per process.
#ifndef SPEX_TESTS_FUZZ_FUZZ_CLOUD_H_
#define SPEX_TESTS_FUZZ_FUZZ_CLOUD_H_

#include <cstdlib>
#include <memory>
#include <string>

#include "cloud_service/cloud_core.h"
#include "cloud_service/cloud_metrics.h"
#include "cloud_service/model_registry.h"
#include "cloud_service/oip_inference.h"
#include "tests/fuzz/fuzz_support.h"

namespace spex::fuzz {

struct FuzzCloud {
  CloudMetrics metrics{"fuzz"};
  std::unique_ptr<ModelRegistry> registry;
  std::unique_ptr<CloudCore> core;
  std::unique_ptr<OipInference> oip;  // over `core`
  std::string model_id;               // the served model's
};

inline FuzzCloud& TheCloud() {
  static FuzzCloud* cloud = [] {
    auto* c = new FuzzCloud;
    auto registry = ModelRegistry::Create(ModelDirectory(), {}, &c->metrics);
    if (!registry.ok()) std::abort();
    c->registry = *std::move(registry);
    c->core = std::make_unique<CloudCore>(CloudCoreOptions(), c->registry.get(),
                                          &c->metrics);
    c->oip = std::make_unique<OipInference>(c->core.get());
    c->model_id = c->registry->Snapshot()->all().at(0).model->id();
    return c;
  }();
  return *cloud;
}

}  // namespace spex::fuzz

#endif  // SPEX_TESTS_FUZZ_FUZZ_CLOUD_H_
