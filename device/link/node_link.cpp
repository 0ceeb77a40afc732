#include "device/link/node_link.h"

#include <libwebsockets.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "device/link/bridge_url.h"
#include "device/link/cert_pin.h"

namespace earshot::device {
namespace {

std::string close_code_text(uint16_t code) {
  switch (code) {
    case protocol::kCloseUnauthorized:
      return "the bridge refused the token (4001)";
    case protocol::kCloseBadVersion:
      return "no protocol version in common with the bridge (4002)";
    case protocol::kCloseBadAudio:
      return "the bridge refused the audio parameters (4003)";
    default:
      return "closed with code " + std::to_string(code);
  }
}

}  // namespace

// An lws timer with a pointer back to its owner (lws_container_of needs a standard-layout type).
struct LinkTimer {
  lws_sorted_usec_list_t sul{};
  NodeLink::Impl* owner = nullptr;
};

struct NodeLink::Impl {
  Impl(LinkConfig c, SpeechBuffer& b, LinkCallbacks cb)
      : config(std::move(c)), buffer(b), callbacks(std::move(cb)), rng(std::random_device{}()) {}

  LinkConfig config;
  SpeechBuffer& buffer;
  LinkCallbacks callbacks;
  BridgeUrl url;
  lws_context* context = nullptr;
  lws* wsi = nullptr;  // link thread only
  lws_protocols protocols[2]{};
  lws_retry_bo_t keepalive{};
  LinkTimer dial_timer{{}, this};
  LinkTimer handshake_timer{{}, this};
  std::thread thread;
  std::mt19937 rng;

  std::atomic<bool> stopping{false};
  std::atomic<bool> exit_loop{false};
  std::atomic<bool> is_connected{false};
  std::atomic<bool> fatal{false};
  bool welcomed = false;    // link thread
  bool hello_sent = false;  // link thread
  bool close_requested = false;
  int attempt = 0;
  uint16_t peer_close_code = 0;
  std::string last_server_error;
  std::string pin_error;  // the certificate did not match the pin: why this attempt failed
  std::string rx;
  bool rx_binary = false;
  bool rx_overflow = false;

  mutable std::mutex mutex;  // guards control queue and stats
  std::condition_variable cv;
  std::deque<std::string> control;
  LinkStats stats;

  std::vector<unsigned char> tx = std::vector<unsigned char>(LWS_PRE + 70000);

  static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);
  static void on_dial(lws_sorted_usec_list_t* sul);
  static void on_handshake_timeout(lws_sorted_usec_list_t* sul);
  void dial();
  void schedule_dial();
  void lost(const std::string& reason);
  int writeable();
  void receive_text(const std::string& text);
  void receive_binary(const std::string& bytes);
};

void NodeLink::Impl::schedule_dial() {
  if (stopping.load() || fatal.load()) return;
  double delay = double(config.backoff_initial_ms) * double(1u << std::min(attempt, 16));
  delay = std::min(delay, double(config.backoff_max_ms));
  std::uniform_real_distribution<double> jitter(1.0 - config.backoff_jitter,
                                                1.0 + config.backoff_jitter);
  delay *= jitter(rng);
  ++attempt;
  lws_sul_schedule(context, 0, &dial_timer.sul, on_dial, lws_usec_t(delay * 1000));
}

void NodeLink::Impl::on_dial(lws_sorted_usec_list_t* sul) {
  Impl* self = lws_container_of(sul, LinkTimer, sul)->owner;
  self->dial();
}

// No welcome in time — or the connection never even got through its WebSocket upgrade (a path
// that stalls mid-handshake). Close politely if we can write, and in any case drop the connection
// a second later: an upgrade that hangs gets no writeable callback, and must not hold the link
// (a dial is refused while `wsi` is set) for ever.
void NodeLink::Impl::on_handshake_timeout(lws_sorted_usec_list_t* sul) {
  Impl* self = lws_container_of(sul, LinkTimer, sul)->owner;
  if (self->wsi && !self->welcomed) {
    self->last_server_error =
        "no welcome within " + std::to_string(self->config.handshake_timeout_ms) + " ms";
    self->close_requested = true;
    lws_callback_on_writable(self->wsi);
    lws_set_timeout(self->wsi, PENDING_TIMEOUT_USER_OK, 1);
  }
}

