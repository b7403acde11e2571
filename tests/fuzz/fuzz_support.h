// What the serving fuzz targets share: the default model, in a directory of
// its own made once per process, and a wait for an asynchronous answer.
#ifndef SPEX_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define SPEX_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace spex::fuzz {

// SPEX_MODEL (environment) or the repository's default model.
inline std::string DefaultModelFile() {
  const char* model = std::getenv("SPEX_MODEL");
  return model != nullptr
             ? model
             : std::string(SPEX_SOURCE_DIR) + "/results/fashion-default.spex";
}

inline std::string ModelDirectory() {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("spex_fuzz_models_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(DefaultModelFile(), dir / "model.spex",
                             std::filesystem::copy_options::overwrite_existing);
  return dir.string();
}

// Every accepted input gets exactly one answer, soon: a missing answer is
// a finding (abort), not a hang the fuzzer would report only as a timeout.
inline void WaitForAnswer(absl::Notification& answered) {
  if (!answered.WaitForNotificationWithTimeout(absl::Seconds(10))) std::abort();
}

}  // namespace spex::fuzz

#endif  // SPEX_TESTS_FUZZ_FUZZ_SUPPORT_H_
