#include "device/link/pairing_client.h"

#include <libwebsockets.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "device/link/bridge_url.h"
#include "device/link/cert_pin.h"
#include "protocol/messages.h"
#include "protocol/pairing.h"

namespace earshot::device {
namespace {

struct Attempt {
  const PairingAttempt* config = nullptr;
  void (*on_waiting)(int) = nullptr;
  PairingOutcome outcome;
  bool done = false;
  bool request_sent = false;
  std::chrono::steady_clock::time_point deadline;
  std::string rx;
  uint16_t close_code = 0;
  lws* wsi = nullptr;

  void finish(PairingOutcome::Kind kind, const std::string& message) {
    if (done) return;
    done = true;
    outcome.kind = kind;
    outcome.message = message;
  }

  void receive(const std::string& text) {
    if (protocol::is_pairing_message(text)) {
      protocol::PairingParseResult r =
          protocol::parse_pairing_message(text, protocol::Direction::kHostToNode);
      if (!r.ok()) return finish(PairingOutcome::kFailed, "bad answer from the bridge: " + r.error);
      if (auto* pending = std::get_if<protocol::PairPending>(&*r.message)) {
        outcome.waited = true;
        deadline = std::chrono::steady_clock::now() + std::chrono::seconds(config->wait_s);
        if (on_waiting) on_waiting(pending->window_s);
        return;
      }
      if (auto* paired = std::get_if<protocol::Paired>(&*r.message)) {
        if (paired->node_id != config->node_id)
          return finish(PairingOutcome::kFailed, "the bridge paired another node id");
        outcome.token = paired->token;
        return finish(PairingOutcome::kPaired, "paired");
      }
      return;
    }
    protocol::ParseResult r = protocol::parse_message(text, protocol::Direction::kHostToNode);
    if (r.ok())
      if (auto* e = std::get_if<protocol::Error>(&*r.message)) {
        outcome.code = e->code;
        finish(PairingOutcome::kRefused, e->message);
      }
  }
};

// Wakes the loop every 100 ms (lws 4 ignores lws_service's timeout), so `stop` and the deadline are
// seen promptly without a second thread.
struct Ticker {
  lws_sorted_usec_list_t sul{};
  lws_context* context = nullptr;
};

void on_tick(lws_sorted_usec_list_t* sul) {
  Ticker* t = lws_container_of(sul, Ticker, sul);
  lws_sul_schedule(t->context, 0, &t->sul, on_tick, 100 * LWS_US_PER_MS);
}

int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  auto* a = static_cast<Attempt*>(user);
  if (!a) a = static_cast<Attempt*>(lws_context_user(lws_get_context(wsi)));
  switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
      a->outcome.fingerprint = peer_certificate_fingerprint(wsi);
      return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      lws_callback_on_writable(wsi);
      return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
      if (a->request_sent) return 0;
      protocol::PairRequest r;
      r.node_id = a->config->node_id;
      r.code = a->config->code;
      if (!a->config->room.empty()) r.room = a->config->room;
      const std::string json = protocol::to_json(r);
      std::vector<unsigned char> buf(LWS_PRE + json.size());
      memcpy(buf.data() + LWS_PRE, json.data(), json.size());
      if (lws_write(wsi, buf.data() + LWS_PRE, json.size(), LWS_WRITE_TEXT) < int(json.size()))
        return -1;
      a->request_sent = true;
      return 0;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
      if (lws_is_first_fragment(wsi)) a->rx.clear();
      if (a->rx.size() + len <= protocol::kMaxControlMessageSize)
        a->rx.append(static_cast<const char*>(in), len);
      if (lws_is_final_fragment(wsi) && !lws_frame_is_binary(wsi)) a->receive(a->rx);
      return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (len >= 2) {
        const auto* b = static_cast<const unsigned char*>(in);
        a->close_code = uint16_t(b[0] << 8 | b[1]);
      }
      return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      a->wsi = nullptr;
      a->finish(PairingOutcome::kFailed,
                "cannot connect to " + a->config->url + ": " +
                    (in ? std::string(static_cast<const char*>(in),
                                      strnlen(static_cast<const char*>(in), len ? len : 200))
                        : "error"));
      return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
      a->wsi = nullptr;
      a->finish(PairingOutcome::kFailed,
                "the bridge closed the connection" +
                    (a->close_code ? " (" + std::to_string(a->close_code) + ")" : std::string()));
      return 0;
    case LWS_CALLBACK_WSI_DESTROY:
      if (a && a->wsi == wsi) {
        a->wsi = nullptr;
        a->finish(PairingOutcome::kFailed, "the connection attempt ended");
      }
      return 0;
    default:
      return 0;
  }
}

}  // namespace

PairingOutcome request_pairing(const PairingAttempt& config, const std::atomic<bool>& stop,
                               void (*on_waiting)(int)) {
  Attempt a;
  a.config = &config;
  a.on_waiting = on_waiting;
  BridgeUrl url;
  std::string error;
  if (!parse_bridge_url(config.url, &url, &error)) {
    a.finish(PairingOutcome::kFailed, error);
    return a.outcome;
  }
  lws_set_log_level(LLL_ERR, [](int, const char* line) { fprintf(stderr, "<4>lws: %s", line); });
  lws_protocols protocols[2] = {{protocol::kSubprotocol, callback, 0, 4096, 0, nullptr, 0},
                                {nullptr, nullptr, 0, 0, 0, nullptr, 0}};
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.user = &a;
  if (url.tls) {
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (!config.ca_file.empty()) info.client_ssl_ca_filepath = config.ca_file.c_str();
  }
  lws_context* context = lws_create_context(&info);
  if (!context) {
    a.finish(PairingOutcome::kFailed, "cannot create the libwebsockets context");
    return a.outcome;
  }
  lws_client_connect_info ci{};
  ci.context = context;
  ci.address = url.host.c_str();
  ci.port = url.port;
  ci.path = url.path.c_str();
  ci.host = url.host.c_str();
  ci.origin = url.host.c_str();
  ci.protocol = protocol::kSubprotocol;
  ci.local_protocol_name = protocol::kSubprotocol;
  ci.userdata = &a;
  ci.pwsi = &a.wsi;
  if (url.tls) {
    ci.ssl_connection = LCCSCF_USE_SSL;
    // Trust on first use: the certificate is recorded, not judged (unless a CA is configured).
    if (config.ca_file.empty())
      ci.ssl_connection |=
          LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_INSECURE;
  }
  a.deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(config.connect_timeout_ms);
  if (!lws_client_connect_via_info(&ci)) {
    a.wsi = nullptr;
    a.finish(PairingOutcome::kFailed, "cannot start a connection to " + config.url);
  }
  Ticker ticker;
  ticker.context = context;
  lws_sul_schedule(context, 0, &ticker.sul, on_tick, 100 * LWS_US_PER_MS);
  while (!a.done) {
    if (stop.load()) {
      a.finish(PairingOutcome::kFailed, "stopped");
      break;
    }
    if (std::chrono::steady_clock::now() > a.deadline) {
      a.finish(PairingOutcome::kFailed, a.outcome.waited ? "the operator did not confirm in time"
                                                         : "no answer from the bridge");
      break;
    }
    lws_service(context, 0);
  }
  lws_sul_cancel(&ticker.sul);
  lws_context_destroy(context);
  if (a.outcome.kind != PairingOutcome::kPaired) a.outcome.token.clear();
  return a.outcome;
}

}  // namespace earshot::device
