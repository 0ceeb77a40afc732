// earshot-fault-proxy as tests use it: the real binary between a client socket of the test and a
// loopback server in the test (echo or sink), driven through its stdin (a FIFO). Each test shows
// one point of its contract; waits are on conditions or socket timeouts, never fixed sleeps.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;
using test::Subprocess;

const std::string kProxy = std::string(EARSHOT_BINARY_DIR) + "/tools/earshot-fault-proxy";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  if (!text.empty() && text.back() != '\n') lines.pop_back();  // still being written
  return lines;
}

// ---- The server behind the proxy ----

// Accepts any number of connections on 127.0.0.1 and either echoes what it reads (kEcho) or only
// keeps it (kSink). Records, per connection in accept order, the bytes received and how it ended.
class LoopbackServer {
 public:
  enum class Kind { kEcho, kSink };

  explicit LoopbackServer(Kind kind) : kind_(kind) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listener_, 16) ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || pipe(wake_) != 0)
      ADD_FAILURE() << "loopback server: " << strerror(errno);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    (void)!write(wake_[1], "x", 1);
    thread_.join();
    for (auto& p : peers_)
      if (p.fd >= 0) close(p.fd);
    close(listener_);
    close(wake_[0]);
    close(wake_[1]);
  }

  int port() const { return port_; }
  size_t connections() {
    std::lock_guard<std::mutex> lock(mu_);
    return peers_.size();
  }
  std::string received(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return i < peers_.size() ? peers_[i].received : "";
  }
  bool ended(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return i < peers_.size() && peers_[i].fd < 0;
  }
  bool ended_by_reset(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return i < peers_.size() && peers_[i].reset;
  }
  // A server that stops reading: its receive buffer fills and the proxy must stop too.
  void pause_reading(bool paused) {
    paused_ = paused;
    (void)!write(wake_[1], "x", 1);
  }

 private:
  struct Peer {
    int fd = -1;
    std::string received, echo;  // echo: read, not yet written back
    bool reset = false;
  };

  void loop() {
    std::vector<pollfd> fds;
    while (!stop_) {
      fds.clear();
      fds.push_back({wake_[0], POLLIN, 0});
      fds.push_back({listener_, POLLIN, 0});
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& p : peers_) {
          short events = !paused_ && p.echo.size() < (1 << 20) ? POLLIN : 0;
          if (!p.echo.empty()) events |= POLLOUT;
          fds.push_back({p.fd, events, 0});  // fd -1 once ended: poll skips it
        }
      }
      if (poll(fds.data(), fds.size(), -1) < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      char drain[16];
      if (fds[0].revents & POLLIN) (void)!read(wake_[0], drain, sizeof drain);
      if (fds[1].revents & POLLIN) {
        int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK);
        if (fd >= 0) {
          peers_.emplace_back();
          peers_.back().fd = fd;
        }
      }
      for (size_t i = 2; i < fds.size(); ++i)
        serve(peers_[i - 2], fds[i].revents);
    }
  }

  void serve(Peer& p, short revents) {
    if (p.fd < 0 || !revents) return;
    if ((revents & (POLLIN | POLLHUP | POLLERR)) && !paused_) {
      char buf[65536];
      ssize_t n = recv(p.fd, buf, sizeof buf, 0);
      if (n > 0) {
        p.received.append(buf, size_t(n));
        if (kind_ == Kind::kEcho) p.echo.append(buf, size_t(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        p.reset = n < 0 && errno == ECONNRESET;
        close(p.fd);
        p.fd = -1;
        return;
      }
    }
    if (!p.echo.empty()) {
      ssize_t n = send(p.fd, p.echo.data(), p.echo.size(), MSG_NOSIGNAL);
      if (n > 0) p.echo.erase(0, size_t(n));
    }
  }

  Kind kind_;
  int listener_ = -1, port_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false}, paused_{false};
  std::mutex mu_;
  std::vector<Peer> peers_;
  std::thread thread_;
};

// ---- The proxy process ----

