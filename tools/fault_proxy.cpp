// earshot-fault-proxy: a TCP proxy that breaks the network on purpose, for tests.
//
// These machines have no netem or iptables, so a test that needs a bad network between a client
// (earshot-node) and a server (earshot-bridge) puts this proxy between them. It listens on
// 127.0.0.1 only; each accepted client gets its own connection to --target, and bytes flow both
// ways through the current fault mode, which applies to every current and new connection:
//   pass               forward at once
//   delay MS [JITTER]  each chunk leaves MS + uniform[0, JITTER] ms after it was read, never
//                      before the chunk read before it in the same direction
//   blackhole          a dead path: both ways, bytes (and FINs) are read and discarded, data still
//                      queued is dropped; new clients are accepted but not dialed upstream until
//                      the mode changes. Bytes swallowed are gone: the stream resumes with a gap
//                      (no TCP path does that: a stream protocol on top sees garbage)
//   stall              a path that stops and comes back, as TCP sees it: nothing is read or sent
//                      either way and new clients are not dialed, but nothing is lost; when the
//                      mode changes, what was held flows on in order
//   reset              one-shot: every current connection gets an RST on both sides; the mode
//                      stays what it was
//   truncate N         one-shot: each current connection forwards at most N more bytes in each
//                      direction and is reset once one direction has forwarded them (after the
//                      kernel has delivered them); new connections pass
//   refuse             new clients are accepted and reset at once; current connections pass
//
// Control: one command per line on stdin, answered on stdout by `ok <command>` (canonical form:
// `delay 200 0` is `delay 200`) once it has taken effect, or `error <reason>` with nothing changed.
// EOF on stdin only ends control. With --random-faults the proxy also changes mode itself after
// gaps drawn from --seed and prints each change as `fault <ms since start> <command>`: a failing
// test can show the schedule, and the same seed makes the same decisions. stdout starts with
// `seed N` (random faults only) and `listening on port N`. SIGTERM/SIGINT exit 0 after counts are
// logged to stderr.
//
// One thread, one poll() loop. Each direction queues about 1 MiB at most (reading stops above it),
// so a slow side pushes back on the fast one instead of growing the proxy.
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

constexpr size_t kMaxQueuedBytes = 1 << 20;  // per direction; reading stops at this
constexpr size_t kReadBytes = 64 * 1024;     // one read, one chunk
constexpr long kMaxCommandMs = 600000;       // bounds for delay/jitter arguments
constexpr uint64_t kMaxTruncateBytes = uint64_t(1) << 40;
constexpr uint64_t kNoBudget = std::numeric_limits<uint64_t>::max();
// A truncated connection waits for the kernel to deliver what was forwarded before the RST
// (an RST discards unsent data); polled this often, for at most this long.
constexpr Millis kTruncateDrainPoll{5};
constexpr Millis kTruncateDrainLimit{1000};
constexpr size_t kMaxCommandLine = 1024;

void say(const char* format, ...) __attribute__((format(printf, 1, 2)));
void say(const char* format, ...) {
  va_list args;
  va_start(args, format);
  vprintf(format, args);
  va_end(args);
  fflush(stdout);
}

// ---- Commands: what stdin and the random schedule ask for ----

enum class Verb { kPass, kDelay, kBlackhole, kStall, kReset, kTruncate, kRefuse };

struct FaultCommand {
  Verb verb = Verb::kPass;
  long delay_ms = 0, jitter_ms = 0;  // delay
  uint64_t bytes = 0;                // truncate
};

std::string describe(const FaultCommand& c) {
  switch (c.verb) {
    case Verb::kPass:
      return "pass";
    case Verb::kDelay:
      return "delay " + std::to_string(c.delay_ms) +
             (c.jitter_ms ? " " + std::to_string(c.jitter_ms) : "");
    case Verb::kBlackhole:
      return "blackhole";
    case Verb::kStall:
      return "stall";
    case Verb::kReset:
      return "reset";
    case Verb::kTruncate:
      return "truncate " + std::to_string(c.bytes);
    case Verb::kRefuse:
      return "refuse";
  }
  return "?";
}

