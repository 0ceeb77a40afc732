// Conversation memory: the chat history a conversation continues from, kept in the store so that
// a network blip, a node reboot or a bridge restart does not forget what was just said.
//
// Whose memory (reply.memory): "node" (default) keys it by the client id, so a node's next
// session goes on where its last one was; "room" keys it by the room (every node of the room
// shares one conversation; a client without a room keeps its own node's); "session" keeps none
// beyond the connection (the history lives in the responder alone, as before). Realtime clients
// (client ids "realtime-<session>", new for every connection) and a bridge without a store always
// get "session".
//
// How long: a memory not written for reply.memory_idle_minutes is a finished conversation; the
// next turn starts a new one. Its length is the responder's (reply.history_turns).
//
// What: exactly the messages sent to the model after the system prompt (user, assistant with its
// tool calls and, with keep_think_in_history, its <think> text; tool results), in order, so that
// the request after a restart is byte for byte the one that would have been sent without it.
//
// Thread: one ConversationMemory per responder, used on the responder thread only; the store is
// thread-safe, so two responders of one room each read and write the shared copy (the last turn
// to finish is the one kept when two finish at once).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "host/engines/engines.h"

namespace earshot::host {

class Store;
struct BridgeConfig;

// The store key of a conversation's memory ("node:<id>", "room:<room>"), or "" when it keeps none
// beyond the session. `scope` is reply.memory.
std::string memory_key(const std::string& scope, const std::string& client_id,
                       const std::string& room);
// Whether `scope` is a reply.memory value.
bool valid_memory_scope(const std::string& scope);

class ConversationMemory {
 public:
  // `store` may be null (no memory); `idle_ms`: reply.memory_idle_minutes in ms.
  ConversationMemory(Store* store, std::string key, int64_t idle_ms);

  bool enabled() const { return store_ && !key_.empty(); }
  // The history to continue from at `now_ms` (wall clock) into `*history`: the stored one, or
  // empty when it is older than the idle timeout or there is none. False (and `*history`
  // untouched) when the memory is off or the store could not be read.
  bool recall(int64_t now_ms, std::vector<ChatMessage>* history);
  // Writes `history` as the memory's, stamped `now_ms`. A write that fails is logged and counted
  // by the caller's metrics; the conversation goes on from the responder's copy.
  bool remember(const std::vector<ChatMessage>& history, int64_t now_ms, std::string* error);

 private:
  Store* store_;
  const std::string key_;
  const int64_t idle_ms_;
};

// earshot-bridge forget node NAME | room NAME | all: removes stored memories; 0 when done.
int run_forget_command(const BridgeConfig& config, const std::vector<std::string>& args);

}  // namespace earshot::host
