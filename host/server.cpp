#include "host/server.h"

#include <libwebsockets.h>
#include <malloc.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "host/admission.h"
#include "host/audio_rate_limit.h"
#include "host/client_tokens.h"
#include "host/clock.h"
#include "host/doors/earshot_v1_door.h"
#include "host/doors/realtime_door.h"
#include "host/doors/xiaozhi_door.h"
#include "host/doors/xiaozhi_ota.h"
#include "host/listen_check.h"
#include "host/log.h"
#include "host/outbox.h"
#include "host/pairing_desk.h"
#include "host/store/store.h"
#include "host/systemd_notify.h"
#include "host/tls_files.h"
#include "host/web/web_files.h"
#include "host/web_client.h"
#include "protocol/audio_frame.h"
#include "protocol/messages.h"
#include "protocol/pairing.h"
#include "protocol/realtime/events.h"
#include "protocol/xiaozhi/binary.h"
#include "protocol/xiaozhi/messages.h"

namespace earshot::host {
namespace {

constexpr int kTickUs = 10 * 1000;
constexpr int kMaxViolations = 50;  // malformed inputs tolerated before the link is closed
// Audio may arrive this much faster than real time on average (clock drift, jitter) on top of
// the burst credit.
constexpr double kAudioRateSlack = 1.1;
// Per WebSocket connection; the kernel doubles it. ~16 s of reply audio.
constexpr int kSocketSendBufferBytes = 32 * 1024;
// A closing connection that cannot even take its close frame is dropped after this long.
constexpr int64_t kCloseGraceMs = 2000;

// Set by a worker thread (through the Outbox's wake), read by the loop after lws_cancel_service.
struct WakeSignal {
  std::atomic<bool> pending{false};
};

struct Conn {
  lws* wsi = nullptr;
  std::string authorization;  // the Authorization header, if any
  std::shared_ptr<WakeSignal> wake = std::make_shared<WakeSignal>();
  std::shared_ptr<Outbox> outbox;
  std::shared_ptr<EarshotV1Door> session;
  std::shared_ptr<RealtimeDoor> realtime;  // an OpenAI Realtime client (/v1/realtime) instead
  std::shared_ptr<XiaozhiDoor> xiaozhi;    // a xiaozhi-esp32 box (/xiaozhi/v1/) instead
  std::string rx;
  bool rx_binary = false;
  bool rx_overflow = false;
  int64_t connected_ms = 0;
  bool closing = false;
  uint16_t close_code = 1000;
  std::string close_reason;
  int violations = 0;
  // Backpressure and limits (loop thread only).
  std::unique_ptr<AudioRateLimit> rate;  // from the hello on
  int frame_ms = 20;                     // audio per microphone frame, from the hello
  bool rx_paused = false;                // the session's inbound queue is full: not reading
  int64_t waiting_since_ms = -1;         // output has been ready but unwritten since then
  int64_t closing_since_ms = -1;
  // From the hello, for the status page.
  std::string node_id, room, mode;
  int64_t started_wall_ms = 0;
  uint64_t pairing_id = 0;  // waiting on the pairing desk with this id (0: not pairing)
};

struct TickTimer {
  lws_sorted_usec_list_t sul{};
  void* owner = nullptr;
};

// The most an HTTP response body write carries (lws's own HTTP/2 examples write 4 KB at a time).
constexpr size_t kHttpPiece = 4096;

struct HttpState {
  std::string* body;
  size_t sent;
  OtaCheckIn* ota;  // a xiaozhi box's OTA check-in, while its body arrives
  bool ota_too_large;
  std::string* post_path;  // a pairing call (POST): its path, then its body as it arrives
  std::string* post_body;
};

// A POST body larger than this is refused (the pairing calls send a few bytes of JSON).
constexpr size_t kMaxPostBody = 4096;

// The value of a header lws has no token for ("device-id:"), or "".
std::string custom_header(lws* wsi, const char* name) {
  char buf[256] = {};
  const int n = lws_hdr_custom_copy(wsi, buf, sizeof buf, name, int(strlen(name)));
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

// Writes the headers of a response whose body is st->body, and asks to be called back to write
// the body.
int begin_response(lws* wsi, HttpState* st, int status, const char* type) {
  unsigned char buf[LWS_PRE + 1024];
  unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
  if (lws_add_http_common_headers(wsi, unsigned(status), type, st->body->size(), &p, end)) return 1;
  if (lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>("cache-control:"),
                                  reinterpret_cast<const unsigned char*>("no-store"), 8, &p, end))
    return 1;
  if (lws_finalize_write_http_header(wsi, start, &p, end)) return 1;
  lws_callback_on_writable(wsi);
  return 0;
}

// Makes `body` the response and starts it (begin_response).
int respond(lws* wsi, HttpState* st, int status, const char* type, std::string body) {
  delete st->body;  // a keep-alive connection's previous response
  st->body = new std::string(std::move(body));
  st->sent = 0;
  return begin_response(wsi, st, status, type);
}

}  // namespace

struct BridgeServer::Impl {
  Impl(ServerConfig c, Services& s) : config(std::move(c)), services(s) {}

  ServerConfig config;
  Services& services;
  lws_context* context = nullptr;
  lws_vhost* vhost = nullptr;
  std::thread loop;
  std::atomic<bool> stop_loop{false};
  std::atomic<bool> draining{false};
  std::atomic<int64_t> drain_deadline_ms{0};
  TickTimer tick_timer{{}, this};
  SystemdWatchdog watchdog;  // loop thread only: fed by tick(), so a wedged loop is restarted
  std::set<Conn*> conns;     // loop thread only
  std::atomic<size_t> session_count{0};
  uint64_t session_counter = 0;
  const long long started_at_s = (long long)time(nullptr);
  int bound_port = 0;
  // Pairing (host/pairing_desk.h): loop thread only.
  PairingDesk pairing{services.store, [this] {
                        std::vector<std::string> ids;
                        for (const auto& [id, token] : config.node_tokens)
                          ids.push_back(id);
                        return ids;
                      }()};
  uint64_t pairing_counter = 0;
  std::string certificate_fingerprint;  // with TLS: what nodes pin when they pair

  // Sessions are stopped off the loop thread (stop() joins threads that may be in an engine call).
  std::mutex reap_mutex;
  std::vector<std::shared_ptr<EarshotV1Door>> to_reap;
  std::vector<std::shared_ptr<RealtimeDoor>> realtime_to_reap;
  std::vector<std::shared_ptr<XiaozhiDoor>> xiaozhi_to_reap;
  std::condition_variable reap_cv;
  std::thread reaper;
  bool reaper_stop = false;

  lws_protocols protocols[4]{};
  // The realtime protocol is the vhost's default: a WebSocket upgrade that names no subprotocol
  // (the openai npm client's) is bound to it, not to protocols[0] ("http").
  lws_protocol_vhost_options default_option{nullptr, nullptr, "default", "1"};
  lws_protocol_vhost_options realtime_options{nullptr, &default_option, "realtime", ""};

