// The bridge's engine interfaces: speech-to-text, the language model, text-to-speech.
//
// Each engine sits behind one small interface so a deployment picks them in its config (embedded
// pocketsphinx/flite/espeak-ng, or servers people already run behind OpenAI-compatible HTTP APIs).
// Threading: engine objects are shared by all sessions and must be thread-safe; every call below
// runs on a worker thread and may block. Errors are returned as values with a message fit to show a
// person ("LLM server at http://127.0.0.1:8000 refused the connection"); nothing throws.
// Cancellation: every call takes a CancelToken and returns promptly (well under 100 ms) once it
// is cancelled, closing any connection it had open (a barge-in cancels the LLM and TTS in flight).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace earshot::host {

class CancelToken {
 public:
  void cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

// --- speech to text ----------------------------------------------------------------------------

struct SttResult {
  bool ok = false;
  std::string text;      // final transcript (empty if nothing was recognised)
  std::string language;  // BCP-47, e.g. "en"
  std::string error;     // when !ok
};

// One utterance. feed() is called as audio arrives so an engine that can decode incrementally does
// (the final result is then ready moments after the turn ends); others just accumulate.
class SttStream {
 public:
  virtual ~SttStream() = default;
  // 16 kHz mono float samples in [-1, 1].
  virtual void feed(const float* samples, size_t count) = 0;
  // The newest partial hypothesis if it changed since the last call (for partial transcripts).
  virtual std::optional<std::string> partial() = 0;
  // The turn ended: the final transcript. Called once.
  virtual SttResult finish(const CancelToken& cancel) = 0;
};

class SttEngine {
 public:
  virtual ~SttEngine() = default;
  virtual std::string name() const = 0;  // e.g. "pocketsphinx", "openai(http://...)"
  virtual std::unique_ptr<SttStream> start(const std::string& language_hint) = 0;
};

// --- language model ----------------------------------------------------------------------------

// One call the model asked for (OpenAI `tool_calls[]`, assembled from its streamed deltas).
struct ToolCall {
  std::string id;    // the model's (or server's) id; its result names it as tool_call_id
  std::string name;  // the function
  std::string
      arguments;  // JSON text as the model wrote it (may be malformed: checked by the caller)
};

// The most calls one model message may hold; more are dropped by the stream parser.
constexpr size_t kMaxToolCallsPerMessage = 32;

struct ChatMessage {
  std::string role;     // "system" | "user" | "assistant" | "tool"
  std::string content;  // as the model wants it back (for MiniMax M2.x: with its <think>…</think>)
  std::vector<ToolCall> tool_calls;  // assistant: the calls it made in this message
  std::string tool_call_id;          // tool: the call this message is the result of
};

// A tool offered to the model (OpenAI `tools[]` entry of type "function").
struct ToolSpec {
  std::string name;
  std::string description;
  std::string parameters;  // JSON Schema of the arguments, as JSON text ("{}" or empty: none)
};

struct LlmUsage {
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
};

struct LlmResult {
  bool ok = false;
  bool cancelled = false;
  std::string error;            // when !ok
  std::string spoken;           // the answer as it may be spoken: no thinking, no tool calls
  std::string history_content;  // what to keep in history (inline <think> kept if the model wants)
  std::string reasoning;        // delta.reasoning_content, concatenated (never spoken)
  // The thinking as it goes back into the history when the model wants it (keep_think_in_history):
  // inline <think>…</think> blocks as written, or the separate reasoning wrapped in one. Empty
  // otherwise. history_content = thinking + what was said, for a model that thinks first.
  std::string thinking;
  std::vector<ToolCall> tool_calls;  // the calls the model asked for, in index order
  std::optional<LlmUsage> usage;
};

class LlmEngine {
 public:
  virtual ~LlmEngine() = default;
  virtual std::string name() const = 0;
  // Streams the answer. on_text receives spoken text only (thinking removed) as it arrives, in
  // order; returning false from it cancels the request.
  virtual LlmResult chat(const std::vector<ChatMessage>& messages,
                         const std::function<bool(std::string_view text)>& on_text,
                         const CancelToken& cancel) = 0;
  // The same, offering `tools`: the answer may end in LlmResult::tool_calls instead of (or after)
  // text. An engine that cannot call tools answers in text (the default).
  virtual LlmResult chat_with_tools(const std::vector<ChatMessage>& messages,
                                    const std::vector<ToolSpec>& tools,
                                    const std::function<bool(std::string_view text)>& on_text,
                                    const CancelToken& cancel) {
    (void)tools;
    return chat(messages, on_text, cancel);
  }
};

// --- text to speech ----------------------------------------------------------------------------

struct TtsResult {
  bool ok = false;
  bool cancelled = false;
  std::string error;
  uint64_t samples = 0;  // produced, at the engine's rate
};

class TtsEngine {
 public:
  virtual ~TtsEngine() = default;
  virtual std::string name() const = 0;
  // Synthesizes one sentence. on_audio receives mono float samples at `sample_rate` (the engine's
  // own rate; the caller resamples) as they are produced; returning false stops synthesis.
  virtual TtsResult synthesize(
      const std::string& text, const std::string& voice,
      const std::function<bool(const float* samples, size_t count, int sample_rate)>& on_audio,
      const CancelToken& cancel) = 0;
};

}  // namespace earshot::host
