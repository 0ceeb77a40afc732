// The OTA check-in of xiaozhi-esp32 boxes: the first request a box makes after it boots (its
// "OTA URL", e.g. https://api.tenclass.net/xiaozhi/ota/, which a household points at the bridge).
// It POSTs its device info (JSON: application.version, board, chip, ...) with the headers
// Device-Id (its MAC), Client-Id (a UUID), Activation-Version, User-Agent; the answer tells it
// where to open its WebSocket and with which token, the time, and whether to upgrade. Source:
// the firmware's main/ota.cc (Ota::CheckVersion), which reads:
//
//   {"websocket": {"url": "...", "token": "..."},   → stored as the box's WebSocket settings
//    "server_time": {"timestamp": <ms since epoch>, "timezone_offset": <minutes east of UTC>},
//    "firmware": {"version": "<version>", "url": ""}}   → an empty url: no upgrade
//
// The bridge never upgrades firmware: it answers with the box's own version and no URL. No
// "activation" (the box needs no code), no "mqtt" (the box speaks WebSocket).
//
// Who may check in: a box is a node ("xiaozhi-" + its MAC's 12 hex digits, lower case) and gets
// that node's token from [nodes]; any box when server.allow_anonymous (with no token). Any other
// box is refused (403, a JSON error naming the [nodes] line to add): the firmware retries and
// shows the failure on its screen.
//
// Pure: no sockets. The server reads the request and writes the answer.
#pragma once

#include <cstdint>
#include <string>

#include "host/server.h"

namespace earshot::host {

inline constexpr size_t kMaxOtaBodyBytes = 32 * 1024;  // the firmware's device info is ~2-4 KB
inline constexpr const char* kXiaozhiNodePrefix = "xiaozhi-";

// "xiaozhi-aabbccddeeff" for Device-Id "AA:BB:CC:DD:EE:FF" (":" or "-" separators, or none);
// "" when `device_id` is not a MAC address.
std::string xiaozhi_node_id(const std::string& device_id);

struct OtaCheckIn {
  std::string device_id;  // the Device-Id header
  std::string client_id;  // the Client-Id header
  std::string host;       // the Host header (host:port), for the WebSocket URL
  bool tls = false;       // the check-in came over TLS
  std::string body;       // the device info (may be empty: a GET)
};

struct OtaAnswer {
  int status = 200;
  std::string body;     // JSON
  std::string node_id;  // of the box, when known
  std::string log;      // one line for the bridge's log
};

// `now_ms`: wall-clock ms since the epoch; `timezone_offset_min`: this machine's offset from UTC.
OtaAnswer answer_ota_check_in(const OtaCheckIn& request, const ServerConfig& config, int64_t now_ms,
                              int timezone_offset_min);

// This machine's local time zone's offset from UTC at `now_ms`, in minutes.
int local_timezone_offset_min(int64_t now_ms);

}  // namespace earshot::host
