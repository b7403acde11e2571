// A pipelined bidirectional stream on gRPC's callback API, for services
// whose answers come from other threads: requests are read one after
// another and handed to a handler; answers arrive in any order, from any
// thread, and are written one at a time from a queue (the callback API
// allows one write in flight) while reading goes on. spex-cloud's
// InferStream and spex-edge's ClassifyStream are both this.
//
// The stream finishes once the client has stopped sending (or the server
// drains), every request handed out is answered and every write is done;
// only then can OnDone delete it, so a late answer never reaches a dead
// reactor. At most kMaxInflightPerStream requests are read and not yet
// written back (being handled, or answered and waiting for the client to
// take the answer); past that the stream stops reading until answers leave,
// and HTTP/2 flow control holds the client back. So a client that writes
// without reading costs the server a bounded amount of memory.
//
// The stream reads bytes and parses them itself (raw_message.h says why):
// a message that is not a `Request` ends reading, the requests before it
// are answered, and the stream ends with INVALID_ARGUMENT saying which
// message it was and how many came before it.
#ifndef SPEX_COMMON_RPC_PIPELINED_STREAM_H_
#define SPEX_COMMON_RPC_PIPELINED_STREAM_H_

#include <deque>
#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/raw_message.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"

namespace spex {

inline constexpr int kMaxInflightPerStream = 1024;

class DrainableStream {
 public:
  virtual ~DrainableStream() = default;
  // Answer what is handed out, refuse what comes after, then end with
  // UNAVAILABLE so that the client reconnects elsewhere.
  virtual void Drain() = 0;
};

// The open streams of a service, for draining at shutdown. Thread-safe.
class StreamSet {
 public:
  // Every open stream and every later one drains.
  void Drain();
  // Waits until every stream has sent its last answer and its status, or
  // until `deadline`; true when all have.
  bool WaitUntilFinished(absl::Time deadline);

  // For PipelinedStream.
  void Add(DrainableStream* stream);
  void Remove(DrainableStream* stream);
  void Finished();

 private:
  absl::Mutex mutex_;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
  absl::flat_hash_set<DrainableStream*> streams_ ABSL_GUARDED_BY(mutex_);
  // A leaf lock, taken under a stream's own: streams not yet finished.
  absl::Mutex finish_mutex_;
  int unfinished_ ABSL_GUARDED_BY(finish_mutex_) = 0;
};

template <typename Request, typename Response>
class PipelinedStream final
    : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
      public DrainableStream {
 public:
  using Reply = std::function<void(Response)>;
  // Called for each request, in order, on the reading thread; must call
  // `reply` exactly once, from any thread, at any time.
  using Handler = std::function<void(const Request&, Reply)>;
  // The answer to a request that arrives while the server drains.
  using Refusal = std::function<Response(const Request&, const absl::Status&)>;

  // `set` outlives the stream. A non-OK `admission` (a refused token) ends
  // the stream at once with that status.
  PipelinedStream(StreamSet* set, const absl::Status& admission, Handler handle,
                  Refusal refuse)
      : set_(set), handle_(std::move(handle)), refuse_(std::move(refuse)) {
    set_->Add(this);  // may drain it at once
    absl::MutexLock lock(&mutex_);
    if (finished_) return;
    if (!admission.ok()) {
      FinishLocked(ToGrpcStatus(admission));
      return;
    }
    this->StartRead(&read_);
  }

  void OnReadDone(bool ok) override {
    // A false `ok` is the client's half-close (or a cancelled call).
    absl::Status parsed =
        ok ? ParseMessage(read_, &request_) : absl::OkStatus();
    read_.Clear();
    {
      absl::MutexLock lock(&mutex_);
      if (!ok || draining_ || !parsed.ok()) {
        reads_done_ = true;
        if (!parsed.ok()) {
          end_status_ = absl::InvalidArgumentError(absl::StrFormat(
              "message %d on this stream is %s; the stream ends there: the %d "
              "request(s) before it were answered, none after it was read",
              accepted_ + 1, parsed.message(), accepted_));
        } else if (ok) {
          QueueWriteLocked(SerializeMessage(refuse_(
              request_, absl::UnavailableError(
                            "the server is shutting down; retry elsewhere"))));
        }
        MaybeFinishLocked();
        return;
      }
      ++pending_;
      ++accepted_;
    }
    handle_(request_, [this](Response response) {
      grpc::ByteBuffer bytes = SerializeMessage(response);
      absl::MutexLock lock(&mutex_);
      --pending_;
      QueueWriteLocked(std::move(bytes));
      MaybeFinishLocked();
    });
    absl::MutexLock lock(&mutex_);
    read_paused_ = true;
    MaybeResumeReadingLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mutex_);
    writing_ = false;
    if (!ok) {
      // The client is gone: nothing more can be delivered.
      write_failed_ = true;
      writes_.clear();
    } else if (!writes_.empty()) {
      StartNextWriteLocked();
    }
    MaybeResumeReadingLocked();
    MaybeFinishLocked();
  }

