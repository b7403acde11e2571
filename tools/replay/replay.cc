#include "tools/replay/replay.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/rpc/answer_names.h"
#include "grpcpp/grpcpp.h"
#include "spex/v1/edge_inference.grpc.pb.h"
#include "tools/common/json.h"

namespace spex {
namespace {

using Clock = std::chrono::steady_clock;

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  const size_t k =
      std::min(values.size() - 1, static_cast<size_t>(q * values.size()));
  std::nth_element(values.begin(), values.begin() + k, values.end());
  return values[k];
}

}  // namespace

absl::StatusOr<std::vector<ReplayRecord>> Replay(
    const Dataset& data, const ReplayOptions& options,
    const std::function<void(int answered)>& progress) {
  const int total = data.size() * std::max(1, options.repeat);
  std::vector<ReplayRecord> records(total);
  // Written by a stream's writer, read by its reader: atomics, in
  // nanoseconds since `start`.
  std::vector<std::atomic<int64_t>> sent_at(total);
  std::atomic<int> answered{0};
  std::atomic<bool> broken{false};
  std::string broken_message;
  absl::Mutex broken_mutex;
  auto channel =
      grpc::CreateChannel(options.target, grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::seconds(10))) {
    return absl::UnavailableError(absl::StrFormat(
        "cannot connect to the edge agent at %s", options.target));
  }
  auto stub = v1::EdgeInference::NewStub(channel);
  const Clock::time_point start = Clock::now();

  auto run_stream = [&](int stream_index) {
    grpc::ClientContext context;
    auto stream = stub->ClassifyStream(&context);
    std::atomic<int> in_flight{0};
    // Samples stream_index, stream_index + streams, ...
    std::vector<int> ids;
    for (int id = stream_index; id < total; id += options.streams) {
      ids.push_back(id);
    }
    std::thread reader([&] {
      v1::ClassifyResponse response;
      size_t received = 0;
      while (received < ids.size() && stream->Read(&response)) {
        const auto now = Clock::now();
        const int id = static_cast<int>(response.request_id());
        if (id < 0 || id >= total) continue;
        ReplayRecord& record = records[id];
        const int64_t now_ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - start)
                .count();
        record.sent_us = sent_at[id].load() / 1000;
        record.latency_us = (now_ns - sent_at[id].load()) / 1000;
        if (response.has_status()) {
          record.error = response.status().message();
        } else {
          record.predicted = static_cast<int>(response.result().label());
          record.confidence = response.result().confidence();
          record.audited = response.audited();
          record.path = response.path();
          record.reason = response.fallback_reason();
          record.stage = static_cast<int>(response.result().stage());
          record.exit = static_cast<int>(response.result().exit());
          record.stage_fallback = response.result().fallback_reason();
        }
        ++received;
        --in_flight;
        const int answered_so_far = ++answered;
        if (progress) progress(answered_so_far);
      }
    });
    const double per_stream_rate =
        options.rate > 0 ? options.rate / options.streams : 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (per_stream_rate > 0) {
        std::this_thread::sleep_until(
            start + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(i / per_stream_rate)));
      }
      while (in_flight >= options.depth) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      const int id = ids[i];
      v1::ClassifyRequest request;
      request.set_request_id(static_cast<uint64_t>(id));
      const int sample = id % data.size();
      if (data.eight_bit) {
        request.set_pixels(data.PixelBytes(sample));
      } else {
        request.mutable_values()->mutable_values()->Add(
            data.sample(sample), data.sample(sample) + data.width);
      }
      request.set_top_k(options.top_k);
      sent_at[id] = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        Clock::now() - start)
                        .count();
      ++in_flight;
      if (!stream->Write(request)) break;
    }
    stream->WritesDone();
    reader.join();
    const grpc::Status status = stream->Finish();
    if (!status.ok()) {
      absl::MutexLock lock(&broken_mutex);
      broken = true;
      broken_message = status.error_message();
    }
  };
  std::vector<std::thread> streams;
  for (int s = 0; s < options.streams; ++s) streams.emplace_back(run_stream, s);
  for (std::thread& t : streams) t.join();
  if (broken && answered == 0) {
    absl::MutexLock lock(&broken_mutex);
    return absl::UnavailableError(
        absl::StrFormat("the edge agent at %s ended the stream: %s",
                        options.target, broken_message));
  }
  for (int id = 0; id < total; ++id) {
    records[id].id = id;
    records[id].label = data.labels[id % data.size()];
  }
  return records;
}

ReplaySummary Summarize(const std::vector<ReplayRecord>& records,
                        double seconds) {
  ReplaySummary summary;
  summary.samples = static_cast<int>(records.size());
  summary.seconds = seconds;
  std::vector<double> latencies[4];
  int correct = 0;
  for (const ReplayRecord& record : records) {
    if (!record.error.empty()) {
      ++summary.refused;
      continue;
    }
    if (record.predicted < 0) continue;
    ++summary.answered;
    correct += record.predicted == record.label;
    if (record.path > 0 && record.path < 4) {
      latencies[record.path].push_back(static_cast<double>(record.latency_us));
    }
    if (record.stage > 0) {
      if (summary.stage_fraction.size() < static_cast<size_t>(record.stage)) {
        summary.stage_fraction.resize(record.stage, 0.0);
      }
      summary.stage_fraction[record.stage - 1] += 1;
    }
  }
  for (double& fraction : summary.stage_fraction) {
    fraction /= summary.answered;
  }
  summary.accuracy = summary.answered > 0
                         ? static_cast<double>(correct) / summary.answered
                         : 0;
  auto fill = [&](v1::AnswerPath path, PathSummary* out) {
    out->samples = static_cast<int>(latencies[path].size());
    out->fraction = summary.answered > 0
                        ? static_cast<double>(out->samples) / summary.answered
                        : 0;
    out->p50_us = Percentile(latencies[path], 0.50);
    out->p99_us = Percentile(latencies[path], 0.99);
  };
  fill(v1::ANSWER_PATH_LOCAL, &summary.local);
  fill(v1::ANSWER_PATH_CLOUD, &summary.cloud);
  fill(v1::ANSWER_PATH_FALLBACK, &summary.fallback);
  return summary;
}

std::string RecordJson(const ReplayRecord& record) {
  std::string json = absl::StrFormat(
      "{\"id\": %d, \"label\": %d, \"predicted\": %d, \"path\": \"%s\", "
      "\"stage\": %d, \"exit\": %d, \"confidence\": %.6g, \"sent_us\": %d, "
      "\"latency_us\": %d",
      record.id, record.label, record.predicted, AnswerPathName(record.path),
      record.stage, record.exit, record.confidence, record.sent_us,
      record.latency_us);
  if (record.path == v1::ANSWER_PATH_FALLBACK) {
    absl::StrAppend(&json, ", \"fallback_reason\": \"",
                    FallbackReasonName(record.reason), "\"");
  }
  if (record.stage_fallback != v1::FALLBACK_REASON_UNSPECIFIED &&
      record.path != v1::ANSWER_PATH_FALLBACK) {
    absl::StrAppend(&json, ", \"stage_fallback\": \"",
                    FallbackReasonName(record.stage_fallback), "\"");
  }
  if (record.audited) absl::StrAppend(&json, ", \"audited\": true");
  if (record.corruption != nullptr) {
    absl::StrAppend(&json, ", \"corruption\": \"", record.corruption,
                    "\", \"severity\": ", record.severity);
  }
  if (!record.error.empty()) {
    absl::StrAppend(&json, ", \"error\": ", JsonQuote(record.error));
  }
  json += "}";
  return json;
}

}  // namespace spex
