// Streamed tool calls as the real servers write them, into LlmResult::tool_calls — and the request
// that offers the tools and carries the calls and their results back. Each server's chunks are
// written out byte for byte from its source (read through the search tool):
//   vLLM     vllm/entrypoints/openai/serving_chat.py (chunk.model_dump_json(exclude_unset=True),
//            the remaining-arguments delta with finish_reason "tool_calls") and the tool parsers
//            tool_parsers/hermes_tool_parser.py (id "chatcmpl-tool-…", type and name once with no
//            "arguments" key, then argument fragments with the index alone; the last fragment's
//            closing '}' held back until the end) and tool_parsers/minimax_m2_tool_parser.py
//            (id "call_<24 hex>", name with arguments "", then "{", one '"key": value' fragment
//            per parameter, then "}"); MiniMax M2 served with --reasoning-parser
//            minimax_m2_append_think keeps its <think>…</think> inline in content.
//   SGLang   python/sglang/srt/entrypoints/openai/serving_chat.py _process_tool_call_stream
//            (chunk.model_dump_json(): every unset field is null — "id":null and "name":null on
//            argument fragments, "tool_calls":null on text) and protocol.py (ToolCall: id, index,
//            type, function{name, arguments}; DeltaMessage role, content, reasoning_content,
//            tool_calls).
//   llama.cpp (--jinja) common/chat.cpp common_chat_msg_diff_to_json_oaicompat (ordered keys:
//            index, id, type, function{name, arguments}; empty fields left out) and
//            tools/server's stream chunks (choices first, then created, id, model,
//            system_fingerprint, object; the last one with usage and timings).
//   Ollama   openai/openai.go ToChunk/ToToolCalls: each call whole in one chunk (id "call_…",
//            index, type, arguments already JSON), role "assistant" and content "" on every
//            delta, thinking as "reasoning"; older releases numbered the calls of each chunk
//            from 0, so two calls in two chunks both say index 0.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "host/engines/openai_engines.h"
#include "tests/support/fake_http_server.h"

