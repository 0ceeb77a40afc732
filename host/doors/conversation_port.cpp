#include "host/doors/conversation_port.h"

namespace earshot::host {
namespace {

// The real core behind the port: each call forwards.
class CorePort : public ConversationPort {
 public:
  CorePort(Services& services, ConversationSettings settings, NodeLease lease,
           ConversationSink& sink)
      : conversation_(services, std::move(settings), std::move(lease), sink) {}

  bool start(std::string* error) override { return conversation_.start(error); }
  void stop() override { conversation_.stop(); }
  void audio(const AudioIn& frame) override { conversation_.audio(frame); }
  void commit_input() override { conversation_.commit_input(); }
  void clear_input() override { conversation_.clear_input(); }
  void user_text(const std::string& text) override { conversation_.user_text(text); }
  void respond() override { conversation_.respond(); }
  void interrupt(const PlayedReport& report) override { conversation_.interrupt(report); }
  void played(const PlayedReport& report) override { conversation_.played(report); }
  void client_gone(const PlayedReport& wire) override { conversation_.client_gone(wire); }
  void first_frame_sent(const std::string& reply_id, int64_t sent_ms) override {
    conversation_.first_frame_sent(reply_id, sent_ms);
  }
  void update(const ConversationSettings& settings) override { conversation_.update(settings); }
  Conversation::InputPace input_pace() const override { return conversation_.input_pace(); }

 private:
  Conversation conversation_;
};

}  // namespace

std::unique_ptr<ConversationPort> make_conversation_port(Services& services,
                                                         ConversationSettings settings,
                                                         NodeLease lease, ConversationSink& sink) {
  return std::make_unique<CorePort>(services, std::move(settings), std::move(lease), sink);
}

}  // namespace earshot::host
