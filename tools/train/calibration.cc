#include "tools/train/calibration.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/model/confidence.h"
#include "common/model/exit_rule.h"
#include "tools/common/text_file.h"

namespace spex {
namespace {

constexpr int kSteps = 200;

std::string XmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

PolicyPoint EvaluatePolicy(const Predictions& p, int exit,
                           v1::ConfidenceMeasure measure, double threshold,
                           const CostModel& cost) {
  PolicyPoint point;
  point.threshold = threshold;
  int exited = 0, exit_correct = 0, overall_correct = 0, full_correct = 0;
  double d_sum = 0, d_square = 0;
  int disagreeing = 0;
  for (int i = 0; i < p.samples; ++i) {
    const auto probs = absl::MakeConstSpan(
        &p.exit_probs[exit][static_cast<size_t>(i) * p.classes], p.classes);
    const bool leaves = ReachesThreshold(Confidence(measure, probs), threshold);
    const bool final_right = p.FinalLabel(i) == p.labels[i];
    const bool exit_right = p.ExitLabel(exit, i) == p.labels[i];
    full_correct += final_right;
    const bool right = leaves ? exit_right : final_right;
    overall_correct += right;
    if (leaves) {
      ++exited;
      exit_correct += exit_right;
      disagreeing += p.ExitLabel(exit, i) != p.FinalLabel(i);
    }
    const double d = static_cast<double>(final_right) - right;
    d_sum += d;
    d_square += d * d;
  }
  const double n = p.samples;
  point.exit_fraction = exited / n;
  point.exit_accuracy =
      exited > 0 ? static_cast<double>(exit_correct) / exited : 1.0;
  point.overall_accuracy = overall_correct / n;
  point.drop = (full_correct - overall_correct) / n;
  const double mean = d_sum / n;
  point.drop_stderr = std::sqrt(std::max(0.0, d_square / n - mean * mean) / n);
  point.loss = disagreeing / n;
  point.loss_stderr = std::sqrt(point.loss * (1 - point.loss) / n);
  point.edge_macs_per_sample = static_cast<double>(cost.edge_macs);
  point.bytes_sent_per_sample = (1.0 - point.exit_fraction) * cost.split_bytes;
  return point;
}

Sweep SweepThresholds(const Predictions& p, int exit,
                      v1::ConfidenceMeasure measure, const CostModel& cost) {
  Sweep sweep;
  sweep.measure = measure;
  sweep.full_accuracy = p.FinalAccuracy();
  sweep.exit_accuracy = p.ExitAccuracy(exit);
  for (int s = 0; s <= kSteps; ++s) {
    sweep.points.push_back(EvaluatePolicy(
        p, exit, measure, static_cast<double>(s) / kSteps, cost));
  }
  return sweep;
}

absl::StatusOr<CalibrationChoice> ChooseThreshold(
    const std::vector<Sweep>& sweeps, int validation_samples,
    const CalibrationTarget& target) {
  if ((target.max_drop_points >= 0) + (target.max_loss_points >= 0) +
          (target.exit_fraction >= 0) !=
      1) {
    return absl::InvalidArgumentError(
        "give exactly one target: a maximum accuracy drop, a maximum loss "
        "against the full network or an exit fraction");
  }
  if (!std::isfinite(target.z) || target.z < 0 || target.judged_samples < 1) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "margin z %g must be finite and >= 0, judged samples %d at least 1",
        target.z, target.judged_samples));
  }
  // The drop measured on validation is off from the truth by about its
  // standard error, and the judging set's measurement by about as much
  // again, scaled by the sizes: z * stderr * sqrt(1 + n_val / n_judged).
  const double noise = std::sqrt(1.0 + static_cast<double>(validation_samples) /
                                           target.judged_samples);
  bool found = false;
  CalibrationChoice best;
  for (const Sweep& sweep : sweeps) {
    for (const PolicyPoint& point : sweep.points) {
      const double margin = target.z *
                            (target.max_loss_points >= 0 ? point.loss_stderr
                                                         : point.drop_stderr) *
                            noise;
      bool ok;
      if (target.max_drop_points >= 0) {
        ok = point.drop + margin <= target.max_drop_points / 100.0;
      } else if (target.max_loss_points >= 0) {
        ok = point.loss + margin <= target.max_loss_points / 100.0;
      } else {
        ok = point.exit_fraction <= target.exit_fraction;
      }
      // Most samples exiting wins; among equals, the higher threshold.
      if (ok &&
          (!found || point.exit_fraction > best.validation.exit_fraction)) {
        best = {sweep.measure, point, margin};
        found = true;
      }
    }
  }
  if (!found) {
    return absl::NotFoundError("no threshold meets the target on validation");
  }
  return best;
}

absl::Status WriteSweepCsv(const std::string& path, const Sweep& sweep) {
  std::string csv =
      "threshold,exit_fraction,exit_accuracy,overall_accuracy,"
      "edge_macs_per_sample,bytes_sent_per_sample\n";
  for (const PolicyPoint& p : sweep.points) {
    absl::StrAppendFormat(&csv, "%.3f,%.5f,%.5f,%.5f,%.0f,%.2f\n", p.threshold,
                          p.exit_fraction, p.exit_accuracy, p.overall_accuracy,
                          p.edge_macs_per_sample, p.bytes_sent_per_sample);
  }
  return WriteTextFile(path, csv);
}

