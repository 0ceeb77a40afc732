// The OpenAI-compatible engines against a local HTTP server that writes what the real servers
// write, byte for byte (formats from vLLM's, llama.cpp's and Ollama's documentation and captured
// responses), and against their failures. Each failure must come back as a clear error.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "host/engines/openai_engines.h"
#include "tests/support/fake_http_server.h"
#include "tests/support/subprocess.h"

namespace earshot::host {
namespace {

using test::FakeHttpServer;
using test::HttpRequestSeen;
using test::HttpResponder;
using test::sse;

EngineConfig config_for(const FakeHttpServer& server) {
  EngineConfig c;
  c.engine = "openai";
  c.base_url = server.base_url();
  c.model = "test-model";
  c.api_key = "sk-test";
  c.connect_timeout_ms = 1000;
  c.first_token_timeout_ms = 2000;
  c.idle_timeout_ms = 300;
  c.timeout_ms = 2000;
  return c;
}

struct ChatRun {
  LlmResult result;
  std::string streamed;  // what on_text received, in order
};

ChatRun chat(LlmEngine& llm, const CancelToken& cancel = CancelToken()) {
  ChatRun run;
  run.result = llm.chat(
      {{"system", "Be brief."}, {"user", "Hello"}},
      [&](std::string_view t) {
        run.streamed += t;
        return true;
      },
      cancel);
  return run;
}

// vLLM with a reasoning parser (Qwen3, DeepSeek-R1): reasoning_content deltas, then content, then
// the usage chunk with empty choices (stream_options.include_usage), then [DONE].
void vllm_reasoning(const HttpRequestSeen&, HttpResponder& r) {
  const std::string head =
      R"("id":"chatcmpl-8f2a","object":"chat.completion.chunk","created":1732500000,"model":"Qwen/Qwen3-8B")";
  r.start_chunked(200, "text/event-stream; charset=utf-8");
  r.chunk(sse(
      "{" + head +
      R"(,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})"));
  r.chunk(sse(
      "{" + head +
      R"(,"choices":[{"index":0,"delta":{"reasoning_content":"The user greets me."},"logprobs":null,"finish_reason":null}]})"));
  r.chunk(sse(
      "{" + head +
      R"(,"choices":[{"index":0,"delta":{"content":"Hi there."},"logprobs":null,"finish_reason":null}]})"));
  r.chunk(sse(
      "{" + head +
      R"(,"choices":[{"index":0,"delta":{"content":" How can I help?"},"logprobs":null,"finish_reason":"stop","stop_reason":null}]})"));
  r.chunk(sse(
      "{" + head +
      R"(,"choices":[],"usage":{"prompt_tokens":21,"total_tokens":40,"completion_tokens":19}})"));
  r.chunk(sse("[DONE]"));
  r.end_chunked();
}

TEST(OpenAiLlm, VllmReasoningIsNeverSpokenAndUsageIsRead) {
  FakeHttpServer server(vllm_reasoning);
  auto llm = make_openai_llm(config_for(server));
  ChatRun run = chat(*llm);
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.streamed, "Hi there. How can I help?");
  EXPECT_EQ(run.result.spoken, run.streamed);
  EXPECT_EQ(run.result.reasoning, "The user greets me.");
  ASSERT_TRUE(run.result.usage);
  EXPECT_EQ(run.result.usage->completion_tokens, 19u);
  // The request is what the API expects.
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/v1/chat/completions");
  EXPECT_EQ(requests[0].headers["authorization"], "Bearer sk-test");
  auto body = nlohmann::json::parse(requests[0].body);
  EXPECT_EQ(body["model"], "test-model");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["messages"][1]["content"], "Hello");
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
}

// llama.cpp's server: no role chunk, a "timings" object in the last chunk.
TEST(OpenAiLlm, LlamaCppServerStream) {
  FakeHttpServer server([](const HttpRequestSeen&, HttpResponder& r) {
    r.start_chunked(200, "text/event-stream");
    for (const char* piece : {"Hello", " from", " llama."})
      r.chunk(sse(
          std::string(R"({"choices":[{"finish_reason":null,"index":0,"delta":{"content":")") +
          piece +
          R"("}}],"created":1732500000,"id":"chatcmpl-x1","model":"gpt-3.5-turbo","system_fingerprint":"b4500-abc","object":"chat.completion.chunk"})"));
    r.chunk(sse(
        R"({"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"created":1732500000,"id":"chatcmpl-x1","model":"gpt-3.5-turbo","system_fingerprint":"b4500-abc","object":"chat.completion.chunk","usage":{"completion_tokens":3,"prompt_tokens":9,"total_tokens":12},"timings":{"prompt_n":9,"prompt_ms":12.1,"predicted_n":3,"predicted_ms":30.2}})"));
    r.chunk(sse("[DONE]"));
    r.end_chunked();
  });
  auto llm = make_openai_llm(config_for(server));
  ChatRun run = chat(*llm);
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.streamed, "Hello from llama.");
  ASSERT_TRUE(run.result.usage);
  EXPECT_EQ(run.result.usage->prompt_tokens, 9u);
}

