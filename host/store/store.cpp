#include "host/store/store.h"

#include <sqlite3.h>

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
  int step() { return sqlite3_step(stmt_); }
  std::string column_text(int i) {
    const unsigned char* p = sqlite3_column_text(stmt_, i);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  int64_t column_int(int i) { return sqlite3_column_int64(stmt_, i); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

std::string describe(sqlite3* db, const char* what) {
  return std::string(what) + ": " + sqlite3_errmsg(db);
}

}  // namespace

std::unique_ptr<Store> Store::open(const std::string& path, const StoreOptions& options,
                                   std::string* error) {
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
      !store->exec(kSchema, &err)) {
    *error = path + ": " + err;
    return nullptr;
  }
  return store;
}

Store::~Store() {
  sqlite3_close(db_);
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

bool Store::add_turn(const TurnRecord& t, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_,
              "INSERT INTO turns (session_id, node_id, turn_id, transcript, language, reply, "
              "reply_full, interrupted, started_at_ms, timings_json) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!s.ok()) return *error = describe(db_, "storing a turn"), false;
  s.text(1, t.session_id).text(2, t.node_id).text(3, t.turn_id).text(4, t.transcript);
  s.text(5, t.language).text(6, t.reply).text(7, t.reply_full).integer(8, t.interrupted ? 1 : 0);
  s.integer(9, t.started_at_ms).text(10, t.timings_json.empty() ? "{}" : t.timings_json);
  if (s.step() != SQLITE_DONE) return *error = describe(db_, "storing a turn"), false;
  return true;
}

bool Store::add_segment_and_advance(const SegmentRecord& g, uint64_t seq, std::string* error) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!exec("BEGIN IMMEDIATE;", error)) return false;
  bool ok = false;
  {
    Statement s(db_,
                "INSERT INTO segments (node_id, room, language, started_at_ms, ended_at_ms, "
                "first_seq, last_seq, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    Statement h(db_,
                "INSERT INTO high_water (node_id, seq) VALUES (?1, ?2) ON CONFLICT(node_id) "
                "DO UPDATE SET seq = max(seq, excluded.seq)");
    if (s.ok() && h.ok()) {
      s.text(1, g.node_id).text(2, g.room).text(3, g.language).integer(4, g.started_at_ms);
      s.integer(5, g.ended_at_ms).integer(6, int64_t(g.first_seq)).integer(7, int64_t(g.last_seq));
      s.text(8, g.text);
      h.text(1, g.node_id).integer(2, int64_t(seq));
      ok = s.step() == SQLITE_DONE && h.step() == SQLITE_DONE;
    }
    if (!ok) *error = describe(db_, "storing a segment");
  }
  if (!ok) {
    std::string ignored;
    exec("ROLLBACK;", &ignored);
    return false;
  }
  if (!exec("COMMIT;", error)) {
    std::string ignored;
    exec("ROLLBACK;", &ignored);
    return false;
  }
  return true;
}

std::optional<uint64_t> Store::acked_seq(const std::string& node_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  Statement s(db_, "SELECT seq FROM high_water WHERE node_id = ?1");
  if (!s.ok()) return std::nullopt;
  s.text(1, node_id);
  if (s.step() != SQLITE_ROW) return std::nullopt;
  return uint64_t(s.column_int(0));
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
    "started_at_ms, timings_json FROM turns ";

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
  while (s.step() == SQLITE_ROW)
    out.push_back(read_turn(s));
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
