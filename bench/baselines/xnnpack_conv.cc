// XNNPACK's NHWC convolution (dense, one thread, no pthreadpool), the engine
// under TensorFlow Lite on phones and Raspberry Pis.
#include <xnnpack.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "bench/conv_problem.h"

namespace spex::bench {
namespace {

class XnnpackConv : public ConvImpl {
 public:
  XnnpackConv(const Conv2dShape& s, int batch) {
    if (xnn_initialize(/*allocator=*/nullptr) != xnn_status_success) {
      std::fprintf(stderr, "xnn_initialize failed\n");
      std::exit(1);
    }
    const std::vector<float> w =
        Numbers(static_cast<size_t>(s.c_out) * s.c_in * s.taps(), 1);
    const std::vector<float> b = Numbers(s.c_out, 2);
    if (xnn_create_convolution2d_nhwc_f32(
            s.pad, s.pad, s.pad, s.pad, s.kernel, s.kernel, s.stride, s.stride,
            1, 1, /*groups=*/1, s.c_in, s.c_out, s.c_in, s.c_out, w.data(),
            b.data(), 0.0f, INFINITY, 0, &op_) != xnn_status_success) {
      std::fprintf(stderr, "xnn_create_convolution2d_nhwc_f32 failed\n");
      std::exit(1);
    }
    x_ = Numbers(static_cast<size_t>(batch) * s.in_pixels() * s.c_in, 3);
    y_.resize(static_cast<size_t>(batch) * s.out_pixels() * s.c_out);
    if (xnn_setup_convolution2d_nhwc_f32(op_, batch, s.in_h, s.in_w, x_.data(),
                                         y_.data(),
                                         nullptr) != xnn_status_success) {
      std::fprintf(stderr, "xnn_setup_convolution2d_nhwc_f32 failed\n");
      std::exit(1);
    }
  }
  ~XnnpackConv() override { xnn_delete_operator(op_); }
  void Run() override { xnn_run_operator(op_, nullptr); }

 private:
  xnn_operator_t op_ = nullptr;
  std::vector<float> x_, y_;
};

}  // namespace

std::unique_ptr<ConvImpl> MakeXnnpackConv(const Conv2dShape& shape, int batch) {
  return std::make_unique<XnnpackConv>(shape, batch);
}

}  // namespace spex::bench