// Ollama's OpenAI-compatible /v1 endpoint.
TEST(OpenAiLlm, OllamaV1Stream) {
  FakeHttpServer server([](const HttpRequestSeen&, HttpResponder& r) {
    r.start_chunked(200, "text/event-stream");
    r.chunk(sse(
        R"({"id":"chatcmpl-123","object":"chat.completion.chunk","created":1732500000,"model":"llama3.2","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"Sure"},"finish_reason":null}]})"));
    r.chunk(sse(
        R"({"id":"chatcmpl-123","object":"chat.completion.chunk","created":1732500000,"model":"llama3.2","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"."},"finish_reason":"stop"}]})"));
    r.chunk(sse("[DONE]"));
    r.end_chunked();
  });
  auto llm = make_openai_llm(config_for(server));
  ChatRun run = chat(*llm);
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.streamed, "Sure.");
}

// MiniMax M2.x and others think inline. The tags arrive split across deltas.
void inline_think(const HttpRequestSeen&, HttpResponder& r) {
  r.start_chunked(200, "text/event-stream");
  for (const char* piece : {"<thi", "nk>Let me", " think.</th", "ink>", "The answer", " is 4."})
    r.chunk(sse(
        std::string(
            R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"MiniMax-M2","choices":[{"index":0,"delta":{"content":")") +
        piece + R"("},"finish_reason":null}]})"));
  r.chunk(sse("[DONE]"));
  r.end_chunked();
}

TEST(OpenAiLlm, InlineThinkIsNotSpokenButCanBeKeptInHistory) {
  FakeHttpServer server(inline_think);
  EngineConfig c = config_for(server);
  c.keep_think_in_history = true;
  ChatRun kept = chat(*make_openai_llm(c));
  ASSERT_TRUE(kept.result.ok) << kept.result.error;
  EXPECT_EQ(kept.streamed, "The answer is 4.");
  EXPECT_EQ(kept.result.history_content, "<think>Let me think.</think>The answer is 4.");
  c.keep_think_in_history = false;
  ChatRun dropped = chat(*make_openai_llm(c));
  EXPECT_EQ(dropped.result.history_content, "The answer is 4.");
}

TEST(OpenAiLlm, ToolCallDeltasAreIgnoredSafely) {
  FakeHttpServer server([](const HttpRequestSeen&, HttpResponder& r) {
    r.start_chunked(200, "text/event-stream");
    r.chunk(sse(
        R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]})"));
    r.chunk(sse(
        R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":\"Oslo\"}"}}]},"finish_reason":null}]})"));
    r.chunk(sse(
        R"({"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Checking."},"finish_reason":"tool_calls"}]})"));
    r.chunk(sse("[DONE]"));
    r.end_chunked();
  });
  ChatRun run = chat(*make_openai_llm(config_for(server)));
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.streamed, "Checking.");
}

TEST(OpenAiLlm, MalformedEventsAreSkipped) {
  FakeHttpServer server([](const HttpRequestSeen&, HttpResponder& r) {
    r.start_chunked(200, "text/event-stream");
    r.chunk(sse(R"({"choices":[{"index":0,"delta":{"content":"One."}}]})"));
    r.chunk(sse(R"({"choices":[{"index":0,"delta":{"content":)"));  // truncated JSON
    r.chunk("data: \n\n");                                          // empty
    r.chunk(sse(R"([1,2,3])"));                                     // not an object
    r.chunk(sse(R"({"choices":"nope"})"));                          // wrong type
    r.chunk(sse(R"({"choices":[{"index":0,"delta":{"content":" Two."}}]})"));
    r.chunk(sse("[DONE]"));
    r.end_chunked();
  });
  ChatRun run = chat(*make_openai_llm(config_for(server)));
  ASSERT_TRUE(run.result.ok) << run.result.error;
  EXPECT_EQ(run.streamed, "One. Two.");
}

TEST(OpenAiLlm, ConnectionRefusedIsAClearError) {
  EngineConfig c;
  c.base_url = "http://127.0.0.1:" + std::to_string(test::free_port()) + "/v1";
  c.model = "m";
  ChatRun run = chat(*make_openai_llm(c));
  EXPECT_FALSE(run.result.ok);
  EXPECT_NE(run.result.error.find("refused the connection"), std::string::npos) << run.result.error;
}