namespace earshot::host {
namespace {

using test::FakeHttpServer;
using test::HttpRequestSeen;
using test::HttpResponder;
using test::sse;

EngineConfig config_for(const FakeHttpServer& server, bool keep_think = false) {
  EngineConfig c;
  c.engine = "openai";
  c.base_url = server.base_url();
  c.model = "test-model";
  c.connect_timeout_ms = 1000;
  c.first_token_timeout_ms = 2000;
  c.idle_timeout_ms = 1000;
  c.keep_think_in_history = keep_think;
  return c;
}

const std::vector<ToolSpec> kTools = {
    {"get_weather", "The weather in a city.",
     R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"]})"},
    {"get_current_time", "", ""}};

struct ChatRun {
  LlmResult result;
  std::string streamed;
};

ChatRun chat(const EngineConfig& c,
             const std::vector<ChatMessage>& messages = {{"user", "Weather?"}}) {
  ChatRun run;
  run.result = make_openai_llm(c)->chat_with_tools(
      messages, kTools,
      [&](std::string_view t) {
        run.streamed += t;
        return true;
      },
      CancelToken());
  return run;
}

// A server that writes these SSE data payloads, one chunk each, then [DONE].
FakeHttpServer::Handler stream(std::vector<std::string> events) {
  return [events](const HttpRequestSeen&, HttpResponder& r) {
    r.start_chunked(200, "text/event-stream; charset=utf-8");
    for (const std::string& e : events)
      r.chunk(sse(e));
    r.chunk(sse("[DONE]"));
    r.end_chunked();
  };
}

// --- vLLM, hermes parser (Qwen3 with --reasoning-parser qwen3) -----------------------------------

std::string vllm(const std::string& delta, const std::string& finish = "null") {
  return R"({"id":"chatcmpl-b1f3c2","object":"chat.completion.chunk","created":1732500000,"model":"Qwen/Qwen3-8B","choices":[{"index":0,"delta":)" +
         delta + R"(,"logprobs":null,"finish_reason":)" + finish +
         (finish == "null" ? "" : R"(,"stop_reason":null)") + "}]}";
}

TEST(ToolCallStream, VllmHermesOneCallWithTextAndReasoningBeforeIt) {
  FakeHttpServer server(stream({
      vllm(R"({"role":"assistant","content":""})"),
      vllm(R"({"reasoning_content":"The user wants the weather."})"),
      vllm(R"({"content":"Let me check."})"),
      vllm(R"({"content":"\n\n"})"),
      vllm(
          R"({"tool_calls":[{"id":"chatcmpl-tool-4e5fd0c1a2b34c5d9e8f7a6b5c4d3e2f","type":"function","index":0,"function":{"name":"get_weather"}}]})"),
      vllm(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \""}}]})"),
      vllm(R"({"tool_calls":[{"index":0,"function":{"arguments":"Os"}}]})"),
      vllm(R"({"tool_calls":[{"index":0,"function":{"arguments":"lo"}}]})"),
      vllm(R"({"tool_calls":[{"index":0,"function":{"arguments":"\""}}]})"),
      vllm(R"({"tool_calls":[{"index":0,"function":{"arguments":"}"}}]})", R"("tool_calls")"),
      R"({"id":"chatcmpl-b1f3c2","object":"chat.completion.chunk","created":1732500000,"model":"Qwen/Qwen3-8B","choices":[],"usage":{"prompt_tokens":180,"total_tokens":212,"completion_tokens":32}})",
  }));
  ChatRun run = chat(config_for(server));
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.streamed, "Let me check.\n\n");
  ASSERT_EQ(run.result.tool_calls.size(), 1u);
  EXPECT_EQ(run.result.tool_calls[0].id, "chatcmpl-tool-4e5fd0c1a2b34c5d9e8f7a6b5c4d3e2f");
  EXPECT_EQ(run.result.tool_calls[0].name, "get_weather");
  EXPECT_EQ(run.result.tool_calls[0].arguments, R"({"city": "Oslo"})");
  // Without keep_think_in_history no reasoning reaches the history.
  EXPECT_EQ(run.result.history_content, "Let me check.\n\n");
  EXPECT_EQ(run.result.thinking, "");
  // The request offered both tools in OpenAI's shape (no tool_choice: "auto" is every server's
  // default once tools are given).
  const auto body = nlohmann::json::parse(server.requests().at(0).body);
  EXPECT_EQ(
      body["tools"].dump(),
      R"([{"function":{"description":"The weather in a city.","name":"get_weather","parameters":{"properties":{"city":{"type":"string"}},"required":["city"],"type":"object"}},"type":"function"},)"
      R"({"function":{"name":"get_current_time","parameters":{"properties":{},"type":"object"}},"type":"function"}])");
  EXPECT_FALSE(body.contains("tool_choice"));
}

TEST(ToolCallStream, VllmHermesTwoParallelCalls) {
  FakeHttpServer server(stream({
      vllm(R"({"role":"assistant","content":""})"),
      vllm(
          R"({"tool_calls":[{"id":"chatcmpl-tool-aaaa","type":"function","index":0,"function":{"name":"get_weather"}}]})"),
      vllm(R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\": \"Oslo\""}}]})"),
      vllm(R"({"tool_calls":[{"index":0,"function":{"arguments":"}"}}]})"),
      vllm(
          R"({"tool_calls":[{"id":"chatcmpl-tool-bbbb","type":"function","index":1,"function":{"name":"get_weather"}}]})"),
      vllm(R"({"tool_calls":[{"index":1,"function":{"arguments":"{\"city\": \"Lima\""}}]})"),
      vllm(R"({"tool_calls":[{"index":1,"function":{"arguments":"}"}}]})", R"("tool_calls")"),
  }));
  ChatRun run = chat(config_for(server));
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.streamed, "");
  ASSERT_EQ(run.result.tool_calls.size(), 2u);
  EXPECT_EQ(run.result.tool_calls[0].id, "chatcmpl-tool-aaaa");
  EXPECT_EQ(run.result.tool_calls[0].arguments, R"({"city": "Oslo"})");
  EXPECT_EQ(run.result.tool_calls[1].id, "chatcmpl-tool-bbbb");
  EXPECT_EQ(run.result.tool_calls[1].name, "get_weather");
  EXPECT_EQ(run.result.tool_calls[1].arguments, R"({"city": "Lima"})");
}