  static int http_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);
  static int ws_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len);
  static void on_tick(lws_sorted_usec_list_t* sul);

  void tick();
  void handle_text(Conn& c, const std::string& text);
  void handle_binary(Conn& c, const std::string& bytes);
  void handle_hello(Conn& c, const protocol::Hello& hello);
  void refuse(Conn& c, const std::string& code, const std::string& message, uint16_t close_code);
  void violation(Conn& c, const std::string& code, const std::string& message);
  void close_conn(Conn& c, uint16_t code, const std::string& reason);
  void reap(std::shared_ptr<EarshotV1Door> session);
  // The OpenAI Realtime route (docs/realtime.md).
  void open_realtime(Conn& c);
  void refuse_realtime(Conn& c, const char* code, const std::string& message, uint16_t close_code);
  void realtime_received(Conn& c);
  // xiaozhi-esp32 boxes (docs/xiaozhi.md): their WebSocket and their OTA check-in.
  void open_xiaozhi(Conn& c);
  void refuse_xiaozhi(Conn& c, const std::string& message, uint16_t close_code);
  void xiaozhi_received(Conn& c);
  int answer_ota(lws* wsi, HttpState* st);
  int write_one(Conn& c);
  std::string http_body(lws* wsi, const std::string& path, const char** type, int* status);
  bool status_allowed(lws* wsi) const;
  std::string status_json();
  // Pairing: a node's pair_request, the operator's calls (/api/pairing/*), the window's end.
  void handle_pair_request(Conn& c, const protocol::PairRequest& request);
  std::string pairing_post(lws* wsi, const std::string& path, const std::string& body, int* status);
  std::string pairing_json();
  void expire_pairing(int64_t now_ms);
};

void BridgeServer::Impl::reap(std::shared_ptr<EarshotV1Door> session) {
  if (!session) return;
  std::lock_guard<std::mutex> lock(reap_mutex);
  to_reap.push_back(std::move(session));
  reap_cv.notify_one();
}

// --- the OpenAI Realtime route: /v1/realtime, any or no subprotocol but earshot.v1 ---------------

void BridgeServer::Impl::refuse_realtime(Conn& c, const char* code, const std::string& message,
                                         uint16_t close_code) {
  protocol::realtime::ErrorInfo e;
  e.code = code;
  e.message = message;
  if (!c.outbox) c.outbox = std::make_shared<Outbox>(Outbox::Limits{}, [] {});
  c.outbox->push_control(protocol::realtime::to_json({"event_0", protocol::realtime::Error{e}}));
  LOG_WARN("server", "refused a realtime connection: %s (%s)", message.c_str(), code);
  close_conn(c, close_code, message.substr(0, 100));
}

void BridgeServer::Impl::open_realtime(Conn& c) {
  char buf[256] = {};
  const std::string path =
      lws_hdr_copy(c.wsi, buf, sizeof buf, WSI_TOKEN_GET_URI) > 0 ? std::string(buf) : "";
  if (path != "/v1/realtime" && path != "/realtime")
    return refuse_realtime(
        c, "not_found",
        "no WebSocket endpoint at '" + path +
            "': nodes speak earshot.v1, OpenAI Realtime clients use /v1/realtime",
        protocol::kCloseProtocolError);
  if (draining.load()) return refuse_realtime(c, "draining", "the bridge is shutting down", 1001);
  // The API key is the bearer token: the Authorization header, or (browsers, which cannot set
  // headers) the subprotocol "openai-insecure-api-key.<token>".
  std::string token = bearer_token(c.authorization);
  char offered[1024] = {};
  if (token.empty() && lws_hdr_copy(c.wsi, offered, sizeof offered, WSI_TOKEN_PROTOCOL) > 0) {
    const std::string list(offered), prefix = "openai-insecure-api-key.";
    const size_t at = list.find(prefix);
    if (at != std::string::npos)
      token = list.substr(at + prefix.size(), list.find_first_of(", ", at) - at - prefix.size());
  }
  const std::optional<std::string> admitted =
      Authenticator(config, services.store).admits_any(token);
  const bool ok = admitted.has_value();
  const std::string as = admitted.value_or("");
  if (!ok) {
    services.metrics.count_error(ErrorReason::kBadToken);
    return refuse_realtime(c, "invalid_api_key",
                           token.empty() ? "a bearer token is required (the client's API key)"
                                         : "the API key is not a token of this bridge",
                           protocol::kCloseUnauthorized);
  }
  if (session_count.load() >= size_t(config.max_sessions))
    return refuse_realtime(c, "overloaded", "too many sessions", protocol::kCloseInternalError);

  const std::string session_id =
      "s" + std::to_string(started_at_s) + "-" + std::to_string(++session_counter);
  std::shared_ptr<WakeSignal> wake = c.wake;
  lws_context* ctx = context;
  Outbox::Limits limits;
  limits.lead_ms = config.reply_lead_ms;
  limits.audio_as_text = true;
  c.outbox = std::make_shared<Outbox>(limits, [wake, ctx] {
    wake->pending.store(true);
    lws_cancel_service(ctx);
  });
  RealtimeDoor::Config door;
  door.session_id = session_id;
  if (const char* model = lws_get_urlarg_by_name(c.wsi, "model=", buf, int(sizeof buf)))
    door.model = model;
  // Each connection is a client of its own: its turns are stored under this id, and it fences
  // nothing of any other connection's.
  door.conversation.client_id = "realtime-" + session_id;
  door.conversation.conversation_id = session_id;
  door.turn = services.turn;
  door.default_instructions = services.reply.system_prompt;
  door.default_voice = services.reply.voice;
  door.audio_burst_s = config.audio_burst_s;
  door.audio_rate_slack = kAudioRateSlack;
  std::string error;
  std::optional<NodeLease> lease = services.delivery->claim(door.conversation.client_id, &error);
  if (!lease) {
    services.metrics.count_error(ErrorReason::kStoreFailed);
    return refuse_realtime(c, "store_failed", "cannot record the session in the store: " + error,
                           protocol::kCloseInternalError);
  }
  auto realtime = std::make_shared<RealtimeDoor>(door, c.outbox);
  Services& s = services;
  if (!realtime->start(
          [&s, &lease](ConversationSink& sink, const ConversationSettings& settings) {
            return make_conversation_port(s, settings, *lease, sink);
          },
          &error))
    return refuse_realtime(c, "internal", "cannot start a session: " + error,
                           protocol::kCloseInternalError);
  c.realtime = std::move(realtime);
  c.node_id = door.conversation.client_id;
  c.mode = "realtime";
  c.started_wall_ms = int64_t(time(nullptr)) * 1000;
  session_count.fetch_add(1);
  services.metrics.sessions_total.fetch_add(1);
  services.metrics.sessions_active.fetch_add(1);
  LOG_INFO("server", "session %s: OpenAI Realtime client (model '%s'), authenticated by %s",
           session_id.c_str(), door.model.c_str(), as.c_str());
}

