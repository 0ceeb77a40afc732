#include "host/tools/household_tools.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

namespace earshot::host {
namespace {

using nlohmann::json;

constexpr int64_t kMaxTimerSeconds = 7 * 24 * 3600;
// The ringer looks again at least this often, so a wall clock that jumps (NTP, DST) delays a timer
// by this much at most.
constexpr int64_t kMaxSleepMs = 30 * 1000;

std::string plural(int64_t n, const char* unit) {
  return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

// "5 minute", "1 hour 30 minute", "90 second" → as an adjective: "Your 5 minute timer".
std::string duration_adjective(int64_t seconds) {
  const int64_t h = seconds / 3600, m = seconds % 3600 / 60, s = seconds % 60;
  std::string out;
  auto add = [&](int64_t n, const char* unit) {
    if (n == 0) return;
    if (!out.empty()) out += " ";
    out += std::to_string(n) + " " + unit;
  };
  if (seconds < 120 && h == 0) return std::to_string(seconds) + " second";
  add(h, "hour");
  add(m, "minute");
  add(s, "second");
  return out;
}

std::string ago_words(int64_t ms) {
  const int64_t s = ms / 1000;
  if (s < 120) return plural(s, "second");
  if (s < 2 * 3600) return plural((s + 30) / 60, "minute");
  return plural((s + 1800) / 3600, "hour");
}

std::string local_clock(int64_t wall_ms, const char* format) {
  const std::time_t t = std::time_t(wall_ms / 1000);
  std::tm local{};
  localtime_r(&t, &local);
  char out[32];
  strftime(out, sizeof out, format, &local);
  return out;
}

// A whole number from a JSON value the model wrote (it may write 120, 120.0 or "120").
std::optional<int64_t> whole_number(const json& v) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number()) return int64_t(std::llround(v.get<double>()));
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    const long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end && *end == '\0') return n;
  }
  return std::nullopt;
}

ToolResult error(const std::string& message) {
  return {false, json({{"error", message}}).dump()};
}

json describe(const TimerRecord& t, int64_t now_ms) {
  json j = {{"id", t.id},
            {"kind", t.kind},
            {"label", t.label},
            {"due_local_time", local_clock(t.due_at_ms, "%Y-%m-%d %H:%M:%S")},
            {"remaining_seconds", std::max<int64_t>(0, (t.due_at_ms - now_ms + 999) / 1000)}};
  if (t.kind == "timer") j["duration_seconds"] = t.duration_ms / 1000;
  return j;
}

class HouseholdTools : public ToolProvider {
 public:
  HouseholdTools(TimerBook& book, TimerRinger& ringer, RoomDirectory& rooms,
                 HouseholdSettings settings)
      : book_(book), ringer_(ringer), rooms_(rooms), settings_(std::move(settings)) {}

  std::string name() const override { return "household"; }