TEST(ToolCallStream, ArgumentsSplitAcrossManyChunksAndReads) {
  // One character per delta, and the SSE bytes themselves cut into 7-byte network reads.
  const std::string args = R"({"city": "Reykjav\u00edk", "when": "tomorrow at 9"})";
  std::string bytes = sse(vllm(
      R"({"tool_calls":[{"id":"chatcmpl-tool-cccc","type":"function","index":0,"function":{"name":"get_weather"}}]})"));
  for (char c : args) {
    const std::string fragment = nlohmann::json(std::string(1, c)).dump();
    bytes += sse(vllm(R"({"tool_calls":[{"index":0,"function":{"arguments":)" + fragment + "}}]}"));
  }
  bytes += sse(vllm(R"({"content":""})", R"("tool_calls")")) + sse("[DONE]");
  FakeHttpServer server([bytes](const HttpRequestSeen&, HttpResponder& r) {
    r.start_chunked(200, "text/event-stream");
    for (size_t at = 0; at < bytes.size(); at += 7)
      r.chunk(bytes.substr(at, 7));
    r.end_chunked();
  });
  ChatRun run = chat(config_for(server));
  ASSERT_TRUE(run.result.ok) << run.result.error;
  ASSERT_EQ(run.result.tool_calls.size(), 1u);
  EXPECT_EQ(run.result.tool_calls[0].arguments, args);
}

// --- vLLM, minimax_m2 parser with the append-think reasoning parser -----------------------------

std::string minimax(const std::string& delta, const std::string& finish = "null") {
  return R"({"id":"chatcmpl-7d1e","object":"chat.completion.chunk","created":1732500000,"model":"MiniMaxAI/MiniMax-M2","choices":[{"index":0,"delta":)" +
         delta + R"(,"logprobs":null,"finish_reason":)" + finish +
         (finish == "null" ? "" : R"(,"stop_reason":null)") + "}]}";
}

std::vector<std::string> minimax_call_events() {
  return {
      minimax(R"({"role":"assistant","content":""})"),
      minimax(R"({"content":"<think>"})"),
      minimax(R"({"content":"They want Oslo's weather."})"),
      minimax(R"({"content":"</think>"})"),
      minimax(R"({"content":"\n\nChecking."})"),
      minimax(
          R"({"tool_calls":[{"id":"call_0f1e2d3c4b5a69788796a5b4","type":"function","index":0,"function":{"name":"get_weather","arguments":""}}]})"),
      minimax(R"({"tool_calls":[{"index":0,"function":{"arguments":"{"}}]})"),
      minimax(R"({"tool_calls":[{"index":0,"function":{"arguments":"\"city\": \"Oslo\""}}]})"),
      minimax(R"({"tool_calls":[{"index":0,"function":{"arguments":", \"days\": 2"}}]})"),
      minimax(R"({"tool_calls":[{"index":0,"function":{"arguments":"}"}}]})"),
      minimax(R"({"content":""})", R"("tool_calls")"),
  };
}

TEST(ToolCallStream, VllmMinimaxM2CallWithInlineThinkKeptOrDropped) {
  FakeHttpServer server(stream(minimax_call_events()));
  ChatRun kept = chat(config_for(server, true));
  ASSERT_TRUE(kept.result.ok) << kept.result.error;
  EXPECT_EQ(kept.streamed, "\n\nChecking.");  // never the thinking
  ASSERT_EQ(kept.result.tool_calls.size(), 1u);
  EXPECT_EQ(kept.result.tool_calls[0].id, "call_0f1e2d3c4b5a69788796a5b4");
  EXPECT_EQ(kept.result.tool_calls[0].arguments, R"({"city": "Oslo", "days": 2})");
  EXPECT_EQ(kept.result.history_content, "<think>They want Oslo's weather.</think>\n\nChecking.");
  EXPECT_EQ(kept.result.thinking, "<think>They want Oslo's weather.</think>");
  ChatRun dropped = chat(config_for(server, false));
  EXPECT_EQ(dropped.result.history_content, "\n\nChecking.");
  EXPECT_EQ(dropped.result.thinking, "");
}

// --- SGLang -----------------------------------------------------------------------------------

std::string sglang(const std::string& delta, const std::string& finish = "null",
                   const std::string& usage = "null") {
  return R"({"id":"5f0a6c2e9b3d4e7f","object":"chat.completion.chunk","created":1732500000,"model":"Qwen/Qwen2.5-7B-Instruct","choices":[{"index":0,"delta":)" +
         delta + R"(,"logprobs":null,"finish_reason":)" + finish +
         R"(,"matched_stop":null}],"usage":)" + usage + "}";
}

