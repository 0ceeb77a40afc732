#include "host/engines/openai_engines.h"

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "host/engines/http_client.h"
#include "host/engines/speech_text.h"
#include "host/engines/sse_parser.h"

namespace earshot::host {
namespace {

using json = nlohmann::json;

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/')
    url.pop_back();
  return url;
}

std::vector<std::string> auth_headers(const EngineConfig& c, const char* content_type) {
  std::vector<std::string> h;
  if (content_type) h.push_back(std::string("Content-Type: ") + content_type);
  if (!c.api_key.empty()) h.push_back("Authorization: Bearer " + c.api_key);
  return h;
}

}  // namespace

ServerProbe probe_openai_server(const EngineConfig& config, int timeout_ms) {
  HttpRequest req;
  req.url = trim_slash(config.base_url) + "/models";
  req.headers = auth_headers(config, nullptr);
  req.connect_timeout_ms = timeout_ms;
  req.first_byte_timeout_ms = timeout_ms;
  req.total_timeout_ms = timeout_ms;
  // The model list itself does not matter: stop at its first bytes.
  HttpResponse r = http_request(
      req, [](std::string_view) { return false; }, CancelToken());
  ServerProbe probe;
  probe.status = r.status;
  probe.answering = r.status > 0;
  if (!probe.answering) probe.error = r.error.empty() ? "no HTTP response" : r.error;
  return probe;
}

// --- chat stream -------------------------------------------------------------------------------

namespace {
// Bounds on what a server may make the parser hold: calls per message (kMaxToolCallsPerMessage),
// and argument text per call
// (past it the arguments are cut, so they no longer parse and go back to the model as an error).
constexpr size_t kMaxArgumentBytes = 256 * 1024;

std::string string_field(const json& object, const char* field) {
  auto it = object.find(field);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}
}  // namespace

struct ChatStreamParser::Impl {
  SseParser sse;
  ThinkFilter think;
  std::map<int64_t, size_t> call_at_index;  // a delta's tool_calls[].index -> its call
  // Adds one element of delta.tool_calls to `calls`; false when it was not usable.
  bool add_tool_call_delta(const json& delta, std::vector<ToolCall>& calls);
};

// One element of delta.tool_calls. The servers differ (their sources, as read for the tests in
// tests/host/tool_calls_stream_test.cpp): vLLM sends id, type and name once, then argument
// fragments with only the index; SGLang sends every field, null where unset; llama.cpp leaves out
// what is empty; Ollama sends each call whole, and older versions numbered the calls of each chunk
// from 0 — so a new id at an index already in use starts a new call.
bool ChatStreamParser::Impl::add_tool_call_delta(const json& delta, std::vector<ToolCall>& calls) {
  if (!delta.is_object()) return false;
  std::optional<int64_t> index;
  if (auto it = delta.find("index"); it != delta.end() && it->is_number_integer())
    index = it->get<int64_t>();
  const std::string id = string_field(delta, "id");
  std::string name, arguments;
  if (auto fn = delta.find("function"); fn != delta.end() && fn->is_object()) {
    name = string_field(*fn, "name");
    if (auto a = fn->find("arguments"); a != fn->end()) {
      if (a->is_string()) {
        arguments = a->get<std::string>();
      } else if (a->is_object()) {  // SGLang may hand a whole call's arguments as an object
        arguments = a->dump(-1, ' ', false, json::error_handler_t::replace);
      }
    }
  }
  ToolCall* call = nullptr;
  if (index) {
    if (auto it = call_at_index.find(*index); it != call_at_index.end()) call = &calls[it->second];
  } else if (!calls.empty() && id.empty()) {
    call = &calls.back();  // no index: a continuation of the last call
  }
  if (call && !id.empty() && !call->id.empty() && id != call->id) call = nullptr;
  if (!call) {
    if (calls.size() >= kMaxToolCallsPerMessage) return false;
    calls.emplace_back();
    call = &calls.back();
    if (index) call_at_index[*index] = calls.size() - 1;
  }
  if (call->id.empty()) call->id = id;
  if (call->name.empty()) call->name = name;
  const size_t room = kMaxArgumentBytes - std::min(kMaxArgumentBytes, call->arguments.size());
  call->arguments.append(arguments, 0, std::min(room, arguments.size()));
  return true;
}

