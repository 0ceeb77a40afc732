// The bridge's parts for xiaozhi-esp32 boxes that need no connection: the OTA check-in's answer
// (the JSON the firmware's Ota::CheckVersion parses) and DeviceTools, the MCP client that lists a
// box's tools page by page and calls them (answers matched by JSON-RPC id, timeouts, a box gone).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "host/admission.h"
#include "host/bridge_config.h"
#include "host/doors/device_tools.h"
#include "host/doors/xiaozhi_ota.h"

namespace earshot::host {
namespace {

using nlohmann::json;

TEST(XiaozhiOta, ABoxIsANodeNamedByItsMac) {
  EXPECT_EQ(xiaozhi_node_id("AA:BB:CC:DD:EE:0F"), "xiaozhi-aabbccddee0f");
  EXPECT_EQ(xiaozhi_node_id("aa-bb-cc-dd-ee-0f"), "xiaozhi-aabbccddee0f");
  EXPECT_EQ(xiaozhi_node_id("aabbccddee0f"), "xiaozhi-aabbccddee0f");
  EXPECT_EQ(xiaozhi_node_id(""), "");
  EXPECT_EQ(xiaozhi_node_id("aa:bb:cc:dd:ee"), "");       // 10 digits
  EXPECT_EQ(xiaozhi_node_id("aa:bb:cc:dd:ee:0g"), "");    // not hex
  EXPECT_EQ(xiaozhi_node_id("aa:bb:cc:dd:ee:0f/x"), "");  // not a MAC
}

TEST(XiaozhiOta, AKnownBoxGetsItsWebSocketTokenTimeAndNoUpgrade) {
  ServerConfig config;
  config.node_tokens["xiaozhi-aabbccddee0f"] = "secret";
  OtaCheckIn r{"aa:bb:cc:dd:ee:0f", "uuid", "bridge.local:8765", false,
               R"({"application":{"name":"xiaozhi","version":"1.9.2"}})"};
  const OtaAnswer a = answer_ota_check_in(r, config, 1700000000123, 60);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.node_id, "xiaozhi-aabbccddee0f");
  const json j = json::parse(a.body);
  EXPECT_EQ(j["websocket"]["url"], "ws://bridge.local:8765/xiaozhi/v1/");
  EXPECT_EQ(j["websocket"]["token"], "secret");
  EXPECT_EQ(j["server_time"]["timestamp"], 1700000000123);
  EXPECT_EQ(j["server_time"]["timezone_offset"], 60);
  EXPECT_EQ(j["firmware"]["version"], "1.9.2");
  EXPECT_EQ(j["firmware"]["url"], "");
  EXPECT_FALSE(j.contains("mqtt"));
  EXPECT_FALSE(j.contains("activation"));