// A decimal number of at most `max`, digits only.
bool parse_number(const std::string& word, uint64_t max, uint64_t* out) {
  if (word.empty() || word.size() > 15) return false;
  uint64_t value = 0;
  for (char ch : word) {
    if (ch < '0' || ch > '9') return false;
    value = value * 10 + uint64_t(ch - '0');
  }
  if (value > max) return false;
  *out = value;
  return true;
}

// Parses one control line. Returns "" and fills *out, or the reason it is not a command.
std::string parse_command(const std::string& line, FaultCommand* out) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;)
    words.push_back(w);
  if (words.empty()) return "empty command";
  const std::string& verb = words[0];
  size_t args = words.size() - 1;
  FaultCommand c;
  uint64_t value = 0;
  if (verb == "pass" || verb == "blackhole" || verb == "stall" || verb == "reset" ||
      verb == "refuse") {
    if (args != 0) return verb + " takes no argument";
    c.verb = verb == "pass"        ? Verb::kPass
             : verb == "blackhole" ? Verb::kBlackhole
             : verb == "stall"     ? Verb::kStall
             : verb == "reset"     ? Verb::kReset
                                   : Verb::kRefuse;
  } else if (verb == "delay") {
    if (args < 1 || args > 2) return "usage: delay MS [JITTER_MS]";
    c.verb = Verb::kDelay;
    if (!parse_number(words[1], kMaxCommandMs, &value))
      return "delay MS must be 0.." + std::to_string(kMaxCommandMs);
    c.delay_ms = long(value);
    if (args == 2) {
      if (!parse_number(words[2], kMaxCommandMs, &value))
        return "delay JITTER_MS must be 0.." + std::to_string(kMaxCommandMs);
      c.jitter_ms = long(value);
    }
  } else if (verb == "truncate") {
    if (args != 1) return "usage: truncate N";
    c.verb = Verb::kTruncate;
    if (!parse_number(words[1], kMaxTruncateBytes, &c.bytes))
      return "truncate N must be 0.." + std::to_string(kMaxTruncateBytes);
  } else {
    return "unknown command '" + verb +
           "' (pass, delay, blackhole, stall, reset, truncate, refuse)";
  }
  *out = c;
  return "";
}

// ---- The --random-faults schedule ----

// Draws the gaps and decisions from one mt19937 that nothing else uses (delay jitter has its own),
// so the decisions depend on the seed only, never on traffic. Only raw mt19937 output is used: the
// standard fixes that sequence but not what std::*_distribution make of it, so the schedule is the
// same with libstdc++ and libc++.
class FaultSchedule {
 public:
  struct Decision {
    FaultCommand command;
    long hold_ms = 0;  // stall: how long before the schedule goes back to pass
  };

  FaultSchedule(uint32_t seed, long mean_gap_ms) : rng_(seed), mean_gap_ms_(mean_gap_ms) {}

  // Exponential around the mean, clamped so a run neither stalls nor thrashes.
  long next_gap_ms() {
    double u = (double(rng_()) + 0.5) / 4294967296.0;  // (0, 1)
    double gap = -double(mean_gap_ms_) * std::log(u);
    return long(std::clamp(gap, 200.0, 6000.0));
  }

  Decision next_decision() {
    Decision d;
    uint32_t pick = uniform(0, 99);
    if (pick < 40) {
      d.command.verb = Verb::kPass;
    } else if (pick < 60) {
      d.command.verb = Verb::kDelay;
      d.command.delay_ms = uniform(20, 300);
      d.command.jitter_ms = uniform(0, 200);
    } else if (pick < 75) {
      // A stall, not a blackhole: TCP never loses bytes mid-stream, so a stream protocol's
      // faults are stalls that pass (delivered late) or end in a reset.
      d.command.verb = Verb::kStall;
      d.hold_ms = uniform(300, 3000);
    } else if (pick < 90) {
      d.command.verb = Verb::kReset;
    } else {
      d.command.verb = Verb::kTruncate;
      d.command.bytes = uniform(0, 4000);
    }
    return d;
  }