bool ChatStreamParser::push(std::string_view bytes,
                            const std::function<bool(std::string_view)>& on_text) {
  if (!impl_) impl_ = std::make_shared<Impl>();
  if (done_) return false;
  bool keep_going = true;
  impl_->sse.push(bytes, [&](const std::string& data) {
    if (data == "[DONE]") {
      done_ = true;
      return false;
    }
    json j = json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      ++malformed_;
      return true;  // one bad event does not end the answer
    }
    if (j.contains("error")) {  // some servers report failures mid-stream as an event
      result_.error = summarize_error_body(data);
      done_ = true;
      return false;
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      LlmUsage u;
      const json& usage = j["usage"];
      if (usage.contains("prompt_tokens") && usage["prompt_tokens"].is_number_unsigned())
        u.prompt_tokens = usage["prompt_tokens"].get<uint64_t>();
      if (usage.contains("completion_tokens") && usage["completion_tokens"].is_number_unsigned())
        u.completion_tokens = usage["completion_tokens"].get<uint64_t>();
      result_.usage = u;
    }
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return true;
    const json& choice = j["choices"][0];
    if (!choice.is_object() || !choice.contains("delta") || !choice["delta"].is_object())
      return true;
    const json& delta = choice["delta"];
    for (const char* field : {"reasoning_content", "reasoning"})
      if (delta.contains(field) && delta[field].is_string())
        result_.reasoning += delta[field].get<std::string>();
    if (auto calls = delta.find("tool_calls"); calls != delta.end() && calls->is_array())
      for (const json& call : *calls)
        if (!impl_->add_tool_call_delta(call, result_.tool_calls)) ++malformed_;
    if (delta.contains("content") && delta["content"].is_string()) {
      const std::string content = delta["content"].get<std::string>();
      result_.history_content += content;
      const std::string spoken = impl_->think.push(content);
      if (!spoken.empty()) {
        result_.spoken += spoken;
        if (!on_text(spoken)) {
          keep_going = false;
          return false;
        }
      }
    }
    return true;
  });
  return keep_going && !done_;
}

void ChatStreamParser::finish(const std::function<bool(std::string_view)>& on_text) {
  if (!impl_) return;
  const std::string rest = impl_->think.finish();
  if (!rest.empty()) {
    result_.spoken += rest;
    on_text(rest);
  }
  // The history: with keep_think_in_history the thinking exactly as the model wrote it (inline,
  // or the server's separate reasoning put back in front as one block); without, none of it.
  ThinkSplit split = split_think(result_.history_content);
  if (keep_think_) {
    const std::string separate =
        result_.reasoning.empty() ? std::string() : "<think>" + result_.reasoning + "</think>";
    result_.thinking = separate + split.think;
    result_.history_content = separate + result_.history_content;
  } else {
    result_.history_content = std::move(split.outside);
  }
  // A call the server gave no id still needs one: its result names it.
  for (size_t i = 0; i < result_.tool_calls.size(); ++i)
    if (result_.tool_calls[i].id.empty()) result_.tool_calls[i].id = "call_" + std::to_string(i);
}