void NodeLink::Impl::dial() {
  if (stopping.load() || fatal.load() || wsi) return;
  lws_client_connect_info ci{};
  ci.context = context;
  ci.address = url.host.c_str();
  ci.port = url.port;
  ci.path = url.path.c_str();
  ci.host = url.host.c_str();
  ci.origin = url.host.c_str();
  ci.protocol = protocol::kSubprotocol;
  ci.local_protocol_name = protocol::kSubprotocol;
  ci.retry_and_idle_policy = &keepalive;
  ci.userdata = this;
  if (url.tls) {
    ci.ssl_connection = LCCSCF_USE_SSL;
    if (config.tls_insecure || !config.pinned_fingerprint.empty())
      ci.ssl_connection |=
          LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_INSECURE;
  }
  ci.pwsi = &wsi;
  // The whole attempt — TCP, TLS, the upgrade — is bounded too (re-armed for the welcome once the
  // upgrade is through).
  lws_sul_schedule(context, 0, &handshake_timer.sul, on_handshake_timeout,
                   lws_usec_t(config.handshake_timeout_ms) * 2000);
  welcomed = false;
  hello_sent = false;
  close_requested = false;
  peer_close_code = 0;
  pin_error.clear();
  if (!lws_client_connect_via_info(&ci)) {
    wsi = nullptr;
    lost("cannot start a connection to " + config.url);
  }
}

void NodeLink::Impl::lost(const std::string& reason) {
  const bool was = is_connected.exchange(false);
  wsi = nullptr;
  lws_sul_cancel(&handshake_timer.sul);
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (was) ++stats.disconnects;
    stats.messages_dropped += control.size();
    control.clear();  // control messages are live-only; speech stays in the SpeechBuffer
    cv.notify_all();
  }
  if (peer_close_code == protocol::kCloseUnauthorized ||
      peer_close_code == protocol::kCloseBadVersion ||
      peer_close_code == protocol::kCloseBadAudio) {
    fatal.store(true);
    {
      std::lock_guard<std::mutex> lock(mutex);
      stats.fatal_close_code = peer_close_code;
    }
    std::string message = close_code_text(peer_close_code);
    if (!last_server_error.empty()) message += ": " + last_server_error;
    if (callbacks.on_fatal) callbacks.on_fatal(message);
    return;
  }
  if (stopping.load()) return;  // our own clean close at shutdown: nothing to report or redial
  // A pin mismatch is said every time: it is not a network hiccup but a different certificate.
  if (callbacks.on_link_state && (was || attempt <= 1 || !pin_error.empty()))
    callbacks.on_link_state(false, pin_error.empty() ? reason : pin_error);
  schedule_dial();
}

int NodeLink::Impl::writeable() {
  if (close_requested || stopping.load()) {
    static const char kBye[] = "node closing";
    lws_close_reason(wsi, stopping.load() ? LWS_CLOSE_STATUS_NORMAL : LWS_CLOSE_STATUS_GOINGAWAY,
                     reinterpret_cast<unsigned char*>(const_cast<char*>(kBye)), sizeof kBye - 1);
    return -1;
  }
  unsigned char* p = tx.data() + LWS_PRE;
  if (!hello_sent) {
    protocol::Hello hello = config.hello;
    const std::string json = protocol::to_json(hello);
    memcpy(p, json.data(), json.size());
    if (lws_write(wsi, p, json.size(), LWS_WRITE_TEXT) < int(json.size())) return -1;
    hello_sent = true;
    return 0;
  }
  if (!welcomed) return 0;
  std::string message;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!control.empty()) {
      message = std::move(control.front());
      control.pop_front();
    }
  }
  if (!message.empty()) {
    memcpy(p, message.data(), message.size());
    if (lws_write(wsi, p, message.size(), LWS_WRITE_TEXT) < int(message.size())) return -1;
  } else {
    const size_t n = buffer.take_next_to_send(p, tx.size() - LWS_PRE);
    if (n == 0) return 0;
    // Read the seq now: a client's lws_write masks the payload in place.
    const uint64_t seq = protocol::load_be64(p + 4);
    if (lws_write(wsi, p, n, LWS_WRITE_BINARY) < int(n)) return -1;
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++stats.frames_sent;
      stats.bytes_sent += n;
    }
    if (callbacks.on_frame_sent) callbacks.on_frame_sent(seq);
  }
  // More to send? Ask for another writeable callback rather than looping: fair to the loop.
  bool more;
  {
    std::lock_guard<std::mutex> lock(mutex);
    more = !control.empty();
  }
  if (more || buffer.stats().unsent > 0) lws_callback_on_writable(wsi);
  return 0;
}

