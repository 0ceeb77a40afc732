// Store: what the bridge keeps, in one SQLite file (WAL mode).
//
//   sessions   one row per connection: node, room, mode, when it started and ended
//   turns      one row per conversation turn: transcript, the reply as heard and as written,
//              timings
//   tool_calls one row per tool call made while answering a turn: its turn's row, step, name,
//              arguments, result, duration (written with the turn's reply)
//   segments   one row per ambient-mode segment: node, room, language, time, text
//   high_water per node, the highest microphone seq committed (welcome.acked_seq after a restart)
//   node_epochs per node, the epoch of its newest session (the fence against older ones)
//   client_tokens one row per browser client the operator let in: its name, the SHA-256 of its
//              token (never the token), when it was made and revoked (host/client_tokens.h)
//   timers     one row per household timer or alarm not yet spoken: its room, label, when it is
//              due (host/tools/timer_book.h); deleted once it has been announced or cancelled
//   paired_nodes one row per node paired with a code (host/pairing_desk.h): its id, the SHA-256 of
//              its token, the code that was confirmed (never valid again), when and from where
//   memories   one row per conversation memory (a node's or a room's): its key, when it was last
//              written (host/conversation/memory.h)
//   memory_messages the memory's chat history, one row per message in order, exactly as it goes
//              to the model: role, content, tool calls (JSON), tool_call_id
//
// Delivery: a segment or a turn and its node's high-water mark are committed in one transaction,
// and the node is acknowledged only after the commit, so a bridge killed at any moment loses no
// acknowledged speech. Each session of a node first claims it (claim_node: a new epoch); every
// later write names that epoch and is refused inside its transaction once a newer session has
// claimed the node (kSuperseded), or when its first seq is at or below the stored high-water mark
// (kAlreadyStored). So a replaced session still working through its backlog can neither store
// nor advance anything, and nothing is stored twice.
// Errors (a full disk, a read-only file) come back as messages; nothing throws. Thread-safe: one
// connection behind a mutex (writes are a few per turn).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace earshot::host {

// One tool call the model made while answering a turn (host/tools/tool_runner.h).
struct ToolCallRecord {
  int step = 0;         // the model's step it came from (0: its first answer)
  std::string call_id;  // the model's id for it
  std::string name;
  std::string arguments;  // as the model wrote them
  std::string result;     // what went back to the model (a result or an error)
  bool ok = false;        // the tool answered (not an error, a timeout or a cancel)
  double duration_ms = 0;
};

struct TurnRecord {
  std::string session_id;
  std::string node_id;
  std::string turn_id;
  std::string transcript;
  std::string language;
  std::string reply;       // what the person heard (cut at the barge-in point)
  std::string reply_full;  // what the LLM wrote
  bool interrupted = false;
  int64_t started_at_ms = 0;  // wall clock, ms since the epoch
  std::string timings_json;
  // The microphone frames it covers (every frame since the previous commit); -1 in rows stored
  // before these columns existed.
  int64_t first_seq = -1, last_seq = -1;
  std::vector<ToolCallRecord> tool_calls;  // in the order they were made (table tool_calls)
};

// A browser client's token, as kept: only its hash (host/client_tokens.h makes and checks them).
struct ClientTokenRecord {
  std::string name;           // the client; its node_id is "browser-" + name
  std::string token_sha256;   // lower-case hex of SHA-256(token)
  int64_t created_at_ms = 0;  // wall clock, ms since the epoch
  int64_t revoked_at_ms = 0;  // 0 while the token is live
};

// One message of a conversation memory, as it goes to the model (host/conversation/memory.h
// turns it into and out of a ChatMessage).
struct MemoryMessage {
  std::string role;
  std::string content;
  std::string tool_calls_json;  // the assistant's calls as a JSON array; "" when none
  std::string tool_call_id;     // a tool result's call
};

struct StoredMemory {
  std::vector<MemoryMessage> messages;
  int64_t updated_at_ms = 0;  // wall clock of the last write; 0 when there is none
};

// A node that paired with a code, as kept: its token's hash only (host/pairing_desk.h).
struct PairedNodeRecord {
  std::string node_id;
  std::string token_sha256;  // lower-case hex of SHA-256(token)
  std::string code;          // the pairing code the operator confirmed: used up
  std::string peer;          // the address it paired from (for the operator)
  int64_t paired_at_ms = 0;  // wall clock, ms since the epoch
};

struct SessionRecord {
  std::string session_id;
  std::string node_id;
  std::string room;
  std::string mode;  // "conversation" | "ambient"
  int64_t started_at_ms = 0;
  int64_t ended_at_ms = 0;  // 0 while connected (or if the bridge died first)
};

struct SegmentRecord {
  std::string node_id;
  std::string room;
  std::string language;
  int64_t started_at_ms = 0;
  int64_t ended_at_ms = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  std::string text;
};

// A run of microphone frames, both ends included.
struct SeqRange {
  uint64_t first = 0;
  uint64_t last = 0;
};

// A household timer or alarm (host/tools/timer_book.h). Times are wall clock, ms since the epoch.
struct TimerRecord {
  int64_t id = 0;           // the store's row id: the id the model and the person use
  std::string kind;         // "timer" or "alarm"
  std::string room;         // where it is announced (a node without a room: its client id)
  std::string label;        // "pasta", or empty
  int64_t due_at_ms = 0;    // when it goes off
  int64_t duration_ms = 0;  // timers: as set (for "your 5 minute timer"); alarms: 0
  int64_t created_at_ms = 0;
  std::string created_by;  // the client id that asked
};