void BridgeServer::Impl::realtime_received(Conn& c) {
  if (c.rx_binary) {
    c.realtime->on_binary();
  } else {
    c.realtime->on_message(c.rx, monotonic_ms());
  }
  // Backpressure: the conversation is behind; stop reading until it catches up (tick resumes).
  if (!c.rx_paused && c.realtime->input_pace() == Conversation::InputPace::kPause) {
    c.rx_paused = true;
    lws_rx_flow_control(c.wsi, 0);
  }
}

// --- xiaozhi-esp32 boxes: /xiaozhi/v1/, no subprotocol, the box named by its Device-Id ----------

void BridgeServer::Impl::refuse_xiaozhi(Conn& c, const std::string& message, uint16_t close_code) {
  if (!c.outbox) c.outbox = std::make_shared<Outbox>(Outbox::Limits{}, [] {});
  // The firmware shows an alert on its screen.
  c.outbox->push_control(protocol::xiaozhi::to_json(
      protocol::xiaozhi::ServerMessage{"", protocol::xiaozhi::Alert{"Earshot", message, "sad"}}));
  LOG_WARN("server", "refused a xiaozhi box: %s", message.c_str());
  close_conn(c, close_code, message.substr(0, 100));
}

void BridgeServer::Impl::open_xiaozhi(Conn& c) {
  if (!config.xiaozhi.enabled)
    return refuse_xiaozhi(c, "xiaozhi boxes are not enabled on this bridge",
                          protocol::kCloseProtocolError);
  if (draining.load()) return refuse_xiaozhi(c, "the bridge is shutting down", 1001);
  const std::string device_id = custom_header(c.wsi, "device-id:");
  const auto terms =
      check_xiaozhi_terms(device_id, custom_header(c.wsi, "protocol-version:"),
                          bearer_token(c.authorization), Authenticator(config, services.store));
  if (const Refusal* r = std::get_if<Refusal>(&terms)) {
    if (r->code == "bad_token") services.metrics.count_error(ErrorReason::kBadToken);
    return refuse_xiaozhi(c, r->message, r->close_code);
  }
  const std::string node_id = std::get<XiaozhiTerms>(terms).node_id;
  const int version = std::get<XiaozhiTerms>(terms).version;
  if (session_count.load() >= size_t(config.max_sessions))
    return refuse_xiaozhi(c, "too many sessions", protocol::kCloseInternalError);
  // One live connection per box: the box opens a new one for each conversation.
  for (Conn* other : conns)
    if (other != &c && other->xiaozhi && other->xiaozhi->node_id() == node_id)
      close_conn(*other, protocol::kCloseReplaced, "replaced by a new connection");

  const std::string session_id =
      "s" + std::to_string(started_at_s) + "-" + std::to_string(++session_counter);
  std::shared_ptr<WakeSignal> wake = c.wake;
  lws_context* ctx = context;
  Outbox::Limits limits;
  limits.lead_ms = config.reply_lead_ms;
  c.outbox = std::make_shared<Outbox>(limits, [wake, ctx] {
    wake->pending.store(true);
    lws_cancel_service(ctx);
  });
  std::string error;
  std::optional<NodeLease> lease = services.delivery->claim(node_id, &error);
  if (!lease) {
    services.metrics.count_error(ErrorReason::kStoreFailed);
    return refuse_xiaozhi(c, "cannot record the session in the store: " + error,
                          protocol::kCloseInternalError);
  }
  XiaozhiDoor::Config door;
  door.session_id = session_id;
  door.device_id = device_id;
  door.version = version;
  door.output_rate = config.xiaozhi.output_sample_rate;
  door.conversation.client_id = node_id;
  door.conversation.conversation_id = session_id;
  if (auto room = config.rooms.find(node_id); room != config.rooms.end())
    door.conversation.room = room->second;
  door.turn = services.turn;
  door.first_seq = lease->acked_seq ? *lease->acked_seq + 1 : 0;
  door.hello_timeout_ms = config.handshake_timeout_ms;
  door.audio_burst_s = config.audio_burst_s;
  door.audio_rate_slack = kAudioRateSlack;
  door.tool_registry = config.xiaozhi.offer_device_tools ? services.tools : nullptr;
  Services& s = services;
  const NodeLease claim = *lease;
  c.xiaozhi = std::make_shared<XiaozhiDoor>(
      door, c.outbox,
      [&s, claim](ConversationSink& sink, const ConversationSettings& settings) {
        return make_conversation_port(s, settings, claim, sink);
      },
      services.metrics, monotonic_ms());
  c.node_id = node_id;
  c.room = door.conversation.room;
  c.mode = "conversation";
  c.started_wall_ms = int64_t(time(nullptr)) * 1000;
  session_count.fetch_add(1);
  services.metrics.sessions_total.fetch_add(1);
  services.metrics.sessions_active.fetch_add(1);
  LOG_INFO("server", "session %s: xiaozhi box %s (%s), binary protocol %d", session_id.c_str(),
           device_id.c_str(), node_id.c_str(), version);
}

void BridgeServer::Impl::xiaozhi_received(Conn& c) {
  if (c.rx_binary) {
    c.xiaozhi->on_binary(reinterpret_cast<const uint8_t*>(c.rx.data()), c.rx.size(),
                         monotonic_ms());
  } else {
    c.xiaozhi->on_text(c.rx, monotonic_ms());
  }
  if (!c.rx_paused && c.xiaozhi->input_pace() == Conversation::InputPace::kPause) {
    c.rx_paused = true;
    lws_rx_flow_control(c.wsi, 0);
  }
}

int BridgeServer::Impl::answer_ota(lws* wsi, HttpState* st) {
  const int64_t now = wall_ms();
  OtaAnswer a;
  if (st->ota_too_large) {
    a.status = 413;
    a.body = "{\"error\":\"the device info is larger than " + std::to_string(kMaxOtaBodyBytes) +
             " bytes\"}";
    a.log = "refused an OTA check-in: its body is too large";
  } else {
    a = answer_ota_check_in(*st->ota, config, now, local_timezone_offset_min(now));
  }
  if (a.status == 200) {
    LOG_INFO("server", "%s", a.log.c_str());
  } else {
    LOG_WARN("server", "%s", a.log.c_str());
  }
  delete st->ota;
  st->ota = nullptr;
  delete st->body;  // a keep-alive connection's previous response
  st->body = new std::string(std::move(a.body));
  st->sent = 0;
  return begin_response(wsi, st, a.status, "application/json");
}

void BridgeServer::Impl::close_conn(Conn& c, uint16_t code, const std::string& reason) {
  if (c.closing) return;
  c.closing = true;
  c.closing_since_ms = monotonic_ms();
  c.close_code = code;
  c.close_reason = reason;
  lws_callback_on_writable(c.wsi);
}

void BridgeServer::Impl::refuse(Conn& c, const std::string& code, const std::string& message,
                                uint16_t close_code) {
  protocol::Error e;
  e.code = code;
  e.message = message;
  e.fatal = true;
  if (!c.outbox) c.outbox = std::make_shared<Outbox>(Outbox::Limits{}, [] {});
  c.outbox->push_control(protocol::to_json(e));
  LOG_WARN("server", "refused a connection: %s (%s)", message.c_str(), code.c_str());
  close_conn(c, close_code, message.substr(0, 100));
}