  std::vector<ToolSpec> list(const ToolScope&) override {
    std::string rooms;
    for (const std::string& r : rooms_.rooms())
      rooms += (rooms.empty() ? "" : ", ") + r;
    return {
        {"set_timer",
         "Start a timer in this room. When it runs out it is announced here, e.g. \"Your 5 minute "
         "pasta timer is done.\"",
         R"({"type":"object","properties":{"seconds":{"type":"integer","minimum":1,"description":"How long the timer runs, in seconds."},"label":{"type":"string","description":"What it is for, e.g. pasta. Optional."}},"required":["seconds"]})"},
        {"set_alarm",
         "Set an alarm in this room at a local time of day (the next time the clock shows it).",
         R"({"type":"object","properties":{"time":{"type":"string","description":"Local time, 24-hour HH:MM, e.g. 07:30."},"label":{"type":"string","description":"What it is for. Optional."}},"required":["time"]})"},
        {"list_timers", "The timers and alarms set in this room, with their ids and time left.",
         R"({"type":"object","properties":{}})"},
        {"cancel_timer",
         "Cancel a timer or alarm in this room, by id or by label (with neither: the room's only "
         "timer).",
         R"({"type":"object","properties":{"id":{"type":"integer"},"label":{"type":"string"}}})"},
        {"announce",
         "Say a message out loud in another room, or in every room. Rooms with a listener now: " +
             (rooms.empty() ? std::string("none") : rooms) + ".",
         R"({"type":"object","properties":{"text":{"type":"string","description":"What to say, as a full sentence."},"room":{"type":"string","description":"The room, or \"all\" for every room (the default)."}},"required":["text"]})"},
    };
  }

  ToolResult call(const ToolScope& scope, const std::string& name, const std::string& arguments,
                  const CancelToken&, std::chrono::steady_clock::time_point) override {
    const json args = json::parse(arguments, nullptr, false);
    if (!args.is_object()) return error("arguments must be a JSON object");
    const std::string room = room_key(scope.room, scope.client_id);
    const int64_t now = settings_.now_ms();
    const std::string label = args.value("label", json("")).is_string()
                                  ? args.value("label", std::string())
                                  : std::string();
    if (name == "set_timer") return set_timer(scope, room, now, args, label);
    if (name == "set_alarm") return set_alarm(scope, room, now, args, label);
    if (name == "list_timers") {
      json timers = json::array();
      for (const TimerRecord& t : book_.list(room))
        timers.push_back(describe(t, now));
      return {true, json({{"room", room}, {"timers", timers}}).dump()};
    }
    if (name == "cancel_timer") {
      int64_t id = 0;
      if (args.contains("id")) {
        std::optional<int64_t> n = whole_number(args["id"]);
        if (!n) return error("id must be a whole number");
        id = *n;
      }
      std::vector<TimerRecord> cancelled = book_.cancel(room, id, label);
      if (cancelled.empty()) {
        json left = json::array();
        for (const TimerRecord& t : book_.list(room))
          left.push_back(describe(t, now));
        return error("no timer in " + room + " matches; the room has: " + left.dump());
      }
      json out = json::array();
      for (const TimerRecord& t : cancelled)
        out.push_back(describe(t, now));
      return {true, json({{"cancelled", out}}).dump()};
    }
    if (name == "announce") return announce(args);
    return error("unknown tool " + name);
  }

 private:
  ToolResult set_timer(const ToolScope& scope, const std::string& room, int64_t now,
                       const json& args, const std::string& label) {
    std::optional<int64_t> seconds =
        args.contains("seconds") ? whole_number(args["seconds"]) : std::nullopt;
    if (!seconds || *seconds < 1 || *seconds > kMaxTimerSeconds)
      return error("seconds must be a whole number from 1 to " + std::to_string(kMaxTimerSeconds));
    TimerRecord t;
    t.kind = "timer";
    t.room = room;
    t.label = label;
    t.duration_ms = *seconds * 1000;
    t.due_at_ms = now + t.duration_ms;
    t.created_at_ms = now;
    t.created_by = scope.client_id;
    return added(std::move(t), now);
  }

  ToolResult set_alarm(const ToolScope& scope, const std::string& room, int64_t now,
                       const json& args, const std::string& label) {
    const std::string time = args.value("time", json("")).is_string()
                                 ? args.value("time", std::string())
                                 : std::string();
    int hour = -1, minute = -1;
    char extra = 0;
    if (std::sscanf(time.c_str(), "%d:%d%c", &hour, &minute, &extra) != 2 || hour < 0 ||
        hour > 23 || minute < 0 || minute > 59)
      return error("time must be a 24-hour local time HH:MM, e.g. 07:30");
    TimerRecord t;
    t.kind = "alarm";
    t.room = room;
    t.label = label;
    t.due_at_ms = next_local_time_ms(now, hour, minute);
    t.created_at_ms = now;
    t.created_by = scope.client_id;
    return added(std::move(t), now);
  }

  ToolResult added(TimerRecord t, int64_t now) {
    std::string store_error;
    std::optional<TimerRecord> stored = book_.add(std::move(t), &store_error);
    if (!stored) return error("the timer could not be stored: " + store_error);
    ringer_.wake();
    json out = describe(*stored, now);
    out["room"] = stored->room;
    return {true, out.dump()};
  }

  ToolResult announce(const json& args) {
    const std::string text =
        args.value("text", json("")).is_string() ? args.value("text", std::string()) : "";
    if (text.empty()) return error("text must be a non-empty string");
    std::string room =
        args.value("room", json("")).is_string() ? args.value("room", std::string()) : "";
    if (room == "all" || room == "*") room.clear();
    const size_t reached = rooms_.announce(room, text);
    if (reached == 0) {
      json rooms = rooms_.rooms();
      return error("nobody is listening in " + (room.empty() ? std::string("any room") : room) +
                   "; rooms with a listener now: " + rooms.dump());
    }
    return {true,
            json({{"room", room.empty() ? "all" : room}, {"clients_reached", reached}}).dump()};
  }

  TimerBook& book_;
  TimerRinger& ringer_;
  RoomDirectory& rooms_;
  const HouseholdSettings settings_;
};

}  // namespace