TEST(ToolCallStream, SglangNullFieldsTwoCalls) {
  FakeHttpServer server(stream({
      sglang(R"({"role":"assistant","content":"","reasoning_content":null,"tool_calls":null})"),
      sglang(R"({"role":null,"content":"Sure.","reasoning_content":null,"tool_calls":null})"),
      sglang(
          R"({"role":null,"content":null,"reasoning_content":null,"tool_calls":[{"id":"call_5c1d9a0e3f7b4a2c8e6d1f0a","index":0,"type":"function","function":{"name":"get_weather","arguments":""}}]})"),
      sglang(
          R"({"role":null,"content":null,"reasoning_content":null,"tool_calls":[{"id":null,"index":0,"type":"function","function":{"name":null,"arguments":"{\"city\": \"Oslo\"}"}}]})"),
      sglang(
          R"({"role":null,"content":null,"reasoning_content":null,"tool_calls":[{"id":"call_9e8d7c6b5a4f3e2d1c0b9a8f","index":1,"type":"function","function":{"name":"get_current_time","arguments":""}}]})"),
      sglang(
          R"({"role":null,"content":null,"reasoning_content":null,"tool_calls":[{"id":null,"index":1,"type":"function","function":{"name":null,"arguments":"{}"}}]})"),
      sglang(
          R"({"role":null,"content":null,"reasoning_content":null,"tool_calls":null})",
          R"("tool_calls")",
          R"({"prompt_tokens":200,"total_tokens":230,"completion_tokens":30,"prompt_tokens_details":null})"),
  }));
  ChatRun run = chat(config_for(server));
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.streamed, "Sure.");
  ASSERT_EQ(run.result.tool_calls.size(), 2u);
  EXPECT_EQ(run.result.tool_calls[0].name, "get_weather");
  EXPECT_EQ(run.result.tool_calls[0].id, "call_5c1d9a0e3f7b4a2c8e6d1f0a");
  EXPECT_EQ(run.result.tool_calls[0].arguments, R"({"city": "Oslo"})");
  EXPECT_EQ(run.result.tool_calls[1].name, "get_current_time");
  EXPECT_EQ(run.result.tool_calls[1].arguments, "{}");
  ASSERT_TRUE(run.result.usage);
  EXPECT_EQ(run.result.usage->prompt_tokens, 200u);
}

// --- llama.cpp server, --jinja -----------------------------------------------------------------

std::string llama(const std::string& delta, const std::string& finish = "null",
                  const std::string& tail = "") {
  return R"({"choices":[{"finish_reason":)" + finish + R"(,"index":0,"delta":)" + delta +
         R"(}],"created":1732500000,"id":"chatcmpl-Jm3kQ0pXw","model":"qwen2.5-7b-instruct","system_fingerprint":"b5200-9f2a1c","object":"chat.completion.chunk")" +
         tail + "}";
}

TEST(ToolCallStream, LlamaCppJinjaCallThenNothingElse) {
  FakeHttpServer server(stream({
      llama(R"({"role":"assistant","content":null})"),
      llama(
          R"({"tool_calls":[{"index":0,"id":"Xq3PbLdV4mTz8RkW1nYc6HfJ2sGa9EuO","type":"function","function":{"name":"get_weather","arguments":"{\""}}]})"),
      llama(R"({"tool_calls":[{"index":0,"function":{"arguments":"city\":\""}}]})"),
      llama(R"({"tool_calls":[{"index":0,"function":{"arguments":"Oslo\"}"}}]})"),
      llama(
          "{}", R"("tool_calls")",
          R"(,"usage":{"completion_tokens":18,"prompt_tokens":170,"total_tokens":188},"timings":{"prompt_n":170,"prompt_ms":80.5,"predicted_n":18,"predicted_ms":210.3})"),
  }));
  ChatRun run = chat(config_for(server));
  ASSERT_TRUE(run.result.ok) << run.result.error;
  ASSERT_EQ(run.result.tool_calls.size(), 1u);
  EXPECT_EQ(run.result.tool_calls[0].id, "Xq3PbLdV4mTz8RkW1nYc6HfJ2sGa9EuO");
  EXPECT_EQ(run.result.tool_calls[0].arguments, R"({"city":"Oslo"})");
}

