// A xiaozhi-esp32 box for tests, written from the firmware's own documents and sources (repository
// 78/xiaozhi-esp32: docs/websocket.md, docs/mcp-protocol.md, main/protocols/protocol.cc and
// websocket_protocol.cc, main/application.cc, main/mcp_server.cc, main/ota.cc) — not from the
// bridge's door: it builds its JSON and binary headers by hand, as the firmware does.
//
// What it does as the firmware does: opens the WebSocket with the Authorization (Bearer),
// Protocol-Version, Device-Id and Client-Id headers and no subprotocol; sends its hello and waits
// up to 10 s for the server's (transport "websocket"), keeping its session_id and audio_params;
// sends listen/abort/detect messages carrying that session_id; sends 60 ms Opus packets at 16 kHz
// mono in its protocol version's framing (BinaryProtocol2/3 big-endian); decodes the server's
// Opus at the announced rate only while "speaking" — between tts start and tts stop — and drops
// it otherwise (OnIncomingAudio: device_state_ == kDeviceStateSpeaking); answers MCP initialize,
// and tools/list one tool per page with the next tool's name as nextCursor (GetToolsList).
//
// Single-threaded: every call reads what the bridge sent while it waits (pump).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/ws_test_client.h"

struct OpusEncoder;
struct OpusDecoder;

namespace earshot::test {

class XiaozhiBox {
 public:
  struct Options {
    int version = 1;  // binary protocol
    std::string device_id = "aa:bb:cc:dd:ee:01";
    std::string client_id = "6f7a1c2e-0000-4000-8000-000000000001";
    std::string token;  // as the OTA check-in gave it
    bool mcp = true;
    // The tools it offers over MCP: name and description.
    std::vector<std::pair<std::string, std::string>> tools = {
        {"self.get_device_status", "Current status of the device"},
        {"self.audio_speaker.set_volume", "Set the volume of the speaker (0-100)"}};
  };
  explicit XiaozhiBox(Options options);
  ~XiaozhiBox();

  // Opens the WebSocket (no hello yet).
  bool connect(int port, std::string* error, const std::string& path = "/xiaozhi/v1/");
  // Sends the hello and waits for the server's (the firmware's 10 s).
  bool hello(std::string* error);
  void send_raw_text(const std::string& text) { ws_.send_text(text); }
  void send_raw_binary(const std::string& bytes) { ws_.send_binary(bytes); }

  void listen_start(const std::string& mode);  // auto, manual, realtime
  void listen_stop();
  void wake_word(const std::string& text);  // listen state detect
  void abort_speaking();

  // Streams 16 kHz mono audio as 60 ms packets, one every 60 ms (a microphone's pace), reading
  // what comes meanwhile. The last partial packet is padded with silence.
  void stream(const std::vector<float>& pcm16k);
  // An Opus packet of `pcm16k` (960 samples), framed for this box's version.
  std::string packet(const float* pcm16k);

  // Reads until `done` or `timeout_ms`; true if done.
  bool pump_until(const std::function<bool()>& done, int timeout_ms);
  // Reads whatever arrives within `ms`.
  void pump(int ms);

  // What it saw, in order: "hello", "stt", "llm", "tts:start", "tts:sentence_start",
  // "tts:stop", "audio" (once per run of packets), "alert", "mcp", "close".
  std::vector<std::string> events;
  std::vector<std::string> stt, sentences, alerts;
  std::vector<std::string> emotions;
  std::string session_id;
  int server_sample_rate = 0, server_frame_duration = 0;
  int tts_starts = 0, tts_stops = 0;
  int packets_played = 0;         // decoded while speaking
  int reply_packets = 0;          // of the reply playing now (since the last tts start)
  int last_reply_packets = 0;     // of the last reply, at its tts stop
  int packets_not_speaking = 0;   // arrived outside tts start .. stop: the firmware drops them
  int bad_packets = 0;            // would not decode or had a bad header
  int max_packet_ms = 0;          // the longest packet's duration
  std::vector<float> played;      // decoded reply audio at server_sample_rate
  std::vector<float> sent_audio;  // what it sent, decoded again at 16 kHz (its Opus's own loss)
  bool speaking = false;
  int close_code = -1;                    // once the server closed
  std::vector<std::string> mcp_requests;  // methods the server called
  std::vector<int64_t> mcp_ids;

 private:
  void handle(const WsTestClient::Received& r);
  void handle_mcp(const std::string& payload_json);
  void send_json(const std::string& json);

  Options options_;
  WsTestClient ws_;
  OpusEncoder* encoder_ = nullptr;
  OpusDecoder* decoder_ = nullptr;
  OpusDecoder* own_decoder_ = nullptr;  // reads back what it sends
  int decoder_rate_ = 0;
};

}  // namespace earshot::test