 private:
  uint32_t uniform(uint32_t lo, uint32_t hi) { return lo + rng_() % (hi - lo + 1); }

  std::mt19937 rng_;
  long mean_gap_ms_;
};

// ---- Connections ----

struct Chunk {
  Clock::time_point due;  // not sent before this
  std::string bytes;
  size_t sent = 0;
};

// One direction of a connection: bytes read from one socket wait here until due, then go out on
// the other, in the order they were read.
struct Flow {
  std::deque<Chunk> queue;
  size_t queued = 0;            // bytes in `queue` not yet sent
  bool eof = false;             // the reading side sent FIN
  bool fin_sent = false;        // ... and it was passed on (shutdown(SHUT_WR))
  bool blocked = false;         // the last send hit EAGAIN: wait for POLLOUT
  uint64_t budget = kNoBudget;  // truncate: bytes it may still forward
};

enum class Upstream { kNotDialed, kConnecting, kConnected };

struct Connection {
  int client = -1, upstream = -1;
  Upstream upstream_state = Upstream::kNotDialed;
  Flow to_server, to_client;
  bool client_hup = false, upstream_hup = false;  // POLLHUP seen: poll only while reading it
  bool truncated = false;                         // a budget ran out: drain, then RST
  Clock::time_point truncate_deadline;
  bool done = false;  // both sockets closed; erased at the top of the loop
  // Where this connection's sockets are in this round's pollfd array (-1: not polled).
  int client_slot = -1, upstream_slot = -1;
};

struct Counts {
  uint64_t connections = 0, refused = 0, resets = 0, upstream_failures = 0;
  uint64_t bytes_to_server = 0, bytes_to_client = 0, bytes_swallowed = 0;
};

// The mode that lasts between commands (reset and truncate are one-shots, not modes).
struct Mode {
  Verb verb = Verb::kPass;  // kPass, kDelay, kBlackhole or kRefuse
  long delay_ms = 0, jitter_ms = 0;
};

