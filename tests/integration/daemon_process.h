// The one way tests start a daemon (spex-cloud, spex-edge): the real binary,
// in its own process, on loopback with ports the kernel picks (port 0, read
// back through --port_file: its first line is the daemon's gRPC port, its
// second the metrics port). Its stderr goes to a file the test can read.
#ifndef SPEX_TESTS_INTEGRATION_DAEMON_PROCESS_H_
#define SPEX_TESTS_INTEGRATION_DAEMON_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/grpcpp.h"

namespace spex {

class DaemonProcess {
 public:
  // Starts `binary` with `flags` plus the metrics and port-file flags, and
  // waits (up to 30 s) until it serves. ok() is false, and log() says why,
  // when it exits or does not come up.
  DaemonProcess(const std::string& binary, const std::string& work_dir,
                std::vector<std::string> flags)
      : port_file_(work_dir + "/spex_daemon_ports." +
                   std::to_string(::getpid()) + "." +
                   std::to_string(counter_++)),
        log_file_(port_file_ + ".log") {
    ::unlink(port_file_.c_str());
    std::vector<std::string> args = {binary, "--metrics_listen=127.0.0.1:0",
                                     "--port_file=" + port_file_};
    args.insert(args.end(), flags.begin(), flags.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      const int log =
          ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(log, 2);
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(port_file_);
      if (in >> port_ >> metrics_port_) return;
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  ~DaemonProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  bool ok() const { return pid_ > 0 && port_ > 0; }
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }

  void Signal(int signal) const { ::kill(pid_, signal); }

  // Waits for the process to exit (up to `seconds`); its exit code, or -1
  // when it was killed by a signal or had to be.
  int WaitForExit(int seconds = 30) {
    if (pid_ <= 0) return exit_code_;
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) != pid_) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }

  // What the process wrote to stderr so far.
  std::string log() const {
    std::ifstream in(log_file_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::shared_ptr<grpc::Channel> Channel(
      std::shared_ptr<grpc::ChannelCredentials> credentials =
          grpc::InsecureChannelCredentials(),
      const grpc::ChannelArguments& arguments = {}) const {
    return grpc::CreateCustomChannel(address(), credentials, arguments);
  }

 private:
  static inline int counter_ = 0;
  std::string port_file_;
  std::string log_file_;
  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
  int exit_code_ = -1;
};

// spex-cloud on an ephemeral loopback port (flags may override --listen).
class CloudProcess : public DaemonProcess {
 public:
  CloudProcess(const std::string& binary, const std::string& work_dir,
               std::vector<std::string> flags)
      : DaemonProcess(binary, work_dir, WithListen(std::move(flags))) {}

 private:
  static std::vector<std::string> WithListen(std::vector<std::string> flags) {
    flags.insert(flags.begin(), "--listen=127.0.0.1:0");
    return flags;
  }
};

}  // namespace spex

#endif  // SPEX_TESTS_INTEGRATION_DAEMON_PROCESS_H_