absl::Status WriteTradeOffSvg(const std::string& path, const std::string& title,
                              const std::vector<Sweep>& sweeps,
                              const CalibrationChoice& choice) {
  const double width = 720, height = 460;
  const double left = 70, right = 230, top = 50, bottom = 60;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  // Accuracy axis: from just below the exit alone to just above the full
  // network, in whole points.
  double lo = 1.0, hi = 0.0;
  for (const Sweep& s : sweeps) {
    lo = std::min({lo, s.exit_accuracy, s.full_accuracy});
    hi = std::max(hi, s.full_accuracy);
    for (const PolicyPoint& p : s.points) {
      lo = std::min(lo, p.overall_accuracy);
      hi = std::max(hi, p.overall_accuracy);
    }
  }
  lo = std::floor(lo * 100 - 0.5) / 100;
  hi = std::ceil(hi * 100 + 0.5) / 100;
  const auto px = [&](double offload) { return left + offload * plot_w; };
  const auto py = [&](double accuracy) {
    return top + (hi - accuracy) / (hi - lo) * plot_h;
  };
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
      "height=\"%.0f\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%.0f\" y=\"24\" font-size=\"15\" "
      "font-weight=\"bold\">%s</text>\n",
      width, height, left, XmlEscape(title));
  // Grid and ticks.
  for (int t = 0; t <= 10; ++t) {
    const double x = px(t / 10.0);
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
        "stroke=\"#e5e5e5\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
        "text-anchor=\"middle\">%d%%</text>\n",
        x, top, x, top + plot_h, x, top + plot_h + 16, t * 10);
  }
  const int y_steps = static_cast<int>(std::lround((hi - lo) * 100));
  const int y_every = std::max(1, y_steps / 10);
  for (int t = 0; t <= y_steps; t += y_every) {
    const double a = lo + t / 100.0;
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
        "stroke=\"#e5e5e5\"/>\n<text x=\"%.1f\" y=\"%.1f\" "
        "text-anchor=\"end\">%.0f%%</text>\n",
        left, py(a), left + plot_w, py(a), left - 6, py(a) + 4, a * 100);
  }
  absl::StrAppendFormat(
      &svg,
      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
      "fill=\"none\" "
      "stroke=\"#333\"/>\n"
      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">samples sent to the "
      "cloud (1 - exit fraction)</text>\n"
      "<text transform=\"translate(18 %.1f) rotate(-90)\" "
      "text-anchor=\"middle\">overall accuracy (validation)</text>\n",
      left, top, plot_w, plot_h, left + plot_w / 2, height - 14,
      top + plot_h / 2);
  // The full network: what offloading everything gives.
  const double full = sweeps.front().full_accuracy;
  absl::StrAppendFormat(&svg,
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                        "stroke=\"#555\" stroke-dasharray=\"6 4\"/>\n",
                        left, py(full), left + plot_w, py(full));
  const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c"};
  double legend_y = top + 10;
  for (size_t s = 0; s < sweeps.size(); ++s) {
    std::string points;
    for (const PolicyPoint& p : sweeps[s].points) {
      absl::StrAppendFormat(&points, "%.1f,%.1f ", px(1 - p.exit_fraction),
                            py(p.overall_accuracy));
    }
    absl::StrAppendFormat(
        &svg,
        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
        "points=\"%s\"/>\n",
        colours[s % 3], points);
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
        "stroke=\"%s\" stroke-width=\"2\"/>\n<text x=\"%.1f\" "
        "y=\"%.1f\">%s</text>\n",
        left + plot_w + 12, legend_y, left + plot_w + 32, legend_y,
        colours[s % 3], left + plot_w + 38, legend_y + 4,
        std::string(ConfidenceMeasureName(sweeps[s].measure)));
    legend_y += 20;
  }
  absl::StrAppendFormat(
      &svg,
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
      "stroke-dasharray=\"6 4\"/>\n<text x=\"%.1f\" y=\"%.1f\">full network "
      "%.2f%%</text>\n",
      left + plot_w + 12, legend_y, left + plot_w + 32, legend_y,
      left + plot_w + 38, legend_y + 4, full * 100);
  legend_y += 20;
  const PolicyPoint& c = choice.validation;
  // The chosen point on its curve, and in the legend.
  absl::StrAppendFormat(
      &svg,
      "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"none\" stroke=\"black\" "
      "stroke-width=\"2\"/>\n<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" "
      "fill=\"none\" stroke=\"black\" stroke-width=\"2\"/>\n",
      px(1 - c.exit_fraction), py(c.overall_accuracy), left + plot_w + 22,
      legend_y);
  const std::string lines[] = {
      "chosen:",
      absl::StrFormat("%s &gt;= %.3f", ConfidenceMeasureName(choice.measure),
                      c.threshold),
      absl::StrFormat("%.1f%% exit, %.2f%% accuracy", c.exit_fraction * 100,
                      c.overall_accuracy * 100)};
  for (int i = 0; i < 3; ++i) {
    absl::StrAppendFormat(&svg, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                          left + plot_w + 38, legend_y + 4 + 16 * i, lines[i]);
  }
  svg += "</svg>\n";
  return WriteTextFile(path, svg);
}

}  // namespace spex