// What a new session of a node holds: its epoch, and what the store already has of the node.
struct NodeClaim {
  uint64_t epoch = 0;
  std::optional<uint64_t> acked_seq;
};

enum class CommitResult {
  kStored,         // committed: the frames it covers may be acknowledged
  kFailed,         // the database failed (full disk, I/O): nothing written, try again later
  kSuperseded,     // a newer session of the node holds it: this session must stop writing
  kAlreadyStored,  // the first seq is at or below the high-water mark: stored before
};

struct StoreOptions {
  bool synchronous_full = false;  // FULL: fsync every commit (power-loss safe); NORMAL otherwise
};

class Store {
 public:
  // Opens (creating if needed, mode 0600) the database; nullptr and `*error` when it cannot.
  static std::unique_ptr<Store> open(const std::string& path, const StoreOptions& options,
                                     std::string* error);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  bool open_session(const SessionRecord& session, std::string* error);
  bool close_session(const std::string& session_id, int64_t ended_at_ms, std::string* error);

  // Starts a new epoch for the node (fencing every older session) and reads its high-water mark,
  // in one transaction. nullopt and `*error` if the database fails.
  std::optional<NodeClaim> claim_node(const std::string& node_id, std::string* error);
  // Stores the turn (as transcribed; the reply is filled in by finish_turn) and raises the
  // node's high-water mark to `seqs.last`, in one fenced transaction. `*row_id` names the row.
  CommitResult add_turn(const TurnRecord& turn, const SeqRange& seqs, uint64_t epoch,
                        int64_t* row_id, std::string* error);
  // A turn the client typed (no audio, so no frames to fence or acknowledge): stored as it is.
  bool add_text_turn(const TurnRecord& turn, int64_t* row_id, std::string* error);
  // The reply of a stored turn: as heard, as written, interrupted, timings, and its tool calls
  // (replacing any stored before for this row, in one transaction).
  bool finish_turn(int64_t row_id, const TurnRecord& turn, std::string* error);
  // Stores the segment and raises the node's high-water mark to its last seq, fenced.
  CommitResult add_segment(const SegmentRecord& segment, uint64_t epoch, std::string* error);
  // Raises the high-water mark alone (frames that belong to no turn), fenced.
  CommitResult advance(const std::string& node_id, uint64_t seq, uint64_t epoch,
                       std::string* error);
  std::optional<uint64_t> acked_seq(const std::string& node_id);

  // Browser clients' tokens. add: false (and *error) when `name` already has a live token; a
  // revoked one of the same name is replaced. revoke: false when `name` has no live token.
  bool add_client_token(const ClientTokenRecord& token, std::string* error);
  bool revoke_client_token(const std::string& name, int64_t at_ms, std::string* error);
  std::vector<ClientTokenRecord> client_tokens();  // live and revoked, by name
  // The name of the live token with this hash, or nullopt (unknown, revoked, or the store failed).
  std::optional<std::string> live_client_token_name(const std::string& token_sha256);

  // Conversation memories, by key ("node:<id>", "room:<name>"). save replaces the whole history
  // in one transaction (it is bounded by reply.history_turns); load fills `*out` (empty, with
  // updated_at_ms 0, when there is none) and returns false only when the database fails.
  // forget: `key` exactly, or every memory when it is "*"; returns how many went, -1 on failure.
  bool save_memory(const std::string& key, const std::vector<MemoryMessage>& messages,
                   int64_t at_ms, std::string* error);
  bool load_memory(const std::string& key, StoredMemory* out, std::string* error);
  int forget_memory(const std::string& key, std::string* error);

  // Paired nodes. add: false (and *error) when the node is already paired or the code was used
  // before. remove: false when the node is not paired (it can then pair again).
  bool add_paired_node(const PairedNodeRecord& node, std::string* error);
  bool remove_paired_node(const std::string& node_id, std::string* error);
  std::vector<PairedNodeRecord> paired_nodes();  // by node_id
  // The token hash of a paired node, or nullopt (not paired, or the store failed).
  std::optional<std::string> paired_node_token_sha256(const std::string& node_id);
  bool pairing_code_used(const std::string& code);

  // Household timers and alarms. add: `*id` is the new row's id. remove: false when no such row.
  bool add_timer(const TimerRecord& timer, int64_t* id, std::string* error);
  bool remove_timer(int64_t id, std::string* error);
  std::vector<TimerRecord> timers();  // by due time

  // Size limit: the database may not grow past `pages` pages (of 4 KiB); writes beyond it fail
  // exactly as on a full disk. page_count() is the current size.
  bool set_max_pages(uint64_t pages);
  uint64_t page_count();

  // Reading back (tests, tools).
  std::vector<SessionRecord> sessions(const std::string& node_id = "");
  std::vector<TurnRecord> turns(const std::string& session_id = "");  // with their tool calls
  std::vector<TurnRecord> recent_turns(int limit);                    // newest first
  std::vector<SegmentRecord> segments(const std::string& node_id = "");

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  bool exec(const char* sql, std::string* error);
  bool migrate(std::string* error);
  CommitResult in_transaction(const std::function<CommitResult()>& body, std::string* error);
  CommitResult check_fence(const std::string& node_id, uint64_t epoch, uint64_t first_seq,
                           std::string* error);
  bool advance_high_water(const std::string& node_id, uint64_t seq);
  std::mutex mutex_;
  sqlite3* db_;
};

}  // namespace earshot::host
