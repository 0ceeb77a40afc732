// MCP over stdio (specification "basic/transports", stdio): the bridge starts the server as a
// child process; messages are JSON-RPC, one per line, newline-delimited, on its stdin and
// stdout; its stderr is its log (inherited: it lands in the bridge's journal).
//
// The child's stdin is one end of a socketpair rather than a pipe so that writing to a server
// that has died fails with EPIPE (MSG_NOSIGNAL) instead of raising SIGPIPE. No shell is involved:
// command and args go to posix_spawnp as they are.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "host/tools/mcp_transport.h"

extern char** environ;

namespace earshot::host {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxLine = 16 << 20;  // a longer line is a broken server, not a message

class StdioTransport : public McpTransport {
 public:
  explicit StdioTransport(McpServerConfig config) : config_(std::move(config)) {}
  ~StdioTransport() override {
    stopping_ = true;
    {
      std::lock_guard<std::mutex> lock(write_mutex_);
      if (to_child_ >= 0) close(to_child_);  // a well-behaved server exits on end of input
      to_child_ = -1;
    }
    stop_child();
    if (reader_.joinable()) reader_.join();
    if (from_child_ >= 0) close(from_child_);
  }

  bool open(OnMessage on_message, OnClosed on_closed, std::string* error) override {
    on_message_ = std::move(on_message);
    on_closed_ = std::move(on_closed);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return *error = std::string("socketpair: ") + strerror(errno), false;
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) {
      close(sv[0]);
      close(sv[1]);
      return *error = std::string("pipe: ") + strerror(errno), false;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, sv[1], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    std::vector<std::string> argv_text = {config_.command};
    argv_text.insert(argv_text.end(), config_.args.begin(), config_.args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_text)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_text;
    for (char** e = environ; *e; ++e) {
      const std::string entry(*e);
      const std::string key = entry.substr(0, entry.find('='));
      if (!config_.env.count(key)) env_text.push_back(entry);
    }
    for (const auto& [key, value] : config_.env)
      env_text.push_back(key + "=" + value);
    std::vector<char*> envp;
    for (std::string& e : env_text)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    const int rc =
        posix_spawnp(&pid_, config_.command.c_str(), &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(sv[1]);
    close(out[1]);
    if (rc != 0) {
      close(sv[0]);
      close(out[0]);
      pid_ = -1;
      return *error = "cannot start '" + config_.command + "': " + strerror(rc), false;
    }
    to_child_ = sv[0];
    from_child_ = out[0];
    reader_ = std::thread([this] { read_loop(); });
    return true;
  }

  bool send(const std::string& message, const CancelToken& cancel, Clock::time_point deadline,
            std::string* error) override {
    std::lock_guard<std::mutex> lock(write_mutex_);
    if (to_child_ < 0) return *error = "the server is stopped", false;
    const std::string line = message + "\n";
    size_t sent = 0;
    while (sent < line.size()) {
      if (cancel.cancelled()) return *error = "cancelled", false;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return *error = "the server does not read its input", false;
      pollfd p{to_child_, POLLOUT, 0};
      if (poll(&p, 1, int(std::min<int64_t>(left.count(), 50))) <= 0) continue;
      const ssize_t n = ::send(to_child_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return *error = std::string("cannot write to the server: ") + strerror(errno), false;
      sent += size_t(n);
    }
    return true;
  }

 private:
  void read_loop() {
    std::string buffer;
    char chunk[65536];
    std::string why;
    while (!stopping_) {
      pollfd p{from_child_, POLLIN, 0};
      const int ready = poll(&p, 1, 100);  // wakes to notice stopping_
      if (ready < 0 && errno != EINTR) {
        why = std::string("poll: ") + strerror(errno);
        break;
      }
      if (ready <= 0) continue;
      const ssize_t n = read(from_child_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        why = "its output ended";
        break;
      }
      buffer.append(chunk, size_t(n));
      size_t start = 0;
      for (size_t end; (end = buffer.find('\n', start)) != std::string::npos; start = end + 1) {
        std::string_view line(buffer.data() + start, end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty()) on_message_(line);
      }
      buffer.erase(0, start);
      if (buffer.size() > kMaxLine) {
        why = "it wrote a line longer than 16 MB";
        break;
      }
    }
    if (stopping_) return;
    // Report how it ended: give an exiting process a moment to be reaped.
    const int status = reap(Clock::now() + std::chrono::milliseconds(500));
    if (status >= 0) {
      why = WIFSIGNALED(status) ? "it was killed by signal " + std::to_string(WTERMSIG(status))
                                : "it exited with status " + std::to_string(WEXITSTATUS(status));
    }
    on_closed_(why);
  }

  // Waits for the child to exit until `until`; its wait status, or -1 if it is still running.
  int reap(Clock::time_point until) {
    std::lock_guard<std::mutex> lock(child_mutex_);
    if (pid_ < 0) return reaped_status_;
    for (;;) {
      int status = 0;
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        reaped_status_ = r == pid_ ? status : 0;
        pid_ = -1;
        return reaped_status_;
      }
      if (Clock::now() >= until) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling the child's exit
    }
  }

  // Closing its input asks it to exit (the specification's shutdown); then SIGTERM, then SIGKILL.
  void stop_child() {
    if (reap(Clock::now() + std::chrono::milliseconds(500)) >= 0) return;
    {
      std::lock_guard<std::mutex> lock(child_mutex_);
      if (pid_ > 0) kill(pid_, SIGTERM);
    }
    if (reap(Clock::now() + std::chrono::milliseconds(1000)) >= 0) return;
    {
      std::lock_guard<std::mutex> lock(child_mutex_);
      if (pid_ > 0) kill(pid_, SIGKILL);
    }
    reap(Clock::now() + std::chrono::seconds(5));
  }

  const McpServerConfig config_;
  OnMessage on_message_;
  OnClosed on_closed_;
  std::mutex write_mutex_;  // one message at a time on the child's stdin
  int to_child_ = -1;
  int from_child_ = -1;
  std::mutex child_mutex_;  // pid_ and reaping
  pid_t pid_ = -1;
  int reaped_status_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread reader_;
};

}  // namespace

std::unique_ptr<McpTransport> make_mcp_stdio_transport(const McpServerConfig& config) {
  return std::make_unique<StdioTransport>(config);
}

std::unique_ptr<McpTransport> make_mcp_transport(const McpServerConfig& config) {
  return config.command.empty() ? make_mcp_http_transport(config)
                                : make_mcp_stdio_transport(config);
}

}  // namespace earshot::host