namespace {

// The chat history in OpenAI's shape. An assistant message that called tools carries them (content
// stays a string, "" when it said nothing: vLLM, SGLang, llama.cpp and Ollama all take that); a
// tool result names its call.
json chat_messages_json(const std::vector<ChatMessage>& messages) {
  json out = json::array();
  for (const ChatMessage& m : messages) {
    json message = {{"role", m.role}, {"content", m.content}};
    if (!m.tool_calls.empty()) {
      json calls = json::array();
      for (const ToolCall& c : m.tool_calls)
        calls.push_back({{"id", c.id},
                         {"type", "function"},
                         {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
      message["tool_calls"] = std::move(calls);
    }
    if (m.role == "tool") message["tool_call_id"] = m.tool_call_id;
    out.push_back(std::move(message));
  }
  return out;
}

json tools_json(const std::vector<ToolSpec>& tools) {
  json out = json::array();
  for (const ToolSpec& t : tools) {
    json parameters = json::parse(t.parameters, nullptr, false);
    if (parameters.is_discarded() || !parameters.is_object())
      parameters = {{"type", "object"}, {"properties", json::object()}};
    json function = {{"name", t.name}, {"parameters", std::move(parameters)}};
    if (!t.description.empty()) function["description"] = t.description;
    out.push_back({{"type", "function"}, {"function", std::move(function)}});
  }
  return out;
}

// --- LLM ---------------------------------------------------------------------------------------

class OpenAiLlm : public LlmEngine {
 public:
  explicit OpenAiLlm(EngineConfig c) : c_(std::move(c)) {}
  std::string name() const override { return "openai(" + c_.base_url + ", " + c_.model + ")"; }

  LlmResult chat(const std::vector<ChatMessage>& messages,
                 const std::function<bool(std::string_view text)>& on_text,
                 const CancelToken& cancel) override {
    return chat_with_tools(messages, {}, on_text, cancel);
  }

  LlmResult chat_with_tools(const std::vector<ChatMessage>& messages,
                            const std::vector<ToolSpec>& tools,
                            const std::function<bool(std::string_view text)>& on_text,
                            const CancelToken& cancel) override {
    json body = {{"model", c_.model},
                 {"stream", true},
                 {"temperature", c_.temperature},
                 {"max_tokens", c_.max_tokens},
                 {"stream_options", {{"include_usage", true}}}};
    body["messages"] = chat_messages_json(messages);
    if (!tools.empty()) body["tools"] = tools_json(tools);
    HttpRequest req;
    req.url = trim_slash(c_.base_url) + "/chat/completions";
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    req.headers = auth_headers(c_, "application/json");
    req.headers.push_back("Accept: text/event-stream");
    req.connect_timeout_ms = c_.connect_timeout_ms;
    req.first_byte_timeout_ms = c_.first_token_timeout_ms;
    req.idle_timeout_ms = c_.idle_timeout_ms;
    ChatStreamParser parser(c_.keep_think_in_history);
    bool caller_stopped = false;
    HttpResponse r = http_request(
        req,
        [&](std::string_view chunk) {
          const bool more = parser.push(chunk, [&](std::string_view text) {
            if (!on_text(text)) caller_stopped = true;
            return !caller_stopped;
          });
          return more;
        },
        cancel);
    parser.finish([&](std::string_view text) { return caller_stopped ? false : on_text(text); });
    LlmResult result = parser.result();
    result.cancelled = r.cancelled || caller_stopped;
    if (r.cancelled) return result;
    if (!r.ok) {
      result.error = "LLM " + r.error;
      return result;
    }
    if (!result.error.empty()) {
      result.error = "LLM server error: " + result.error;
      return result;
    }
    if (!parser.done() && !caller_stopped) {
      result.error = "LLM " + trim_slash(c_.base_url) + " ended its stream without [DONE]";
      // What arrived was spoken already; keep it, but say the answer was cut.
      return result;
    }
    result.ok = true;
    return result;
  }

 private:
  EngineConfig c_;
};

// --- STT ---------------------------------------------------------------------------------------

std::string wav_bytes(const std::vector<int16_t>& pcm, int rate) {
  std::string w(44, '\0');
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(&w[at], &v, 4); };
  auto put16 = [&](size_t at, uint16_t v) { std::memcpy(&w[at], &v, 2); };
  const uint32_t data = uint32_t(pcm.size() * 2);
  std::memcpy(&w[0], "RIFF", 4);
  put32(4, 36 + data);
  std::memcpy(&w[8], "WAVEfmt ", 8);
  put32(16, 16);
  put16(20, 1);
  put16(22, 1);
  put32(24, uint32_t(rate));
  put32(28, uint32_t(rate * 2));
  put16(32, 2);
  put16(34, 16);
  std::memcpy(&w[36], "data", 4);
  put32(40, data);
  w.append(reinterpret_cast<const char*>(pcm.data()), pcm.size() * 2);
  return w;
}

class OpenAiSttStream : public SttStream {
 public:
  OpenAiSttStream(EngineConfig c, std::string language)
      : c_(std::move(c)), language_(std::move(language)) {}
  void feed(const float* samples, size_t count) override {
    for (size_t i = 0; i < count; ++i) {
      const float v = samples[i] < -1.0f ? -1.0f : (samples[i] > 1.0f ? 1.0f : samples[i]);
      pcm_.push_back(int16_t(v * 32767.0f));
    }
  }
  std::optional<std::string> partial() override { return std::nullopt; }
  SttResult finish(const CancelToken& cancel) override {
    SttResult out;
    std::vector<MultipartPart> parts = {{"file", wav_bytes(pcm_, 16000), "audio.wav", "audio/wav"},
                                        {"model", c_.model, "", ""},
                                        {"response_format", "json", "", ""}};
    if (!language_.empty()) parts.push_back({"language", language_, "", ""});
    std::string content_type;
    HttpRequest req;
    req.url = trim_slash(c_.base_url) + "/audio/transcriptions";
    req.body = build_multipart(parts, &content_type);
    req.headers = auth_headers(c_, content_type.c_str());
    req.connect_timeout_ms = c_.connect_timeout_ms;
    req.first_byte_timeout_ms = c_.timeout_ms;
    req.idle_timeout_ms = c_.timeout_ms;
    req.total_timeout_ms = c_.timeout_ms;
    std::string body;
    HttpResponse r = http_request(
        req,
        [&](std::string_view chunk) {
          if (body.size() < (4u << 20)) body.append(chunk);
          return true;
        },
        cancel);
    if (!r.ok) {
      out.error = "speech-to-text " + r.error;
      return out;
    }
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("text") || !j["text"].is_string()) {
      out.error = "speech-to-text server sent an answer without \"text\": " + body.substr(0, 120);
      return out;
    }
    out.ok = true;
    out.text = j["text"].get<std::string>();
    while (!out.text.empty() && out.text.front() == ' ')
      out.text.erase(0, 1);
    out.language = j.contains("language") && j["language"].is_string()
                       ? j["language"].get<std::string>()
                       : language_;
    return out;
  }

 private:
  EngineConfig c_;  // a copy: a stream may outlive the engine that started it
  std::string language_;
  std::vector<int16_t> pcm_;
};

class OpenAiStt : public SttEngine {
 public:
  explicit OpenAiStt(EngineConfig c) : c_(std::move(c)) {}
  std::string name() const override { return "openai(" + c_.base_url + ")"; }
  std::unique_ptr<SttStream> start(const std::string& language_hint) override {
    return std::make_unique<OpenAiSttStream>(c_,
                                             language_hint.empty() ? c_.language : language_hint);
  }

 private:
  EngineConfig c_;
};

// --- TTS ---------------------------------------------------------------------------------------

// Turns streamed audio bytes (raw s16le, or a WAV whose header may arrive in pieces) into floats.
class PcmStream {
 public:
  PcmStream(bool wav, int rate) : rate_(rate), header_done_(!wav) {}
  // False with `error` set if the WAV header is not one we can play.
  bool push(std::string_view bytes, std::vector<float>* out, std::string* error) {
    buffer_.append(bytes);
    if (!header_done_ && !parse_header(error)) return error->empty();
    const size_t frame = size_t(2 * channels_);
    const size_t usable = buffer_.size() / frame * frame;
    for (size_t i = 0; i < usable; i += frame) {
      int16_t s;
      std::memcpy(&s, &buffer_[i], 2);  // first channel
      out->push_back(float(s) / 32768.0f);
    }
    buffer_.erase(0, usable);
    return true;
  }
  int rate() const { return rate_; }

 private:
  bool parse_header(std::string* error) {
    if (buffer_.size() < 12) return false;
    if (buffer_.compare(0, 4, "RIFF") != 0 || buffer_.compare(8, 4, "WAVE") != 0) {
      *error = "text-to-speech server sent audio that is not a WAV file";
      return false;
    }
    size_t at = 12;
    while (at + 8 <= buffer_.size()) {
      uint32_t size;
      std::memcpy(&size, &buffer_[at + 4], 4);
      const std::string id = buffer_.substr(at, 4);
      if (id == "data") {
        buffer_.erase(0, at + 8);
        header_done_ = true;
        return true;
      }
      if (at + 8 + size > buffer_.size()) return false;  // wait for the whole chunk
      if (id == "fmt ") {
        uint16_t format, channels, bits;
        uint32_t rate;
        std::memcpy(&format, &buffer_[at + 8], 2);
        std::memcpy(&channels, &buffer_[at + 10], 2);
        std::memcpy(&rate, &buffer_[at + 12], 4);
        std::memcpy(&bits, &buffer_[at + 22], 2);
        if (format != 1 || bits != 16 || channels < 1) {
          *error = "text-to-speech server sent a WAV that is not 16-bit PCM";
          return false;
        }
        channels_ = channels;
        rate_ = int(rate);
      }
      at += 8 + size + (size & 1);
    }
    return false;
  }
  int rate_;
  int channels_ = 1;
  bool header_done_;
  std::string buffer_;
};

class OpenAiTts : public TtsEngine {
 public:
  explicit OpenAiTts(EngineConfig c) : c_(std::move(c)) {}
  std::string name() const override { return "openai(" + c_.base_url + ", " + c_.model + ")"; }
  TtsResult synthesize(const std::string& text, const std::string& voice,
                       const std::function<bool(const float*, size_t, int)>& on_audio,
                       const CancelToken& cancel) override {
    TtsResult out;
    const bool wav = c_.response_format == "wav";
    json body = {{"model", c_.model},
                 {"input", text},
                 {"voice", voice.empty() ? c_.voice : voice},
                 {"response_format", wav ? "wav" : "pcm"}};
    HttpRequest req;
    req.url = trim_slash(c_.base_url) + "/audio/speech";
    req.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
    req.headers = auth_headers(c_, "application/json");
    req.connect_timeout_ms = c_.connect_timeout_ms;
    req.first_byte_timeout_ms = c_.timeout_ms;
    req.idle_timeout_ms = c_.timeout_ms;
    PcmStream pcm(wav, c_.sample_rate);
    std::vector<float> samples;
    std::string error;
    bool stopped = false;
    HttpResponse r = http_request(
        req,
        [&](std::string_view chunk) {
          samples.clear();
          if (!pcm.push(chunk, &samples, &error)) return false;
          if (!samples.empty()) {
            out.samples += samples.size();
            if (!on_audio(samples.data(), samples.size(), pcm.rate())) {
              stopped = true;
              return false;
            }
          }
          return true;
        },
        cancel);
    out.cancelled = r.cancelled || stopped;
    if (!error.empty()) {
      out.error = error;
      return out;
    }
    if (!r.ok && !r.cancelled) {
      out.error = "text-to-speech " + r.error;
      return out;
    }
    out.ok = !r.cancelled;
    return out;
  }

 private:
  EngineConfig c_;
};

}  // namespace

std::unique_ptr<LlmEngine> make_openai_llm(const EngineConfig& config) {
  return std::make_unique<OpenAiLlm>(config);
}
std::unique_ptr<SttEngine> make_openai_stt(const EngineConfig& config) {
  return std::make_unique<OpenAiStt>(config);
}
std::unique_ptr<TtsEngine> make_openai_tts(const EngineConfig& config) {
  return std::make_unique<OpenAiTts>(config);
}

}  // namespace earshot::host
