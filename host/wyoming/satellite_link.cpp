#include "host/wyoming/satellite_link.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

#include "host/clock.h"
#include "host/doors/wyoming_satellite_door.h"
#include "host/log.h"
#include "host/wyoming/tcp.h"
#include "protocol/wyoming/events.h"
#include "protocol/wyoming/framing.h"

namespace earshot::host {

namespace wy = protocol::wyoming;

namespace {
constexpr int kConnectTimeoutMs = 5000;
constexpr int kInfoTimeoutMs = 5000;
constexpr int kFirstBackoffMs = 1000;
constexpr int64_t kPingAfterMs = 5000;  // nothing heard this long: ping
constexpr int64_t kSilenceMs = 15000;   // nothing heard this long: the satellite is gone
constexpr int kPollMs = 100;
constexpr int kWriteTimeoutMs = 5000;
}  // namespace

class WyomingSatellites::Link {
 public:
  Link(WyomingSatelliteConfig config, int reconnect_max_ms, Services& services)
      : config_(std::move(config)),
        reconnect_max_ms_(std::max(reconnect_max_ms, kFirstBackoffMs)),
        services_(services),
        client_id_("wyoming-" + config_.name),
        key_("wyoming:" + config_.name) {}

  ~Link() { stop(); }

  void start() {
    waker_.open();
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    cv_.notify_all();
    waker_.wake();
    if (thread_.joinable()) thread_.join();
    waker_.close();
    services_.live_clients.remove(key_);
  }

 private:
  bool stopping() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stopping_;
  }

  void show(const std::string& state, const std::string& room) {
    services_.live_clients.set(
        key_, LiveClient{session_id_, client_id_, room, "wyoming", state, connected_ms_});
  }

