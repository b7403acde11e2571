// XNNPACK fully connected (the engine under TensorFlow Lite on phones and
// Raspberry Pis): weights packed at operator creation, one thread (no
// pthreadpool), no activation clamp.
#include <xnnpack.h>

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/layer_problem.h"

namespace spex::bench {
namespace {

class XnnpackImpl : public LayerImpl {
 public:
  XnnpackImpl(xnn_operator_t op, const LayerProblem& p)
      : op_(op),
        n_in_(p.pattern.spec().n_in),
        n_out_(p.pattern.spec().n_out),
        batch_(p.batch),
        x_(static_cast<size_t>(batch_) * n_in_, 0.5f),
        y_(static_cast<size_t>(batch_) * n_out_) {}
  ~XnnpackImpl() override { xnn_delete_operator(op_); }

  absl::Status Setup() {
    if (xnn_setup_fully_connected_nc_f32(op_, batch_, x_.data(), y_.data(),
                                         /*threadpool=*/nullptr) !=
        xnn_status_success) {
      return absl::InternalError("xnn_setup_fully_connected_nc_f32 failed");
    }
    return absl::OkStatus();
  }
  void Run() override { xnn_run_operator(op_, /*threadpool=*/nullptr); }
  size_t BytesPerCall() const override {
    return (static_cast<size_t>(n_out_) * n_in_ + n_out_ + x_.size() +
            y_.size()) *
           sizeof(float);
  }
  double MacsPerCall() const override {
    return static_cast<double>(n_out_) * n_in_ * batch_;
  }

 private:
  xnn_operator_t op_;
  size_t n_in_, n_out_, batch_;
  std::vector<float> x_, y_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LayerImpl>> MakeXnnpackImpl(
    const LayerProblem& p) {
  if (xnn_initialize(/*allocator=*/nullptr) != xnn_status_success) {
    return absl::InternalError("xnn_initialize failed");
  }
  const JunctionSpec& spec = p.pattern.spec();
  const std::vector<float> dense = p.DenseWeights();  // output x input channels
  xnn_operator_t op = nullptr;
  const xnn_status status = xnn_create_fully_connected_nc_f32(
      spec.n_in, spec.n_out, /*input_stride=*/spec.n_in,
      /*output_stride=*/spec.n_out, dense.data(), p.bias.data(),
      -std::numeric_limits<float>::infinity(),
      std::numeric_limits<float>::infinity(), /*flags=*/0, &op);
  if (status != xnn_status_success) {
    return absl::InternalError(
        absl::StrCat("xnn_create_fully_connected_nc_f32 failed: ", status));
  }
  auto impl = std::make_unique<XnnpackImpl>(op, p);
  if (absl::Status s = impl->Setup(); !s.ok()) return s;
  return impl;
}

}  // namespace spex::bench