void BridgeServer::Impl::violation(Conn& c, const std::string& code, const std::string& message) {
  services.metrics.count_error(ErrorReason::kProtocolError);
  protocol::Error e;
  e.code = code;
  e.message = message;
  if (c.outbox) c.outbox->push_control(protocol::to_json(e));
  if (++c.violations > kMaxViolations) {
    close_conn(c, protocol::kCloseProtocolError, "too many malformed messages");
  } else {
    lws_callback_on_writable(c.wsi);
  }
}

void BridgeServer::Impl::handle_hello(Conn& c, const protocol::Hello& hello) {
  if (draining.load()) return refuse(c, "draining", "the bridge is shutting down", 1001);
  if (std::optional<Refusal> r = check_hello_terms(hello))
    return refuse(c, r->code, r->message, r->close_code);
  // Authentication: the Authorization header, or hello.token for clients that cannot set it.
  std::string token = bearer_token(c.authorization);
  if (token.empty()) token = hello.token.value_or("");
  if (!Authenticator(config, services.store).admits_node(token, hello.node_id)) {
    services.metrics.count_error(ErrorReason::kBadToken);
    return refuse(c, "bad_token",
                  token.empty() ? "a bearer token is required"
                                : "the token is not valid for node '" + hello.node_id + "'",
                  protocol::kCloseUnauthorized);
  }
  if (session_count.load() >= size_t(config.max_sessions)) {
    return refuse(c, "overloaded", "too many sessions", protocol::kCloseInternalError);
  }
  // One live session per node: a reconnecting node replaces its stale link.
  for (Conn* other : conns) {
    if (other != &c && other->session && other->session->node_id() == hello.node_id) {
      other->outbox->push_control(protocol::to_json(
          protocol::Error{"replaced", "node '" + hello.node_id + "' connected again", true}));
      close_conn(*other, protocol::kCloseReplaced, "replaced by a new connection");
    }
  }

  // Unique across restarts too (the store keeps sessions): the bridge's start time, then a count.
  const std::string session_id =
      "s" + std::to_string(started_at_s) + "-" + std::to_string(++session_counter);
  std::shared_ptr<WakeSignal> wake = c.wake;
  lws_context* ctx = context;
  Outbox::Limits limits;
  limits.lead_ms = config.reply_lead_ms;
  c.outbox = std::make_shared<Outbox>(limits, [wake, ctx] {
    wake->pending.store(true);
    lws_cancel_service(ctx);
  });
  // The new session's claim fences every older session of this node: from here on they can
  // neither store nor acknowledge (the replaced link above may still be working through its
  // backlog). The welcome tells the node what it may forget.
  std::string claim_error;
  std::optional<NodeLease> lease = services.delivery->claim(hello.node_id, &claim_error);
  if (!lease) {
    services.metrics.count_error(ErrorReason::kStoreFailed);
    return refuse(c, "store_failed", "cannot record the session in the store: " + claim_error,
                  protocol::kCloseInternalError);
  }
  const std::optional<uint64_t> acked = lease->acked_seq;
  protocol::Welcome w;
  w.session_id = session_id;
  w.mode = hello.mode;
  w.acked_seq = acked;
  w.audio.codec = hello.audio.codec;             // replies come back in the codec the client sends
  c.outbox->push_control(protocol::to_json(w));  // before anything the session says
  c.frame_ms = int(hello.audio.frame_ms);
  c.rate = std::make_unique<AudioRateLimit>(int64_t(config.audio_burst_s) * 1000, kAudioRateSlack);
  auto session = std::make_shared<EarshotV1Door>(services, c.outbox, session_id, hello, *lease);
  std::string error;
  if (!session->start(&error)) {
    return refuse(c, "internal", "cannot start a session: " + error, protocol::kCloseInternalError);
  }
  c.session = std::move(session);
  c.node_id = hello.node_id;
  c.room = hello.room.value_or("");
  c.mode = protocol::to_string(hello.mode);
  c.started_wall_ms = int64_t(time(nullptr)) * 1000;
  session_count.fetch_add(1);
  services.metrics.sessions_total.fetch_add(1);
  services.metrics.sessions_active.fetch_add(1);
  LOG_INFO("server", "session %s: node '%s'%s%s, %s mode, resume after seq %s", session_id.c_str(),
           hello.node_id.c_str(), hello.room ? " in " : "", hello.room.value_or("").c_str(),
           protocol::to_string(hello.mode), acked ? std::to_string(*acked).c_str() : "(none)");
}

void BridgeServer::Impl::handle_text(Conn& c, const std::string& text) {
  if (c.pairing_id) return violation(c, "bad_message", "waiting for the operator to confirm");
  if (!c.session && protocol::is_pairing_message(text)) {
    protocol::PairingParseResult p =
        protocol::parse_pairing_message(text, protocol::Direction::kNodeToHost);
    if (!p.ok()) return refuse(c, "bad_message", p.error, protocol::kCloseProtocolError);
    return handle_pair_request(c, std::get<protocol::PairRequest>(*p.message));
  }
  protocol::ParseResult r = protocol::parse_message(text, protocol::Direction::kNodeToHost);
  if (!c.session) {
    if (!r.ok()) return refuse(c, "bad_message", r.error, protocol::kCloseProtocolError);
    if (auto* hello = std::get_if<protocol::Hello>(&*r.message)) return handle_hello(c, *hello);
    return refuse(
        c, "expected_hello",
        std::string("the first message must be hello, not ") + protocol::type_name(*r.message),
        protocol::kCloseProtocolError);
  }
  if (!r.ok()) return violation(c, "bad_message", r.error);
  if (std::holds_alternative<protocol::Hello>(*r.message))
    return violation(c, "bad_message", "hello was already received on this connection");
  c.session->on_message(*r.message);
}

void BridgeServer::Impl::handle_binary(Conn& c, const std::string& bytes) {
  if (!c.session) {
    return refuse(c, "expected_hello", "audio before hello", protocol::kCloseProtocolError);
  }
  protocol::AudioFrameView view;
  const protocol::FrameError e = protocol::parse_audio_frame(
      reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &view);
  if (e != protocol::FrameError::kOk)
    return violation(c, "bad_frame", std::string("audio frame dropped: ") + protocol::to_string(e));
  if (view.header.stream != protocol::Stream::kMicrophone)
    return violation(c, "bad_frame", "audio frame dropped: nodes send on the microphone stream");
  if (!c.rate->admit(monotonic_ms(), c.frame_ms)) {
    services.metrics.count_error(ErrorReason::kClientTooFast);
    LOG_WARN("server",
             "node '%s': %lld s of audio is faster than real time beyond the %d s burst; "
             "closing (4029)",
             c.node_id.c_str(), (long long)(c.rate->received_ms() / 1000), config.audio_burst_s);
    c.outbox->push_control(protocol::to_json(
        protocol::Error{"too_fast",
                        "audio is arriving faster than real time beyond the allowed burst of " +
                            std::to_string(config.audio_burst_s) + " s",
                        true}));
    return close_conn(c, protocol::kCloseTooFast, "audio faster than real time");
  }
  c.session->on_audio(view);
  // Backpressure: the session is behind; stop reading until it catches up (tick resumes).
  if (!c.rx_paused && c.session->input_pace() == Conversation::InputPace::kPause) {
    c.rx_paused = true;
    lws_rx_flow_control(c.wsi, 0);
  }
}