  r.tls = true;  // over TLS: wss://, and a body that is not JSON still gets its settings
  r.body = "garbage";
  const json tls = json::parse(answer_ota_check_in(r, config, 0, 0).body);
  EXPECT_EQ(tls["websocket"]["url"], "wss://bridge.local:8765/xiaozhi/v1/");
  EXPECT_EQ(tls["firmware"]["version"], "0.0.0");
  config.xiaozhi.websocket_url = "wss://house.example/xiaozhi/v1/";
  EXPECT_EQ(json::parse(answer_ota_check_in(r, config, 0, 0).body)["websocket"]["url"],
            "wss://house.example/xiaozhi/v1/");
}

TEST(XiaozhiOta, UnknownBoxesAreRefusedWithWhatToAdd) {
  ServerConfig config;
  config.shared_token = "for-everyone";  // never handed to a box that asks
  OtaCheckIn r{"aa:bb:cc:dd:ee:01", "", "h:1", false, ""};
  OtaAnswer a = answer_ota_check_in(r, config, 0, 0);
  EXPECT_EQ(a.status, 403);
  EXPECT_NE(a.body.find("xiaozhi-aabbccddee01 = "), std::string::npos) << a.body;
  EXPECT_EQ(a.body.find("for-everyone"), std::string::npos);
  r.device_id = "not-a-mac";
  EXPECT_EQ(answer_ota_check_in(r, config, 0, 0).status, 400);
  config.allow_anonymous = true;  // any box, with no token
  r.device_id = "aa:bb:cc:dd:ee:01";
  a = answer_ota_check_in(r, config, 0, 0);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(json::parse(a.body)["websocket"]["token"], "");
  config.xiaozhi.enabled = false;
  EXPECT_EQ(answer_ota_check_in(r, config, 0, 0).status, 404);
}

TEST(XiaozhiAdmission, TheHeadersNameTheBoxItsProtocolAndItsToken) {
  ServerConfig config;
  config.node_tokens["xiaozhi-aabbccddee0f"] = "secret";
  const Authenticator auth(config, nullptr);
  auto ok = check_xiaozhi_terms("AA:BB:CC:DD:EE:0F", "3", "secret", auth);
  ASSERT_TRUE(std::holds_alternative<XiaozhiTerms>(ok));
  EXPECT_EQ(std::get<XiaozhiTerms>(ok).node_id, "xiaozhi-aabbccddee0f");
  EXPECT_EQ(std::get<XiaozhiTerms>(ok).version, 3);
  EXPECT_EQ(std::get<XiaozhiTerms>(check_xiaozhi_terms("aabbccddee0f", "", "secret", auth)).version,
            1);  // no header: version 1
  auto code = [&](const char* device, const char* version, const char* token) {
    auto r = check_xiaozhi_terms(device, version, token, auth);
    return std::holds_alternative<Refusal>(r) ? std::get<Refusal>(r).close_code : uint16_t(0);
  };
  EXPECT_EQ(code("", "1", "secret"), protocol::kCloseUnauthorized);
  EXPECT_EQ(code("AA:BB:CC:DD:EE:0F", "4", "secret"), protocol::kCloseBadVersion);
  EXPECT_EQ(code("AA:BB:CC:DD:EE:0F", "2x", "secret"), protocol::kCloseBadVersion);
  EXPECT_EQ(code("AA:BB:CC:DD:EE:0F", "1", "wrong"), protocol::kCloseUnauthorized);
  EXPECT_EQ(code("AA:BB:CC:DD:EE:0F", "1", ""), protocol::kCloseUnauthorized);
  EXPECT_EQ(code("AA:BB:CC:DD:EE:01", "1", "secret"), protocol::kCloseUnauthorized);  // not its
}

TEST(XiaozhiConfig, BoxesRoomsAndTheXiaozhiSectionParse) {
  BridgeConfig c;
  ASSERT_EQ(parse_bridge_config("[nodes]\nxiaozhi-aabbccddee0f = \"secret\"\n"
                                "[rooms]\nxiaozhi-aabbccddee0f = \"kitchen\"\n"
                                "[xiaozhi]\nenabled = true\noutput_sample_rate = 16000\n"
                                "websocket_url = \"wss://house.example/xiaozhi/v1/\"\n",
                                "t.toml", &c),
            "");
  EXPECT_EQ(c.server.node_tokens["xiaozhi-aabbccddee0f"], "secret");
  EXPECT_EQ(c.server.rooms["xiaozhi-aabbccddee0f"], "kitchen");
  EXPECT_EQ(c.server.xiaozhi.output_sample_rate, 16000);
  EXPECT_EQ(c.server.xiaozhi.websocket_url, "wss://house.example/xiaozhi/v1/");
  EXPECT_EQ(validate(c), "");
  c.server.xiaozhi.output_sample_rate = 48000;
  EXPECT_NE(validate(c).find("xiaozhi.output_sample_rate"), std::string::npos);
  BridgeConfig bad;
  EXPECT_NE(parse_bridge_config("[rooms]\nn0 = 3\n", "t.toml", &bad), "");
  EXPECT_NE(parse_bridge_config("[xiaozhi]\nport = 1\n", "t.toml", &bad).find("xiaozhi.port"),
            std::string::npos);
}

// A box's side of the MCP channel, scripted: the requests the bridge sent, answered by hand.
struct Wire {
  std::vector<json> sent;
  DeviceTools::Send send() {
    return [this](std::string payload) { sent.push_back(json::parse(payload)); };
  }
  std::string answer(const json& result) const {
    return json{{"jsonrpc", "2.0"}, {"id", sent.back()["id"]}, {"result", result}}.dump();
  }
};

json tool(const std::string& name) {
  return {{"name", name}, {"description", "d"}, {"inputSchema", {{"type", "object"}}}};
}

TEST(DeviceTools, ListsTheBoxsToolsPageByPageFollowingItsCursor) {
  Wire wire;
  DeviceTools tools(wire.send(), 1000);
  tools.start(0);
  ASSERT_EQ(wire.sent.size(), 1u);
  EXPECT_EQ(wire.sent[0]["method"], "initialize");
  EXPECT_EQ(tools.on_message(wire.answer({{"protocolVersion", "2024-11-05"}}), 10), "");
  ASSERT_EQ(wire.sent.size(), 2u);
  EXPECT_EQ(wire.sent[1]["method"], "tools/list");
  EXPECT_EQ(wire.sent[1]["params"]["cursor"], "");
  EXPECT_EQ(
      tools.on_message(wire.answer({{"tools", {tool("self.a")}}, {"nextCursor", "self.b"}}), 20),
      "");
  ASSERT_EQ(wire.sent.size(), 3u);
  EXPECT_EQ(wire.sent[2]["params"]["cursor"], "self.b");
  EXPECT_FALSE(tools.listed());
  EXPECT_EQ(tools.on_message(wire.answer({{"tools", {tool("self.b"), tool("self.c")}}}), 30), "");
  EXPECT_TRUE(tools.listed());
  ASSERT_EQ(tools.tools().size(), 3u);
  EXPECT_EQ(tools.tools()[2].name, "self.c");
  EXPECT_EQ(wire.sent.size(), 3u);  // no more pages asked for
}

TEST(DeviceTools, CallsAreMatchedByIdAndFailClearly) {
  Wire wire;
  DeviceTools tools(wire.send(), 1000);
  tools.start(0);
  tools.on_message(wire.answer(json::object()), 0);
  tools.on_message(wire.answer({{"tools", {tool("self.audio_speaker.set_volume")}}}), 0);

  std::vector<DeviceTools::Outcome> outcomes;
  auto record = [&](const DeviceTools::Outcome& o) { outcomes.push_back(o); };
  tools.call("self.audio_speaker.set_volume", R"({"volume":50})", 60000, record);
  ASSERT_EQ(wire.sent.back()["method"], "tools/call");
  EXPECT_EQ(wire.sent.back()["params"]["arguments"]["volume"], 50);
  const json first = wire.sent.back();
  tools.call("self.audio_speaker.set_volume", "{}", 60000, record);
  const json second = wire.sent.back();
  EXPECT_NE(first["id"], second["id"]);
  // Answered out of order: each reaches its own callback.
  EXPECT_EQ(tools.on_message(json{{"jsonrpc", "2.0"},
                                  {"id", second["id"]},
                                  {"error", {{"message", "Missing valid argument: volume"}}}}
                                 .dump(),
                             0),
            "");
  EXPECT_EQ(tools.on_message(
                json{{"jsonrpc", "2.0"},
                     {"id", first["id"]},
                     {"result",
                      {{"content", {{{"type", "text"}, {"text", "true"}}}}, {"isError", false}}}}
                    .dump(),
                0),
            "");
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_FALSE(outcomes[0].ok);
  EXPECT_EQ(outcomes[0].text, "Missing valid argument: volume");
  EXPECT_TRUE(outcomes[1].ok);
  EXPECT_EQ(outcomes[1].text, "true");

  tools.call("self.dance", "{}", 1000, record);  // not listed: fails at once, nothing sent
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_NE(outcomes[2].text.find("no tool 'self.dance'"), std::string::npos);

  tools.call("self.audio_speaker.set_volume", "{}", 0, record);  // no answer in time
  tools.on_tick(INT64_MAX / 2);
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_NE(outcomes[3].text.find("did not answer"), std::string::npos);

  tools.call("self.audio_speaker.set_volume", "{}", 60000, record);
  tools.close();  // the box went away
  ASSERT_EQ(outcomes.size(), 5u);
  EXPECT_EQ(outcomes[4].text, "the device disconnected");

  EXPECT_NE(tools.on_message("nope", 0), "");
  EXPECT_NE(tools.on_message(R"({"jsonrpc":"2.0","id":999,"result":{}})", 0), "");
  EXPECT_EQ(tools.on_message(R"({"jsonrpc":"2.0","method":"notifications/x"})", 0), "");
}

}  // namespace
}  // namespace earshot::host
