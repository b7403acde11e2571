"""scripts/example-tabular.sh, run as a user runs it, checked.

The wine model trained from CSV files is served by spex-cloud and spex-edge:
every test row answered once, the served accuracy and the share answered on
the device equal what spex-train calibrate measured in process on the same
rows, and both paths (device and cloud) answer. The breast cancer model
trained from an .npz classifies its test samples far better than chance.

Usage: tabular_example_test.py BUILD_DIR SOURCE_DIR
"""
import json
import subprocess
import sys
import tempfile


def main():
    build, source = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([source + "/scripts/example-tabular.sh", "--build",
                        build, "--out", out], check=True)
        with open(out + "/summary.json") as f:
            summary = json.load(f)
        with open(out + "/wine.calibration.json") as f:
            calibrated = json.load(f)["test"]
        with open(out + "/wine-test.csv") as f:
            rows = sum(1 for line in f if line.strip()) - 1
        with open(out + "/breast-cancer.report.json") as f:
            cancer = json.load(f)
    failures = []
    if summary["answered"] != rows or summary["refused"] != 0:
        failures.append("answered %d of %d rows (refused %d)" % (
            summary["answered"], rows, summary["refused"]))
    if abs(summary["accuracy"] - calibrated["overall_accuracy"]) > 1e-3:
        failures.append("served accuracy %.4f, calibrate measured %.4f" % (
            summary["accuracy"], calibrated["overall_accuracy"]))
    local = summary["path_fraction"]["local"]
    if abs(local - calibrated["exit_fraction"]) > 1e-3:
        failures.append("answered on the device %.4f, calibrate measured "
                        "%.4f" % (local, calibrated["exit_fraction"]))
    if local == 0 or summary["path_fraction"]["cloud"] == 0:
        failures.append("one path answered nothing: %s" %
                        summary["path_fraction"])
    if calibrated["overall_accuracy"] < 0.85:
        failures.append("wine test accuracy %.4f < 0.85" %
                        calibrated["overall_accuracy"])
    if cancer["final_test_accuracy"] < 0.85:
        failures.append("breast cancer test accuracy %.4f < 0.85" %
                        cancer["final_test_accuracy"])
    print("wine: %d rows served, accuracy %.4f (calibrate %.4f), on the device "
          "%.4f; breast cancer (.npz): test accuracy %.4f" % (
              summary["answered"], summary["accuracy"],
              calibrated["overall_accuracy"], local,
              cancer["final_test_accuracy"]))
    for failure in failures:
        print("FAIL:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
