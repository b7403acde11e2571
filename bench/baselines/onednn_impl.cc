// oneDNN 2.6 inner product, forward inference, used as its documentation
// advises: the primitive picks its weights layout (format_tag::any) and the
// weights are reordered into it once, outside the timed loop. One thread
// (scripts/bench.sh sets OMP_NUM_THREADS=1).
#include <dnnl.hpp>

#include "absl/status/status.h"
#include "bench/layer_problem.h"

namespace spex::bench {
namespace {

using dnnl::memory;

class OneDnnImpl : public LayerImpl {
 public:
  explicit OneDnnImpl(const LayerProblem& p)
      : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    const JunctionSpec& spec = p.pattern.spec();
    n_in_ = spec.n_in;
    n_out_ = spec.n_out;
    batch_ = p.batch;
    const memory::dims src_dims = {batch_, n_in_};
    const memory::dims weights_dims = {n_out_, n_in_};
    const memory::dims bias_dims = {n_out_};
    const memory::dims dst_dims = {batch_, n_out_};
    const auto f32 = memory::data_type::f32;
    const memory::desc src_md(src_dims, f32, memory::format_tag::nc);
    const memory::desc weights_any(weights_dims, f32, memory::format_tag::any);
    const memory::desc bias_md(bias_dims, f32, memory::format_tag::x);
    const memory::desc dst_md(dst_dims, f32, memory::format_tag::nc);
    const dnnl::inner_product_forward::primitive_desc pd(
        dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_inference,
                                          src_md, weights_any, bias_md, dst_md),
        engine_);
    primitive_ = dnnl::inner_product_forward(pd);

    src_ = memory(src_md, engine_);
    dst_ = memory(dst_md, engine_);
    bias_ = memory(bias_md, engine_);
    std::vector<float> dense = p.DenseWeights();
    memory user_weights({weights_dims, f32, memory::format_tag::oi}, engine_,
                        dense.data());
    weights_ = memory(pd.weights_desc(), engine_);
    dnnl::reorder(user_weights, weights_)
        .execute(stream_, user_weights, weights_);
    std::copy(p.bias.begin(), p.bias.end(),
              static_cast<float*>(bias_.get_data_handle()));
    float* src = static_cast<float*>(src_.get_data_handle());
    std::fill(src, src + static_cast<size_t>(batch_) * n_in_, 0.5f);
    stream_.wait();
  }

  void Run() override {
    primitive_.execute(stream_, {{DNNL_ARG_SRC, src_},
                                 {DNNL_ARG_WEIGHTS, weights_},
                                 {DNNL_ARG_BIAS, bias_},
                                 {DNNL_ARG_DST, dst_}});
    stream_.wait();
  }
  size_t BytesPerCall() const override {
    return (static_cast<size_t>(n_out_) * n_in_ + n_out_ +
            static_cast<size_t>(batch_) * (n_in_ + n_out_)) *
           sizeof(float);
  }
  double MacsPerCall() const override {
    return static_cast<double>(n_out_) * n_in_ * batch_;
  }

 private:
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::inner_product_forward primitive_;
  memory src_, weights_, bias_, dst_;
  memory::dim n_in_ = 0, n_out_ = 0, batch_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LayerImpl>> MakeOneDnnImpl(
    const LayerProblem& p) {
  try {
    return std::make_unique<OneDnnImpl>(p);
  } catch (const dnnl::error& e) {
    return absl::InternalError(std::string("oneDNN: ") + e.what());
  }
}

}  // namespace spex::bench
