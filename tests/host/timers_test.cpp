// The household timers without a bridge: the TimerBook over a real SQLite store (kept across a
// reopen, cancelled by id, label or alone), the TimerRinger driven by an injected clock (spoken in
// its room only, waiting while nobody is there, late but spoken within the grace, dropped past it),
// the tools' answers to the model, the words said, and alarms at the next local time in a set zone.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "host/store/store.h"
#include "host/tools/household_tools.h"
#include "tests/support/test_audio.h"

namespace earshot::host {
namespace {

using nlohmann::json;

constexpr int64_t kT0 = 1800000000000;  // 2027-01-15 08:00:00 UTC

TimerRecord timer(const std::string& room, const std::string& label, int64_t due, int64_t dur) {
  TimerRecord t;
  t.kind = "timer";
  t.room = room;
  t.label = label;
  t.due_at_ms = due;
  t.duration_ms = dur;
  t.created_at_ms = due - dur;
  return t;
}

std::unique_ptr<Store> open_store(const std::string& dir) {
  std::string error;
  auto store = Store::open(dir + "/earshot.db", {}, &error);
  EXPECT_TRUE(store) << error;
  return store;
}

TEST(TimerBook, KeepsTimersAcrossAReopenAndCancelsByIdLabelOrTheOnlyOne) {
  const std::string dir = test::scratch_dir("timer_book");
  std::string error;
  {
    auto store = open_store(dir);
    TimerBook book(store.get());
    book.load();
    ASSERT_TRUE(book.add(timer("kitchen", "pasta", kT0 + 300000, 300000), &error)) << error;
    ASSERT_TRUE(book.add(timer("kitchen", "eggs", kT0 + 60000, 60000), &error)) << error;
    ASSERT_TRUE(book.add(timer("office", "", kT0 + 10000, 10000), &error)) << error;
  }
  auto store = open_store(dir);
  TimerBook book(store.get());
  book.load();
  std::vector<TimerRecord> kitchen = book.list("kitchen");
  ASSERT_EQ(kitchen.size(), 2u);
  EXPECT_EQ(kitchen[0].label, "eggs");  // soonest first
  EXPECT_EQ(kitchen[1].label, "pasta");
  EXPECT_EQ(book.list("").size(), 3u);
  EXPECT_TRUE(book.due(kT0 + 9999).empty());
  ASSERT_EQ(book.due(kT0 + 60000).size(), 2u);

  // Neither id nor label with two timers in the room: nothing is cancelled.
  EXPECT_TRUE(book.cancel("kitchen", 0, "").empty());
  // Another room's timer is out of reach.
  EXPECT_TRUE(book.cancel("kitchen", book.list("office")[0].id, "").empty());
  ASSERT_EQ(book.cancel("kitchen", 0, "PASTA").size(), 1u);
  ASSERT_EQ(book.cancel("kitchen", 0, "").size(), 1u);  // the only one left: eggs
  ASSERT_EQ(book.cancel("office", book.list("office")[0].id, "").size(), 1u);
  EXPECT_TRUE(book.list("").empty());
  EXPECT_TRUE(store->timers().empty());  // gone from the store too
}

struct Heard {
  std::vector<std::pair<std::string, std::string>> lines;  // (room, text)
};

TEST(TimerRinger, SpeaksInItsRoomOnlyWaitsForAListenerAndDropsPastTheGrace) {
  TimerBook book(nullptr);
  RoomDirectory rooms;
  Heard heard;
  RoomDirectory::Member kitchen = rooms.join("kitchen", "n1", [&](const std::string& text) {
    heard.lines.push_back({"kitchen", text});
  });
  RoomDirectory::Member office = rooms.join("office", "n2", [&](const std::string& text) {
    heard.lines.push_back({"office", text});
  });
  int64_t now = kT0;
  HouseholdSettings settings;
  settings.grace_ms = 600000;
  settings.now_ms = [&] { return now; };
  TimerRinger ringer(book, rooms, settings);
  std::string error;
  ASSERT_TRUE(book.add(timer("kitchen", "pasta", kT0 + 2000, 2000), &error));
  ASSERT_TRUE(book.add(timer("hall", "", kT0 + 5000, 5000), &error));
  ASSERT_TRUE(book.add(timer("kitchen", "bread", kT0 + 3000, 3000), &error));
  EXPECT_EQ(ringer.next_ring_ms(), kT0 + 2000);

  now = kT0 + 1999;
  EXPECT_TRUE(ringer.ring(now).spoken.empty());
  now = kT0 + 2000;
  TimerRinger::Rung rung = ringer.ring(now);
  ASSERT_EQ(rung.spoken.size(), 1u);
  ASSERT_EQ(heard.lines.size(), 1u);
  EXPECT_EQ(heard.lines[0].first, "kitchen");
  EXPECT_EQ(heard.lines[0].second, "Your 2 second pasta timer is done.");
  EXPECT_EQ(book.list("kitchen").size(), 1u);  // bread still runs

  // Nobody in the hall: it waits (and says nothing anywhere); the next look is bread's due time.
  now = kT0 + 5000;
  rung = ringer.ring(now);
  EXPECT_EQ(rung.spoken.size(), 1u);  // bread, in the kitchen
  ASSERT_EQ(rung.waiting.size(), 1u);
  EXPECT_EQ(rung.waiting[0].room, "hall");
  EXPECT_EQ(heard.lines.size(), 2u);
  EXPECT_EQ(ringer.next_ring_ms(), kT0 + 5000 + settings.grace_ms + 1);
  // A client joins the hall 3 minutes late: it hears the timer, told it is late.
  now = kT0 + 5000 + 180000;
  RoomDirectory::Member hall = rooms.join("hall", "n3", [&](const std::string& text) {
    heard.lines.push_back({"hall", text});
  });
  rung = ringer.ring(now);
  ASSERT_EQ(rung.spoken.size(), 1u);
  ASSERT_EQ(heard.lines.size(), 3u);
  EXPECT_EQ(heard.lines[2].first, "hall");
  EXPECT_EQ(heard.lines[2].second,
            "Your 5 second timer is done. Sorry, this comes late: it was due 3 minutes ago.");
  EXPECT_FALSE(ringer.next_ring_ms());

  // Past the grace (the bridge was down for an hour): dropped, never said.
  ASSERT_TRUE(book.add(timer("office", "tea", now + 1000, 1000), &error));
  now += 1000 + settings.grace_ms + 1;
  rung = ringer.ring(now);
  EXPECT_EQ(rung.dropped.size(), 1u);
  EXPECT_EQ(heard.lines.size(), 3u);
  EXPECT_TRUE(book.list("").empty());

  // A member that left hears nothing more.
  office.leave();
  ASSERT_TRUE(book.add(timer("office", "", now + 1000, 1000), &error));
  rung = ringer.ring(now + 1000);
  EXPECT_TRUE(rung.spoken.empty());
  EXPECT_EQ(rung.waiting.size(), 1u);
}

TEST(TimerRinger, ItsThreadFiresADueTimerOnTheWallClock) {
  TimerBook book(nullptr);
  RoomDirectory rooms;
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> said;
  RoomDirectory::Member kitchen = rooms.join("kitchen", "n1", [&](const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex);
    said.push_back(text);
    cv.notify_all();
  });
  HouseholdSettings settings;
  settings.now_ms = [] {
    return int64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count());
  };
  TimerRinger ringer(book, rooms, settings);
  ringer.start();
  const int64_t set_at = settings.now_ms();
  std::string error;
  ASSERT_TRUE(book.add(timer("kitchen", "", set_at + 300, 1000), &error));
  ringer.wake();
  std::unique_lock<std::mutex> lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return !said.empty(); }));
  EXPECT_GE(settings.now_ms(), set_at + 300);  // not before its time
  EXPECT_EQ(said[0], "Your 1 second timer is done.");
  lock.unlock();
  ringer.stop();
}

