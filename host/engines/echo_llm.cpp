// EchoLlm: "You said: <what it heard>." — streamed a word at a time like a real model, so the
// sentence splitter, TTS and pacing are exercised exactly as with one.
#include "host/engines/embedded_engines.h"

namespace earshot::host {
namespace {

class EchoLlm : public LlmEngine {
 public:
  std::string name() const override { return "echo"; }
  LlmResult chat(const std::vector<ChatMessage>& messages,
                 const std::function<bool(std::string_view)>& on_text,
                 const CancelToken& cancel) override {
    LlmResult r;
    std::string heard;
    for (auto it = messages.rbegin(); it != messages.rend(); ++it)
      if (it->role == "user") {
        heard = it->content;
        break;
      }
    const std::string answer = heard.empty() ? "I did not catch that." : "You said: " + heard + ".";
    size_t pos = 0;
    while (pos < answer.size()) {
      if (cancel.cancelled()) {
        r.cancelled = true;
        return r;
      }
      size_t end = answer.find(' ', pos + 1);
      end = end == std::string::npos ? answer.size() : end;
      const std::string piece = answer.substr(pos, end - pos);
      r.spoken += piece;
      if (!on_text(piece)) {
        r.cancelled = true;
        return r;
      }
      pos = end;
    }
    r.history_content = r.spoken;
    r.ok = true;
    return r;
  }
};

}  // namespace

std::unique_ptr<LlmEngine> make_echo_llm() {
  return std::make_unique<EchoLlm>();
}

}  // namespace earshot::host
