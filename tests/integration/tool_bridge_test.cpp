// The tool loop in a real earshot-bridge process: the built-in clock tool (tools.clock), a test LLM
// server that streams in llama.cpp's exact chunk shapes (llama-server --jinja: reasoning_content
// apart, tool calls by index; common/chat.cpp common_chat_msg_diff_to_json_oaicompat and the
// server's stream chunks), and an OpenAI Realtime client typing its turns over a real WebSocket.
// It shows the call made, its result back to the model, the history of the next turn byte for
// byte with keep_think_in_history, and the call in the store and in --print-turns.
#include <gtest/gtest.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "host/store/store.h"
#include "tests/integration/bridge_fixture.h"
#include "tests/support/fake_http_server.h"
#include "tests/support/ws_test_client.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using test::Bridge;
using test::FakeHttpServer;
using test::HttpRequestSeen;
using test::HttpResponder;
using test::sse;

std::string llama(const std::string& delta, const std::string& finish = "null") {
  return R"({"choices":[{"finish_reason":)" + finish + R"(,"index":0,"delta":)" + delta +
         R"(}],"created":1732500000,"id":"chatcmpl-Jm3kQ0pXw","model":"qwen3-8b","system_fingerprint":"b5200-9f2a1c","object":"chat.completion.chunk"})";
}

std::vector<std::string> script(size_t n) {
  if (n == 0)
    return {
        llama(R"({"role":"assistant","content":null})"),
        llama(R"({"reasoning_content":"They ask the time."})"),
        llama(
            R"({"tool_calls":[{"index":0,"id":"Xq3PbLdV4mTz8RkW1nYc6HfJ2sGa9EuO","type":"function","function":{"name":"get_current_time","arguments":"{"}}]})"),
        llama(R"({"tool_calls":[{"index":0,"function":{"arguments":"}"}}]})"),
        llama("{}", R"("tool_calls")")};
  if (n == 1)
    return {llama(R"({"reasoning_content":"Read it out."})"), llama(R"({"content":"It is late."})"),
            llama("{}", R"("stop")")};
  return {llama(R"({"content":"Any time."})"), llama("{}", R"("stop")")};
}

// Sends a typed turn and asks for a text answer; the events up to response.done.
std::vector<json> typed_turn(test::WsTestClient& client, const std::string& text) {
  EXPECT_TRUE(client.send_text(
      json({{"type", "conversation.item.create"},
            {"item",
             {{"type", "message"},
              {"role", "user"},
              {"content", json::array({{{"type", "input_text"}, {"text", text}}})}}}})
          .dump()));
  EXPECT_TRUE(client.send_text(
      json({{"type", "response.create"}, {"response", {{"output_modalities", {"text"}}}}}).dump()));
  std::vector<json> events;
  for (int i = 0; i < 200; ++i) {
    test::WsTestClient::Received r = client.read(10000);
    if (r.kind != test::WsTestClient::Received::kText) break;
    events.push_back(json::parse(r.payload));
    if (events.back()["type"] == "response.done") break;
  }
  return events;
}

TEST(ToolBridge, TheClockToolThroughARealBridgeAndTheHistoryItLeaves) {
  std::atomic<size_t> served{0};
  FakeHttpServer llm([&](const HttpRequestSeen&, HttpResponder& r) {
    const size_t n = served.fetch_add(1);
    r.start_chunked(200, "text/event-stream");
    for (const std::string& e : script(n))
      r.chunk(sse(e));
    r.chunk(sse("[DONE]"));
    r.end_chunked();
  });
  Bridge bridge("tool_bridge",
                "[tools]\nclock = true\n"
                "[llm]\nengine = \"openai\"\nbase_url = \"" +
                    llm.base_url() +
                    "\"\nmodel = \"qwen3-8b\"\nkeep_think_in_history = true\n"
                    "[stt]\nengine = \"openai\"\nbase_url = \"" +
                    llm.base_url() + "\"\n");
  bridge.start();
  test::WsTestClient client;
  std::string error;
  ASSERT_TRUE(
      client.connect(bridge.port, {"Authorization: Bearer t0"}, 0, &error, "/v1/realtime", ""))
      << error;
  std::vector<json> first = typed_turn(client, "What time is it?");
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first.back()["type"], "response.done") << first.back().dump();
  std::vector<json> second = typed_turn(client, "Thanks.");
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second.back()["type"], "response.done");

  std::vector<json> bodies;
  for (const HttpRequestSeen& r : llm.requests())
    bodies.push_back(json::parse(r.body));
  ASSERT_EQ(bodies.size(), 3u);
  EXPECT_EQ(bodies[0]["tools"][0]["function"]["name"], "get_current_time");
  // The clock's answer went back to the model: the bridge's local date and time.
  const json& result_message = bodies[1]["messages"][3];
  ASSERT_EQ(result_message["role"], "tool");
  const std::string result = result_message["content"];
  const json clock = json::parse(result);
  for (const char* key : {"date", "time", "weekday", "time_zone", "utc_offset", "iso8601"})
    EXPECT_TRUE(clock.contains(key)) << result;
  std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char today[16];
  strftime(today, sizeof today, "%Y-%m-%d", &local);
  EXPECT_EQ(clock["date"], today);

  // The next turn's history, byte for byte: the thinking llama.cpp sent apart is back inline.
  const std::string system = bodies[2]["messages"][0].dump();
  EXPECT_EQ(
      bodies[2]["messages"].dump(),
      "[" + system +
          R"(,{"content":"What time is it?","role":"user"},)"
          R"({"content":"<think>They ask the time.</think>","role":"assistant","tool_calls":[{"function":{"arguments":"{}","name":"get_current_time"},"id":"Xq3PbLdV4mTz8RkW1nYc6HfJ2sGa9EuO","type":"function"}]},)"
          R"({"content":)" +
          json(result).dump() +
          R"(,"role":"tool","tool_call_id":"Xq3PbLdV4mTz8RkW1nYc6HfJ2sGa9EuO"},)"
          R"({"content":"<think>Read it out.</think>It is late.","role":"assistant"},)"
          R"({"content":"Thanks.","role":"user"}])");

  EXPECT_TRUE(test::wait_until(
      [&] {
        return bridge.process->stdout_text().find("tool get_current_time({}) -> ") !=
               std::string::npos;
      },
      10s))
      << bridge.process->stdout_text();
  EXPECT_EQ(bridge.stop(), 0);
  std::string store_error;
  auto store = host::Store::open(bridge.dir + "/earshot.db", {}, &store_error);
  ASSERT_TRUE(store) << store_error;
  const std::vector<host::TurnRecord> turns = store->turns();
  ASSERT_EQ(turns.size(), 2u);
  ASSERT_EQ(turns[0].tool_calls.size(), 1u);
  EXPECT_EQ(turns[0].tool_calls[0].name, "get_current_time");
  EXPECT_EQ(turns[0].tool_calls[0].result, result);
  EXPECT_TRUE(turns[0].tool_calls[0].ok);
  EXPECT_EQ(turns[0].reply, "It is late.");
}

}  // namespace
}  // namespace earshot