int BridgeServer::Impl::write_one(Conn& c) {
  OutItem item;
  if (c.outbox && c.outbox->pop_ready(monotonic_ms(), &item)) {
    std::vector<unsigned char> buf(LWS_PRE + item.bytes.size());
    memcpy(buf.data() + LWS_PRE, item.bytes.data(), item.bytes.size());
    const int n = lws_write(c.wsi, buf.data() + LWS_PRE, item.bytes.size(),
                            item.binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    if (n < int(item.bytes.size())) return -1;
    c.waiting_since_ms = -1;
    if (item.binary) services.metrics.frames_sent_total.fetch_add(1);
    if (c.outbox->has_ready(monotonic_ms()) || c.closing) lws_callback_on_writable(c.wsi);
    return 0;
  }
  if (c.closing) {
    lws_close_reason(c.wsi, lws_close_status(c.close_code),
                     reinterpret_cast<unsigned char*>(c.close_reason.data()),
                     c.close_reason.size());
    return -1;
  }
  return 0;
}

void BridgeServer::Impl::tick() {
  const int64_t now = monotonic_ms();
  watchdog.tick(now);
  const bool drain = draining.load();
  expire_pairing(now);
  for (Conn* c : conns) {
    if (!c->session && !c->realtime && !c->xiaozhi) {
      if (c->pairing_id) continue;  // waits for the operator, until the window closes
      if (!c->closing && now - c->connected_ms > config.handshake_timeout_ms)
        refuse(*c, "handshake_timeout", "no hello within the handshake timeout",
               protocol::kCloseHandshakeTimeout);
      continue;
    }
    if (c->realtime) c->realtime->on_tick(now);
    if (c->xiaozhi) c->xiaozhi->on_tick(now);
    const Conversation::InputPace pace = c->session    ? c->session->input_pace()
                                         : c->realtime ? c->realtime->input_pace()
                                                       : c->xiaozhi->input_pace();
    if (c->rx_paused && pace == Conversation::InputPace::kResume) {
      c->rx_paused = false;
      lws_rx_flow_control(c->wsi, 1);
    }
    if (const Outbox::CloseRequest req = c->outbox->close_request(); req.code && !c->closing)
      close_conn(*c, req.code, req.reason);
    if (c->outbox->has_ready(now)) {
      lws_callback_on_writable(c->wsi);
      // A client that reads nothing of what waits for it: its socket never becomes writable.
      if (c->waiting_since_ms < 0) c->waiting_since_ms = now;
      if (!c->closing && now - c->waiting_since_ms > config.stalled_client_ms) {
        services.metrics.count_error(ErrorReason::kClientStalled);
        LOG_WARN("server", "node '%s' has read nothing for %d ms; closing (4012)",
                 c->node_id.c_str(), config.stalled_client_ms);
        close_conn(*c, protocol::kCloseStalled, "not reading");
      }
    } else {
      c->waiting_since_ms = -1;
    }
    // A close frame that cannot be written (the peer reads nothing) does not keep it open.
    if (c->closing && now - c->closing_since_ms > kCloseGraceMs)
      lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    if (drain && !c->closing &&
        (now >= drain_deadline_ms.load() || c->outbox->next_audio_release_ms() < 0)) {
      close_conn(*c, 1001, "bridge shutting down");
    }
  }
  if (!stop_loop.load()) lws_sul_schedule(context, 0, &tick_timer.sul, on_tick, kTickUs);
}

void BridgeServer::Impl::on_tick(lws_sorted_usec_list_t* sul) {
  Impl* self = static_cast<Impl*>(lws_container_of(sul, TickTimer, sul)->owner);
  self->tick();
}

// --- pairing (host/pairing_desk.h, docs/protocol.md "Pairing") ---------------------------------

void BridgeServer::Impl::handle_pair_request(Conn& c, const protocol::PairRequest& request) {
  if (draining.load()) return refuse(c, "draining", "the bridge is shutting down", 1001);
  char peer[128] = {};
  lws_get_peer_simple(c.wsi, peer, sizeof peer);
  const uint64_t id = ++pairing_counter;
  if (std::optional<Refusal> r = pairing.request(id, request, peer, monotonic_ms()))
    return refuse(c, r->code, r->message, r->close_code);
  c.pairing_id = id;
  c.node_id = request.node_id;
  if (!c.outbox) c.outbox = std::make_shared<Outbox>(Outbox::Limits{}, [] {});
  c.outbox->push_control(
      protocol::to_json(protocol::PairPending{pairing.seconds_left(monotonic_ms())}));
  lws_callback_on_writable(c.wsi);
}

void BridgeServer::Impl::expire_pairing(int64_t now_ms) {
  for (uint64_t id : pairing.expire(now_ms))
    for (Conn* c : conns)
      if (c->pairing_id == id) {
        c->pairing_id = 0;
        refuse(*c, "pairing_closed", "the pairing window closed before the code was confirmed",
               protocol::kClosePairingRefused);
      }
}

std::string BridgeServer::Impl::pairing_json() {
  const int64_t now = monotonic_ms();
  nlohmann::json j;
  j["open"] = pairing.is_open(now);
  j["closes_in_s"] = pairing.seconds_left(now);
  j["tls"] = !config.tls_cert.empty();
  j["fingerprint"] = certificate_fingerprint;
  j["waiting"] = nlohmann::json::array();
  for (const PairingDesk::Waiting& w : pairing.waiting())
    j["waiting"].push_back({{"node_id", w.node_id},
                            {"room", w.room},
                            {"peer", w.peer},
                            {"waiting_s", (now - w.since_ms) / 1000}});
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

// The operator's calls. Served like /api/status (this machine, or server.status_token), and only
// as application/json: a web page elsewhere cannot send that to the bridge without a CORS
// preflight, which is never granted, so it cannot open a window or confirm a code.
std::string BridgeServer::Impl::pairing_post(lws* wsi, const std::string& path,
                                             const std::string& body, int* status) {
  auto error = [&](int code, const std::string& message) {
    *status = code;
    return nlohmann::json({{"error", message}}).dump() + "\n";
  };
  if (!status_allowed(wsi))
    return error(401, "pairing is served to this machine, or with server.status_token");
  char type[128] = {};
  lws_hdr_copy(wsi, type, sizeof type, WSI_TOKEN_HTTP_CONTENT_TYPE);
  if (std::string(type).rfind("application/json", 0) != 0)
    return error(415, "send application/json");
  const nlohmann::json request = nlohmann::json::parse(body.empty() ? "{}" : body, nullptr, false);
  if (!request.is_object()) return error(400, "the body must be a JSON object");
  const int64_t now = monotonic_ms();
  if (path == "/api/pairing/open") {
    const auto w = request.find("window_s");
    const int window_s = w != request.end() && w->is_number_integer() ? w->get<int>() : 120;
    pairing.open(window_s, now);
    return pairing_json();
  }
  if (path == "/api/pairing/close") {
    pairing.close();
    expire_pairing(now);
    return pairing_json();
  }
  if (path == "/api/pairing/confirm") {
    const auto code = request.find("code");
    if (code == request.end() || !code->is_string()) return error(400, "code: missing");
    PairingDesk::Confirmation done = pairing.confirm(code->get<std::string>(), now);
    if (!done.ok) {
      expire_pairing(now);  // three wrong codes close the window
      return error(done.http_status, done.message);
    }
    for (Conn* c : conns)
      if (c->pairing_id == done.conn) {
        c->pairing_id = 0;
        c->outbox->push_control(protocol::to_json(done.paired));
        close_conn(*c, protocol::kCloseNormal, "paired");
      }
    return nlohmann::json({{"paired", done.paired.node_id}, {"message", done.message}}).dump() +
           "\n";
  }
  return error(404, "no such pairing call");
}

// Loopback callers (the box itself, an ssh tunnel, a reverse proxy on the box) may read the
// status; anyone else needs server.status_token.
bool BridgeServer::Impl::status_allowed(lws* wsi) const {
  char token[256] = {};
  if (!config.status_token.empty()) {
    char auth[512] = {};
    if (lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        std::string(auth) == "Bearer " + config.status_token)
      return true;
    const char* arg = lws_get_urlarg_by_name(wsi, "token=", token, int(sizeof token));
    if (arg && config.status_token == arg) return true;
  }
  char peer[128] = {};
  lws_get_peer_simple(wsi, peer, sizeof peer);
  const std::string p(peer);
  return p.rfind("127.", 0) == 0 || p == "::1" || p.rfind("::ffff:127.", 0) == 0;
}

std::string BridgeServer::Impl::status_json() {
  nlohmann::json j;
  j["draining"] = draining.load();
  j["sessions"] = nlohmann::json::array();
  for (const Conn* c : conns) {
    if ((!c->session && !c->realtime && !c->xiaozhi) || c->closing) continue;
    j["sessions"].push_back({{"session_id", c->session    ? c->session->id()
                                            : c->realtime ? c->realtime->session_id()
                                                          : c->xiaozhi->session_id()},
                             {"node_id", c->node_id},
                             {"room", c->room},
                             {"mode", c->mode},
                             {"protocol", c->session    ? "earshot.v1"
                                          : c->realtime ? "realtime"
                                                        : "xiaozhi"},
                             {"state", c->xiaozhi ? c->xiaozhi->state() : std::string("connected")},
                             {"connected_for_s", (monotonic_ms() - c->connected_ms) / 1000}});
    if (c->xiaozhi) {  // the box's own tools (MCP), as it listed them
      nlohmann::json& tools = j["sessions"].back()["tools"] = nlohmann::json::array();
      for (const auto& tool : c->xiaozhi->tools().tools())
        tools.push_back(tool.name);
    }
  }
  // Connections the server does not hold (Wyoming satellites the bridge dials), alike.
  for (const LiveClient& l : services.live_clients.list())
    j["sessions"].push_back(
        {{"session_id", l.session_id},
         {"node_id", l.client_id},
         {"room", l.room},
         {"mode", l.protocol},
         {"protocol", l.protocol},
         {"state", l.state},
         {"connected_for_s", l.connected_ms > 0 ? (monotonic_ms() - l.connected_ms) / 1000 : 0}});
  j["turns"] = nlohmann::json::array();
  {
    // From memory: this runs on the event loop, which must not wait on SQLite.
    for (const TurnRecord& t : services.recent_turns.newest_first()) {
      j["turns"].push_back({{"node_id", t.node_id},
                            {"turn_id", t.turn_id},
                            {"at_ms", t.started_at_ms},
                            {"transcript", t.transcript},
                            {"reply", t.reply},
                            {"interrupted", t.interrupted},
                            {"timings", nlohmann::json::accept(t.timings_json)
                                            ? nlohmann::json::parse(t.timings_json)
                                            : nlohmann::json::object()}});
    }
  }
  // Text from speech recognition and models may hold invalid UTF-8: replace, never throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string BridgeServer::Impl::http_body(lws* wsi, const std::string& path, const char** type,
                                          int* status) {
  *status = 200;
  if (path == "/api/status") {
    *type = "application/json";
    if (!status_allowed(wsi)) {
      *status = 401;
      return "{\"error\":\"status is served to this machine, or with server.status_token\"}\n";
    }
    return status_json();
  }
  if (path == "/api/pairing") {
    *type = "application/json";
    if (!status_allowed(wsi)) {
      *status = 401;
      return "{\"error\":\"pairing is served to this machine, or with server.status_token\"}\n";
    }
    return pairing_json();
  }
  if (path == "/healthz") {
    *type = "text/plain";
    return draining.load() ? "draining\n" : "ok\n";
  }
  if (path == "/metrics") {
    *type = "text/plain; version=0.0.4";
    return services.metrics.render();
  }
  if (std::optional<WebFile> file = find_web_file(path)) {  // the browser client, /talk
    *type = file->content_type;
    return std::string(file->body);
  }
  if (path == "/" || path == "/index.html") {
    *type = "text/html; charset=utf-8";
    if (!config.web_root.empty()) {
      std::ifstream in(config.web_root + "/index.html");
      std::stringstream s;
      if (in) {
        s << in.rdbuf();
        return s.str();
      }
    }
    return web_client_html();
  }
  *status = 404;
  *type = "text/plain";
  return "not found\n";
}

int BridgeServer::Impl::http_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                                      size_t len) {
  Impl* self = static_cast<Impl*>(lws_context_user(lws_get_context(wsi)));
  auto* st = static_cast<HttpState*>(user);
  switch (reason) {
    case LWS_CALLBACK_HTTP: {
      const std::string path(static_cast<const char*>(in),
                             strnlen(static_cast<const char*>(in), len ? len : 256));
      if (path == "/xiaozhi/ota/" || path == "/xiaozhi/ota") {  // a xiaozhi box checks in
        char host[256] = {}, method[16] = {};
        lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST);
        lws_hdr_copy(wsi, method, sizeof method, WSI_TOKEN_HTTP_COLON_METHOD);  // HTTP/2
        st->ota = new OtaCheckIn{custom_header(wsi, "device-id:"), custom_header(wsi, "client-id:"),
                                 host, lws_is_ssl(wsi) != 0, ""};
        st->ota_too_large = false;
        // A POST's body (the device info) follows: answered at LWS_CALLBACK_HTTP_BODY_COMPLETION.
        if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0 || !strcmp(method, "POST")) return 0;
        return self->answer_ota(wsi, st);
      }
      // The operator's pairing calls (POST): answered once the body is in.
      if (path.rfind("/api/pairing/", 0) == 0 &&
          lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
        delete st->post_path;
        delete st->post_body;
        st->post_path = new std::string(path);
        st->post_body = new std::string();
        char length[32] = {};
        if (lws_hdr_copy(wsi, length, sizeof length, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
            atol(length) > 0)
          return 0;
        int status = 200;
        std::string body = self->pairing_post(wsi, path, "", &status);
        return respond(wsi, st, status, "application/json", std::move(body));
      }
      const char* type = "text/plain";
      int status = 200;
      std::string body = self->http_body(wsi, path, &type, &status);
      return respond(wsi, st, status, type, std::move(body));
    }
    case LWS_CALLBACK_HTTP_BODY:
      if (st->ota) {
        if (st->ota->body.size() + len > kMaxOtaBodyBytes) {
          st->ota_too_large = true;
        } else {
          st->ota->body.append(static_cast<const char*>(in), len);
        }
      }
      if (st->post_body) {
        if (st->post_body->size() + len > kMaxPostBody) return -1;
        st->post_body->append(static_cast<const char*>(in), len);
      }
      return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
      if (st->ota) return self->answer_ota(wsi, st);
      if (st->post_path) {
        int status = 200;
        std::string body = self->pairing_post(wsi, *st->post_path, *st->post_body, &status);
        return respond(wsi, st, status, "application/json", std::move(body));
      }
      return lws_callback_http_dummy(wsi, reason, user, in, len);
    case LWS_CALLBACK_HTTP_WRITEABLE: {
      if (!st->body) return -1;
      // One piece per writeable callback. Over HTTP/2 a write must fit the peer's flow-control
      // window and a DATA frame (16 KB writes cut /metrics at ~4 KB and reset the stream). So at
      // most kHttpPiece bytes, and never more than the window lws reports (-1: no flow control,
      // as in HTTP/1.1); with the window shut, wait to be called back when the peer opens it.
      size_t piece = std::min(kHttpPiece, st->body->size() - st->sent);
      const lws_fileofs_t window = lws_get_peer_write_allowance(wsi);
      if (window == 0) {
        lws_callback_on_writable(wsi);
        return 0;
      }
      if (window > 0) piece = std::min(piece, size_t(window));
      unsigned char buf[LWS_PRE + kHttpPiece];
      memcpy(buf + LWS_PRE, st->body->data() + st->sent, piece);
      st->sent += piece;
      const bool last = st->sent >= st->body->size();
      if (lws_write(wsi, buf + LWS_PRE, piece, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
          int(piece))
        return -1;
      if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
      }
      return lws_http_transaction_completed(wsi) ? -1 : 0;
    }
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      if (st) {
        delete st->body;
        st->body = nullptr;
        delete st->ota;
        st->ota = nullptr;
        delete st->post_path;
        delete st->post_body;
        st->post_path = st->post_body = nullptr;
      }
      return 0;
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

int BridgeServer::Impl::ws_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in,
                                    size_t len) {
  lws_context* ctx = lws_get_context(wsi);
  Impl* self = static_cast<Impl*>(lws_context_user(ctx));
  Conn** slot = static_cast<Conn**>(user);
  switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: {
      Conn* c = new Conn;
      c->wsi = wsi;
      c->connected_ms = monotonic_ms();
      // What a peer has not read backs up in the outbox — where barge-in can drop it and a peer
      // that stopped reading shows — not in megabytes of kernel buffer (loopback autotunes to 4
      // MB).
      const int send_buffer = kSocketSendBufferBytes;
      setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &send_buffer, sizeof send_buffer);
      char auth[512] = {};
      if (lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) > 0)
        c->authorization = auth;
      *slot = c;
      self->conns.insert(c);
      // By name: lws binds connections to its own copy of the protocol table.
      if (!strcmp(lws_get_protocol(wsi)->name, self->protocols[2].name)) {
        char uri[64] = {};
        lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
        if (!strncmp(uri, "/xiaozhi/v1", 11)) {
          self->open_xiaozhi(*c);
        } else {
          self->open_realtime(*c);
        }
      }
      return 0;
    }
    case LWS_CALLBACK_RECEIVE: {
      Conn* c = *slot;
      if (!c || c->closing) return 0;
      if (lws_is_first_fragment(wsi)) {
        c->rx.clear();
        c->rx_binary = lws_frame_is_binary(wsi);
        c->rx_overflow = false;
      }
      const size_t limit = c->xiaozhi     ? (c->rx_binary ? protocol::xiaozhi::kMaxBinaryBytes
                                                          : protocol::xiaozhi::kMaxTextBytes)
                           : c->rx_binary ? protocol::kMaxAudioFrameSize
                           : c->realtime  ? protocol::realtime::kMaxEventBytes
                                          : protocol::kMaxControlMessageSize;
      if (c->rx.size() + len > limit) {
        c->rx_overflow = true;
      } else {
        c->rx.append(static_cast<const char*>(in), len);
      }
      if (!lws_is_final_fragment(wsi)) return 0;
      if (c->xiaozhi) {
        if (c->rx_overflow) {
          c->xiaozhi->on_oversized(c->rx_binary, limit);
        } else {
          self->xiaozhi_received(*c);
        }
      } else if (c->realtime) {
        if (c->rx_overflow) {
          c->realtime->on_oversized(limit);
        } else {
          self->realtime_received(*c);
        }
      } else if (c->rx_overflow) {
        self->violation(*c, c->rx_binary ? "bad_frame" : "bad_message",
                        std::string(c->rx_binary ? "audio frame" : "message") + " larger than " +
                            std::to_string(limit) + " bytes; dropped");
        if (!c->session) self->close_conn(*c, protocol::kCloseProtocolError, "oversized");
      } else if (c->rx_binary) {
        self->handle_binary(*c, c->rx);
      } else {
        self->handle_text(*c, c->rx);
      }
      c->rx.clear();
      if (c->outbox && c->outbox->has_ready(monotonic_ms())) lws_callback_on_writable(wsi);
      return 0;
    }
    case LWS_CALLBACK_SERVER_WRITEABLE: {
      Conn* c = *slot;
      return c ? self->write_one(*c) : 0;
    }
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
      for (Conn* c : self->conns)
        if (c->wake->pending.exchange(false)) lws_callback_on_writable(c->wsi);
      return 0;
    case LWS_CALLBACK_CLOSED: {
      Conn* c = *slot;
      if (!c) return 0;
      self->conns.erase(c);
      if (c->pairing_id) self->pairing.withdraw(c->pairing_id);
      if (c->session) {
        LOG_INFO("server", "session %s closed (node '%s')", c->session->id().c_str(),
                 c->session->node_id().c_str());
        self->session_count.fetch_sub(1);
        self->services.metrics.sessions_active.fetch_sub(1);
        self->reap(std::move(c->session));
      }
      if (c->realtime) {
        LOG_INFO("server", "session %s closed (OpenAI Realtime client)",
                 c->realtime->session_id().c_str());
        self->session_count.fetch_sub(1);
        self->services.metrics.sessions_active.fetch_sub(1);
        std::lock_guard<std::mutex> lock(self->reap_mutex);
        self->realtime_to_reap.push_back(std::move(c->realtime));
        self->reap_cv.notify_one();
      }
      if (c->xiaozhi) {
        LOG_INFO("server", "session %s closed (xiaozhi box %s)", c->xiaozhi->session_id().c_str(),
                 c->node_id.c_str());
        self->session_count.fetch_sub(1);
        self->services.metrics.sessions_active.fetch_sub(1);
        std::lock_guard<std::mutex> lock(self->reap_mutex);
        self->xiaozhi_to_reap.push_back(std::move(c->xiaozhi));
        self->reap_cv.notify_one();
      }
      if (c->outbox) c->outbox->detach();
      delete c;
      *slot = nullptr;
      return 0;
    }
    default:
      return 0;
  }
}

