#include "host/doors/xiaozhi_ota.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <ctime>

namespace earshot::host {

using json = nlohmann::json;

std::string xiaozhi_node_id(const std::string& device_id) {
  std::string hex;
  for (const char c : device_id) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      hex += char(std::tolower(static_cast<unsigned char>(c)));
    } else if (c != ':' && c != '-') {
      return "";
    }
  }
  return hex.size() == 12 ? kXiaozhiNodePrefix + hex : "";
}

int local_timezone_offset_min(int64_t now_ms) {
  const time_t now = time_t(now_ms / 1000);
  struct tm local {};
  localtime_r(&now, &local);
  return int(local.tm_gmtoff / 60);
}

OtaAnswer answer_ota_check_in(const OtaCheckIn& r, const ServerConfig& config, int64_t now_ms,
                              int timezone_offset_min) {
  OtaAnswer a;
  auto refuse = [&](int status, const std::string& message) {
    a.status = status;
    a.body = json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
    a.log = "refused an OTA check-in: " + message;
    return a;
  };
  if (!config.xiaozhi.enabled) return refuse(404, "xiaozhi boxes are not enabled on this bridge");
  a.node_id = xiaozhi_node_id(r.device_id);
  if (a.node_id.empty())
    return refuse(400, "the Device-Id header must be the box's MAC address, got '" +
                           r.device_id.substr(0, 64) + "'");
  const auto listed = config.node_tokens.find(a.node_id);
  if (listed == config.node_tokens.end() && !config.allow_anonymous)
    return refuse(403, "box " + r.device_id.substr(0, 64) + " is not known to this bridge: add `" +
                           a.node_id + " = \"<a token>\"` under [nodes] in its config");

  // The box's own version back, and no URL: it never upgrades from here. A body that is not JSON
  // (or a GET) still gets its settings.
  std::string version = "0.0.0";
  const json info = json::parse(r.body, nullptr, false);
  if (info.is_object()) {
    const auto app = info.find("application");
    if (app != info.end() && app->is_object()) {
      const auto v = app->find("version");
      if (v != app->end() && v->is_string() && !v->get<std::string>().empty())
        version = v->get<std::string>().substr(0, 64);
    }
  }
  std::string url = config.xiaozhi.websocket_url;
  if (url.empty()) url = std::string(r.tls ? "wss://" : "ws://") + r.host + "/xiaozhi/v1/";
  json websocket = {{"url", url}};
  websocket["token"] = listed != config.node_tokens.end() ? listed->second : std::string();
  const json answer = {
      {"websocket", websocket},
      {"server_time", {{"timestamp", now_ms}, {"timezone_offset", timezone_offset_min}}},
      {"firmware", {{"version", version}, {"url", ""}}}};
  a.body = answer.dump(-1, ' ', false, json::error_handler_t::replace);
  a.log = "OTA check-in of box " + r.device_id.substr(0, 64) + " (" + a.node_id + ", firmware " +
          version + "): sent to " + url;
  return a;
}

}  // namespace earshot::host