// earshot-fault-proxy in front of `target_port`, its stdin a FIFO the test writes commands to.
class ProxyProcess {
 public:
  ProxyProcess(const std::string& name, int target_port, std::vector<std::string> extra = {}) {
    dir_ = test::scratch_dir(name);
    std::string fifo = dir_ + "/control";
    EXPECT_EQ(mkfifo(fifo.c_str(), 0600), 0) << strerror(errno);
    // O_RDWR never blocks on a FIFO (Linux), and the proxy's O_RDONLY open then finds a writer.
    control_ = open(fifo.c_str(), O_RDWR | O_CLOEXEC);
    std::vector<std::string> argv = {kProxy, "--listen-port", "0", "--target",
                                     "127.0.0.1:" + std::to_string(target_port)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<Subprocess>(argv, dir_ + "/proxy",
                                            std::map<std::string, std::string>{}, fifo);
    const std::string marker = "listening on port ";
    bool up = test::wait_until(
        [&] {
          for (auto& line : lines_of(process_->stdout_text()))
            if (line.rfind(marker, 0) == 0) port_ = std::stoi(line.substr(marker.size()));
          return port_ > 0;
        },
        5s);
    EXPECT_TRUE(up) << process_->stderr_text();
  }
  ~ProxyProcess() { close(control_); }

  int port() const { return port_; }
  Subprocess& process() { return *process_; }
  std::vector<std::string> output() const { return lines_of(process_->stdout_text()); }

  // Writes one command line and returns the proxy's reply ("ok ..." / "error ..."), which it
  // prints once the command has taken effect; "" if none came.
  std::string command(const std::string& line) {
    size_t before = output().size();
    std::string text = line + "\n";
    EXPECT_EQ(write(control_, text.data(), text.size()), ssize_t(text.size()));
    std::string reply;
    test::wait_until(
        [&] {
          auto lines = output();
          if (lines.size() > before) reply = lines[before];
          return !reply.empty();
        },
        5s);
    EXPECT_FALSE(reply.empty()) << "no reply to '" << line
                                << "'; stderr: " << process_->stderr_text();
    return reply;
  }

 private:
  std::string dir_;
  int control_ = -1;
  int port_ = 0;
  std::unique_ptr<Subprocess> process_;
};

// ---- The client side ----

int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(uint16_t(port));
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << strerror(errno);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// A client socket that is closed at the end of the test.
struct Client {
  int fd;
  explicit Client(int port) : fd(connect_to(port)) {}
  ~Client() { close(fd); }
  void send_text(const std::string& bytes) {
    EXPECT_EQ(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), ssize_t(bytes.size()))
        << strerror(errno);
  }
  // Reads until `want` bytes came, the connection ended or `timeout` passed.
  std::string receive(size_t want, Millis timeout) {
    std::string got;
    auto deadline = Clock::now() + timeout;
    while (got.size() < want) {
      auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, int(left)) <= 0) break;
      char buf[65536];
      ssize_t n = recv(fd, buf, std::min(sizeof buf, want - got.size()), 0);
      if (n <= 0) break;
      got.append(buf, size_t(n));
    }
    return got;
  }
  // Sends `text` and returns how long its echo took to come back, or -1 ms.
  Millis round_trip(const std::string& text) {
    auto start = Clock::now();
    send_text(text);
    if (receive(text.size(), 5s) != text) return Millis(-1);
    return std::chrono::duration_cast<Millis>(Clock::now() - start);
  }
  // How the connection ends within `timeout`, ignoring data: "reset" (recv fails with
  // ECONNRESET), "closed" (orderly EOF), "open" (neither), or "error <errno text>".
  std::string end(Millis timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || poll(&p, 1, int(left)) <= 0) return "open";
      char buf[4096];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n == 0) {
        // An RST right after a FIN: the next send or recv reports it.
        if (send(fd, "x", 1, MSG_NOSIGNAL) < 0 && errno == ECONNRESET) return "reset";
        return recv(fd, buf, sizeof buf, MSG_DONTWAIT) < 0 && errno == ECONNRESET ? "reset"
                                                                                  : "closed";
      }
      if (n < 0) return errno == ECONNRESET ? "reset" : std::string("error ") + strerror(errno);
    }
  }
};

int local_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// Bytes the kernel holds (send and receive queues) on the established loopback sockets between a
// client on `client_port`, the proxy on `proxy_port` and the server on `server_port`, read from
// /proc/net/tcp. What the client sent minus this is what the proxy process itself holds.
size_t kernel_queued_between(int client_port, int proxy_port, int server_port) {
  std::istringstream in(test::read_file("/proc/net/tcp"));
  size_t total = 0;
  for (std::string line; std::getline(in, line);) {
    unsigned local_ip, local, remote_ip, remote, state;
    unsigned long tx, rx;
    if (sscanf(line.c_str(), " %*d: %x:%x %x:%x %x %lx:%lx", &local_ip, &local, &remote_ip, &remote,
               &state, &tx, &rx) != 7 ||
        state != 1)  // ESTABLISHED
      continue;
    int lp = int(local), rp = int(remote);
    if ((lp == client_port && rp == proxy_port) || (lp == proxy_port && rp == client_port) ||
        lp == server_port || rp == server_port)
      total += tx + rx;
  }
  return total;
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string bytes(n, '\0');
  for (auto& b : bytes)
    b = char(rng() & 0xff);
  return bytes;
}