BridgeServer::BridgeServer(ServerConfig config, Services& services)
    : impl_(std::make_unique<Impl>(std::move(config), services)) {}

BridgeServer::~BridgeServer() {
  stop();
}

bool BridgeServer::start(std::string* error) {
  Impl& s = *impl_;
  lws_set_log_level(LLL_ERR, [](int, const char* line) {
    LOG_WARN("lws", "%.*s", int(strcspn(line, "\n")), line);
  });
  s.protocols[0] = {"http", Impl::http_callback, sizeof(HttpState), 0, 0, nullptr, 0};
  s.protocols[1] = {protocol::kSubprotocol, Impl::ws_callback, sizeof(Conn*), 4096, 0, nullptr, 0};
  // OpenAI Realtime clients: the browser's sends "realtime", the node (ws) one sends none.
  s.protocols[2] = {"realtime", Impl::ws_callback, sizeof(Conn*), 4096, 0, nullptr, 0};
  s.protocols[3] = {nullptr, nullptr, 0, 0, 0, nullptr, 0};  // 4.1.6 has no LWS_PROTOCOL_LIST_TERM

  lws_context_creation_info info{};
  info.port = s.config.port;
  info.iface = s.config.listen.empty() ? nullptr : s.config.listen.c_str();
  info.protocols = s.protocols;
  info.pvo = &s.realtime_options;
  info.user = &s;
  info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
  info.timeout_secs = 10;
  info.ka_time = 30;  // TCP keepalive: find dead peers that vanished without a FIN
  info.ka_probes = 3;
  info.ka_interval = 5;
  if (!s.config.tls_cert.empty()) {
    // lws says only that its context failed, for a bad file as for a port in use: name the file.
    if (std::string problem = check_tls_files(s.config.tls_cert, s.config.tls_key);
        !problem.empty()) {
      *error = problem;
      return false;
    }
    // One port for both: a connection whose first bytes are not a TLS hello is served in plain
    // text. lws 4.1 needs both options for that, ALLOW_NON_SSL_ON_SSL_PORT alone refuses http://
    // and ws:// (docs/deploy.md: curl http://bridge:8765/healthz on the TLS setup).
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                    LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
                    LWS_SERVER_OPTION_ALLOW_HTTP_ON_HTTPS_LISTENER;
    info.ssl_cert_filepath = s.config.tls_cert.c_str();
    s.certificate_fingerprint = earshot::host::certificate_fingerprint(s.config.tls_cert);
    info.ssl_private_key_filepath = s.config.tls_key.c_str();
  }
  const std::string where = s.config.listen + ":" + std::to_string(s.config.port);
  if (std::string problem = check_can_listen(s.config.listen, s.config.port); !problem.empty()) {
    *error = "cannot listen on " + where + ": " + problem;
    return false;
  }
  s.context = lws_create_context(&info);
  if (!s.context) {  // the files and the address were fine a moment ago: most likely a race
    *error = "cannot listen on " + where + " (port in use, or not an address of this machine)";
    return false;
  }
  s.vhost = lws_get_vhost_by_name(s.context, "default");
  s.bound_port = s.vhost ? lws_get_vhost_listen_port(s.vhost) : s.config.port;
  lws_sul_schedule(s.context, 0, &s.tick_timer.sul, Impl::on_tick, kTickUs);
  s.reaper = std::thread([&s] {
    std::unique_lock<std::mutex> lock(s.reap_mutex);
    while (true) {
      s.reap_cv.wait(lock, [&] {
        return s.reaper_stop || !s.to_reap.empty() || !s.realtime_to_reap.empty() ||
               !s.xiaozhi_to_reap.empty();
      });
      if (s.to_reap.empty() && s.realtime_to_reap.empty() && s.xiaozhi_to_reap.empty() &&
          s.reaper_stop)
        return;
      std::vector<std::shared_ptr<EarshotV1Door>> batch;
      batch.swap(s.to_reap);
      std::vector<std::shared_ptr<RealtimeDoor>> realtime_batch;
      realtime_batch.swap(s.realtime_to_reap);
      std::vector<std::shared_ptr<XiaozhiDoor>> xiaozhi_batch;
      xiaozhi_batch.swap(s.xiaozhi_to_reap);
      lock.unlock();
      for (auto& session : batch)
        session->stop();
      for (auto& door : realtime_batch)
        door->stop();
      for (auto& door : xiaozhi_batch)
        door->stop();
      batch.clear();
      realtime_batch.clear();
      xiaozhi_batch.clear();
      // Give what the sessions freed back to the system: glibc keeps freed memory in its
      // per-thread arenas otherwise, and the bridge's RSS would stay at its peak for good.
      malloc_trim(0);
      lock.lock();
    }
  });
  s.loop = std::thread([&s] {
    while (!s.stop_loop.load())
      lws_service(s.context, 0);
  });
  LOG_INFO("server", "listening on %s:%d (%s)", s.config.listen.c_str(), s.bound_port,
           s.config.tls_cert.empty() ? "ws, http" : "ws+wss, http+https");
  return true;
}