TEST(OpenAiLlm, HttpErrorsCarryTheServersMessage) {
  FakeHttpServer vllm([](const HttpRequestSeen&, HttpResponder& r) {
    r.full(
        400, "application/json",
        R"({"object":"error","message":"This model's maximum context length is 8192 tokens.","type":"BadRequestError","param":null,"code":400})");
  });
  ChatRun run = chat(*make_openai_llm(config_for(vllm)));
  EXPECT_FALSE(run.result.ok);
  EXPECT_NE(run.result.error.find("HTTP 400"), std::string::npos) << run.result.error;
  EXPECT_NE(run.result.error.find("maximum context length is 8192"), std::string::npos);
  FakeHttpServer openai([](const HttpRequestSeen&, HttpResponder& r) {
    r.full(
        503, "application/json",
        R"({"error":{"message":"The server is overloaded.","type":"server_error","code":null}})");
  });
  run = chat(*make_openai_llm(config_for(openai)));
  EXPECT_NE(run.result.error.find("HTTP 503: The server is overloaded."), std::string::npos)
      << run.result.error;
}

TEST(OpenAiLlm, AStreamCutInTheMiddleIsAnErrorAndKeepsWhatArrived) {
  FakeHttpServer server([](const HttpRequestSeen&, HttpResponder& r) {
    r.start_chunked(200, "text/event-stream");
    r.chunk(sse(R"({"choices":[{"index":0,"delta":{"content":"Half an"}}]})"));
    // The connection closes without the terminating chunk or [DONE].
  });
  ChatRun run = chat(*make_openai_llm(config_for(server)));
  EXPECT_FALSE(run.result.ok);
  EXPECT_EQ(run.streamed, "Half an");
  EXPECT_FALSE(run.result.error.empty());
}

TEST(OpenAiLlm, AServerThatStallsPastTheTimeoutIsAnError) {
  FakeHttpServer server([](const HttpRequestSeen&, HttpResponder& r) {
    r.start_chunked(200, "text/event-stream");
    r.chunk(sse(R"({"choices":[{"index":0,"delta":{"content":"Wait"}}]})"));
    r.wait_ms(3000);  // idle timeout is 300 ms
  });
  const auto t0 = std::chrono::steady_clock::now();
  ChatRun run = chat(*make_openai_llm(config_for(server)));
  EXPECT_FALSE(run.result.ok);
  EXPECT_NE(run.result.error.find("stalled for more than 300 ms"), std::string::npos)
      << run.result.error;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2500));
  FakeHttpServer silent([](const HttpRequestSeen&, HttpResponder& r) { r.wait_ms(5000); });
  run = chat(*make_openai_llm(config_for(silent)));  // first token timeout: 2000 ms
  EXPECT_NE(run.result.error.find("sent nothing within 2000 ms"), std::string::npos)
      << run.result.error;
}

// Barge-in: cancelling closes the connection; the server sees it.
TEST(OpenAiLlm, CancellingClosesTheConnection) {
  std::atomic<bool> server_saw_close{false};
  FakeHttpServer server([&](const HttpRequestSeen&, HttpResponder& r) {
    r.start_chunked(200, "text/event-stream");
    for (int i = 0; i < 100; ++i) {
      if (!r.chunk(sse(R"({"choices":[{"index":0,"delta":{"content":"word "}}]})")) ||
          !r.wait_ms(50)) {
        server_saw_close.store(true);
        return;
      }
    }
  });
  CancelToken cancel;
  LlmResult result;
  std::atomic<int> words{0};
  std::thread t([&] {
    auto llm = make_openai_llm(config_for(server));
    result = llm->chat(
        {{"user", "talk"}},
        [&](std::string_view) {
          words.fetch_add(1);
          return true;
        },
        cancel);
  });
  ASSERT_TRUE(test::wait_until([&] { return words.load() >= 3; }, std::chrono::seconds(5)));
  const auto cancelled_at = std::chrono::steady_clock::now();
  cancel.cancel();
  t.join();
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::milliseconds(100));
  EXPECT_TRUE(result.cancelled);
  EXPECT_LT(words.load(), 50);
  EXPECT_TRUE(test::wait_until([&] { return server_saw_close.load(); }, std::chrono::seconds(2)));
}

