#include "host/store/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <functional>

namespace earshot::host {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  room TEXT NOT NULL DEFAULT '',
  mode TEXT NOT NULL DEFAULT 'conversation',
  started_at_ms INTEGER NOT NULL,
  ended_at_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS turns (
  id INTEGER PRIMARY KEY,
  session_id TEXT NOT NULL,
  node_id TEXT NOT NULL DEFAULT '',
  turn_id TEXT NOT NULL,
  transcript TEXT NOT NULL,
  language TEXT NOT NULL DEFAULT '',
  reply TEXT NOT NULL DEFAULT '',
  reply_full TEXT NOT NULL DEFAULT '',
  interrupted INTEGER NOT NULL DEFAULT 0,
  started_at_ms INTEGER NOT NULL,
  timings_json TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS turns_by_session ON turns(session_id);
CREATE TABLE IF NOT EXISTS tool_calls (
  id INTEGER PRIMARY KEY,
  turn_row INTEGER NOT NULL,
  step INTEGER NOT NULL,
  call_id TEXT NOT NULL,
  name TEXT NOT NULL,
  arguments TEXT NOT NULL,
  result TEXT NOT NULL,
  ok INTEGER NOT NULL,
  duration_ms REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tool_calls_by_turn ON tool_calls(turn_row);
CREATE TABLE IF NOT EXISTS segments (
  id INTEGER PRIMARY KEY,
  node_id TEXT NOT NULL,
  room TEXT NOT NULL DEFAULT '',
  language TEXT NOT NULL DEFAULT '',
  started_at_ms INTEGER NOT NULL,
  ended_at_ms INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS segments_by_node ON segments(node_id, started_at_ms);
CREATE TABLE IF NOT EXISTS high_water (
  node_id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS node_epochs (
  node_id TEXT PRIMARY KEY,
  epoch INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS client_tokens (
  name TEXT PRIMARY KEY,
  token_sha256 TEXT NOT NULL UNIQUE,
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS timers (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  room TEXT NOT NULL,
  label TEXT NOT NULL DEFAULT '',
  due_at_ms INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  created_by TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS paired_nodes (
  node_id TEXT PRIMARY KEY,
  token_sha256 TEXT NOT NULL UNIQUE,
  code TEXT NOT NULL,
  peer TEXT NOT NULL,
  paired_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS used_pairing_codes (
  code TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS memories (
  memory_key TEXT PRIMARY KEY,
  updated_at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS memory_messages (
  memory_key TEXT NOT NULL,
  position INTEGER NOT NULL,
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  tool_calls_json TEXT NOT NULL DEFAULT '',
  tool_call_id TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (memory_key, position));
)sql";

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  Statement& text(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& integer(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& real(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  std::string column_text(int i) {
    const unsigned char* p = sqlite3_column_text(stmt_, i);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  int64_t column_int(int i) { return sqlite3_column_int64(stmt_, i); }
  double column_real(int i) { return sqlite3_column_double(stmt_, i); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

std::string describe(sqlite3* db, const char* what) {
  return std::string(what) + ": " + sqlite3_errmsg(db);
}

}  // namespace

std::unique_ptr<Store> Store::open(const std::string& path, const StoreOptions& options,
                                   std::string* error) {
  // A new database is readable by the bridge's user only, whatever the umask: it holds what
  // people said at home. SQLite gives its -wal and -shm files the database file's mode. An
  // existing file keeps the mode it has. Any error here is SQLite's to report, just below.
  if (path != ":memory:") {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    *error = "cannot open " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return nullptr;
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<Store> store(new Store(db));
  std::string err;
  const char* sync =
      options.synchronous_full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
  if (!store->exec("PRAGMA journal_mode=WAL;", &err) || !store->exec(sync, &err) ||
      !store->exec(kSchema, &err) || !store->migrate(&err)) {
    *error = path + ": " + err;
    return nullptr;
  }
  return store;
}

Store::~Store() {
  sqlite3_close(db_);
}

// Columns added since the first schema, for databases made before them.
bool Store::migrate(std::string* error) {
  Statement info(db_, "SELECT 1 FROM pragma_table_info('turns') WHERE name = 'first_seq'");
  if (info.ok() && info.step() == SQLITE_ROW) return true;
  return exec(
      "ALTER TABLE turns ADD COLUMN first_seq INTEGER NOT NULL DEFAULT -1;"
      "ALTER TABLE turns ADD COLUMN last_seq INTEGER NOT NULL DEFAULT -1;",
      error);
}

bool Store::exec(const char* sql, std::string* error) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    *error = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    return false;
  }
  return true;
}

bool Store::open_session(const SessionRecord& r, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_,
              "INSERT OR REPLACE INTO sessions (session_id, node_id, room, mode, started_at_ms, "
              "ended_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, 0)");
  if (!s.ok()) return *error = describe(db_, "storing a session"), false;
  s.text(1, r.session_id).text(2, r.node_id).text(3, r.room).text(4, r.mode);
  s.integer(5, r.started_at_ms);
  if (s.step() != SQLITE_DONE) return *error = describe(db_, "storing a session"), false;
  return true;
}

bool Store::close_session(const std::string& session_id, int64_t ended_at_ms, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "UPDATE sessions SET ended_at_ms = ?2 WHERE session_id = ?1");
  if (!s.ok()) return *error = describe(db_, "closing a session"), false;
  s.text(1, session_id).integer(2, ended_at_ms);
  if (s.step() != SQLITE_DONE) return *error = describe(db_, "closing a session"), false;
  return true;
}

std::vector<SessionRecord> Store::sessions(const std::string& node_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<SessionRecord> out;
  Statement s(db_,
              "SELECT session_id, node_id, room, mode, started_at_ms, ended_at_ms FROM sessions "
              "WHERE ?1 = '' OR node_id = ?1 ORDER BY started_at_ms");
  if (!s.ok()) return out;
  s.text(1, node_id);
  while (s.step() == SQLITE_ROW) {
    SessionRecord r;
    r.session_id = s.column_text(0);
    r.node_id = s.column_text(1);
    r.room = s.column_text(2);
    r.mode = s.column_text(3);
    r.started_at_ms = s.column_int(4);
    r.ended_at_ms = s.column_int(5);
    out.push_back(std::move(r));
  }
  return out;
}

// Runs `body` inside BEGIN IMMEDIATE … COMMIT, rolling back when it or the commit fails.
CommitResult Store::in_transaction(const std::function<CommitResult()>& body, std::string* error) {
  if (!exec("BEGIN IMMEDIATE;", error)) return CommitResult::kFailed;
  CommitResult result = body();
  if (result == CommitResult::kStored && !exec("COMMIT;", error)) result = CommitResult::kFailed;
  if (result != CommitResult::kStored) {
    std::string ignored;
    exec("ROLLBACK;", &ignored);
  }
  return result;
}

// Inside a transaction: may the session holding `epoch` still write for `node_id`, and is
// `first_seq` above what is already stored? Sets *error when not.
CommitResult Store::check_fence(const std::string& node_id, uint64_t epoch, uint64_t first_seq,
                                std::string* error) {
  Statement e(db_, "SELECT epoch FROM node_epochs WHERE node_id = ?1");
  if (!e.ok()) return *error = describe(db_, "reading the node's epoch"), CommitResult::kFailed;
  e.text(1, node_id);
  const int64_t current = e.step() == SQLITE_ROW ? e.column_int(0) : 0;
  if (int64_t(epoch) != current) {
    *error = "session epoch " + std::to_string(epoch) + " of node '" + node_id +
             "' was superseded by epoch " + std::to_string(current);
    return CommitResult::kSuperseded;
  }
  Statement h(db_, "SELECT seq FROM high_water WHERE node_id = ?1");
  if (!h.ok()) return *error = describe(db_, "reading the high-water mark"), CommitResult::kFailed;
  h.text(1, node_id);
  if (h.step() == SQLITE_ROW && int64_t(first_seq) <= h.column_int(0)) {
    *error = "seq " + std::to_string(first_seq) + " of node '" + node_id +
             "' is at or below the stored high-water mark " + std::to_string(h.column_int(0));
    return CommitResult::kAlreadyStored;
  }
  return CommitResult::kStored;
}

bool Store::advance_high_water(const std::string& node_id, uint64_t seq) {
  Statement h(db_,
              "INSERT INTO high_water (node_id, seq) VALUES (?1, ?2) ON CONFLICT(node_id) "
              "DO UPDATE SET seq = max(seq, excluded.seq)");
  if (!h.ok()) return false;
  h.text(1, node_id).integer(2, int64_t(seq));
  return h.step() == SQLITE_DONE;
}

std::optional<NodeClaim> Store::claim_node(const std::string& node_id, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  NodeClaim claim;
  const CommitResult r = in_transaction(
      [&] {
        Statement bump(db_,
                       "INSERT INTO node_epochs (node_id, epoch) VALUES (?1, 1) ON "
                       "CONFLICT(node_id) DO UPDATE SET epoch = epoch + 1 RETURNING epoch");
        if (!bump.ok()) return *error = describe(db_, "claiming a node"), CommitResult::kFailed;
        bump.text(1, node_id);
        if (bump.step() != SQLITE_ROW)
          return *error = describe(db_, "claiming a node"), CommitResult::kFailed;
        claim.epoch = uint64_t(bump.column_int(0));
        bump.step();  // finish the statement inside the transaction
        Statement h(db_, "SELECT seq FROM high_water WHERE node_id = ?1");
        if (!h.ok()) return *error = describe(db_, "claiming a node"), CommitResult::kFailed;
        h.text(1, node_id);
        if (h.step() == SQLITE_ROW) claim.acked_seq = uint64_t(h.column_int(0));
        return CommitResult::kStored;
      },
      error);
  if (r != CommitResult::kStored) return std::nullopt;
  return claim;
}

CommitResult Store::add_turn(const TurnRecord& t, const SeqRange& seqs, uint64_t epoch,
                             int64_t* row_id, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_transaction(
      [&] {
        if (CommitResult f = check_fence(t.node_id, epoch, seqs.first, error);
            f != CommitResult::kStored)
          return f;
        Statement s(db_,
                    "INSERT INTO turns (session_id, node_id, turn_id, transcript, language, reply, "
                    "reply_full, interrupted, started_at_ms, timings_json, first_seq, last_seq) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
        if (!s.ok()) return *error = describe(db_, "storing a turn"), CommitResult::kFailed;
        s.text(1, t.session_id).text(2, t.node_id).text(3, t.turn_id).text(4, t.transcript);
        s.text(5, t.language).text(6, t.reply).text(7, t.reply_full);
        s.integer(8, t.interrupted ? 1 : 0).integer(9, t.started_at_ms);
        s.text(10, t.timings_json.empty() ? "{}" : t.timings_json);
        s.integer(11, int64_t(seqs.first)).integer(12, int64_t(seqs.last));
        if (s.step() != SQLITE_DONE)
          return *error = describe(db_, "storing a turn"), CommitResult::kFailed;
        // Read before the high-water mark moves: a node's first mark is an INSERT too, and
        // last_insert_rowid() would then name the mark's row, not this turn's.
        const int64_t turn_row = sqlite3_last_insert_rowid(db_);
        if (!advance_high_water(t.node_id, seqs.last))
          return *error = describe(db_, "storing a turn"), CommitResult::kFailed;
        if (row_id) *row_id = turn_row;
        return CommitResult::kStored;
      },
      error);
}

bool Store::add_text_turn(const TurnRecord& t, int64_t* row_id, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_,
              "INSERT INTO turns (session_id, node_id, turn_id, transcript, language, reply, "
              "reply_full, interrupted, started_at_ms, timings_json) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!s.ok()) return *error = describe(db_, "storing a text turn"), false;
  s.text(1, t.session_id).text(2, t.node_id).text(3, t.turn_id).text(4, t.transcript);
  s.text(5, t.language).text(6, t.reply).text(7, t.reply_full);
  s.integer(8, t.interrupted ? 1 : 0).integer(9, t.started_at_ms);
  s.text(10, t.timings_json.empty() ? "{}" : t.timings_json);
  if (s.step() != SQLITE_DONE) return *error = describe(db_, "storing a text turn"), false;
  if (row_id) *row_id = sqlite3_last_insert_rowid(db_);
  return true;
}

bool Store::finish_turn(int64_t row_id, const TurnRecord& t, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  const CommitResult r = in_transaction(
      [&] {
        Statement s(db_,
                    "UPDATE turns SET reply = ?2, reply_full = ?3, interrupted = ?4, "
                    "timings_json = ?5 WHERE id = ?1");
        if (!s.ok()) return *error = describe(db_, "finishing a turn"), CommitResult::kFailed;
        s.integer(1, row_id).text(2, t.reply).text(3, t.reply_full);
        s.integer(4, t.interrupted ? 1 : 0).text(5, t.timings_json.empty() ? "{}" : t.timings_json);
        if (s.step() != SQLITE_DONE)
          return *error = describe(db_, "finishing a turn"), CommitResult::kFailed;
        // A turn finished again (a late played report) keeps one copy of its calls.
        Statement clear(db_, "DELETE FROM tool_calls WHERE turn_row = ?1");
        if (!clear.ok()) return *error = describe(db_, "storing tool calls"), CommitResult::kFailed;
        clear.integer(1, row_id);
        if (clear.step() != SQLITE_DONE)
          return *error = describe(db_, "storing tool calls"), CommitResult::kFailed;
        for (const ToolCallRecord& c : t.tool_calls) {
          Statement add(db_,
                        "INSERT INTO tool_calls (turn_row, step, call_id, name, arguments, result, "
                        "ok, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
          if (!add.ok()) return *error = describe(db_, "storing tool calls"), CommitResult::kFailed;
          add.integer(1, row_id).integer(2, c.step).text(3, c.call_id).text(4, c.name);
          add.text(5, c.arguments).text(6, c.result).integer(7, c.ok ? 1 : 0);
          add.real(8, c.duration_ms);
          if (add.step() != SQLITE_DONE)
            return *error = describe(db_, "storing tool calls"), CommitResult::kFailed;
        }
        return CommitResult::kStored;
      },
      error);
  return r == CommitResult::kStored;
}

CommitResult Store::add_segment(const SegmentRecord& g, uint64_t epoch, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_transaction(
      [&] {
        if (CommitResult f = check_fence(g.node_id, epoch, g.first_seq, error);
            f != CommitResult::kStored)
          return f;
        Statement s(db_,
                    "INSERT INTO segments (node_id, room, language, started_at_ms, ended_at_ms, "
                    "first_seq, last_seq, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        if (!s.ok()) return *error = describe(db_, "storing a segment"), CommitResult::kFailed;
        s.text(1, g.node_id).text(2, g.room).text(3, g.language).integer(4, g.started_at_ms);
        s.integer(5, g.ended_at_ms).integer(6, int64_t(g.first_seq));
        s.integer(7, int64_t(g.last_seq)).text(8, g.text);
        if (s.step() != SQLITE_DONE || !advance_high_water(g.node_id, g.last_seq))
          return *error = describe(db_, "storing a segment"), CommitResult::kFailed;
        return CommitResult::kStored;
      },
      error);
}

CommitResult Store::advance(const std::string& node_id, uint64_t seq, uint64_t epoch,
                            std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  return in_transaction(
      [&] {
        if (CommitResult f = check_fence(node_id, epoch, seq, error); f != CommitResult::kStored)
          return f;
        if (!advance_high_water(node_id, seq))
          return *error = describe(db_, "advancing the high-water mark"), CommitResult::kFailed;
        return CommitResult::kStored;
      },
      error);
}

std::optional<uint64_t> Store::acked_seq(const std::string& node_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "SELECT seq FROM high_water WHERE node_id = ?1");
  if (!s.ok()) return std::nullopt;
  s.text(1, node_id);
  if (s.step() != SQLITE_ROW) return std::nullopt;
  return uint64_t(s.column_int(0));
}

bool Store::add_client_token(const ClientTokenRecord& t, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  const CommitResult r = in_transaction(
      [&] {
        Statement live(db_, "SELECT 1 FROM client_tokens WHERE name = ?1 AND revoked_at_ms = 0");
        if (!live.ok()) return *error = describe(db_, "adding a token"), CommitResult::kFailed;
        live.text(1, t.name);
        if (live.step() == SQLITE_ROW) {
          *error = "'" + t.name + "' already has a live token (revoke it first)";
          return CommitResult::kFailed;
        }
        Statement s(db_,
                    "INSERT OR REPLACE INTO client_tokens (name, token_sha256, created_at_ms, "
                    "revoked_at_ms) VALUES (?1, ?2, ?3, 0)");
        if (!s.ok()) return *error = describe(db_, "adding a token"), CommitResult::kFailed;
        s.text(1, t.name).text(2, t.token_sha256).integer(3, t.created_at_ms);
        if (s.step() != SQLITE_DONE)
          return *error = describe(db_, "adding a token"), CommitResult::kFailed;
        return CommitResult::kStored;
      },
      error);
  return r == CommitResult::kStored;
}

bool Store::revoke_client_token(const std::string& name, int64_t at_ms, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_,
              "UPDATE client_tokens SET revoked_at_ms = ?2 WHERE name = ?1 AND revoked_at_ms = 0");
  if (!s.ok()) return *error = describe(db_, "revoking a token"), false;
  s.text(1, name).integer(2, at_ms > 0 ? at_ms : 1);
  if (s.step() != SQLITE_DONE) return *error = describe(db_, "revoking a token"), false;
  if (sqlite3_changes(db_) == 0) return *error = "'" + name + "' has no live token", false;
  return true;
}

std::vector<ClientTokenRecord> Store::client_tokens() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<ClientTokenRecord> out;
  Statement s(db_,
              "SELECT name, token_sha256, created_at_ms, revoked_at_ms FROM client_tokens "
              "ORDER BY name");
  if (!s.ok()) return out;
  while (s.step() == SQLITE_ROW)
    out.push_back({s.column_text(0), s.column_text(1), s.column_int(2), s.column_int(3)});
  return out;
}

// The timers table came after the first schema: CREATE TABLE IF NOT EXISTS in kSchema adds it to
// an older database at open, which is all the migration a new table needs.
bool Store::add_timer(const TimerRecord& t, int64_t* id, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_,
              "INSERT INTO timers (kind, room, label, due_at_ms, duration_ms, created_at_ms, "
              "created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  if (!s.ok()) return *error = describe(db_, "storing a timer"), false;
  s.text(1, t.kind).text(2, t.room).text(3, t.label).integer(4, t.due_at_ms);
  s.integer(5, t.duration_ms).integer(6, t.created_at_ms).text(7, t.created_by);
  if (s.step() != SQLITE_DONE) return *error = describe(db_, "storing a timer"), false;
  *id = sqlite3_last_insert_rowid(db_);
  return true;
}

bool Store::remove_timer(int64_t id, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "DELETE FROM timers WHERE id = ?1");
  if (!s.ok()) return *error = describe(db_, "removing a timer"), false;
  s.integer(1, id);
  if (s.step() != SQLITE_DONE) return *error = describe(db_, "removing a timer"), false;
  if (sqlite3_changes(db_) == 0) return *error = "no timer " + std::to_string(id), false;
  return true;
}

std::vector<TimerRecord> Store::timers() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TimerRecord> out;
  Statement s(db_,
              "SELECT id, kind, room, label, due_at_ms, duration_ms, created_at_ms, created_by "
              "FROM timers ORDER BY due_at_ms, id");
  if (!s.ok()) return out;
  while (s.step() == SQLITE_ROW)
    out.push_back({s.column_int(0), s.column_text(1), s.column_text(2), s.column_text(3),
                   s.column_int(4), s.column_int(5), s.column_int(6), s.column_text(7)});
  return out;
}

std::optional<std::string> Store::live_client_token_name(const std::string& token_sha256) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "SELECT name FROM client_tokens WHERE token_sha256 = ?1 AND revoked_at_ms = 0");
  if (!s.ok()) return std::nullopt;
  s.text(1, token_sha256);
  if (s.step() != SQLITE_ROW) return std::nullopt;
  return s.column_text(0);
}

bool Store::save_memory(const std::string& key, const std::vector<MemoryMessage>& messages,
                        int64_t at_ms, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto fail = [&] {
    *error = describe(db_, "storing a memory");
    return CommitResult::kFailed;
  };
  const CommitResult r = in_transaction(
      [&] {
        Statement clear(db_, "DELETE FROM memory_messages WHERE memory_key = ?1");
        if (!clear.ok() || clear.text(1, key).step() != SQLITE_DONE) return fail();
        for (size_t i = 0; i < messages.size(); ++i) {
          const MemoryMessage& m = messages[i];
          Statement add(db_,
                        "INSERT INTO memory_messages (memory_key, position, role, content, "
                        "tool_calls_json, tool_call_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
          if (!add.ok()) return fail();
          add.text(1, key).integer(2, int64_t(i)).text(3, m.role).text(4, m.content);
          add.text(5, m.tool_calls_json).text(6, m.tool_call_id);
          if (add.step() != SQLITE_DONE) return fail();
        }
        Statement stamp(db_,
                        "INSERT OR REPLACE INTO memories (memory_key, updated_at_ms) "
                        "VALUES (?1, ?2)");
        if (!stamp.ok() || stamp.text(1, key).integer(2, at_ms).step() != SQLITE_DONE)
          return fail();
        return CommitResult::kStored;
      },
      error);
  return r == CommitResult::kStored;
}

bool Store::load_memory(const std::string& key, StoredMemory* out, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  *out = StoredMemory{};
  Statement stamp(db_, "SELECT updated_at_ms FROM memories WHERE memory_key = ?1");
  if (!stamp.ok()) return *error = describe(db_, "reading a memory"), false;
  const int found = stamp.text(1, key).step();
  if (found == SQLITE_DONE) return true;
  if (found != SQLITE_ROW) return *error = describe(db_, "reading a memory"), false;
  out->updated_at_ms = stamp.column_int(0);
  Statement s(db_,
              "SELECT role, content, tool_calls_json, tool_call_id FROM memory_messages "
              "WHERE memory_key = ?1 ORDER BY position");
  if (!s.ok()) return *error = describe(db_, "reading a memory"), false;
  s.text(1, key);
  int step;
  while ((step = s.step()) == SQLITE_ROW)
    out->messages.push_back(
        {s.column_text(0), s.column_text(1), s.column_text(2), s.column_text(3)});
  if (step != SQLITE_DONE) return *error = describe(db_, "reading a memory"), false;
  return true;
}

int Store::forget_memory(const std::string& key, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  int removed = 0;
  auto fail = [&] {
    *error = describe(db_, "forgetting a memory");
    return CommitResult::kFailed;
  };
  const CommitResult r = in_transaction(
      [&] {
        for (const char* table : {"memory_messages", "memories"}) {
          const std::string sql =
              std::string("DELETE FROM ") + table + " WHERE ?1 = '*' OR memory_key = ?1";
          Statement s(db_, sql.c_str());
          if (!s.ok() || s.text(1, key).step() != SQLITE_DONE) return fail();
          removed = sqlite3_changes(db_);  // the last one: memories
        }
        return CommitResult::kStored;
      },
      error);
  return r == CommitResult::kStored ? removed : -1;
}

bool Store::add_paired_node(const PairedNodeRecord& n, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  const CommitResult r = in_transaction(
      [&] {
        Statement used(db_, "SELECT 1 FROM used_pairing_codes WHERE code = ?1");
        Statement paired(db_, "SELECT 1 FROM paired_nodes WHERE node_id = ?1");
        if (!used.ok() || !paired.ok())
          return *error = describe(db_, "pairing a node"), CommitResult::kFailed;
        used.text(1, n.code);
        if (used.step() == SQLITE_ROW)
          return *error = "the code was used before", CommitResult::kFailed;
        paired.text(1, n.node_id);
        if (paired.step() == SQLITE_ROW)
          return *error = "'" + n.node_id + "' is already paired", CommitResult::kFailed;
        Statement s(db_,
                    "INSERT INTO paired_nodes (node_id, token_sha256, code, peer, paired_at_ms) "
                    "VALUES (?1, ?2, ?3, ?4, ?5)");
        Statement c(db_, "INSERT INTO used_pairing_codes (code) VALUES (?1)");
        if (!s.ok() || !c.ok())
          return *error = describe(db_, "pairing a node"), CommitResult::kFailed;
        s.text(1, n.node_id).text(2, n.token_sha256).text(3, n.code).text(4, n.peer);
        s.integer(5, n.paired_at_ms);
        c.text(1, n.code);
        if (s.step() != SQLITE_DONE || c.step() != SQLITE_DONE)
          return *error = describe(db_, "pairing a node"), CommitResult::kFailed;
        return CommitResult::kStored;
      },
      error);
  return r == CommitResult::kStored;
}

bool Store::remove_paired_node(const std::string& node_id, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "DELETE FROM paired_nodes WHERE node_id = ?1");
  if (!s.ok()) return *error = describe(db_, "unpairing a node"), false;
  s.text(1, node_id);
  if (s.step() != SQLITE_DONE) return *error = describe(db_, "unpairing a node"), false;
  if (sqlite3_changes(db_) == 0) return *error = "'" + node_id + "' is not paired", false;
  return true;
}

std::vector<PairedNodeRecord> Store::paired_nodes() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<PairedNodeRecord> out;
  Statement s(db_,
              "SELECT node_id, token_sha256, code, peer, paired_at_ms FROM paired_nodes "
              "ORDER BY node_id");
  if (!s.ok()) return out;
  while (s.step() == SQLITE_ROW)
    out.push_back(
        {s.column_text(0), s.column_text(1), s.column_text(2), s.column_text(3), s.column_int(4)});
  return out;
}

std::optional<std::string> Store::paired_node_token_sha256(const std::string& node_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "SELECT token_sha256 FROM paired_nodes WHERE node_id = ?1");
  if (!s.ok()) return std::nullopt;
  s.text(1, node_id);
  if (s.step() != SQLITE_ROW) return std::nullopt;
  return s.column_text(0);
}

bool Store::pairing_code_used(const std::string& code) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "SELECT 1 FROM used_pairing_codes WHERE code = ?1");
  if (!s.ok()) return false;
  s.text(1, code);
  return s.step() == SQLITE_ROW;
}

bool Store::set_max_pages(uint64_t pages) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string error;
  return exec(("PRAGMA max_page_count=" + std::to_string(pages) + ";").c_str(), &error);
}

uint64_t Store::page_count() {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "PRAGMA page_count");
  return s.ok() && s.step() == SQLITE_ROW ? uint64_t(s.column_int(0)) : 0;
}

namespace {
constexpr const char* kTurnColumns =
    "SELECT session_id, node_id, turn_id, transcript, language, reply, reply_full, interrupted, "
    "started_at_ms, timings_json, first_seq, last_seq, id FROM turns ";

TurnRecord read_turn(Statement& s) {
  TurnRecord t;
  t.session_id = s.column_text(0);
  t.node_id = s.column_text(1);
  t.turn_id = s.column_text(2);
  t.transcript = s.column_text(3);
  t.language = s.column_text(4);
  t.reply = s.column_text(5);
  t.reply_full = s.column_text(6);
  t.interrupted = s.column_int(7) != 0;
  t.started_at_ms = s.column_int(8);
  t.timings_json = s.column_text(9);
  t.first_seq = s.column_int(10);
  t.last_seq = s.column_int(11);
  return t;
}
}  // namespace

std::vector<TurnRecord> Store::turns(const std::string& session_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TurnRecord> out;
  Statement s(db_,
              (std::string(kTurnColumns) + "WHERE ?1 = '' OR session_id = ?1 ORDER BY id").c_str());
  if (!s.ok()) return out;
  s.text(1, session_id);
  while (s.step() == SQLITE_ROW) {
    out.push_back(read_turn(s));
    Statement c(db_,
                "SELECT step, call_id, name, arguments, result, ok, duration_ms FROM tool_calls "
                "WHERE turn_row = ?1 ORDER BY id");
    if (!c.ok()) continue;
    c.integer(1, s.column_int(12));
    while (c.step() == SQLITE_ROW)
      out.back().tool_calls.push_back({int(c.column_int(0)), c.column_text(1), c.column_text(2),
                                       c.column_text(3), c.column_text(4), c.column_int(5) != 0,
                                       c.column_real(6)});
  }
  return out;
}

std::vector<TurnRecord> Store::recent_turns(int limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<TurnRecord> out;
  Statement s(db_, (std::string(kTurnColumns) + "ORDER BY id DESC LIMIT ?1").c_str());
  if (!s.ok()) return out;
  s.integer(1, limit);
  while (s.step() == SQLITE_ROW)
    out.push_back(read_turn(s));
  return out;
}

std::vector<SegmentRecord> Store::segments(const std::string& node_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<SegmentRecord> out;
  Statement s(db_,
              "SELECT node_id, room, language, started_at_ms, ended_at_ms, first_seq, last_seq, "
              "text FROM segments WHERE ?1 = '' OR node_id = ?1 ORDER BY id");
  if (!s.ok()) return out;
  s.text(1, node_id);
  while (s.step() == SQLITE_ROW) {
    SegmentRecord g;
    g.node_id = s.column_text(0);
    g.room = s.column_text(1);
    g.language = s.column_text(2);
    g.started_at_ms = s.column_int(3);
    g.ended_at_ms = s.column_int(4);
    g.first_seq = uint64_t(s.column_int(5));
    g.last_seq = uint64_t(s.column_int(6));
    g.text = s.column_text(7);
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace earshot::host
