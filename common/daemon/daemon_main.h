// What spex-cloud's and spex-edge's main() share: Abseil flags with a
// --help that lists the daemon's own flags, signals taken by sigwait (never
// by a handler), the port file that scripts using port 0 read, and the
// loop that turns SIGHUP into a reload and SIGTERM/SIGINT into a drain.
#ifndef SPEX_COMMON_DAEMON_DAEMON_MAIN_H_
#define SPEX_COMMON_DAEMON_DAEMON_MAIN_H_

#include <functional>
#include <string>

namespace spex {

// Parses the command line. --help lists the flags defined in a source file
// whose path ends with `flags_file` (Abseil's default looks for a file
// named after the program) and those the daemons share
// (common/daemon/*_flags.cc). Blocks SIGTERM, SIGINT and SIGHUP in this
// thread, so that every thread started later inherits the mask and
// WaitForSignals receives them. Turns off Abseil's Mutex deadlock detection
// (a global lock graph updated on every lock: tests only).
void ParseDaemonFlags(int argc, char** argv, const char* usage,
                      const char* flags_file);

// Blocks SIGTERM, SIGINT and SIGHUP in this thread (ParseDaemonFlags does
// it for the daemons): call before starting threads, so that they inherit
// the mask and WaitForSignals receives the signals.
void BlockDaemonSignals();

// Writes "<port>\n<metrics_port>\n" through a temporary file and a rename,
// so a reader never sees half of it. False on failure.
bool WritePortFile(const std::string& path, int port, int metrics_port);

// Until SIGTERM or SIGINT: calls `reload` on each SIGHUP, and once a second
// hands memory freed after a burst back to the system (memory_returner.h).
// Then calls `shutdown` and returns (main returns 0 after it).
void WaitForSignals(const std::function<void()>& reload,
                    const std::function<void()>& shutdown);

}  // namespace spex

#endif  // SPEX_COMMON_DAEMON_DAEMON_MAIN_H_
