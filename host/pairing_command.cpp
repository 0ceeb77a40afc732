#include "host/pairing_command.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <thread>

#include "host/bridge_config.h"
#include "host/engines/http_client.h"
#include "host/store/store.h"
#include "protocol/pairing.h"

namespace earshot::host {
namespace {

using json = nlohmann::json;

// How often the command asks the bridge whether a node is waiting.
constexpr auto kPollInterval = std::chrono::milliseconds(200);

int usage() {
  fprintf(stderr,
          "usage: earshot-bridge [--config FILE] pair [CODE] [--window SECONDS]\n"
          "       earshot-bridge [--config FILE] pair list\n"
          "       earshot-bridge [--config FILE] pair remove NODE_ID\n");
  return 2;
}

// The running bridge as seen from this machine.
std::string base_url(const BridgeConfig& config) {
  const std::string& listen = config.server.listen;
  const bool wildcard = listen.empty() || listen == "0.0.0.0" || listen == "::";
  const std::string host = wildcard                                ? "127.0.0.1"
                           : listen.find(':') != std::string::npos ? "[" + listen + "]"
                                                                   : listen;
  return "http://" + host + ":" + std::to_string(config.server.port);
}

struct Call {
  long status = 0;
  json body;
  std::string error;
};

// One call to the bridge's pairing API; POST when `post` is set.
Call call(const BridgeConfig& config, const std::string& path, const json* post) {
  HttpRequest req;
  req.url = base_url(config) + path;
  req.first_byte_timeout_ms = 5000;
  req.total_timeout_ms = 10000;
  if (!config.server.status_token.empty())
    req.headers.push_back("Authorization: Bearer " + config.server.status_token);
  if (post) {
    req.body = post->dump();
    req.headers.push_back("Content-Type: application/json");
  }
  std::string text;
  HttpResponse r = http_request(
      req,
      [&](std::string_view chunk) {
        text.append(chunk);
        return true;
      },
      CancelToken());
  Call c;
  c.status = r.status;
  if (!r.ok) text = r.error_body;
  c.body = json::parse(text, nullptr, false);
  if (r.status == 0) {
    c.error = "cannot reach the bridge at " + base_url(config) + " (is it running?): " + r.error;
  } else if (!r.ok) {
    c.error = c.body.is_object() && c.body.contains("error") && c.body["error"].is_string()
                  ? c.body["error"].get<std::string>()
                  : r.error;
  } else if (!c.body.is_object()) {
    c.error = "the bridge answered something that is not JSON";
  }
  return c;
}

void print_waiting(const json& state) {
  for (const json& w : state.value("waiting", json::array()))
    printf("waiting: node '%s'%s%s from %s\n", w.value("node_id", "").c_str(),
           w.value("room", "").empty() ? "" : " in room ", w.value("room", "").c_str(),
           w.value("peer", "").c_str());
  fflush(stdout);
}

std::string date(int64_t ms) {
  const time_t t = time_t(ms / 1000);
  tm local{};
  localtime_r(&t, &local);
  char text[32];
  strftime(text, sizeof text, "%Y-%m-%d %H:%M", &local);
  return text;
}

std::unique_ptr<Store> open_store(const BridgeConfig& config) {
  if (config.store_path.empty()) {
    fprintf(stderr, "earshot-bridge: pair: paired nodes live in the store; store.path is \"\"\n");
    return nullptr;
  }
  std::string error;
  std::unique_ptr<Store> store = Store::open(config.store_path, {}, &error);
  if (!store) fprintf(stderr, "earshot-bridge: pair: store: %s\n", error.c_str());
  return store;
}

int pair(const BridgeConfig& config, std::string code, int window_s) {
  if (!code.empty() && !protocol::is_valid_pairing_code(code)) {
    fprintf(stderr, "earshot-bridge: pair: a code is %zu digits\n", protocol::kPairingCodeDigits);
    return 2;
  }
  const json open_request = {{"window_s", window_s}};
  Call opened = call(config, "/api/pairing/open", &open_request);
  if (!opened.error.empty()) {
    fprintf(stderr, "earshot-bridge: pair: %s\n", opened.error.c_str());
    return 1;
  }
  const json close_request = json::object();
  printf("pairing window open for %d s on %s\n", opened.body.value("closes_in_s", 0),
         base_url(config).c_str());
  if (opened.body.value("tls", false))
    printf(
        "bridge certificate SHA-256: %s\n  (the node logs the fingerprint it pins: they must "
        "match)\n",
        opened.body.value("fingerprint", "").c_str());
  else
    printf("note: no TLS (server.tls_cert): the node's token will cross the network in clear\n");
  printf("start the node (or wait for it to retry); waiting for it to ask...\n");
  fflush(stdout);
  // Wait for a node to ask, while the window is open.
  json state;
  while (true) {
    Call c = call(config, "/api/pairing", nullptr);
    if (!c.error.empty()) {
      fprintf(stderr, "earshot-bridge: pair: %s\n", c.error.c_str());
      return 1;
    }
    state = c.body;
    if (!state.value("waiting", json::array()).empty()) break;
    if (!state.value("open", false)) {
      fprintf(stderr, "earshot-bridge: pair: the window closed and no node asked to pair\n");
      return 1;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  print_waiting(state);
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (code.empty()) {
      printf("code the node shows: ");
      fflush(stdout);
      if (!std::getline(std::cin, code)) break;
      code.erase(0, code.find_first_not_of(" \t"));
      code.erase(code.find_last_not_of(" \t\r") + 1);
    }
    const json confirm_request = {{"code", code}};
    Call c = call(config, "/api/pairing/confirm", &confirm_request);
    if (c.error.empty()) {
      printf("%s\n", c.body.value("message", "paired").c_str());
      call(config, "/api/pairing/close", &close_request);
      return 0;
    }
    fprintf(stderr, "earshot-bridge: pair: %s\n", c.error.c_str());
    if (c.status != 403 || !std::cin.good() || c.error.find("closed") != std::string::npos) break;
    code.clear();
  }
  call(config, "/api/pairing/close", &close_request);
  return 1;
}

}  // namespace

int run_pair_command(const BridgeConfig& config, const std::vector<std::string>& args,
                     int window_s) {
  if (args.empty()) return pair(config, "", window_s);
  if (args.size() == 1 && args[0] == "list") {
    std::unique_ptr<Store> store = open_store(config);
    if (!store) return 1;
    const std::vector<PairedNodeRecord> nodes = store->paired_nodes();
    if (nodes.empty()) printf("no paired nodes\n");
    for (const PairedNodeRecord& n : nodes)
      printf("%-24s paired %s from %s\n", n.node_id.c_str(), date(n.paired_at_ms).c_str(),
             n.peer.c_str());
    return 0;
  }
  if (args.size() == 2 && args[0] == "remove") {
    std::unique_ptr<Store> store = open_store(config);
    if (!store) return 1;
    std::string error;
    if (!store->remove_paired_node(args[1], &error)) {
      fprintf(stderr, "earshot-bridge: pair remove: %s\n", error.c_str());
      return 1;
    }
    printf("unpaired %s: its token is refused from its next connection; it may pair again\n",
           args[1].c_str());
    return 0;
  }
  if (args.size() == 1) return pair(config, args[0], window_s);
  return usage();
}

}  // namespace earshot::host