void abort_socket(int fd) {
  if (fd < 0) return;
  linger l{1, 0};  // close() sends RST and discards what is unsent
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

void set_nodelay(int fd) {
  int one = 1;  // the proxy forwards chunks as it reads them: Nagle would add its own delays
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int socket_error(int fd) {
  int error = 0;
  socklen_t len = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return errno;
  return error;
}

size_t unacked_bytes(int fd) {
  int n = 0;
  if (fd < 0 || ioctl(fd, SIOCOUTQ, &n) != 0) return 0;
  return size_t(std::max(n, 0));
}

struct Options {
  int listen_port = 0;
  sockaddr_storage target{};
  socklen_t target_len = 0;
  uint32_t seed = 0;
  bool random_faults = false;
  long mean_gap_ms = 1500;
};

class FaultProxy {
 public:
  FaultProxy(const Options& options, int listener, int signals)
      : options_(options),
        listener_(listener),
        signals_(signals),
        jitter_rng_(options.seed ^ 0x9e3779b9u),
        schedule_(options.seed, options.mean_gap_ms),
        start_(Clock::now()) {
    if (options_.random_faults) next_fault_at_ = start_ + Millis(schedule_.next_gap_ms());
  }

  void run() {
    std::vector<pollfd> fds;
    while (!stopping_) {
      Clock::time_point now = Clock::now();
      if (options_.random_faults && now >= next_fault_at_) run_schedule(now);
      for (auto& c : connections_) {
        if (!c->done && c->upstream_state == Upstream::kNotDialed && !holding()) dial(*c);
        if (!c->done) forward(*c, now);
      }
      connections_.erase(std::remove_if(connections_.begin(), connections_.end(),
                                        [](const auto& c) { return c->done; }),
                         connections_.end());

      fds.clear();
      fds.push_back({signals_, POLLIN, 0});
      fds.push_back({listener_, POLLIN, 0});
      fds.push_back({stdin_open_ ? 0 : -1, POLLIN, 0});
      for (auto& c : connections_)
        add_poll_slots(*c, &fds);
      int timeout = poll_timeout_ms(now);
      if (poll(fds.data(), fds.size(), timeout) < 0) {
        if (errno == EINTR) continue;
        fprintf(stderr, "earshot-fault-proxy: poll: %s\n", strerror(errno));
        break;
      }
      if (fds[0].revents) stopping_ = true;
      if (fds[1].revents & POLLIN) accept_clients();
      if (fds[2].revents) read_commands();
      for (auto& c : connections_)
        handle_events(*c, fds);
    }
    for (auto& c : connections_) {
      if (c->client >= 0) close(c->client);
      if (c->upstream >= 0) close(c->upstream);
    }
    fprintf(stderr,
            "earshot-fault-proxy: connections %llu (refused %llu, upstream failed %llu), "
            "bytes to server %llu, to client %llu, swallowed %llu, resets %llu\n",
            (unsigned long long)counts_.connections, (unsigned long long)counts_.refused,
            (unsigned long long)counts_.upstream_failures,
            (unsigned long long)counts_.bytes_to_server,
            (unsigned long long)counts_.bytes_to_client,
            (unsigned long long)counts_.bytes_swallowed, (unsigned long long)counts_.resets);
  }

 private:
  // ---- Commands ----

  void apply(const FaultCommand& c) {
    switch (c.verb) {
      case Verb::kPass:
      case Verb::kRefuse:
      case Verb::kStall:
        mode_ = Mode{c.verb, 0, 0};
        break;
      case Verb::kDelay:
        mode_ = Mode{Verb::kDelay, c.delay_ms, c.jitter_ms};
        break;
      case Verb::kBlackhole:
        mode_ = Mode{Verb::kBlackhole, 0, 0};
        for (auto& conn : connections_) {  // what was in flight dies with the path
          for (Flow* f : {&conn->to_server, &conn->to_client}) {
            counts_.bytes_swallowed += f->queued;
            f->queue.clear();
            f->queued = 0;
            f->blocked = false;
          }
        }
        break;
      case Verb::kReset:
        for (auto& conn : connections_)
          if (!conn->done) reset(*conn);
        break;
      case Verb::kTruncate:
        mode_ = Mode{Verb::kPass, 0, 0};
        for (auto& conn : connections_) {
          if (conn->done || conn->truncated) continue;
          conn->to_server.budget = conn->to_client.budget = c.bytes;
          if (c.bytes == 0) start_truncation(*conn, Clock::now());
        }
        break;
    }
  }

  void read_commands() {
    char buf[512];
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) return;
      stdin_open_ = false;
      return;
    }
    if (n == 0) {  // no more control; the proxy keeps running
      stdin_open_ = false;
      return;
    }
    for (ssize_t i = 0; i < n; ++i) {
      char ch = buf[i];
      if (ch != '\n') {
        if (command_line_.size() < kMaxCommandLine)
          command_line_ += ch;
        else
          command_too_long_ = true;
        continue;
      }
      if (command_too_long_) {
        say("error line longer than %zu bytes\n", kMaxCommandLine);
      } else if (command_line_.find_first_not_of(" \t\r") != std::string::npos) {
        FaultCommand c;
        std::string problem = parse_command(command_line_, &c);
        if (problem.empty()) {
          apply(c);
          say("ok %s\n", describe(c).c_str());
        } else {
          say("error %s\n", problem.c_str());
        }
      }
      command_line_.clear();
      command_too_long_ = false;
    }
  }

  void run_schedule(Clock::time_point now) {
    long since_start = long(std::chrono::duration_cast<Millis>(now - start_).count());
    FaultCommand c;
    long hold_ms = 0;
    if (!hold_ends_) {
      FaultSchedule::Decision d = schedule_.next_decision();
      c = d.command;
      hold_ms = d.hold_ms;
    }
    apply(c);  // the end of a held stall is a pass
    say("fault %ld %s\n", since_start, describe(c).c_str());
    hold_ends_ = hold_ms > 0;
    next_fault_at_ = now + Millis(hold_ends_ ? hold_ms : schedule_.next_gap_ms());
  }

  // ---- Connections ----

  void accept_clients() {
    for (;;) {
      int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
          fprintf(stderr, "earshot-fault-proxy: accept: %s\n", strerror(errno));
        return;
      }
      ++counts_.connections;
      if (mode_.verb == Verb::kRefuse) {
        ++counts_.refused;
        ++counts_.resets;
        abort_socket(fd);
        continue;
      }
      set_nodelay(fd);
      auto c = std::make_unique<Connection>();
      c->client = fd;
      connections_.push_back(std::move(c));  // dialed at the top of the loop unless blackholed
    }
  }

  void dial(Connection& c) {
    c.upstream = socket(options_.target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.upstream < 0) return upstream_failed(c, errno);
    set_nodelay(c.upstream);
    if (connect(c.upstream, reinterpret_cast<const sockaddr*>(&options_.target),
                options_.target_len) == 0) {
      c.upstream_state = Upstream::kConnected;
    } else if (errno == EINPROGRESS) {
      c.upstream_state = Upstream::kConnecting;
    } else {
      upstream_failed(c, errno);
    }
  }

  // The target cannot be reached: the client sees what it would see without the proxy, a reset.
  void upstream_failed(Connection& c, int error) {
    ++counts_.upstream_failures;
    if (counts_.upstream_failures <= 10)  // a dead target must not flood the log
      fprintf(stderr, "earshot-fault-proxy: upstream connect: %s\n", strerror(error));
    reset(c);
  }

  void reset(Connection& c) {
    abort_socket(c.client);
    abort_socket(c.upstream);
    c.client = c.upstream = -1;
    c.done = true;
    ++counts_.resets;
  }

  void close_cleanly(Connection& c) {
    close(c.client);
    close(c.upstream);
    c.client = c.upstream = -1;
    c.done = true;
  }

  void start_truncation(Connection& c, Clock::time_point now) {
    c.truncated = true;
    c.truncate_deadline = now + kTruncateDrainLimit;
  }

  // Blackhole and stall dial no new client upstream.
  bool holding() const { return mode_.verb == Verb::kBlackhole || mode_.verb == Verb::kStall; }

  bool can_read(const Connection& c, const Flow& from) const {
    if (from.eof || c.truncated || mode_.verb == Verb::kStall) return false;
    return mode_.verb == Verb::kBlackhole || from.queued < kMaxQueuedBytes;
  }

  // Sends what is due on both flows, passes FINs on, and finishes truncated connections.
  void forward(Connection& c, Clock::time_point now) {
    if (c.truncated) {
      bool delivered = unacked_bytes(c.client) == 0 && unacked_bytes(c.upstream) == 0;
      if (delivered || now >= c.truncate_deadline) reset(c);
      return;
    }
    if (c.upstream_state != Upstream::kConnected || mode_.verb == Verb::kStall) return;
    if (!send_due(c, c.to_server, c.upstream, &counts_.bytes_to_server, now)) return;
    if (!send_due(c, c.to_client, c.client, &counts_.bytes_to_client, now)) return;
    if (c.truncated) return;
    if (mode_.verb != Verb::kBlackhole) {
      pass_fin(c.to_server, c.upstream);
      pass_fin(c.to_client, c.client);
    }
    if (c.to_server.fin_sent && c.to_client.fin_sent) close_cleanly(c);
  }

  // Returns false if the connection was reset.
  bool send_due(Connection& c, Flow& f, int to, uint64_t* counter, Clock::time_point now) {
    f.blocked = false;
    while (!f.queue.empty() && f.queue.front().due <= now) {
      Chunk& head = f.queue.front();
      size_t want = std::min<uint64_t>(head.bytes.size() - head.sent, f.budget);
      if (want == 0) {
        start_truncation(c, now);
        return true;
      }
      ssize_t n = send(to, head.bytes.data() + head.sent, want, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          f.blocked = true;
          return true;
        }
        reset(c);  // the receiver is gone; the sender learns it the way TCP would tell it
        return false;
      }
      head.sent += size_t(n);
      f.queued -= size_t(n);
      *counter += uint64_t(n);
      if (f.budget != kNoBudget) {
        f.budget -= uint64_t(n);
        if (f.budget == 0) start_truncation(c, now);
      }
      if (head.sent == head.bytes.size()) f.queue.pop_front();
      if (c.truncated) return true;
    }
    return true;
  }

  void pass_fin(Flow& f, int to) {
    if (f.eof && !f.fin_sent && f.queue.empty()) {
      shutdown(to, SHUT_WR);
      f.fin_sent = true;
    }
  }

  // Reads one chunk from `fd` into `into`. Returns false if the connection was reset.
  bool read_from(Connection& c, int fd, Flow& into, Clock::time_point now) {
    char buf[kReadBytes];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return true;
      reset(c);
      return false;
    }
    if (n == 0) {
      into.eof = true;
      return true;
    }
    if (mode_.verb == Verb::kBlackhole) {
      counts_.bytes_swallowed += uint64_t(n);
      return true;
    }
    Chunk chunk;
    chunk.due = now;
    if (mode_.verb == Verb::kDelay) {
      long jitter = mode_.jitter_ms ? long(jitter_rng_() % uint32_t(mode_.jitter_ms + 1)) : 0;
      chunk.due += Millis(mode_.delay_ms + jitter);
    }
    chunk.bytes.assign(buf, size_t(n));
    into.queued += size_t(n);
    into.queue.push_back(std::move(chunk));
    return true;
  }

  void add_poll_slots(Connection& c, std::vector<pollfd>* fds) {
    c.client_slot = c.upstream_slot = -1;
    short client_events = 0, upstream_events = 0;
    if (can_read(c, c.to_server)) client_events |= POLLIN;
    if (c.to_client.blocked) client_events |= POLLOUT;
    if (c.upstream_state == Upstream::kConnecting) upstream_events |= POLLOUT;
    if (c.upstream_state == Upstream::kConnected) {
      if (can_read(c, c.to_client)) upstream_events |= POLLIN;
      if (c.to_server.blocked) upstream_events |= POLLOUT;
    }
    // POLLHUP is reported whatever we ask for: a hung-up socket we are not reading would spin the
    // loop, so it is polled again only once we want to read it.
    if (!(c.client_hup && !(client_events & POLLIN))) {
      c.client_slot = int(fds->size());
      fds->push_back({c.client, client_events, 0});
    }
    if (c.upstream >= 0 && !(c.upstream_hup && !(upstream_events & POLLIN))) {
      c.upstream_slot = int(fds->size());
      fds->push_back({c.upstream, upstream_events, 0});
    }
  }

  void handle_events(Connection& c, const std::vector<pollfd>& fds) {
    Clock::time_point now = Clock::now();
    short client = c.client_slot >= 0 ? fds[size_t(c.client_slot)].revents : 0;
    short upstream = c.upstream_slot >= 0 ? fds[size_t(c.upstream_slot)].revents : 0;
    if (c.done) return;
    if (c.upstream_state == Upstream::kConnecting && upstream) {
      int error = socket_error(c.upstream);
      if (error) return upstream_failed(c, error);
      c.upstream_state = Upstream::kConnected;
      upstream = 0;
    }
    if ((client | upstream) & POLLERR) return reset(c);  // a peer sent RST
    if (client & POLLHUP) c.client_hup = true;
    if (upstream & POLLHUP) c.upstream_hup = true;
    if ((client & (POLLIN | POLLHUP)) && can_read(c, c.to_server) &&
        !read_from(c, c.client, c.to_server, now))
      return;
    if ((upstream & (POLLIN | POLLHUP)) && c.upstream_state == Upstream::kConnected &&
        can_read(c, c.to_client))
      read_from(c, c.upstream, c.to_client, now);
  }

  int poll_timeout_ms(Clock::time_point now) const {
    Clock::time_point wake = Clock::time_point::max();
    if (options_.random_faults) wake = next_fault_at_;
    for (auto& c : connections_) {
      if (c->truncated) wake = std::min(wake, now + kTruncateDrainPoll);
      if (c->upstream_state != Upstream::kConnected || mode_.verb == Verb::kStall) continue;
      for (const Flow* f : {&c->to_server, &c->to_client})
        if (!f->blocked && !f->queue.empty()) wake = std::min(wake, f->queue.front().due);
    }
    if (wake == Clock::time_point::max()) return -1;
    if (wake <= now) return 0;
    auto ms = std::chrono::duration_cast<Millis>(wake - now).count() + 1;  // never wake early
    return int(std::min<long long>(ms, 60000));
  }

  const Options& options_;
  int listener_, signals_;
  std::mt19937 jitter_rng_;
  FaultSchedule schedule_;
  Clock::time_point start_;
  Clock::time_point next_fault_at_;
  bool hold_ends_ = false;  // the schedule's next change ends its stall
  Mode mode_;
  std::vector<std::unique_ptr<Connection>> connections_;
  Counts counts_;
  bool stdin_open_ = true;
  bool stopping_ = false;
  std::string command_line_;
  bool command_too_long_ = false;
};