TEST(ToolCallStream, LlamaCppFinalAnswerWithoutCall) {
  FakeHttpServer server(stream({
      llama(R"({"role":"assistant","content":null})"),
      llama(R"({"reasoning_content":"Easy."})"),
      llama(R"({"content":"It is sunny"})"),
      llama(R"({"content":" in Oslo."})"),
      llama("{}", R"("stop")"),
  }));
  ChatRun run = chat(config_for(server, true));
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_TRUE(run.result.tool_calls.empty());
  EXPECT_EQ(run.streamed, "It is sunny in Oslo.");
  // The server's separate reasoning goes back inline, as one block, when it is kept.
  EXPECT_EQ(run.result.history_content, "<think>Easy.</think>It is sunny in Oslo.");
}

// --- Ollama /v1 --------------------------------------------------------------------------------

std::string ollama(const std::string& delta, const std::string& finish = "null") {
  return R"({"id":"chatcmpl-417","object":"chat.completion.chunk","created":1732500000,"model":"qwen3:8b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":)" +
         delta + R"(,"finish_reason":)" + finish + "}]}";
}

TEST(ToolCallStream, OllamaWholeCallsEvenWhenEveryChunkCountsFromZero) {
  FakeHttpServer server(stream({
      ollama(R"({"role":"assistant","content":"","reasoning":"Two cities."})"),
      ollama(
          R"({"role":"assistant","content":"","tool_calls":[{"id":"call_k2j8x1pz","index":0,"type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]})"),
      ollama(
          R"({"role":"assistant","content":"","tool_calls":[{"id":"call_m4n5b6v7","index":0,"type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Lima\"}"}}]})"),
      ollama(R"({"role":"assistant","content":""})", R"("tool_calls")"),
  }));
  ChatRun run = chat(config_for(server));
  ASSERT_TRUE(run.result.ok) << run.result.error;
  ASSERT_EQ(run.result.tool_calls.size(), 2u);
  EXPECT_EQ(run.result.tool_calls[0].id, "call_k2j8x1pz");
  EXPECT_EQ(run.result.tool_calls[0].arguments, R"({"city":"Oslo"})");
  EXPECT_EQ(run.result.tool_calls[1].id, "call_m4n5b6v7");
  EXPECT_EQ(run.result.tool_calls[1].arguments, R"({"city":"Lima"})");
  EXPECT_EQ(run.result.reasoning, "Two cities.");
  EXPECT_EQ(run.result.history_content, "");
}

// --- what goes back -----------------------------------------------------------------------------

TEST(ToolCallStream, CallsAndResultsGoBackInOpenAisShape) {
  FakeHttpServer server(stream({ollama(R"({"role":"assistant","content":"Done."})", R"("stop")")}));
  ChatMessage call{"assistant", "Checking.", {{"call_1", "get_weather", R"({"city":"Oslo"})"}}, ""};
  ChatMessage result{"tool", R"({"temp_c":7})", {}, "call_1"};
  ChatRun run = chat(config_for(server), {{"user", "Weather?"}, call, result});
  ASSERT_TRUE(run.result.ok) << run.result.error;
  const auto body = nlohmann::json::parse(server.requests().at(0).body);
  EXPECT_EQ(
      body["messages"].dump(),
      R"([{"content":"Weather?","role":"user"},)"
      R"({"content":"Checking.","role":"assistant","tool_calls":[{"function":{"arguments":"{\"city\":\"Oslo\"}","name":"get_weather"},"id":"call_1","type":"function"}]},)"
      R"({"content":"{\"temp_c\":7}","role":"tool","tool_call_id":"call_1"}])");
}

TEST(ToolCallStream, NoToolsOfferedNoToolsKey) {
  FakeHttpServer server(stream({ollama(R"({"role":"assistant","content":"Hi."})", R"("stop")")}));
  auto llm = make_openai_llm(config_for(server));
  LlmResult r = llm->chat(
      {{"user", "Hi"}}, [](std::string_view) { return true; }, CancelToken());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_FALSE(nlohmann::json::parse(server.requests().at(0).body).contains("tools"));
}

}  // namespace
}  // namespace earshot::host
