// spex-echo-server: SplitInference's InferStream with no inference, the
// ceiling for spex-cloud in scripts/bench.sh cloud. Each request is answered
// at once, on the thread that read it, with a response of the same shape as
// spex-cloud's (one result per sample, top_k entries each).
//
// Two implementations of the same stream, to choose spex-cloud's server API
// by measurement (docs/ARCHITECTURE.md): --api=callback (gRPC's callback
// API: the daemons' own pipelined stream reactor, on the library's threads)
// or --api=async (completion queues polled by --threads threads of our own).
//
// --service=edge answers spex.v1.EdgeInference's ClassifyStream the same
// way (the ceiling for spex-edge's local API in scripts/bench.sh edge), on
// the callback API, at --listen (a unix:PATH address works).
//
// Usage: spex-echo-server --listen=127.0.0.1:0 --port_file=F [--api=...]
//                         [--service=split|edge]
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/daemon/daemon_main.h"
#include "common/rpc/pipelined_stream.h"
#include "grpcpp/grpcpp.h"
#include "spex/v1/edge_inference.grpc.pb.h"
#include "spex/v1/split_inference.grpc.pb.h"
#include "tools/common/args.h"

namespace spex {
namespace {

void Echo(const v1::InferRequest& request, v1::InferResponse* response) {
  response->Clear();
  response->set_request_id(request.request_id());
  for (uint32_t s = 0; s < request.activation().samples(); ++s) {
    v1::SampleResult* result = response->add_results();
    result->set_label(0);
    result->set_confidence(1.0f);
    for (uint32_t k = 0; k < request.top_k(); ++k) {
      v1::ClassProbability* entry = result->add_top_k();
      entry->set_class_index(k);
      entry->set_probability(k == 0 ? 1.0f : 0.0f);
    }
  }
}

void Echo(const v1::ClassifyRequest& request, v1::ClassifyResponse* response) {
  response->Clear();
  response->set_request_id(request.request_id());
  response->mutable_result()->set_label(0);
  response->mutable_result()->set_confidence(1.0f);
  response->set_path(v1::ANSWER_PATH_LOCAL);
}

// ---- callback API: the daemons' own stream (common/rpc/pipelined_stream.h)
// with the answer produced inline instead of by inference.
template <typename Request, typename Response>
grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* NewEchoStream(
    StreamSet* streams) {
  return new PipelinedStream<Request, Response>(
      streams, absl::OkStatus(),
      [](const Request& request, std::function<void(Response)> reply) {
        Response response;
        Echo(request, &response);
        reply(std::move(response));
      },
      [](const Request& request, const absl::Status&) {
        Response response;
        Echo(request, &response);
        return response;
      });
}

class CallbackEchoService final
    : public v1::SplitInference::WithRawCallbackMethod_InferStream<
          v1::SplitInference::Service> {
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* InferStream(
      grpc::CallbackServerContext*) override {
    return NewEchoStream<v1::InferRequest, v1::InferResponse>(&streams_);
  }
  StreamSet streams_;
};

class EdgeEchoService final
    : public v1::EdgeInference::WithRawCallbackMethod_ClassifyStream<
          v1::EdgeInference::Service> {
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ClassifyStream(
      grpc::CallbackServerContext*) override {
    return NewEchoStream<v1::ClassifyRequest, v1::ClassifyResponse>(&streams_);
  }
  StreamSet streams_;
};

// ---- completion-queue API: one stream's state machine; completions may be
// handled by any polling thread, so its state is under a mutex.
class AsyncEchoStream {
 public:
  enum Event { kAccepted, kRead, kWritten, kFinished };
  struct Tag {
    AsyncEchoStream* stream;
    Event event;
  };

  AsyncEchoStream(v1::SplitInference::AsyncService* service,
                  grpc::ServerCompletionQueue* cq)
      : service_(service), cq_(cq), stream_(&context_) {
    service_->RequestInferStream(&context_, &stream_, cq_, cq_,
                                 &tags_[kAccepted]);
  }