// ---- Tests ----

TEST(FaultProxy, PassCarriesAMegabyteBothWaysByteExactAndExitsCleanlyOnSigterm) {
  LoopbackServer server(LoopbackServer::Kind::kEcho);
  ProxyProcess proxy("fault_proxy_pass", server.port());
  ASSERT_GT(proxy.port(), 0);
  Client client(proxy.port());
  const std::string data = random_bytes(1 << 20, 1);

  // Send and receive at once: the echo comes back while we still send, through 1 MiB buffers.
  fcntl(client.fd, F_SETFL, O_NONBLOCK);
  std::string back;
  size_t sent = 0;
  auto deadline = Clock::now() + 10s;
  while (back.size() < data.size() && Clock::now() < deadline) {
    pollfd p{client.fd, short(POLLIN | (sent < data.size() ? POLLOUT : 0)), 0};
    ASSERT_GE(poll(&p, 1, 1000), 0);
    if (p.revents & POLLOUT) {
      ssize_t n = send(client.fd, data.data() + sent, std::min<size_t>(65536, data.size() - sent),
                       MSG_NOSIGNAL);
      if (n > 0) sent += size_t(n);
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      ssize_t n = recv(client.fd, buf, sizeof buf, 0);
      ASSERT_NE(n, 0) << "proxy closed the connection after " << back.size() << " bytes";
      if (n > 0) back.append(buf, size_t(n));
    }
  }
  ASSERT_EQ(back.size(), data.size());
  EXPECT_TRUE(back == data) << "the echo differs from what was sent";
  EXPECT_TRUE(server.received(0) == data);

  // A bad command is refused and changes nothing, not even the part that parsed.
  EXPECT_EQ(proxy.command("delay 5000 soon").rfind("error ", 0), 0u);
  EXPECT_EQ(proxy.command("delay 5000 1 2").rfind("error ", 0), 0u);
  EXPECT_EQ(proxy.command("teleport").rfind("error ", 0), 0u);
  fcntl(client.fd, F_SETFL, 0);
  Millis rtt = client.round_trip("still passing");
  EXPECT_GE(rtt.count(), 0);
  EXPECT_LT(rtt.count(), 2000) << "a refused delay command delayed";

  proxy.process().signal(SIGTERM);
  EXPECT_EQ(proxy.process().wait(5s), 0);
  std::string counts = proxy.process().stderr_text();
  EXPECT_NE(counts.find("connections 1 "), std::string::npos) << counts;
  EXPECT_NE(counts.find("bytes to server 1048589,"), std::string::npos) << counts;
}

TEST(FaultProxy, StalledServerPushesBackInsteadOfGrowingTheProxy) {
  LoopbackServer server(LoopbackServer::Kind::kSink);
  server.pause_reading(true);
  ProxyProcess proxy("fault_proxy_backpressure", server.port());
  Client client(proxy.port());
  ASSERT_TRUE(test::wait_until([&] { return server.connections() == 1; }, 2s));
  const std::string data = random_bytes(24 << 20, 3);

  // Send until nothing more goes for 300 ms: every buffer on the way is full.
  fcntl(client.fd, F_SETFL, O_NONBLOCK);
  size_t sent = 0;
  auto send_some = [&] {
    ssize_t n = send(client.fd, data.data() + sent, std::min<size_t>(65536, data.size() - sent),
                     MSG_NOSIGNAL);
    if (n > 0) sent += size_t(n);
    return n > 0 || errno != EAGAIN;
  };
  for (;;) {
    if (send_some() && sent < data.size()) continue;
    pollfd p{client.fd, POLLOUT, 0};
    if (sent == data.size() || poll(&p, 1, 300) == 0) break;
  }
  // The proxy queues at most 1 MiB per direction, plus the one 64 KiB read that crossed it.
  // (Its RSS would say the same in a plain build, not under ASan's quarantine.)
  size_t in_kernel = kernel_queued_between(local_port(client.fd), proxy.port(), server.port());
  ASSERT_LE(in_kernel, sent);
  EXPECT_LE(sent - in_kernel, size_t((1 << 20) + (64 << 10)))
      << "the proxy holds " << sent - in_kernel << " bytes (client sent " << sent
      << ", kernel queues " << in_kernel << ")";

  // Once the server reads again, everything arrives, in order.
  server.pause_reading(false);
  auto deadline = Clock::now() + 10s;
  while (sent < data.size() && Clock::now() < deadline) {
    if (send_some()) continue;
    pollfd p{client.fd, POLLOUT, 0};
    poll(&p, 1, 1000);
  }
  EXPECT_TRUE(test::wait_until([&] { return server.received(0).size() == data.size(); }, 10s))
      << server.received(0).size() << " of " << data.size();
  EXPECT_TRUE(server.received(0) == data);
}