int BridgeServer::port() const {
  return impl_->bound_port;
}
size_t BridgeServer::session_count() const {
  return impl_->session_count.load();
}

void BridgeServer::drain_and_stop(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (!s.context) return;
  s.drain_deadline_ms.store(monotonic_ms() + timeout.count());
  s.draining.store(true);
  LOG_INFO("server", "draining: %zu session(s)", s.session_count.load());
  const auto deadline = std::chrono::steady_clock::now() + timeout + std::chrono::seconds(2);
  while (s.session_count.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::unique_lock<std::mutex> lock(s.reap_mutex);
    s.reap_cv.wait_for(lock, std::chrono::milliseconds(20));
  }
  stop();
}

void BridgeServer::stop() {
  Impl& s = *impl_;
  if (!s.context) return;
  s.stop_loop.store(true);
  lws_cancel_service(s.context);
  if (s.loop.joinable()) s.loop.join();
  // Destroying the context closes every connection (LWS_CALLBACK_CLOSED reaps the sessions).
  lws_sul_cancel(&s.tick_timer.sul);
  lws_context_destroy(s.context);
  s.context = nullptr;
  {
    std::lock_guard<std::mutex> lock(s.reap_mutex);
    s.reaper_stop = true;
    s.reap_cv.notify_one();
  }
  if (s.reaper.joinable()) s.reaper.join();
}

}  // namespace earshot::host
