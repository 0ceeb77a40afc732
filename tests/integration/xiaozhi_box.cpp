#include "tests/integration/xiaozhi_box.h"

#include <arpa/inet.h>
#include <opus/opus.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

namespace earshot::test {

using json = nlohmann::json;

namespace {
constexpr int kFrameMs = 60;        // OPUS_FRAME_DURATION_MS
constexpr int kFrameSamples = 960;  // 60 ms at 16 kHz

// The firmware's structs (main/protocols/protocol.h), packed, fields in network order.
struct BinaryProtocol2 {
  uint16_t version;
  uint16_t type;
  uint32_t reserved;
  uint32_t timestamp;
  uint32_t payload_size;
} __attribute__((packed));
struct BinaryProtocol3 {
  uint8_t type;
  uint8_t reserved;
  uint16_t payload_size;
} __attribute__((packed));

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

XiaozhiBox::XiaozhiBox(Options options) : options_(std::move(options)) {
  int err = 0;
  encoder_ = opus_encoder_create(16000, 1, OPUS_APPLICATION_VOIP, &err);
  // The firmware's encoder: 16 kHz mono VOIP, 60 ms frames, low complexity (an ESP32's CPU).
  opus_encoder_ctl(encoder_, OPUS_SET_COMPLEXITY(3));
  own_decoder_ = opus_decoder_create(16000, 1, &err);
}

XiaozhiBox::~XiaozhiBox() {
  if (encoder_) opus_encoder_destroy(encoder_);
  if (decoder_) opus_decoder_destroy(decoder_);
  if (own_decoder_) opus_decoder_destroy(own_decoder_);
}

bool XiaozhiBox::connect(int port, std::string* error, const std::string& path) {
  std::vector<std::string> headers;
  if (!options_.token.empty()) headers.push_back("Authorization: Bearer " + options_.token);
  headers.push_back("Protocol-Version: " + std::to_string(options_.version));
  headers.push_back("Device-Id: " + options_.device_id);
  headers.push_back("Client-Id: " + options_.client_id);
  return ws_.connect(port, headers, 0, error, path, "");
}

bool XiaozhiBox::hello(std::string* error) {
  // WebsocketProtocol::GetHelloMessage
  json h = {{"type", "hello"},
            {"version", options_.version},
            {"features", options_.mcp ? json{{"mcp", true}} : json::object()},
            {"transport", "websocket"},
            {"audio_params",
             {{"format", "opus"},
              {"sample_rate", 16000},
              {"channels", 1},
              {"frame_duration", kFrameMs}}}};
  send_json(h.dump());
  if (!pump_until([&] { return !session_id.empty() || close_code >= 0; }, 10000)) {
    *error = "no server hello within 10 s";
    return false;
  }
  if (session_id.empty()) {
    *error = "closed (" + std::to_string(close_code) + ") before the server hello";
    return false;
  }
  return true;
}

void XiaozhiBox::send_json(const std::string& text) {
  ws_.send_text(text);
}

// Protocol::SendStartListening / SendStopListening / SendWakeWordDetected / SendAbortSpeaking.
void XiaozhiBox::listen_start(const std::string& mode) {
  send_json(json{{"session_id", session_id}, {"type", "listen"}, {"state", "start"}, {"mode", mode}}
                .dump());
}
void XiaozhiBox::listen_stop() {
  send_json(json{{"session_id", session_id}, {"type", "listen"}, {"state", "stop"}}.dump());
}
void XiaozhiBox::wake_word(const std::string& text) {
  send_json(
      json{{"session_id", session_id}, {"type", "listen"}, {"state", "detect"}, {"text", text}}
          .dump());
}
void XiaozhiBox::abort_speaking() {
  send_json(json{{"session_id", session_id}, {"type", "abort"}}.dump());
}

std::string XiaozhiBox::packet(const float* pcm) {
  unsigned char opus[1500];
  const int n = opus_encode_float(encoder_, pcm, kFrameSamples, opus, sizeof opus);
  if (n <= 0) return {};
  float back[kFrameSamples];
  const int got = opus_decode_float(own_decoder_, opus, n, back, kFrameSamples, 0);
  if (got > 0) sent_audio.insert(sent_audio.end(), back, back + got);
  std::string out;
  if (options_.version == 2) {
    BinaryProtocol2 h{htons(2), 0, 0, htonl(0), htonl(uint32_t(n))};
    out.assign(reinterpret_cast<const char*>(&h), sizeof h);
  } else if (options_.version == 3) {
    BinaryProtocol3 h{0, 0, htons(uint16_t(n))};
    out.assign(reinterpret_cast<const char*>(&h), sizeof h);
  }
  out.append(reinterpret_cast<const char*>(opus), size_t(n));
  return out;
}

void XiaozhiBox::stream(const std::vector<float>& pcm) {
  std::vector<float> frame(kFrameSamples);
  const int64_t start = now_ms();
  int64_t sent = 0;
  for (size_t at = 0; at < pcm.size(); at += kFrameSamples) {
    std::fill(frame.begin(), frame.end(), 0.0f);
    std::copy(pcm.begin() + long(at), pcm.begin() + long(std::min(pcm.size(), at + kFrameSamples)),
              frame.begin());
    ws_.send_binary(packet(frame.data()));
    ++sent;
    // A microphone's pace: the next packet is ready 60 ms after this one.
    const int64_t next = start + sent * kFrameMs;
    while (now_ms() < next)
      handle(ws_.read(int(std::max<int64_t>(1, next - now_ms()))));
  }
}

bool XiaozhiBox::pump_until(const std::function<bool()>& done, int timeout_ms) {
  const int64_t deadline = now_ms() + timeout_ms;
  while (!done()) {
    const int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    handle(ws_.read(int(std::min<int64_t>(left, 50))));
  }
  return true;
}

void XiaozhiBox::pump(int ms) {
  pump_until([] { return false; }, ms);
}

void XiaozhiBox::handle(const WsTestClient::Received& r) {
  using K = WsTestClient::Received;
  if (r.kind == K::kTimeout) return;
  if (r.kind == K::kClose || r.kind == K::kGone) {
    if (close_code < 0) {
      close_code = r.kind == K::kClose ? r.close_code : 0;
      events.push_back("close");
    }
    return;
  }
  if (r.kind == K::kBinary) {
    // OnIncomingAudio: the framing of this box's version; played only while speaking.
    const uint8_t* data = reinterpret_cast<const uint8_t*>(r.payload.data());
    size_t size = r.payload.size();
    if (options_.version == 2) {
      BinaryProtocol2 h;
      if (size < sizeof h) return void(++bad_packets);
      std::memcpy(&h, data, sizeof h);
      if (ntohs(h.version) != 2 || ntohl(h.payload_size) != size - sizeof h)
        return void(++bad_packets);
      data += sizeof h;
      size -= sizeof h;
    } else if (options_.version == 3) {
      BinaryProtocol3 h;
      if (size < sizeof h) return void(++bad_packets);
      std::memcpy(&h, data, sizeof h);
      if (ntohs(h.payload_size) != size - sizeof h) return void(++bad_packets);
      data += sizeof h;
      size -= sizeof h;
    }
    if (!speaking) return void(++packets_not_speaking);
    if (events.empty() || events.back() != "audio") events.push_back("audio");
    // The firmware's decoder: the server's sample rate and frame duration (SetDecodeSampleRate).
    if (!decoder_ || decoder_rate_ != server_sample_rate) {
      if (decoder_) opus_decoder_destroy(decoder_);
      int err = 0;
      decoder_ = opus_decoder_create(server_sample_rate, 1, &err);
      decoder_rate_ = server_sample_rate;
    }
    std::vector<float> pcm(size_t(server_sample_rate / 1000 * server_frame_duration));
    const int n =
        opus_decode_float(decoder_, data, opus_int32(size), pcm.data(), int(pcm.size()), 0);
    if (n <= 0) return void(++bad_packets);
    max_packet_ms = std::max(max_packet_ms, n * 1000 / server_sample_rate);
    ++packets_played;
    ++reply_packets;
    played.insert(played.end(), pcm.begin(), pcm.begin() + n);
    return;
  }
  const json j = json::parse(r.payload, nullptr, false);
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return;
  const std::string type = j["type"];
  if (type == "hello") {  // ParseServerHello
    if (j.value("transport", "") != "websocket") return;
    session_id = j.value("session_id", "");
    server_sample_rate = 24000;  // the firmware's defaults (protocol.h)
    server_frame_duration = 60;
    if (j.contains("audio_params")) {
      server_sample_rate = j["audio_params"].value("sample_rate", 24000);
      server_frame_duration = j["audio_params"].value("frame_duration", 60);
    }
    events.push_back("hello");
  } else if (type == "tts") {
    const std::string state = j.value("state", "");
    events.push_back("tts:" + state);
    if (state == "start") {
      speaking = true;
      reply_packets = 0;
      ++tts_starts;
    } else if (state == "stop") {
      speaking = false;
      last_reply_packets = reply_packets;
      ++tts_stops;
    } else if (state == "sentence_start") {
      sentences.push_back(j.value("text", ""));
    }
  } else if (type == "stt") {
    events.push_back("stt");
    stt.push_back(j.value("text", ""));
  } else if (type == "llm") {
    events.push_back("llm");
    emotions.push_back(j.value("emotion", ""));
  } else if (type == "alert") {
    events.push_back("alert");
    alerts.push_back(j.value("message", ""));
  } else if (type == "mcp") {
    events.push_back("mcp");
    if (j.contains("payload") && j["payload"].is_object()) handle_mcp(j["payload"].dump());
  } else {
    events.push_back(type);
  }
}

// McpServer::ParseMessage, for initialize and tools/list (GetToolsList: a page, and the next
// tool's name as nextCursor; here one tool per page).
void XiaozhiBox::handle_mcp(const std::string& payload_json) {
  const json p = json::parse(payload_json);
  if (p.value("jsonrpc", "") != "2.0" || !p.contains("method") || !p.contains("id") ||
      !p["id"].is_number())
    return;
  const std::string method = p["method"];
  const int64_t id = p["id"];
  mcp_requests.push_back(method);
  mcp_ids.push_back(id);
  json result;
  if (method == "initialize") {
    result = {{"protocolVersion", "2024-11-05"},
              {"capabilities", {{"tools", json::object()}}},
              {"serverInfo", {{"name", "test-box"}, {"version", "1.9.0"}}}};
  } else if (method == "tools/list") {
    std::string cursor;
    if (p.contains("params") && p["params"].contains("cursor")) cursor = p["params"]["cursor"];
    size_t at = 0;
    if (!cursor.empty())
      while (at < options_.tools.size() && options_.tools[at].first != cursor)
        ++at;
    json tools = json::array();
    if (at < options_.tools.size())
      tools.push_back({{"name", options_.tools[at].first},
                       {"description", options_.tools[at].second},
                       {"inputSchema", {{"type", "object"}, {"properties", json::object()}}}});
    result = {{"tools", tools}};
    if (at + 1 < options_.tools.size()) result["nextCursor"] = options_.tools[at + 1].first;
  } else if (method == "tools/call") {
    result = {{"content", json::array({{{"type", "text"}, {"text", "true"}}})}, {"isError", false}};
  } else {
    return;
  }
  send_json(json{{"session_id", session_id},
                 {"type", "mcp"},
                 {"payload", {{"jsonrpc", "2.0"}, {"id", id}, {"result", result}}}}
                .dump());
}

}  // namespace earshot::test