  void run() {
    int backoff_ms = kFirstBackoffMs;
    int failures = 0;
    show("connecting", config_.room);
    while (!stopping()) {
      std::string error;
      const bool served = serve_once(&error);
      if (stopping()) break;
      if (served) backoff_ms = kFirstBackoffMs, failures = 0;
      ++failures;
      // Every failure is logged with when the next try comes; the interval is capped, so a
      // satellite that is off for a day logs once per reconnect_max_ms, not in a loop.
      LOG_WARN("wyoming", "satellite %s (%s:%d): %s; reconnecting in %d ms (attempt %d)",
               config_.name.c_str(), config_.host.c_str(), config_.port, error.c_str(), backoff_ms,
               failures);
      show("reconnecting", config_.room);
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_; });
      backoff_ms = std::min(backoff_ms * 2, reconnect_max_ms_);
    }
  }

  // Reads events until `want` arrives (the handshake), up to `timeout_ms`.
  bool read_until(int fd, wy::EventReader& reader, const char* want, int timeout_ms, wy::Event* out,
                  std::string* error) {
    const int64_t deadline = monotonic_ms() + timeout_ms;
    std::vector<wy::Event> events;
    char buf[4096];
    while (!stopping()) {
      for (wy::Event& e : events) {
        if (e.type == want) {
          *out = std::move(e);
          return true;
        }
        if (e.type == wy::kPing) tcp::write_all(fd, wy::serialize(wy::pong_event()), 1000);
      }
      events.clear();
      const int64_t left = deadline - monotonic_ms();
      if (left <= 0) {
        *error = std::string("no ") + want + " within " + std::to_string(timeout_ms) + " ms";
        return false;
      }
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, int(std::min<int64_t>(left, kPollMs))) <= 0) continue;
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n == 0) {
        *error = "the satellite closed the connection";
        return false;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        *error = strerror(errno);
        return false;
      }
      if (!reader.feed(std::string_view(buf, size_t(n)), &events)) {
        *error = "bad framing from the satellite: " + reader.error().message;
        return false;
      }
    }
    *error = "stopping";
    return false;
  }

  // One connection, from connect to its end. True if it got as far as run-satellite.
  bool serve_once(std::string* error) {
    const int fd = tcp::connect_to(config_.host, config_.port, kConnectTimeoutMs, error);
    if (fd < 0) return false;
    wy::EventReader reader;
    wy::Event info;
    if (!tcp::write_all(fd, wy::serialize(wy::describe_event()), kWriteTimeoutMs) ||
        !read_until(fd, reader, wy::kInfo, kInfoTimeoutMs, &info, error)) {
      if (error->empty()) *error = "cannot write to the satellite";
      ::close(fd);
      return false;
    }
    wy::Read<wy::SatelliteInfo> about = wy::read_satellite_info(info);
    if (!about.ok())
      LOG_WARN("wyoming", "satellite %s: %s; going on with the config's settings",
               config_.name.c_str(), about.error.c_str());
    const std::string room = !config_.room.empty() ? config_.room
                             : about.ok()          ? about.value->area.value_or("")
                                                   : "";

    std::string claim_error;
    std::optional<NodeLease> lease = services_.delivery->claim(client_id_, &claim_error);
    if (!lease) {
      *error = "cannot record the session in the store: " + claim_error;
      ::close(fd);
      return false;
    }
    session_id_ = "w" + std::to_string((long long)time(nullptr)) + "-" + config_.name + "-" +
                  std::to_string(++connections_);
    WyomingSatelliteDoor::Config door_config;
    door_config.name = config_.name;
    door_config.conversation.conversation_id = session_id_;
    door_config.conversation.client_id = client_id_;
    door_config.conversation.room = room;
    door_config.lease = *lease;
    if (about.ok()) door_config.snd_format = about.value->snd_format;
    door_config.listen_without_wake_word = config_.listen_without_wake_word;
    door_config.metrics = &services_.metrics;
    Services& services = services_;
    const NodeLease held = *lease;
    WyomingSatelliteDoor door(
        door_config,
        [&services, held](ConversationSink& sink, const ConversationSettings& settings) {
          return make_conversation_port(services, settings, held, sink);
        },
        [this] { waker_.wake(); });

    if (!tcp::write_all(fd, wy::serialize(wy::run_satellite_event()), kWriteTimeoutMs)) {
      *error = "cannot write to the satellite";
      ::close(fd);
      return false;
    }
    connected_ms_ = monotonic_ms();
    services_.metrics.sessions_total.fetch_add(1);
    services_.metrics.sessions_active.fetch_add(1);
    LOG_INFO("wyoming", "satellite %s (%s:%d) connected as %s%s%s (\"%s\"): running",
             config_.name.c_str(), config_.host.c_str(), config_.port, session_id_.c_str(),
             room.empty() ? "" : " in ", room.c_str(), about.ok() ? about.value->name.c_str() : "");
    show(door.state(), room);
    *error = pump(fd, reader, door, room);
    // A bridge going away tells the satellite to stop streaming to it.
    if (stopping()) tcp::write_all(fd, wy::serialize(wy::pause_satellite_event()), 500);
    door.stop();
    ::close(fd);
    services_.metrics.sessions_active.fetch_sub(1);
    return true;
  }

  // The connection's life: returns why it ended.
  std::string pump(int fd, wy::EventReader& reader, WyomingSatelliteDoor& door,
                   const std::string& room) {
    std::string pending;  // bytes taken from the door, not yet written
    std::vector<wy::Event> events;
    char buf[16384];
    int64_t heard_ms = monotonic_ms(), pinged_ms = 0;
    std::string state = door.state();
    bool paused = false;
    while (!stopping()) {
      door.take_output(&pending, monotonic_ms());
      if (std::string reason; door.wants_close(&reason)) return "closed by the bridge: " + reason;
      // Backpressure: the conversation is behind, so the satellite's audio waits in the socket.
      const Conversation::InputPace pace = door.input_pace();
      if (pace == Conversation::InputPace::kPause) paused = true;
      if (pace == Conversation::InputPace::kResume) paused = false;
      pollfd p[2] = {{fd, short((paused ? 0 : POLLIN) | (pending.empty() ? 0 : POLLOUT)), 0},
                     {waker_.read_fd, POLLIN, 0}};
      // Held reply audio is released on time (the door paces it), not at the next event.
      int timeout = kPollMs;
      if (const std::optional<int64_t> release = door.next_release_ms())
        timeout = int(std::clamp<int64_t>(*release - monotonic_ms(), 0, kPollMs));
      poll(p, 2, timeout);
      if (p[1].revents) waker_.drain();
      if (p[0].revents & (POLLERR | POLLHUP) && !(p[0].revents & POLLIN))
        return "the connection failed";
      if (!pending.empty() && (p[0].revents & POLLOUT)) {
        const ssize_t n = send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
          return std::string("write: ") + strerror(errno);
        if (n > 0) {
          pending.erase(0, size_t(n));
          door.written(size_t(n), monotonic_ms());
        }
      }
      const int64_t now = monotonic_ms();
      if (p[0].revents & POLLIN) {
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0) return "the satellite closed the connection";
        if (n < 0 && errno != EAGAIN && errno != EINTR)
          return std::string("read: ") + strerror(errno);
        if (n > 0) {
          heard_ms = now;
          if (!reader.feed(std::string_view(buf, size_t(n)), &events)) {
            // Nothing after a framing error can be trusted: say why, and start over.
            services_.metrics.count_error(ErrorReason::kProtocolError);
            tcp::write_all(
                fd, wy::serialize(wy::error_event(reader.error().message, reader.error().code)),
                500);
            return "bad framing from the satellite: " + reader.error().message;
          }
          for (const wy::Event& e : events)
            door.on_event(e, now);
          events.clear();
        }
      }
      if (now - heard_ms > kSilenceMs) return "nothing heard for 15 s";
      if (now - heard_ms > kPingAfterMs && now - pinged_ms > kPingAfterMs) {
        door.ping();  // through the door: every byte written is one it counts
        pinged_ms = now;
      }
      if (std::string s = door.state(); s != state) {
        state = s;
        show(state, room);
      }
    }
    return "stopping";
  }

  const WyomingSatelliteConfig config_;
  const int reconnect_max_ms_;
  Services& services_;
  const std::string client_id_, key_;
  std::string session_id_;
  int64_t connected_ms_ = 0;
  uint64_t connections_ = 0;
  tcp::Waker waker_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

WyomingSatellites::WyomingSatellites(const WyomingConfig& config, Services& services) {
  for (const WyomingSatelliteConfig& s : config.satellites)
    links_.push_back(std::make_unique<Link>(s, config.reconnect_max_ms, services));
}

WyomingSatellites::~WyomingSatellites() {
  stop();
}

void WyomingSatellites::start() {
  for (auto& link : links_)
    link->start();
}

void WyomingSatellites::stop() {
  for (auto& link : links_)
    link->stop();
}

}  // namespace earshot::host