  void Handle(Event event, bool ok) {
    bool destroy = false;
    {
      absl::MutexLock lock(&mutex_);
      switch (event) {
        case kAccepted:
          if (!ok) {
            destroy = true;
            break;
          }
          new AsyncEchoStream(service_, cq_);  // the next stream
          stream_.Read(&request_, &tags_[kRead]);
          break;
        case kRead:
          if (!ok) {
            reads_done_ = true;
          } else {
            v1::InferResponse response;
            Echo(request_, &response);
            writes_.push_back(std::move(response));
            stream_.Read(&request_, &tags_[kRead]);
          }
          break;
        case kWritten:
          writing_ = false;
          if (!ok) writes_.clear();
          break;
        case kFinished:
          destroy = true;
          break;
      }
      if (!destroy && !writing_ && !finished_) {
        if (!writes_.empty()) {
          writing_ = true;
          current_ = std::move(writes_.front());
          writes_.pop_front();
          stream_.Write(current_, &tags_[kWritten]);
        } else if (reads_done_) {
          finished_ = true;
          stream_.Finish(grpc::Status::OK, &tags_[kFinished]);
        }
      }
    }
    if (destroy) delete this;
  }

 private:
  v1::SplitInference::AsyncService* service_;
  grpc::ServerCompletionQueue* cq_;
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<v1::InferResponse, v1::InferRequest> stream_;
  Tag tags_[4] = {
      {this, kAccepted}, {this, kRead}, {this, kWritten}, {this, kFinished}};
  v1::InferRequest request_;
  absl::Mutex mutex_;
  std::deque<v1::InferResponse> writes_ ABSL_GUARDED_BY(mutex_);
  v1::InferResponse current_ ABSL_GUARDED_BY(mutex_);
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mutex_) = false;
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
};

int Run(int argc, char** argv) {
  Args args;
  args.Option("listen", "127.0.0.1:0", "address to serve on")
      .Option("port_file", "", "write the bound port here once serving")
      .Option("api", "callback", "callback | async")
      .Option("service", "split",
              "split (SplitInference) | edge (EdgeInference)")
      .Option("threads", "2", "completion-queue threads (--api=async)");
  if (absl::Status status = args.Parse(argc, argv, 1); !status.ok()) {
    std::fprintf(stderr, "spex-echo-server: %s\n\n%s",
                 std::string(status.message()).c_str(), args.Help().c_str());
    return 2;
  }
  const std::string api = args.Get("api");
  const std::string service = args.Get("service");
  if (service != "split" && service != "edge") {
    std::fprintf(stderr, "spex-echo-server: --service is split or edge\n");
    return 2;
  }
  const long threads = args.GetInt("threads").value_or(2);
  if ((api != "callback" && api != "async") || threads < 1) {
    std::fprintf(stderr,
                 "spex-echo-server: --api is callback or async, "
                 "--threads at least 1\n");
    return 2;
  }
  // SIGTERM drains and returns from main like the daemons: a process
  // counted to its exit (scripts/bench.sh edge-arm64) ends normally.
  BlockDaemonSignals();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(args.Get("listen"),
                           grpc::InsecureServerCredentials(), &port);
  CallbackEchoService callback_service;
  EdgeEchoService edge_service;
  v1::SplitInference::AsyncService async_service;
  std::unique_ptr<grpc::ServerCompletionQueue> cq;
  if (service == "edge") {
    builder.RegisterService(&edge_service);
  } else if (api == "callback") {
    builder.RegisterService(&callback_service);
  } else {
    builder.RegisterService(&async_service);
    cq = builder.AddCompletionQueue();
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  const bool unix_socket = args.Get("listen").rfind("unix:", 0) == 0;
  if (server == nullptr || (port == 0 && !unix_socket)) {
    std::fprintf(stderr, "spex-echo-server: cannot listen on %s\n",
                 args.Get("listen").c_str());
    return 1;
  }
  if (!args.Get("port_file").empty() &&
      !WritePortFile(args.Get("port_file"), port, 0)) {
    std::fprintf(stderr, "spex-echo-server: cannot write --port_file\n");
    return 1;
  }
  std::fprintf(stderr, "spex-echo-server (%s API) on port %d\n", api.c_str(),
               port);
  const auto no_reload = [] {};
  if (api == "callback" || service == "edge") {
    WaitForSignals(no_reload, [&server] { server->Shutdown(); });
    return 0;
  }
  new AsyncEchoStream(&async_service, cq.get());
  std::vector<std::thread> pollers;
  for (long t = 0; t < threads; ++t) {
    pollers.emplace_back([&cq] {
      void* tag;
      bool ok;
      while (cq->Next(&tag, &ok)) {
        auto* t = static_cast<AsyncEchoStream::Tag*>(tag);
        t->stream->Handle(t->event, ok);
      }
    });
  }
  WaitForSignals(no_reload, [&server, &cq] {
    server->Shutdown();
    cq->Shutdown();
  });
  for (std::thread& poller : pollers) poller.join();
  return 0;
}

}  // namespace
}  // namespace spex

int main(int argc, char** argv) { return spex::Run(argc, argv); }
