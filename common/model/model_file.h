// The model file on disk: bytes <-> spex.v1.Model, the model id, and the
// bounds that keep a hostile file from exhausting memory. Structure and
// weights are checked by Model::FromProto (model.h), not here.
#ifndef SPEX_COMMON_MODEL_MODEL_FILE_H_
#define SPEX_COMMON_MODEL_MODEL_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "spex/v1/model.pb.h"

namespace spex {

// The format versions this build reads: 1; 2, which added the tile pattern
// kind; 3, which added exits after split_after (a later stage's); 4, which
// added layer kinds (convolutions and poolings); 5, which added per-feature
// input factors (InputSpec.feature_scale, feature_offset). A file
// carries the lowest version that describes it (MinimumFormatVersion), so a
// model without those features stays readable by older builds.
inline constexpr uint32_t kOldestModelFormatVersion = 1;
inline constexpr uint32_t kModelFormatVersion = 5;

// 5 when the input has per-feature factors; 4 when any layer (backbone or exit)
// is a convolution or a pooling; else 3 when an exit comes after split_after;
// else 2 when any layer has a tile pattern; else 1.
uint32_t MinimumFormatVersion(const v1::Model& model);

// OK when this build reads the model's format_version and the version
// covers every feature the model uses; otherwise an InvalidArgument naming
// the field.
absl::Status CheckFormatVersion(const v1::Model& model);

// Larger files are refused before they are read. Parsing allocates at most a
// small multiple of the file size (4 bytes per varint index of >= 1 byte),
// so this also bounds the loader's memory.
inline constexpr int64_t kMaxModelFileBytes = int64_t{128} << 20;

// Counts of repeated message and string fields, checked on the raw bytes
// before parsing: an empty entry costs 2 bytes in the file but a whole
// message object (over 100 bytes) once parsed, so without these a 16 MiB
// file of empty entries would make the parser allocate gigabytes.
inline constexpr int kMaxBackboneLayers = 64;
inline constexpr int kMaxExits = 16;
inline constexpr int kMaxExitLayers = 16;
// Cuts in a chain (split_after and later_cuts): at most 9 stages.
inline constexpr int kMaxCuts = 8;
inline constexpr int kMaxClassNames = 65536;

// SHA-256 (hex) of `model` serialised deterministically with model_id
// empty. Everything else in the message, unknown fields included, counts.
// Streams the serialisation into the hash: no copy of the message or of its
// bytes.
std::string ComputeModelId(const v1::Model& model);

// Sets model_id and returns the file's bytes (deterministic serialisation,
// fields in number order), so that parse-then-serialise gives the same bytes.
std::string SerializeModel(v1::Model* model);

// Bytes -> message. InvalidArgument on bytes that are not a model message,
// a missing or unknown format version, a size above kMaxModelFileBytes, or
// more repeated entries than the limits above (counted before parsing).
// The id is checked by Model::FromProto.
absl::StatusOr<v1::Model> ParseModel(absl::string_view bytes);

// ParseModel of a file's contents; NotFound / PermissionDenied / ... name the
// path, and the file's size is checked before it is read.
absl::StatusOr<v1::Model> ReadModelFile(const std::string& path);

// Sets model->model_id and writes SerializeModel's bytes to `path` through a
// temporary file and a rename, so a reader never sees half a model.
absl::Status WriteModelFile(const std::string& path, v1::Model* model);

// Reads a whole file of at most `max_bytes` bytes.
absl::StatusOr<std::string> ReadFileBytes(const std::string& path,
                                          int64_t max_bytes);

}  // namespace spex

#endif  // SPEX_COMMON_MODEL_MODEL_FILE_H_