void NodeLink::Impl::receive_text(const std::string& text) {
  protocol::ParseResult r = protocol::parse_message(text, protocol::Direction::kHostToNode);
  if (!r.ok()) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++stats.bad_messages;
    }
    if (callbacks.on_bad_input) callbacks.on_bad_input("control message: " + r.error);
    return;  // counted, reported, ignored: the link goes on
  }
  if (auto* w = std::get_if<protocol::Welcome>(&*r.message)) {
    welcomed = true;
    attempt = 0;
    lws_sul_cancel(&handshake_timer.sul);
    buffer.on_welcome(w->acked_seq);
    is_connected.store(true);
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++stats.connects;
    }
    if (callbacks.on_welcome) callbacks.on_welcome(*w);
    if (callbacks.on_link_state) callbacks.on_link_state(true, "welcome");
    lws_callback_on_writable(wsi);
    return;
  }
  if (auto* a = std::get_if<protocol::Ack>(&*r.message)) buffer.ack(a->seq);
  if (auto* e = std::get_if<protocol::Error>(&*r.message)) {
    if (e->fatal) last_server_error = e->message;
  }
  if (callbacks.on_message) callbacks.on_message(*r.message);
}

void NodeLink::Impl::receive_binary(const std::string& bytes) {
  protocol::AudioFrameView view;
  const protocol::FrameError error = protocol::parse_audio_frame(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &view);
  if (error != protocol::FrameError::kOk || view.header.stream != protocol::Stream::kReply) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++stats.bad_messages;
    }
    if (callbacks.on_bad_input)
      callbacks.on_bad_input(error != protocol::FrameError::kOk
                                 ? std::string("audio frame: ") + protocol::to_string(error)
                                 : std::string("audio frame on the microphone stream"));
    return;
  }
  if (callbacks.on_reply_frame) callbacks.on_reply_frame(view);
}

int NodeLink::Impl::callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                             size_t len) {
  Impl* self = static_cast<Impl*>(user);
  if (!self) self = static_cast<Impl*>(lws_context_user(lws_get_context(wsi)));
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
      // TLS is through, nothing is sent yet: the pin is checked before the token leaves.
      if (self->url.tls && !self->config.pinned_fingerprint.empty()) {
        const std::string seen = peer_certificate_fingerprint(wsi);
        if (!same_fingerprint(seen, self->config.pinned_fingerprint)) {
          self->pin_error = "the bridge's certificate (SHA-256 " + (seen.empty() ? "?" : seen) +
                            ") is not the one pinned at pairing (" +
                            self->config.pinned_fingerprint + "); not sending the token";
          return -1;
        }
      }
      if (self->config.token.empty()) return 0;
      auto** p = static_cast<unsigned char**>(in);
      const std::string value = "Bearer " + self->config.token;
      if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                       reinterpret_cast<const unsigned char*>(value.c_str()),
                                       int(value.size()), p, *p + len))
        return -1;
      return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      lws_sul_schedule(self->context, 0, &self->handshake_timer.sul, on_handshake_timeout,
                       lws_usec_t(self->config.handshake_timeout_ms) * 1000);
      lws_callback_on_writable(wsi);  // hello
      return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
      if (lws_is_first_fragment(wsi)) {
        self->rx.clear();
        self->rx_binary = lws_frame_is_binary(wsi);
        self->rx_overflow = false;
      }
      const size_t limit =
          self->rx_binary ? protocol::kMaxAudioFrameSize : protocol::kMaxControlMessageSize;
      if (self->rx.size() + len > limit) {
        self->rx_overflow = true;
      } else {
        self->rx.append(static_cast<const char*>(in), len);
      }
      if (!lws_is_final_fragment(wsi)) return 0;
      if (self->rx_overflow) {
        std::lock_guard<std::mutex> lock(self->mutex);
        ++self->stats.bad_messages;
      } else if (self->rx_binary) {
        self->receive_binary(self->rx);
      } else {
        self->receive_text(self->rx);
      }
      return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      return self->writeable();
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (len >= 2) {
        const auto* b = static_cast<const unsigned char*>(in);
        self->peer_close_code = uint16_t(b[0] << 8 | b[1]);
      }
      return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      self->lost(std::string("cannot connect to ") + self->config.url + ": " +
                 (in ? std::string(static_cast<const char*>(in),
                                   strnlen(static_cast<const char*>(in), len ? len : 200))
                     : "error"));
      return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
      self->lost(self->peer_close_code ? close_code_text(self->peer_close_code)
                                       : std::string("connection closed"));
      return 0;
    case LWS_CALLBACK_WSI_DESTROY:
      // An attempt that ended without CLIENT_CONNECTION_ERROR or CLIENT_CLOSED (lws times out a
      // stalled upgrade this way): the link must still redial.
      if (self && self->wsi == wsi) self->lost("connection attempt ended");
      return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
      if (self && self->wsi) {
        bool pending;
        {
          std::lock_guard<std::mutex> lock(self->mutex);
          pending = !self->control.empty();
        }
        if (self->stopping.load() || pending || self->buffer.stats().unsent > 0)
          lws_callback_on_writable(self->wsi);
      }
      return 0;
    default:
      return 0;
  }
}

