// The household tools built into the bridge (issue 9, item 3): timers and alarms by room, and
// announcements. They need the bridge itself: its store (timers survive a restart), its clock and
// time zone (alarms are in the bridge's local time, like get_current_time), and its live
// conversations (RoomDirectory: a timer that goes off is spoken, unprompted, to the clients of the
// room that set it).
//
//   set_timer     seconds, label?       a timer in the asker's room
//   set_alarm     time "HH:MM", label?  an alarm at the next such local time, in the asker's room
//   list_timers                         the asker's room's timers and alarms
//   cancel_timer  id? label?            by id, by label, or the room's only one
//   announce      text, room?           speak `text` in one room, or every room ("all" / absent)
//
// The asker's room is its conversation's room, or its client id when it has none.
//
// TimerRinger watches the TimerBook: when a timer is due it is announced to its room's clients
// and removed; a room with nobody connected keeps it waiting (it goes off when a client of that
// room connects); past `grace_ms` after its time it is dropped unspoken. So a timer that went off
// while the bridge was down is spoken at start, saying how late it is, if that is within the grace.
// Threads: the ringer has its own; the tools run on the tool runner's threads; all thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "host/tools/room_directory.h"
#include "host/tools/timer_book.h"
#include "host/tools/tool_registry.h"

namespace earshot::host {

struct HouseholdSettings {
  int64_t grace_ms = 15 * 60 * 1000;  // a timer this late is dropped, not spoken
  int64_t late_after_ms = 60 * 1000;  // from this late on, the announcement says it is late
  std::function<int64_t()> now_ms;    // wall clock (ms since the epoch); tests inject their own
  std::function<void(const std::string&)> log;  // one line per timer event; may be empty
};

class TimerRinger {
 public:
  TimerRinger(TimerBook& book, RoomDirectory& rooms, HouseholdSettings settings);
  ~TimerRinger();
  TimerRinger(const TimerRinger&) = delete;
  TimerRinger& operator=(const TimerRinger&) = delete;

  void start();  // the ringer's thread: ring() whenever something may be due
  void stop();   // joins; idempotent
  void wake();   // something changed (a timer set, a client joined): look again now

  // One look at the book at `now_ms` (the thread's step; tests call it with their own clock).
  struct Rung {
    std::vector<TimerRecord> spoken;   // announced to at least one client, removed
    std::vector<TimerRecord> dropped;  // past the grace, removed unspoken
    std::vector<TimerRecord> waiting;  // due, but nobody in their room yet
  };
  Rung ring(int64_t now_ms);
  // When ring() has something to do next (a due time, or a waiting timer's end of grace).
  std::optional<int64_t> next_ring_ms() const;

 private:
  void loop();
  void log(const std::string& line) const;

  TimerBook& book_;
  RoomDirectory& rooms_;
  const HouseholdSettings settings_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false, stopping_ = false;
  std::set<int64_t> waiting_;  // due, nobody to hear them yet
  std::thread thread_;
};

// The tool provider; `ringer` is woken when a timer is set. All must outlive it.
std::shared_ptr<ToolProvider> make_household_tools(TimerBook& book, TimerRinger& ringer,
                                                   RoomDirectory& rooms,
                                                   HouseholdSettings settings);

// What is said when `timer` goes off `late_ms` after its time (separate for tests): "Your 5 minute
// pasta timer is done.", "It's 07:30. Your wake up alarm.", and, from late_after_ms on, "Sorry,
// this comes late: it was due 3 minutes ago."
std::string timer_announcement(const TimerRecord& timer, int64_t late_ms, int64_t late_after_ms);
// The next wall-clock time (ms since the epoch) after `now_ms` that is hour:minute in the bridge's
// local time zone (today, or tomorrow if that has passed).
int64_t next_local_time_ms(int64_t now_ms, int hour, int minute);

}  // namespace earshot::host