// The tools as the model calls them: the asker's room (or its client id without one) decides where
// a timer goes and which ones it sees.
TEST(HouseholdTools, SetListCancelAndAnnounceAsTheModelCallsThem) {
  TimerBook book(nullptr);
  RoomDirectory rooms;
  std::vector<std::pair<std::string, std::string>> heard;
  auto listen = [&](const std::string& room) {
    return [&heard, room](const std::string& text) { heard.push_back({room, text}); };
  };
  RoomDirectory::Member a = rooms.join("kitchen", "n1", listen("kitchen"));
  RoomDirectory::Member b = rooms.join("n9", "n9", listen("n9"));
  int64_t now = kT0;
  HouseholdSettings settings;
  settings.now_ms = [&] { return now; };
  TimerRinger ringer(book, rooms, settings);
  auto tools = make_household_tools(book, ringer, rooms, settings);
  const ToolScope kitchen{"s1", "n1", "kitchen"};
  const ToolScope roomless{"s2", "n9", ""};
  CancelToken cancel;
  auto call = [&](const ToolScope& scope, const std::string& name, const std::string& args) {
    return tools->call(scope, name, args, cancel, std::chrono::steady_clock::now());
  };
  std::vector<std::string> names;
  for (const ToolSpec& s : tools->list(kitchen))
    names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"set_timer", "set_alarm", "list_timers",
                                             "cancel_timer", "announce"}));

  ToolResult r = call(kitchen, "set_timer", R"({"seconds":300,"label":"pasta"})");
  ASSERT_TRUE(r.ok) << r.content;
  const json set = json::parse(r.content);
  EXPECT_EQ(set["room"], "kitchen");
  EXPECT_EQ(set["remaining_seconds"], 300);
  EXPECT_TRUE(call(roomless, "set_timer", R"({"seconds":"60"})").ok);
  EXPECT_FALSE(call(kitchen, "set_timer", R"({"seconds":0})").ok);
  EXPECT_FALSE(call(kitchen, "set_timer", R"({"label":"x"})").ok);
  EXPECT_FALSE(call(kitchen, "set_alarm", R"({"time":"25:00"})").ok);
  EXPECT_FALSE(call(kitchen, "set_timer", "[1]").ok);

  now += 100000;
  const json listed = json::parse(call(kitchen, "list_timers", "{}").content);
  ASSERT_EQ(listed["timers"].size(), 1u);  // the roomless node's timer is its own
  EXPECT_EQ(listed["timers"][0]["label"], "pasta");
  EXPECT_EQ(listed["timers"][0]["remaining_seconds"], 200);
  EXPECT_EQ(json::parse(call(roomless, "list_timers", "{}").content)["room"], "n9");

  r = call(kitchen, "cancel_timer", R"({"label":"rice"})");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.content.find("pasta"), std::string::npos) << r.content;  // says what there is
  r = call(kitchen, "cancel_timer", json({{"id", set["id"]}}).dump());
  ASSERT_TRUE(r.ok) << r.content;
  EXPECT_TRUE(book.list("kitchen").empty());

  r = call(kitchen, "announce", R"({"text":"Dinner is ready.","room":"n9"})");
  ASSERT_TRUE(r.ok) << r.content;
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0], (std::pair<std::string, std::string>{"n9", "Dinner is ready."}));
  r = call(kitchen, "announce", R"({"text":"Lights out."})");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(json::parse(r.content)["clients_reached"], 2);
  r = call(kitchen, "announce", R"({"text":"Hello?","room":"attic"})");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.content.find("kitchen"), std::string::npos) << r.content;
}

