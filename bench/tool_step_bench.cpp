// Tool step benchmark: what one tool round adds to a reply beyond the tool's own time.
//
// The real conversation core (Conversation, responder, tool registry and runner) in one process,
// with an instant model and an instant tool, so every microsecond measured is the bridge's own:
// the model (an in-process LlmEngine) answers the first request of each reply at once with one
// call to `get_weather` (arguments {"city":"Oslo"}), the tool answers at once, and the model's
// second request answers in words at once. Replies are text only (no TTS), typed turns
// (user_text + respond), one after another.
//
//   step overhead  from the moment the model's first answer (with the call) returns to the
//                  moment the second request starts: argument checks, finding the tool, starting
//                  its thread, waiting for it, building the tool messages — the whole round
//                  minus the model, the tool itself taking ~0.
//
// Prints p50, p95, p99 and max over the turns, in microseconds (goal: p95 <= 5 ms).
//
//   build/release/bench/tool_step_bench [turns]   (default 500)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "host/conversation/conversation.h"
#include "host/tools/tool_registry.h"

namespace earshot::host {
namespace {

using Clock = std::chrono::steady_clock;

class InstantModel : public LlmEngine {
 public:
  std::string name() const override { return "instant"; }
  LlmResult chat(const std::vector<ChatMessage>& messages,
                 const std::function<bool(std::string_view)>& on_text,
                 const CancelToken& cancel) override {
    return chat_with_tools(messages, {}, on_text, cancel);
  }
  LlmResult chat_with_tools(const std::vector<ChatMessage>& messages,
                            const std::vector<ToolSpec>& tools,
                            const std::function<bool(std::string_view)>& on_text,
                            const CancelToken&) override {
    const Clock::time_point now = Clock::now();
    LlmResult r;
    r.ok = true;
    if (!tools.empty() && messages.back().role == "user") {
      r.tool_calls.push_back({"call_1", "get_weather", R"({"city":"Oslo"})"});
      answered_with_call = Clock::now();
      return r;
    }
    if (messages.back().role == "tool") {
      std::lock_guard<std::mutex> lock(mutex);
      overhead_us.push_back(
          std::chrono::duration<double, std::micro>(now - answered_with_call).count());
    }
    r.spoken = r.history_content = "It is seven degrees.";
    on_text(r.spoken);
    return r;
  }
  Clock::time_point answered_with_call;
  std::mutex mutex;
  std::vector<double> overhead_us;
};

class InstantTool : public ToolProvider {
 public:
  std::string name() const override { return "bench"; }
  std::vector<ToolSpec> list(const ToolScope&) override {
    return {{"get_weather", "", R"({"type":"object"})"}};
  }
  ToolResult call(const ToolScope&, const std::string&, const std::string&, const CancelToken&,
                  Clock::time_point) override {
    return {true, R"({"temp_c":7})"};
  }
};

class CountingSink : public ConversationSink {
 public:
  void wait_turns(size_t n) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait_for(lock, std::chrono::seconds(30), [&] { return turns_ >= n; });
  }
  void acknowledged(uint64_t) override {}
  void speech_started(const std::string&, uint64_t) override {}
  void speech_stopped(const std::string&, uint64_t) override {}
  void transcript(const std::string&, const std::string&, bool, const std::string&) override {}
  void reply_started(const std::string&, const std::string&) override {}
  void reply_text(const std::string&, const std::string&, const std::string&) override {}
  void reply_text_done(const std::string&, const std::string&) override {}
  void reply_audio_started(const std::string&, const std::string&) override {}
  void reply_sentence(const std::string&, uint32_t, const std::string&, uint64_t) override {}
  bool reply_audio(const std::string&, uint64_t, const float*, size_t, int64_t, int64_t) override {
    return true;
  }
  void reply_audio_ended(const std::string&, uint64_t, bool) override {}
  uint64_t reply_interrupted(const std::string&) override { return 0; }
  void turn_done(const TurnReport&) override {
    std::lock_guard<std::mutex> lock(mutex_);
    ++turns_;
    done_.notify_all();
  }
  void error(const std::string&, const std::string& m) override {
    fprintf(stderr, "error: %s\n", m.c_str());
  }
  void close(uint16_t, const std::string&) override {}

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  size_t turns_ = 0;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

int run(size_t turns) {
  InstantModel model;
  ToolRegistry registry;
  auto registration = registry.add(std::make_shared<InstantTool>());
  Services services;
  services.llm = &model;
  services.tools = &registry;
  services.reply.history_turns = 2;
  services.delivery = std::make_unique<DeliveryLedger>(nullptr);
  std::string error;
  auto lease = services.delivery->claim("bench", &error);
  ConversationSettings settings;
  settings.conversation_id = "bench-1";
  settings.client_id = "bench";
  settings.speak = false;
  settings.server_turn_detection = false;
  settings.auto_respond = false;
  CountingSink sink;
  Conversation conversation(services, settings, *lease, sink);
  if (!conversation.start(&error)) {
    fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  for (size_t i = 0; i < turns; ++i) {
    conversation.user_text("Weather in Oslo?");
    conversation.respond();
    sink.wait_turns(i + 1);
  }
  conversation.stop();
  std::lock_guard<std::mutex> lock(model.mutex);
  const std::vector<double>& v = model.overhead_us;
  if (v.size() != turns) {
    fprintf(stderr, "only %zu of %zu tool rounds measured\n", v.size(), turns);
    return 1;
  }
  printf("tool step overhead over %zu turns (instant model, instant tool), microseconds:\n",
         v.size());
  printf("  p50 %.0f  p95 %.0f  p99 %.0f  max %.0f\n", percentile(v, 0.50), percentile(v, 0.95),
         percentile(v, 0.99), *std::max_element(v.begin(), v.end()));
  return 0;
}

}  // namespace
}  // namespace earshot::host

int main(int argc, char** argv) {
  const size_t turns = argc > 1 ? size_t(std::atoi(argv[1])) : 500;
  return earshot::host::run(std::max<size_t>(1, turns));
}
