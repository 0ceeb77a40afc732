// earshot-bridge under systemd's notify protocol, as the unit runs it (Type=notify, WatchdogSec=):
// the real bridge with $NOTIFY_SOCKET naming a datagram socket the test owns, as systemd's would.
// It says READY=1 once it accepts connections, feeds the watchdog from its event loop at half the
// interval while idle, and says STOPPING=1 when SIGTERM starts the drain. Without $NOTIFY_SOCKET
// it sends nothing (every other test runs it so).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kBridge = std::string(EARSHOT_BINARY_DIR) + "/host/earshot-bridge";

// The receiving end of $NOTIFY_SOCKET: one datagram per sd_notify() call.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval poll_step{0, 50 * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &poll_step, sizeof poll_step);
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
    unlink(path_.c_str());
  }
  bool bound() const { return bound_; }
  // The next message, or "" when none comes before `deadline`.
  std::string next(Clock::time_point deadline) {
    char buf[512];
    while (Clock::now() < deadline) {
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n > 0) return std::string(buf, size_t(n));
    }
    return "";
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

bool can_connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

TEST(BridgeNotify, ReadyWhenListeningWatchdogFromTheLoopStoppingOnSigterm) {
  const std::string dir = test::scratch_dir("bridge_notify");
  NotifySocket notify(dir + "/notify.sock");
  ASSERT_TRUE(notify.bound()) << strerror(errno);
  const int port = test::free_port();
  std::ofstream(dir + "/bridge.toml")
      << "[server]\nlisten = \"127.0.0.1\"\nport = " << port
      << "\n[nodes]\nn0 = \"t0\"\n[llm]\nengine = \"echo\"\n[tts]\nengine = \"flite\"\n"
      << "[store]\npath = \"\"\n";
  // 400 ms: pings every 200 ms. WATCHDOG_PID is left out: sd_watchdog_enabled() then accepts any
  // process (systemd sets it to the service's main pid).
  test::Subprocess bridge({kBridge, "--config", dir + "/bridge.toml"}, dir + "/bridge",
                          {{"NOTIFY_SOCKET", dir + "/notify.sock"}, {"WATCHDOG_USEC", "400000"}});

  // The loop may feed the watchdog before main() says READY=1 (systemd takes both in any order).
  std::string message;
  const auto ready_deadline = Clock::now() + 60s;
  do {
    message = notify.next(std::min(ready_deadline, Clock::now() + 1s));
  } while ((message == "WATCHDOG=1" || (message.empty() && bridge.running())) &&
           Clock::now() < ready_deadline);
  ASSERT_EQ(message, "READY=1") << bridge.stderr_text();
  EXPECT_TRUE(can_connect(port)) << "READY=1 before the port listens";

  // Idle, with no connection: the loop's tick alone feeds the watchdog, every half interval (200
  // ms), not on every tick (10 ms). Each ping is waited for with a deadline far above that.
  std::vector<Clock::time_point> pings;
  while (pings.size() < 5) {
    message = notify.next(Clock::now() + 10s);
    ASSERT_EQ(message, "WATCHDOG=1") << "after " << pings.size() << " pings";
    pings.push_back(Clock::now());
  }
  // Four half-intervals at least between the first and the fifth; 300 ms of slack for a test
  // thread that reads the first one late.
  const auto span =
      std::chrono::duration_cast<std::chrono::milliseconds>(pings.back() - pings.front());
  EXPECT_GE(span.count(), 4 * 200 - 300);

  bridge.signal(SIGTERM);
  do {
    message = notify.next(Clock::now() + 10s);
  } while (message == "WATCHDOG=1");
  EXPECT_EQ(message, "STOPPING=1");
  EXPECT_EQ(bridge.wait(20s), 0) << bridge.stderr_text();
}

}  // namespace
}  // namespace earshot