TEST(HouseholdTools, AlarmsAreAtTheNextLocalTimeInTheBridgesZone) {
  const char* old = std::getenv("TZ");
  const std::string saved = old ? old : "";
  setenv("TZ", "Asia/Kolkata", 1);  // +05:30, no daylight saving
  tzset();
  // kT0 is 13:30 in Kolkata. 07:30 has passed: tomorrow; 18:00 is today.
  EXPECT_EQ(next_local_time_ms(kT0, 7, 30), kT0 + 18 * 3600 * 1000);
  EXPECT_EQ(next_local_time_ms(kT0, 18, 0), kT0 + int64_t(4.5 * 3600 * 1000));
  EXPECT_EQ(next_local_time_ms(kT0, 13, 30), kT0 + 24 * 3600 * 1000);  // now is not "next"
  TimerRecord alarm;
  alarm.kind = "alarm";
  alarm.label = "wake up";
  alarm.due_at_ms = next_local_time_ms(kT0, 7, 30);
  EXPECT_EQ(timer_announcement(alarm, 0, 60000), "It's 07:30. Your wake up alarm.");
  alarm.label.clear();
  EXPECT_EQ(timer_announcement(alarm, 0, 60000), "It's 07:30. This is your alarm.");
  if (old) {
    setenv("TZ", saved.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
  EXPECT_EQ(timer_announcement(timer("k", "", 0, 5400000), 0, 60000),
            "Your 1 hour 30 minute timer is done.");
  EXPECT_EQ(timer_announcement(timer("k", "", 0, 90000), 0, 60000),
            "Your 90 second timer is done.");
}

}  // namespace
}  // namespace earshot::host