TEST(FaultProxy, DelayHoldsEachChunkAndKeepsOrderUnderJitter) {
  LoopbackServer server(LoopbackServer::Kind::kEcho);
  ProxyProcess proxy("fault_proxy_delay", server.port());
  Client client(proxy.port());
  ASSERT_GE(client.round_trip("warm").count(), 0);

  // The mode applies to a connection already open. Each leg waits 200 ms: a round trip >= 400.
  ASSERT_EQ(proxy.command("delay 200"), "ok delay 200");
  Millis rtt = client.round_trip("ping");
  EXPECT_GE(rtt.count(), 400);
  EXPECT_LT(rtt.count(), 3000);

  // Numbered records sent one by one, 2 ms apart: with 0..80 ms of jitter per chunk, a proxy that
  // released chunks by due time alone would reorder them.
  ASSERT_EQ(proxy.command("delay 10 80"), "ok delay 10 80");
  std::string sent, back;
  for (int i = 0; i < 60; ++i) {
    char record[8];
    snprintf(record, sizeof record, "#%04d;", i);
    sent += record;
    client.send_text(record);
    back += client.receive(sent.size() - back.size(), 2ms);  // also paces the sends
  }
  back += client.receive(sent.size() - back.size(), 5s);
  EXPECT_EQ(back, sent);
}

TEST(FaultProxy, BlackholeSwallowsBothWaysUntilPass) {
  LoopbackServer server(LoopbackServer::Kind::kEcho);
  ProxyProcess proxy("fault_proxy_blackhole", server.port());
  Client a(proxy.port());
  ASSERT_GE(a.round_trip("hello").count(), 0);

  ASSERT_EQ(proxy.command("blackhole"), "ok blackhole");
  a.send_text("lost");
  Client b(proxy.port());  // accepted, and swallowed too
  b.send_text("lost too");
  EXPECT_EQ(a.receive(1, 500ms), "");
  EXPECT_EQ(b.receive(1, 1ms), "");
  EXPECT_EQ(server.received(0), "hello") << "bytes crossed a blackhole";
  EXPECT_EQ(server.connections(), 1u) << "a blackholed client reached the server";

  // Same connection, new bytes flow; the swallowed ones stay gone.
  ASSERT_EQ(proxy.command("pass"), "ok pass");
  a.send_text("again");
  EXPECT_EQ(a.receive(5, 2s), "again");  // "lost" would have come first
  EXPECT_EQ(server.received(0), "helloagain");
  ASSERT_TRUE(test::wait_until([&] { return server.connections() == 2; }, 2s));
  b.send_text("b");
  EXPECT_EQ(b.receive(1, 2s), "b");
  EXPECT_EQ(server.received(1), "b");
}

// A stall is what TCP sees of a path that stops and comes back: nothing moves, nothing is lost.
TEST(FaultProxy, StallHoldsBothWaysAndLosesNothing) {
  LoopbackServer server(LoopbackServer::Kind::kEcho);
  ProxyProcess proxy("fault_proxy_stall", server.port());
  Client a(proxy.port());
  ASSERT_GE(a.round_trip("hello").count(), 0);

  ASSERT_EQ(proxy.command("stall"), "ok stall");
  a.send_text("held");
  Client b(proxy.port());  // accepted, not dialed yet
  b.send_text("b");
  EXPECT_EQ(a.receive(1, 500ms), "");
  EXPECT_EQ(server.received(0), "hello") << "bytes crossed a stall";
  EXPECT_EQ(server.connections(), 1u) << "a client was dialed during a stall";

  ASSERT_EQ(proxy.command("pass"), "ok pass");
  a.send_text("again");
  EXPECT_EQ(a.receive(9, 2s), "heldagain");  // in order, nothing lost
  ASSERT_TRUE(test::wait_until([&] { return server.connections() == 2; }, 2s));
  EXPECT_EQ(b.receive(1, 2s), "b");
}

