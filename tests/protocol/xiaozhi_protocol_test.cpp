// The xiaozhi-esp32 wire format (protocol/xiaozhi/): binary framings byte by byte as the
// firmware's BinaryProtocol2/3 structs lay them out (big-endian fields, packed), the JSON messages
// as its protocol.cc writes them, and the MCP JSON-RPC as its mcp_server.cc answers.
#include <gtest/gtest.h>

#include <vector>

#include "protocol/xiaozhi/binary.h"
#include "protocol/xiaozhi/mcp.h"
#include "protocol/xiaozhi/messages.h"

namespace earshot::protocol::xiaozhi {
namespace {

const std::vector<uint8_t> kOpus = {0x58, 0x01, 0x02, 0x03, 0x04};

TEST(XiaozhiBinary, Version1IsTheOpusPacketAlone) {
  uint8_t out[64];
  ASSERT_EQ(write_audio(1, 1234, kOpus.data(), kOpus.size(), out, sizeof out), kOpus.size());
  EXPECT_EQ(std::vector<uint8_t>(out, out + kOpus.size()), kOpus);
  AudioPacketView v;
  ASSERT_EQ(parse_audio(1, out, kOpus.size(), &v), BinaryError::kOk);
  EXPECT_EQ(v.size, kOpus.size());
  EXPECT_EQ(v.timestamp_ms, 0u);
  EXPECT_EQ(v.payload, out);
}

TEST(XiaozhiBinary, Version2HeaderIsSixteenBigEndianBytes) {
  uint8_t out[64];
  ASSERT_EQ(write_audio(2, 0x01020304, kOpus.data(), kOpus.size(), out, sizeof out), 16 + 5u);
  const std::vector<uint8_t> header(out, out + 16);
  EXPECT_EQ(header, (std::vector<uint8_t>{0, 2,           // version
                                          0, 0,           // type 0: Opus
                                          0, 0, 0, 0,     // reserved
                                          1, 2, 3, 4,     // timestamp
                                          0, 0, 0, 5}));  // payload_size
  AudioPacketView v;
  ASSERT_EQ(parse_audio(2, out, 21, &v), BinaryError::kOk);
  EXPECT_EQ(v.timestamp_ms, 0x01020304u);
  EXPECT_EQ(v.size, 5u);
  EXPECT_EQ(v.payload[0], 0x58);
}

TEST(XiaozhiBinary, Version3HeaderIsFourBytes) {
  uint8_t out[64];
  ASSERT_EQ(write_audio(3, 99, kOpus.data(), kOpus.size(), out, sizeof out), 4 + 5u);
  EXPECT_EQ(std::vector<uint8_t>(out, out + 4), (std::vector<uint8_t>{0, 0, 0, 5}));
  AudioPacketView v;
  ASSERT_EQ(parse_audio(3, out, 9, &v), BinaryError::kOk);
  EXPECT_EQ(v.size, 5u);
  EXPECT_EQ(v.timestamp_ms, 0u);
}

TEST(XiaozhiBinary, MalformedMessagesAreRefusedWithTheReason) {
  uint8_t m[32] = {0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 1, 2, 3};
  AudioPacketView v;
  EXPECT_EQ(parse_audio(2, m, 10, &v), BinaryError::kTooShort);
  EXPECT_EQ(parse_audio(2, m, 19, &v), BinaryError::kSizeMismatch);  // says 9, has 3
  m[1] = 3;
  EXPECT_EQ(parse_audio(2, m, 25, &v), BinaryError::kVersionMismatch);
  m[1] = 2;
  m[3] = 1;  // type 1: JSON
  EXPECT_EQ(parse_audio(2, m, 25, &v), BinaryError::kNotAudio);
  const uint8_t v3[] = {0, 0, 0, 0};
  EXPECT_EQ(parse_audio(3, v3, 4, &v), BinaryError::kEmpty);
  EXPECT_EQ(parse_audio(1, v3, 0, &v), BinaryError::kEmpty);
  EXPECT_EQ(parse_audio(4, v3, 4, &v), BinaryError::kUnsupportedVersion);
  std::vector<uint8_t> big(kMaxAudioPayload + 1, 0x58);
  EXPECT_EQ(parse_audio(1, big.data(), big.size(), &v), BinaryError::kTooLarge);
  EXPECT_EQ(write_audio(1, 0, big.data(), big.size(), big.data(), big.size()), 0u);
  uint8_t small[8];
  EXPECT_EQ(write_audio(2, 0, kOpus.data(), kOpus.size(), small, sizeof small), 0u);
  EXPECT_STRNE(to_string(BinaryError::kSizeMismatch), "ok");
}

TEST(XiaozhiMessages, TheFirmwaresClientHelloParses) {
  // As WebsocketProtocol::GetHelloMessage writes it (docs/websocket.md).
  const ClientParse p = parse_client_message(
      R"({"type":"hello","version":3,"features":{"mcp":true,"aec":true},"transport":"websocket",)"
      R"("audio_params":{"format":"opus","sample_rate":16000,"channels":1,"frame_duration":60}})");
  ASSERT_TRUE(p.ok()) << p.error.message;
  const auto& h = std::get<ClientHello>(p.message->body);
  EXPECT_EQ(h.version, 3);
  EXPECT_TRUE(h.features.mcp);
  EXPECT_TRUE(h.features.aec);
  ASSERT_TRUE(h.audio_params);
  EXPECT_EQ(h.audio_params->sample_rate, 16000);
  EXPECT_EQ(h.audio_params->frame_duration, 60);
  EXPECT_FALSE(p.message->session_id);
}

TEST(XiaozhiMessages, ListenAbortAndMcpAsTheFirmwareSendsThem) {
  auto listen = parse_client_message(
      R"({"session_id":"s1","type":"listen","state":"start","mode":"realtime"})");
  ASSERT_TRUE(listen.ok()) << listen.error.message;
  EXPECT_EQ(*listen.message->session_id, "s1");
  const auto& l = std::get<Listen>(listen.message->body);
  EXPECT_EQ(l.state, ListenState::kStart);
  EXPECT_EQ(*l.mode, ListenMode::kRealtime);

  auto detect = parse_client_message(
      R"({"session_id":"s1","type":"listen","state":"detect","text":"你好小智"})");
  ASSERT_TRUE(detect.ok());
  EXPECT_EQ(*std::get<Listen>(detect.message->body).text, "你好小智");

  auto abort =
      parse_client_message(R"({"session_id":"s1","type":"abort","reason":"wake_word_detected"})");
  ASSERT_TRUE(abort.ok());
  EXPECT_EQ(*std::get<Abort>(abort.message->body).reason, "wake_word_detected");

  auto mcp = parse_client_message(
      R"({"session_id":"s1","type":"mcp","payload":{"jsonrpc":"2.0","id":1,"result":{}}})");
  ASSERT_TRUE(mcp.ok());
  EXPECT_EQ(std::get<Mcp>(mcp.message->body).payload, R"({"id":1,"jsonrpc":"2.0","result":{}})");

  auto iot = parse_client_message(R"({"session_id":"s1","type":"iot","descriptors":[]})");
  ASSERT_TRUE(iot.ok());
  EXPECT_EQ(std::get<Notice>(iot.message->body).type, "iot");
}

TEST(XiaozhiMessages, BadMessagesSayWhatIsWrong) {
  EXPECT_EQ(parse_client_message("not json").error.code, "bad_json");
  EXPECT_EQ(parse_client_message("[1]").error.code, "bad_json");
  EXPECT_EQ(parse_client_message(R"({"state":"start"})").error.code, "missing_type");
  EXPECT_EQ(parse_client_message(R"({"type":"dance"})").error.code, "unknown_type");
  const ClientParse bad_state = parse_client_message(R"({"type":"listen","state":"go"})");
  EXPECT_EQ(bad_state.error.code, "bad_field");
  EXPECT_NE(bad_state.error.message.find("'state'"), std::string::npos);
  EXPECT_EQ(parse_client_message(R"({"type":"listen"})").error.code, "bad_field");
  EXPECT_EQ(
      parse_client_message(R"({"type":"hello","audio_params":{"sample_rate":"x"}})").error.code,
      "bad_field");
  EXPECT_EQ(parse_client_message(R"({"type":"hello","version":-1})").error.code, "bad_field");
  EXPECT_EQ(parse_client_message(R"({"type":"mcp","payload":"x"})").error.code, "bad_field");
  EXPECT_EQ(parse_client_message(std::string(kMaxTextBytes + 1, ' ')).error.code, "too_large");
}

TEST(XiaozhiMessages, ServerMessagesAreWhatTheFirmwareReads) {
  ServerMessage hello{"s9", ServerHello{"websocket", AudioParams{"opus", 24000, 1, 60}}};
  EXPECT_EQ(to_json(hello),
            R"({"audio_params":{"channels":1,"format":"opus","frame_duration":60,)"
            R"("sample_rate":24000},"session_id":"s9","transport":"websocket","type":"hello"})");
  EXPECT_EQ(to_json(ServerMessage{"s9", Tts{TtsState::kSentenceStart, "Hi."}}),
            R"({"session_id":"s9","state":"sentence_start","text":"Hi.","type":"tts"})");
  EXPECT_EQ(to_json(ServerMessage{"s9", Tts{TtsState::kStop, std::nullopt}}),
            R"({"session_id":"s9","state":"stop","type":"tts"})");
  EXPECT_EQ(to_json(ServerMessage{"s9", Llm{"happy", "😀"}}),
            R"({"emotion":"happy","session_id":"s9","text":"😀","type":"llm"})");
  // And back.
  for (const ServerMessage& m :
       {hello, ServerMessage{"s9", Stt{"what time is it"}}, ServerMessage{"s9", System{"reboot"}},
        ServerMessage{"s9", Alert{"Error", "no", "sad"}},
        ServerMessage{"s9", Mcp{R"({"id":2,"jsonrpc":"2.0","method":"tools/list"})"}}}) {
    const ServerParse p = parse_server_message(to_json(m));
    ASSERT_TRUE(p.ok()) << p.error.message;
    EXPECT_EQ(to_json(*p.message), to_json(m));
  }
}

TEST(XiaozhiMcp, RequestsAreJsonRpcWithNumericIds) {
  EXPECT_EQ(mcp::tools_list_request(2, ""),
            R"({"id":2,"jsonrpc":"2.0","method":"tools/list","params":{"cursor":""}})");
  EXPECT_EQ(mcp::tools_call_request(7, "self.audio_speaker.set_volume", R"({"volume":50})"),
            R"({"id":7,"jsonrpc":"2.0","method":"tools/call","params":{"arguments":{"volume":50},)"
            R"("name":"self.audio_speaker.set_volume"}})");
  EXPECT_NE(mcp::initialize_request(1).find(R"("method":"initialize")"), std::string::npos);
}

TEST(XiaozhiMcp, ResponsesToolPagesAndErrors) {
  std::string error;
  // As McpServer::GetToolsList answers: a page, and the name of the next tool as its cursor.
  auto in = mcp::parse_incoming(
      R"({"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"self.get_device_status",)"
      R"("description":"status","inputSchema":{"type":"object","properties":{}}}],)"
      R"("nextCursor":"self.audio_speaker.set_volume"}})",
      &error);
  ASSERT_TRUE(in) << error;
  EXPECT_TRUE(in->is_response);
  EXPECT_EQ(*in->id, 2);
  mcp::ToolsPage page;
  ASSERT_TRUE(mcp::parse_tools_page(in->result, &page, &error)) << error;
  ASSERT_EQ(page.tools.size(), 1u);
  EXPECT_EQ(page.tools[0].name, "self.get_device_status");
  EXPECT_EQ(page.tools[0].input_schema, R"({"properties":{},"type":"object"})");
  EXPECT_EQ(page.next_cursor, "self.audio_speaker.set_volume");

  auto failed = mcp::parse_incoming(
      R"({"jsonrpc":"2.0","id":3,"error":{"message":"Unknown tool: x"}})", &error);
  ASSERT_TRUE(failed);
  EXPECT_TRUE(failed->is_error);
  EXPECT_EQ(failed->error_message, "Unknown tool: x");

  const mcp::CallResult r =
      mcp::parse_call_result(R"({"content":[{"type":"text","text":"true"}],"isError":false})");
  EXPECT_EQ(r.text, "true");
  EXPECT_FALSE(r.is_error);

  EXPECT_FALSE(mcp::parse_incoming(R"({"id":1,"result":{}})", &error));  // no "jsonrpc"
  EXPECT_FALSE(mcp::parse_incoming("nope", &error));
  EXPECT_FALSE(mcp::parse_tools_page(R"({"tools":3})", &page, &error));
  auto notification =
      mcp::parse_incoming(R"({"jsonrpc":"2.0","method":"notifications/state_changed"})", &error);
  ASSERT_TRUE(notification);
  EXPECT_FALSE(notification->is_response);
  EXPECT_EQ(notification->method, "notifications/state_changed");
}

}  // namespace
}  // namespace earshot::protocol::xiaozhi