  void OnDone() override {
    set_->Remove(this);
    delete this;
  }

  void Drain() override {
    absl::MutexLock lock(&mutex_);
    draining_ = true;
    MaybeFinishLocked();
  }

 private:
  void QueueWriteLocked(grpc::ByteBuffer answer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (write_failed_ || finished_) return;
    writes_.push_back(std::move(answer));
    if (!writing_) StartNextWriteLocked();
  }

  // Requests read and not yet written back: handed out, or answered and
  // queued (the one being written included).
  int UnwrittenLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    return pending_ + static_cast<int>(writes_.size()) + (writing_ ? 1 : 0);
  }

  // Reads the next request unless kMaxInflightPerStream are unwritten; a
  // finished write calls it again.
  void MaybeResumeReadingLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (!read_paused_ || reads_done_ || finished_ ||
        UnwrittenLocked() >= kMaxInflightPerStream) {
      return;
    }
    read_paused_ = false;
    this->StartRead(&read_);
  }

  void StartNextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    writing_ = true;
    current_ = std::move(writes_.front());
    writes_.pop_front();
    this->StartWrite(&current_);
  }

  void MaybeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    if (finished_ || pending_ > 0 || writing_ || !writes_.empty()) return;
    if (!reads_done_ && !draining_) return;
    FinishLocked(ToGrpcStatus(
        draining_
            ? absl::UnavailableError("the server is shutting down; reconnect")
            : end_status_));
  }

  void FinishLocked(const grpc::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_) {
    finished_ = true;
    this->Finish(status);
    set_->Finished();
  }

  StreamSet* const set_;
  const Handler handle_;
  const Refusal refuse_;
  // The read buffer and the request parsed from it, reused; touched only
  // by the reading side, one read at a time.
  grpc::ByteBuffer read_;
  Request request_;

  absl::Mutex mutex_;
  int pending_ ABSL_GUARDED_BY(mutex_) = 0;
  int accepted_ ABSL_GUARDED_BY(mutex_) = 0;  // requests handed out
  // The status the stream ends with when not draining.
  absl::Status end_status_ ABSL_GUARDED_BY(mutex_);
  bool reads_done_ ABSL_GUARDED_BY(mutex_) = false;
  // No read is outstanding: at the bound, or before the first read.
  bool read_paused_ ABSL_GUARDED_BY(mutex_) = false;
  bool writing_ ABSL_GUARDED_BY(mutex_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mutex_) = false;
  bool draining_ ABSL_GUARDED_BY(mutex_) = false;
  bool finished_ ABSL_GUARDED_BY(mutex_) = false;
  std::deque<grpc::ByteBuffer> writes_ ABSL_GUARDED_BY(mutex_);
  grpc::ByteBuffer current_ ABSL_GUARDED_BY(mutex_);
};

}  // namespace spex

#endif  // SPEX_COMMON_RPC_PIPELINED_STREAM_H_