TEST(FaultProxy, ResetSendsRstBothWaysAndKeepsTheMode) {
  LoopbackServer server(LoopbackServer::Kind::kEcho);
  ProxyProcess proxy("fault_proxy_reset", server.port());
  ASSERT_EQ(proxy.command("delay 100"), "ok delay 100");
  Client a(proxy.port());
  ASSERT_GE(a.round_trip("hello").count(), 200);

  ASSERT_EQ(proxy.command("reset"), "ok reset");
  EXPECT_EQ(a.end(2s), "reset");
  ASSERT_TRUE(test::wait_until([&] { return server.ended(0); }, 2s));
  EXPECT_TRUE(server.ended_by_reset(0)) << "the server saw an orderly close, not an RST";

  // reset is one-shot: the delay still holds for the next connection.
  Client b(proxy.port());
  EXPECT_GE(b.round_trip("again").count(), 200);
}

TEST(FaultProxy, TruncateForwardsExactlyNBytesThenResets) {
  LoopbackServer server(LoopbackServer::Kind::kSink);
  ProxyProcess proxy("fault_proxy_truncate", server.port());
  Client a(proxy.port());
  ASSERT_TRUE(test::wait_until([&] { return server.connections() == 1; }, 2s));

  ASSERT_EQ(proxy.command("truncate 1000"), "ok truncate 1000");
  const std::string data = random_bytes(5000, 2);
  send(a.fd, data.data(), data.size(), MSG_NOSIGNAL);  // may be cut short by the reset
  ASSERT_TRUE(test::wait_until([&] { return server.ended(0); }, 3s));
  EXPECT_EQ(server.received(0).size(), 1000u);
  EXPECT_TRUE(server.received(0) == data.substr(0, 1000));
  EXPECT_TRUE(server.ended_by_reset(0));
  EXPECT_EQ(a.end(2s), "reset");

  // Only the connections open at the command are truncated; new ones pass.
  Client b(proxy.port());
  b.send_text(data);
  EXPECT_TRUE(test::wait_until([&] { return server.received(1).size() == data.size(); }, 3s));
  EXPECT_FALSE(server.ended(1));
}

TEST(FaultProxy, RefuseResetsNewConnectionsWhileOpenOnesPass) {
  LoopbackServer server(LoopbackServer::Kind::kEcho);
  ProxyProcess proxy("fault_proxy_refuse", server.port());
  Client a(proxy.port());
  ASSERT_GE(a.round_trip("hello").count(), 0);

  ASSERT_EQ(proxy.command("refuse"), "ok refuse");
  Client b(proxy.port());  // the kernel completes the handshake; the proxy then resets it
  EXPECT_EQ(b.end(2s), "reset");
  EXPECT_GE(a.round_trip("still here").count(), 0);
  EXPECT_EQ(server.connections(), 1u);

  ASSERT_EQ(proxy.command("pass"), "ok pass");
  Client c(proxy.port());
  EXPECT_GE(c.round_trip("welcome back").count(), 0);
}

TEST(FaultProxy, RandomFaultsReplayTheSameDecisionsForTheSameSeed) {
  LoopbackServer server(LoopbackServer::Kind::kEcho);
  auto random = [&](const std::string& name, const std::string& seed) {
    return std::make_unique<ProxyProcess>(
        name, server.port(),
        std::vector<std::string>{"--random-faults", "--seed", seed, "--mean-gap-ms", "200"});
  };
  // Run side by side: the schedule runs on its own clock, so this costs one run's time.
  auto first = random("fault_proxy_random_a", "42");
  auto second = random("fault_proxy_random_b", "42");
  auto other = random("fault_proxy_random_c", "43");
  // The commands of the first 10 `fault <ms> <command>` lines (times vary from run to run).
  auto faults = [](ProxyProcess& p) {
    std::vector<std::string> commands;
    for (auto& line : p.output()) {
      if (line.rfind("fault ", 0) != 0 || commands.size() == 10) continue;
      size_t space = line.find(' ', 6);
      commands.push_back(space == std::string::npos ? "" : line.substr(space + 1));
    }
    return commands;
  };
  for (auto* p : {first.get(), second.get(), other.get()})
    ASSERT_TRUE(test::wait_until([&] { return faults(*p).size() == 10; }, 15s))
        << "only " << faults(*p).size() << " faults";
  EXPECT_EQ(first->output().at(0), "seed 42");
  EXPECT_EQ(faults(*first), faults(*second));
  EXPECT_NE(faults(*first), faults(*other));
}

}  // namespace
}  // namespace earshot