// HOST:PORT (HOST may be a name, an IPv4 address or a [bracketed] IPv6 address).
std::string resolve_target(const std::string& target, Options* options) {
  size_t colon = target.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == target.size())
    return "--target must be HOST:PORT";
  std::string host = target.substr(0, colon), port = target.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return "--target " + target + ": " + gai_strerror(rc);
  memcpy(&options->target, found->ai_addr, found->ai_addrlen);
  options->target_len = found->ai_addrlen;
  freeaddrinfo(found);
  return "";
}

int open_listener(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(uint16_t(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 128) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"earshot-fault-proxy: a TCP proxy that delays, blackholes, resets and truncates",
               "earshot-fault-proxy"};
  Options options;
  std::string target;
  app.add_option("--listen-port", options.listen_port, "port on 127.0.0.1 (0: pick a free one)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--target", target, "HOST:PORT to connect each client to")->required();
  app.add_option("--seed", options.seed, "seed for the random schedule and delay jitter");
  app.add_flag("--random-faults", options.random_faults,
               "change mode on a random schedule drawn from --seed");
  app.add_option("--mean-gap-ms", options.mean_gap_ms, "mean time between random faults")
      ->check(CLI::Range(1L, 600000L));
  CLI11_PARSE(app, argc, argv);
  if (app.count("--seed") == 0) options.seed = std::random_device{}();

  if (std::string problem = resolve_target(target, &options); !problem.empty()) {
    fprintf(stderr, "earshot-fault-proxy: %s\n", problem.c_str());
    return 2;
  }
  // SIGTERM/SIGINT arrive through a signalfd, so the loop ends between two steps, never inside one.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  int signals = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
  signal(SIGPIPE, SIG_IGN);
  // stdin stays blocking (its file description may be shared with a shell); it is read only
  // after poll() said it is readable.

  int listener = open_listener(options.listen_port);
  if (signals < 0 || listener < 0) {
    fprintf(stderr, "earshot-fault-proxy: cannot listen on 127.0.0.1:%d: %s\n", options.listen_port,
            strerror(errno));
    return 1;
  }
  if (options.random_faults) say("seed %u\n", options.seed);
  say("listening on port %d\n", bound_port(listener));
  FaultProxy(options, listener, signals).run();
  close(listener);
  return 0;
}