TEST(OpenAiStt, SendsAMultipartWavAndReadsTheText) {
  FakeHttpServer server([](const HttpRequestSeen&, HttpResponder& r) {
    r.full(200, "application/json", R"({"text":" Ask not what your country can do for you."})");
  });
  EngineConfig c = config_for(server);
  c.model = "whisper-1";
  auto stt = make_openai_stt(c);
  auto stream = stt->start("en");
  std::vector<float> tone(16000);
  for (size_t i = 0; i < tone.size(); ++i)
    tone[i] = 0.1f * float(std::sin(double(i) * 0.1));
  stream->feed(tone.data(), tone.size());
  SttResult r = stream->finish(CancelToken());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.text, "Ask not what your country can do for you.");
  auto req = server.requests().at(0);
  EXPECT_EQ(req.path, "/v1/audio/transcriptions");
  EXPECT_EQ(req.headers["content-type"].rfind("multipart/form-data; boundary=", 0), 0u);
  EXPECT_NE(req.body.find("name=\"file\"; filename=\"audio.wav\""), std::string::npos);
  EXPECT_NE(req.body.find("RIFF"), std::string::npos);
  EXPECT_NE(req.body.find("name=\"model\"\r\n\r\nwhisper-1\r\n"), std::string::npos);
  EXPECT_NE(req.body.find("name=\"language\"\r\n\r\nen\r\n"), std::string::npos);
  // 1 s of 16-bit mono: 32000 bytes of samples after the 44-byte header.
  EXPECT_GT(req.body.size(), 32044u);
}

TEST(OpenAiStt, ServerErrorsAreClear) {
  FakeHttpServer server([](const HttpRequestSeen&, HttpResponder& r) {
    r.full(422, "application/json", R"({"detail":"Invalid file format"})");
  });
  auto stream = make_openai_stt(config_for(server))->start("");
  float silence[160] = {};
  stream->feed(silence, 160);
  SttResult r = stream->finish(CancelToken());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("HTTP 422: Invalid file format"), std::string::npos) << r.error;
}

std::string pcm_bytes(size_t samples) {
  std::string out(samples * 2, '\0');
  for (size_t i = 0; i < samples; ++i) {
    const int16_t v = int16_t(8000 * std::sin(double(i) * 0.05));
    std::memcpy(&out[i * 2], &v, 2);
  }
  return out;
}

TEST(OpenAiTts, RawPcmAndWavBothPlay) {
  FakeHttpServer server([](const HttpRequestSeen& req, HttpResponder& r) {
    auto body = nlohmann::json::parse(req.body);
    const std::string pcm = pcm_bytes(24000);  // 1 s at 24 kHz (Kokoro's rate)
    if (body["response_format"] == "pcm") {
      r.start_chunked(200, "audio/pcm");
      for (size_t at = 0; at < pcm.size(); at += 999)
        r.chunk(pcm.substr(at, 999));  // odd sizes
      r.end_chunked();
      return;
    }
    std::string wav(44, '\0');
    auto put32 = [&](size_t at, uint32_t v) { std::memcpy(&wav[at], &v, 4); };
    auto put16 = [&](size_t at, uint16_t v) { std::memcpy(&wav[at], &v, 2); };
    std::memcpy(&wav[0], "RIFF", 4);
    put32(4, uint32_t(36 + pcm.size()));
    std::memcpy(&wav[8], "WAVEfmt ", 8);
    put32(16, 16);
    put16(20, 1);
    put16(22, 1);
    put32(24, 24000);
    put32(28, 48000);
    put16(32, 2);
    put16(34, 16);
    std::memcpy(&wav[36], "data", 4);
    put32(40, uint32_t(pcm.size()));
    r.start_chunked(200, "audio/wav");
    const std::string all = wav + pcm;
    for (size_t at = 0; at < all.size(); at += 10)
      r.chunk(all.substr(at, 10));  // header in pieces
    r.end_chunked();
  });
  for (const char* format : {"pcm", "wav"}) {
    EngineConfig c = config_for(server);
    c.response_format = format;
    c.sample_rate = 24000;
    c.voice = "af_heart";
    size_t samples = 0;
    int rate = 0;
    TtsResult r = make_openai_tts(c)->synthesize(
        "Hello.", "",
        [&](const float*, size_t n, int sample_rate) {
          samples += n;
          rate = sample_rate;
          return true;
        },
        CancelToken());
    ASSERT_TRUE(r.ok) << format << ": " << r.error;
    EXPECT_EQ(samples, 24000u) << format;
    EXPECT_EQ(rate, 24000) << format;
  }
  auto body = nlohmann::json::parse(server.requests().at(0).body);
  EXPECT_EQ(body["input"], "Hello.");
  EXPECT_EQ(body["voice"], "af_heart");
  EXPECT_EQ(server.requests().at(0).path, "/v1/audio/speech");
}

}  // namespace
}  // namespace earshot::host
