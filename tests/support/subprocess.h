// Runs a program of ours (or a Debian tool) as a child process for process-level tests.
// Output goes to files in a scratch directory so a failing test can print them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace earshot::test {

class Subprocess {
 public:
  // Starts argv[0] (searched in PATH) with the extra environment `env` added to ours.
  // stdout/stderr go to `log_prefix`.out / .err. stdin is /dev/null unless `stdin_file` is set.
  Subprocess(std::vector<std::string> argv, std::string log_prefix,
             std::map<std::string, std::string> env = {}, std::string stdin_file = "");
  ~Subprocess();  // SIGKILLs and reaps the child if still running
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit up to `timeout`; returns the exit status (WEXITSTATUS, or 128+signal), or -1 on
  // timeout (the child is left running).
  int wait(std::chrono::milliseconds timeout);
  std::string stdout_text() const;
  std::string stderr_text() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_prefix_;
};

// Runs to completion; returns the exit status (or -1 on timeout, after killing it).
int run_command(const std::vector<std::string>& argv, const std::string& log_prefix,
                std::chrono::milliseconds timeout = std::chrono::seconds(60),
                std::string* out = nullptr);

// Polls `condition` every 5 ms until it is true or `timeout` passes. This waits on a condition,
// never for a fixed time: the test goes on the moment the condition holds.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

// An IPv4 address of this machine that is not loopback, or "" if it has none: to reach a server
// listening on 0.0.0.0 as another machine would (the peer address is then not 127.x).
std::string non_loopback_address();

std::string read_file(const std::string& path);

// The machine an ELF file is for (its e_machine: EM_X86_64, EM_AARCH64...), or -1 when `path` is
// not an ELF file. "/proc/self/exe" gives this test's own (under qemu-user too).
int elf_machine(const std::string& path);

}  // namespace earshot::test