NodeLink::NodeLink(LinkConfig config, SpeechBuffer& buffer, LinkCallbacks callbacks)
    : impl_(std::make_unique<Impl>(std::move(config), buffer, std::move(callbacks))) {}

NodeLink::~NodeLink() {
  stop();
}

bool NodeLink::start(std::string* error) {
  Impl& s = *impl_;
  if (!parse_bridge_url(s.config.url, &s.url, error)) {
    *error = "link: " + *error;
    return false;
  }
  lws_set_log_level(LLL_ERR, [](int, const char* line) { fprintf(stderr, "<4>lws: %s", line); });
  s.protocols[0] = {protocol::kSubprotocol, Impl::callback, 0, 4096, 0, nullptr, 0};
  s.protocols[1] = {nullptr, nullptr, 0, 0, 0, nullptr, 0};
  s.keepalive.secs_since_valid_ping = uint16_t(s.config.keepalive_s);
  s.keepalive.secs_since_valid_hangup = uint16_t(s.config.keepalive_s * 2 + 5);
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = s.protocols;
  info.user = &s;
  // lws sizes two tables by the process's fd limit, 8 bytes per fd each, zeroed and so resident:
  // 320 KB under a shell's limit of 20,000. The node holds a handful of fds (lws refuses a socket
  // numbered past the limit); 1024 is what systemd gives a service anyway.
  info.fd_limit_per_thread = 1024;
  if (s.url.tls) {
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (!s.config.ca_file.empty()) info.client_ssl_ca_filepath = s.config.ca_file.c_str();
  }
  s.context = lws_create_context(&info);
  if (!s.context) {
    *error = "link: cannot create the libwebsockets context (TLS setup or CA file '" +
             s.config.ca_file + "'?)";
    return false;
  }
  lws_sul_schedule(s.context, 0, &s.dial_timer.sul, Impl::on_dial, 1);
  s.thread = std::thread([&s] {
    while (!s.exit_loop.load())
      lws_service(s.context, 0);
  });
  return true;
}

void NodeLink::stop() {
  Impl& s = *impl_;
  if (!s.context || s.stopping.exchange(true)) return;
  // Close politely (1000), wait briefly for it, then leave the loop.
  lws_cancel_service(s.context);
  {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.cv.wait_for(lock, std::chrono::milliseconds(1000), [&] { return !s.is_connected.load(); });
  }
  s.exit_loop.store(true);
  lws_cancel_service(s.context);
  if (s.thread.joinable()) s.thread.join();
  lws_context_destroy(s.context);
  s.context = nullptr;
}

void NodeLink::send(const protocol::Message& message) {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.is_connected.load()) {
      ++s.stats.messages_dropped;
      return;
    }
    s.control.push_back(protocol::to_json(message));
  }
  if (s.context) lws_cancel_service(s.context);
}

void NodeLink::wake() {
  if (impl_->context) lws_cancel_service(impl_->context);
}

bool NodeLink::connected() const {
  return impl_->is_connected.load();
}

LinkStats NodeLink::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace earshot::device
