// ConversationPort: the calls a front door makes into its conversation core
// (host/conversation/conversation.h), as an interface. The bridge gives a door the real
// Conversation behind it (make_conversation_port); a door's unit tests give it a scripted one,
// so that what the door says on its wire can be checked event by event without engines.
//
// Same rules as Conversation: every call from the door's thread (the event loop), none blocks;
// start() once, stop() once (joins the core's threads; from any thread, e.g. the reaper).
#pragma once

#include <memory>
#include <string>

#include "host/conversation/conversation.h"

namespace earshot::host {

class ConversationPort {
 public:
  virtual ~ConversationPort() = default;

  virtual bool start(std::string* error) = 0;
  virtual void stop() = 0;

  virtual void audio(const AudioIn& frame) = 0;
  virtual void commit_input() = 0;
  virtual void clear_input() = 0;
  virtual void user_text(const std::string& text) = 0;
  virtual void respond() = 0;
  virtual void interrupt(const PlayedReport& report) = 0;
  virtual void played(const PlayedReport& report) = 0;
  // The client's connection ended with a reply in flight (Conversation::client_gone): `wire` names
  // the reply the door was sending and how many of its 20 ms frames had left the bridge. Just
  // before stop(), on its thread.
  virtual void client_gone(const PlayedReport& wire) = 0;
  virtual void first_frame_sent(const std::string& reply_id, int64_t sent_ms) = 0;
  virtual void update(const ConversationSettings& settings) = 0;
  virtual Conversation::InputPace input_pace() const = 0;
};

// The real conversation core, talking to `sink`.
std::unique_ptr<ConversationPort> make_conversation_port(Services& services,
                                                         ConversationSettings settings,
                                                         NodeLease lease, ConversationSink& sink);

}  // namespace earshot::host