std::string timer_announcement(const TimerRecord& t, int64_t late_ms, int64_t late_after_ms) {
  std::string text;
  if (t.kind == "alarm") {
    text = "It's " + local_clock(t.due_at_ms, "%H:%M") + ". " +
           (t.label.empty() ? std::string("This is your alarm.") : "Your " + t.label + " alarm.");
  } else {
    text = "Your " + duration_adjective(t.duration_ms / 1000) + " " +
           (t.label.empty() ? "" : t.label + " ") + "timer is done.";
  }
  if (late_ms >= late_after_ms)
    text += " Sorry, this comes late: it was due " + ago_words(late_ms) + " ago.";
  return text;
}

int64_t next_local_time_ms(int64_t now_ms, int hour, int minute) {
  const std::time_t now = std::time_t(now_ms / 1000);
  for (int day = 0; day < 3; ++day) {
    std::tm local{};
    localtime_r(&now, &local);
    local.tm_mday += day;
    local.tm_hour = hour;
    local.tm_min = minute;
    local.tm_sec = 0;
    local.tm_isdst = -1;  // whatever the zone says on that day
    const std::time_t at = std::mktime(&local);
    if (at != std::time_t(-1) && int64_t(at) * 1000 > now_ms) return int64_t(at) * 1000;
  }
  return now_ms + 24 * 3600 * 1000;  // not reached: some day within three has that time
}

// --- the ringer ----------------------------------------------------------------------------------

TimerRinger::TimerRinger(TimerBook& book, RoomDirectory& rooms, HouseholdSettings settings)
    : book_(book), rooms_(rooms), settings_(std::move(settings)) {}

TimerRinger::~TimerRinger() {
  stop();
}

void TimerRinger::start() {
  thread_ = std::thread([this] { loop(); });
}

void TimerRinger::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TimerRinger::wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

void TimerRinger::log(const std::string& line) const {
  if (settings_.log) settings_.log(line);
}

TimerRinger::Rung TimerRinger::ring(int64_t now_ms) {
  Rung rung;
  for (const TimerRecord& t : book_.due(now_ms)) {
    const int64_t late = now_ms - t.due_at_ms;
    const std::string what = t.kind + " " + std::to_string(t.id) +
                             (t.label.empty() ? "" : " (" + t.label + ")") + " in " + t.room;
    std::string store_error;
    if (late > settings_.grace_ms) {
      book_.remove(t.id, &store_error);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        waiting_.erase(t.id);
      }
      log(what + " dropped unspoken: due " + ago_words(late) + " ago, past the grace");
      rung.dropped.push_back(t);
    } else if (rooms_.announce(t.room, timer_announcement(t, late, settings_.late_after_ms)) > 0) {
      book_.remove(t.id, &store_error);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        waiting_.erase(t.id);
      }
      log(what + " went off" + (late >= 1000 ? ", " + std::to_string(late) + " ms late" : ""));
      rung.spoken.push_back(t);
    } else {
      bool first = false;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        first = waiting_.insert(t.id).second;
      }
      if (first) log(what + " is due, but nobody is connected there: waiting for a client");
      rung.waiting.push_back(t);
    }
    if (!store_error.empty()) log(what + ": " + store_error);
  }
  return rung;
}

std::optional<int64_t> TimerRinger::next_ring_ms() const {
  std::optional<int64_t> next;
  const std::vector<TimerRecord> timers = book_.list("");
  std::lock_guard<std::mutex> lock(mutex_);
  for (const TimerRecord& t : timers) {
    const int64_t at = waiting_.count(t.id) ? t.due_at_ms + settings_.grace_ms + 1 : t.due_at_ms;
    if (!next || at < *next) next = at;
  }
  return next;
}

void TimerRinger::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    woken_ = false;
    lock.unlock();
    ring(settings_.now_ms());
    const std::optional<int64_t> next = next_ring_ms();
    const int64_t sleep_ms =
        next ? std::clamp<int64_t>(*next - settings_.now_ms(), 0, kMaxSleepMs) : kMaxSleepMs;
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(sleep_ms), [&] { return woken_ || stopping_; });
  }
}

std::shared_ptr<ToolProvider> make_household_tools(TimerBook& book, TimerRinger& ringer,
                                                   RoomDirectory& rooms,
                                                   HouseholdSettings settings) {
  return std::make_shared<HouseholdTools>(book, ringer, rooms, std::move(settings));
}

}  // namespace earshot::host
