// Services: what every session of the bridge shares — the engines, the store, the metrics, the
// turn settings, and the per-node delivery high-water marks. Owned by main(); outlives sessions.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "host/delivery.h"
#include "host/engines/engines.h"
#include "host/live_clients.h"
#include "host/metrics.h"
#include "host/recent_turns.h"
#include "host/turn_detector.h"

namespace earshot::host {

// What the bridge reports for each answered turn (main prints it; the store keeps it).
struct TurnReport {
  std::string node_id;
  std::string session_id;
  std::string turn_id;
  std::string reply_id;  // empty when no reply was made
  std::string transcript;
  std::string language;
  std::string reply_heard;  // what the person actually heard (all of it unless interrupted)
  std::string reply_full;   // what the LLM wrote
  bool interrupted = false;
  std::string error;                       // an engine failed (the session goes on)
  std::optional<LlmUsage> usage;           // as the LLM reported it (of its last step)
  std::vector<ToolCallRecord> tool_calls;  // every tool call the reply made, in order
  // Milliseconds from the end of the person's speech (the last speech frame's arrival).
  double end_of_turn_ms = -1, stt_final_ms = -1, llm_first_token_ms = -1, first_sentence_ms = -1,
         tts_first_audio_ms = -1, first_frame_queued_ms = -1, first_frame_sent_ms = -1;
};

struct ReplySettings {
  std::string system_prompt =
      "You are Earshot, a helpful voice assistant in a home. Answer briefly, in plain spoken "
      "sentences, without markdown.";
  size_t history_turns = 10;  // user+assistant pairs kept per session
  bool speak_errors = true;   // say engine failures aloud (else only the error message is sent)
  std::string error_speech = "Sorry, I can't answer right now.";
  std::string voice;  // TTS voice (engine-specific; empty = engine default)
  int first_clause_min_chars = 40;
  int played_report_timeout_ms = 1500;  // wait this long for the node's interrupt/playback_done
  // Conversation memory (host/conversation/memory.h): whose history outlives the connection
  // ("node", "room" or "session"), and how long unused before a new conversation starts.
  std::string memory = "node";
  double memory_idle_minutes = 30;
};

// The tool loop (host/tools/, docs/bridge.md "Tools"): config [tools].
struct ToolSettings {
  bool clock = false;           // offer the built-in get_current_time tool
  bool household = false;       // timers, alarms and announce (host/tools/household_tools.h)
  int timer_grace_s = 900;      // a timer this late (the bridge was down) is dropped unspoken
  int max_steps = 4;            // tool rounds per reply; then the model must answer in words
  int call_timeout_ms = 10000;  // a call not answered by then goes back to the model as an error
  int filler_after_ms = 700;    // a step still running after this long: say `filler` (0: never)
  std::string filler = "One moment.";
};

class ToolRegistry;
class RoomDirectory;

struct Services {
  SttEngine* stt = nullptr;
  LlmEngine* llm = nullptr;
  TtsEngine* tts = nullptr;
  Store* store = nullptr;         // may be null (no persistence)
  ToolRegistry* tools = nullptr;  // may be null (no tools offered to the model)
  ToolSettings tool_settings;
  // May be null. Every conversation joins it under its room, so that a timer or the announce
  // tool can speak to it unprompted (host/tools/room_directory.h).
  RoomDirectory* rooms = nullptr;
  Metrics metrics;
  RecentTurns recent_turns;  // for the status page (never read from SQLite on the event loop)
  LiveClients live_clients;  // connections outside the WebSocket server (Wyoming satellites)
  TurnConfig turn;
  ReplySettings reply;
  std::unique_ptr<DeliveryLedger> delivery;        // who may ack what, per node
  std::function<void(const TurnReport&)> on_turn;  // optional; any thread
  std::function<void(const std::string& node_id, const std::string& text, const std::string& lang)>
      on_segment;  // ambient segment stored; optional
};

}  // namespace earshot::host
