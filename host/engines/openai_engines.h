// Engines that talk to servers people already run, over OpenAI-compatible HTTP APIs:
//   OpenAiLlm  POST {base_url}/chat/completions, stream: true (SSE) — vLLM, SGLang, llama.cpp's
//              server, Ollama's /v1, MiniMax. Reasoning (delta.reasoning_content or .reasoning,
//              and inline <think>…</think>) is never spoken. With tools offered
//              (chat_with_tools), streamed delta.tool_calls are assembled into
//              LlmResult::tool_calls.
//   OpenAiStt  POST {base_url}/audio/transcriptions, multipart WAV — faster-whisper servers,
//              whisper.cpp's server, vLLM.
//   OpenAiTts  POST {base_url}/audio/speech — Kokoro-FastAPI, openedai-speech; "pcm" (s16le at
//              sample_rate) or "wav", streamed as it arrives.
#pragma once

#include <memory>

#include "host/bridge_config.h"
#include "host/engines/engines.h"

namespace earshot::host {

std::unique_ptr<LlmEngine> make_openai_llm(const EngineConfig& config);
std::unique_ptr<SttEngine> make_openai_stt(const EngineConfig& config);
std::unique_ptr<TtsEngine> make_openai_tts(const EngineConfig& config);

// Whether the server behind an openai engine answers at all: GET {base_url}/models (every
// OpenAI-compatible server lists its models there) within `timeout_ms`. Any HTTP response counts,
// a 401 or a 404 too: it proves something is listening and speaking HTTP. A refused connection or
// silence does not. For earshot-bridge --check; turns never wait on it.
struct ServerProbe {
  bool answering = false;
  long status = 0;    // the HTTP status when answering
  std::string error;  // why not, when not answering
};
ServerProbe probe_openai_server(const EngineConfig& config, int timeout_ms);

// The streaming chat parser on its own (fuzzed, and shared by the engine): feeds SSE bytes, calls
// on_text with spoken text as it arrives, assembles tool calls from their deltas. `error` is set
// when the server sends an error event. finish() settles the history content and the thinking.
class ChatStreamParser {
 public:
  explicit ChatStreamParser(bool keep_think_in_history) : keep_think_(keep_think_in_history) {}
  // False when on_text asked to stop or the stream said [DONE].
  bool push(std::string_view bytes, const std::function<bool(std::string_view)>& on_text);
  void finish(const std::function<bool(std::string_view)>& on_text);
  bool done() const { return done_; }
  LlmResult& result() { return result_; }
  size_t malformed_events() const { return malformed_; }

 private:
  struct Impl;
  bool keep_think_;
  bool done_ = false;
  size_t malformed_ = 0;
  LlmResult result_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace earshot::host
