// The tool registry (host/tools/tool_registry.h), the runner of one step's calls
// (tool_runner.h), the built-in clock (builtin_tools.h) and the [tools] config keys, each on its
// own. The loop through the conversation core is in tool_loop_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>

#include "host/bridge_config.h"
#include "host/tools/builtin_tools.h"
#include "host/tools/tool_runner.h"
#include "tests/support/subprocess.h"

namespace earshot::host {
namespace {

using namespace std::chrono_literals;

// A provider whose tools and answers the test sets.
class Tools : public ToolProvider {
 public:
  using Handler =
      std::function<ToolResult(const std::string& name, const std::string&, const CancelToken&)>;
  Tools(std::vector<std::string> names, Handler handler, std::string only_room = "")
      : names_(std::move(names)), handler_(std::move(handler)), only_room_(std::move(only_room)) {}
  std::string name() const override { return "test"; }
  std::vector<ToolSpec> list(const ToolScope& scope) override {
    std::vector<ToolSpec> out;
    if (!only_room_.empty() && scope.room != only_room_) return out;
    for (const std::string& n : names_)
      out.push_back({n, "tool " + n, ""});
    return out;
  }
  ToolResult call(const ToolScope&, const std::string& name, const std::string& arguments,
                  const CancelToken& cancel, std::chrono::steady_clock::time_point) override {
    return handler_(name, arguments, cancel);
  }

 private:
  std::vector<std::string> names_;
  Handler handler_;
  std::string only_room_;
};

ToolResult answer(const std::string& name, const std::string& args, const CancelToken&) {
  return {true, name + " " + args};
}

std::vector<std::string> names(const std::vector<ToolSpec>& specs) {
  std::vector<std::string> out;
  for (const ToolSpec& s : specs)
    out.push_back(s.name);
  return out;
}

TEST(ToolRegistry, ProvidersForEverySessionOneSessionAndOneRoom) {
  ToolRegistry registry;
  auto builtin = registry.add(std::make_shared<Tools>(std::vector<std::string>{"clock"}, answer));
  auto kitchen = registry.add(
      std::make_shared<Tools>(std::vector<std::string>{"oven", "clock"}, answer, "kitchen"));
  ToolRegistry::Registration device =
      registry.add(std::make_shared<Tools>(std::vector<std::string>{"volume"}, answer), "s2");
  const ToolScope s1_kitchen{"s1", "n1", "kitchen"}, s2_hall{"s2", "n2", "hall"};
  // A name two providers offer is the first one's.
  EXPECT_EQ(names(registry.list(s1_kitchen)), (std::vector<std::string>{"clock", "oven"}));
  EXPECT_EQ(names(registry.list(s2_hall)), (std::vector<std::string>{"clock", "volume"}));
  EXPECT_EQ(registry.find(s1_kitchen, "volume"), nullptr);
  EXPECT_NE(registry.find(s2_hall, "volume"), nullptr);
  // A session's device tools leave with their registration (the door's connection).
  ToolRegistry::Registration moved = std::move(device);
  device.reset();  // moved from: unregisters nothing
  EXPECT_EQ(names(registry.list(s2_hall)), (std::vector<std::string>{"clock", "volume"}));
  moved.reset();
  EXPECT_EQ(names(registry.list(s2_hall)), (std::vector<std::string>{"clock"}));
}

TEST(ToolRunner, ParallelCallsAndEveryKindOfFailureAsAResult) {
  ToolRegistry registry;
  std::atomic<int> waiting{0};
  auto r = registry.add(std::make_shared<Tools>(
      std::vector<std::string>{"a", "b", "boom", "slow"},
      [&](const std::string& name, const std::string& args, const CancelToken& cancel) {
        if (name == "boom") throw std::runtime_error("it broke");
        if (name == "slow") {
          test::wait_until([&] { return cancel.cancelled(); }, 10s);
          return ToolResult{true, "late"};
        }
        // a and b wait for each other: they only both finish if they run at once.
        ++waiting;
        test::wait_until([&] { return waiting.load() == 2; }, 10s);
        return ToolResult{true, name + args};
      }));
  ToolRunOptions options;
  options.timeout_ms = 1000;
  options.filler_after_ms = 0;
  const std::vector<ToolCall> calls = {
      {"1", "a", R"({"x":1})"}, {"2", "b", ""},    {"3", "boom", "{}"}, {"4", "slow", "{}"},
      {"5", "nope", "{}"},      {"6", "a", "[1]"}, {"7", "a", "{oops"}};
  const std::vector<ToolOutcome> out =
      run_tool_calls(registry, {"s", "n", "r"}, calls, CancelToken(), options, nullptr);
  ASSERT_EQ(out.size(), 7u);
  EXPECT_EQ(out[0].result.content, R"(a{"x":1})");
  EXPECT_TRUE(out[0].result.ok);
  EXPECT_EQ(out[1].result.content, "b{}");  // no arguments: an empty object
  EXPECT_EQ(out[2].result.content, "error: the tool failed: it broke");
  EXPECT_EQ(out[3].result.content, "error: the tool did not answer within 1000 ms");
  EXPECT_TRUE(out[3].timed_out);
  EXPECT_GE(out[3].duration_ms, 1000.0);
  EXPECT_EQ(out[4].result.content, R"(error: there is no tool named "nope")");
  EXPECT_EQ(out[5].result.content, "error: the arguments must be a JSON object, got: [1]");
  EXPECT_EQ(out[6].result.content, "error: the arguments are not valid JSON: {oops");
  for (size_t i = 2; i < out.size(); ++i)
    EXPECT_FALSE(out[i].result.ok) << i;
}

TEST(ToolRunner, TheFillerComesOnceAndACancelEndsTheWaitAtOnce) {
  ToolRegistry registry;
  std::atomic<bool> saw_cancel{false};
  auto r = registry.add(std::make_shared<Tools>(
      std::vector<std::string>{"slow"},
      [&](const std::string&, const std::string&, const CancelToken& cancel) {
        saw_cancel = test::wait_until([&] { return cancel.cancelled(); }, 20s);
        return ToolResult{true, "late"};
      }));
  CancelToken reply_cancel;
  int fillers = 0;
  ToolRunOptions options;
  options.timeout_ms = 20000;
  options.filler_after_ms = 20;
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<ToolOutcome> out =
      run_tool_calls(registry, {}, {{"1", "slow", "{}"}}, reply_cancel, options, [&] {
        ++fillers;
        reply_cancel.cancel();  // the person speaks while the filler plays
      });
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(fillers, 1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].cancelled);
  EXPECT_EQ(out[0].result.content, "error: cancelled");
  EXPECT_TRUE(test::wait_until([&] { return saw_cancel.load(); }, 10s));
}

TEST(ClockTool, AnswersInTheBridgesTimeZone) {
  setenv("TZ", "Europe/Oslo", 1);
  tzset();
  // 2025-07-01 10:30:00 UTC is 12:30 in Oslo (CEST, +02:00), a Tuesday.
  const auto answer = nlohmann::json::parse(clock_tool_answer(1751365800));
  EXPECT_EQ(answer["date"], "2025-07-01");
  EXPECT_EQ(answer["time"], "12:30");
  EXPECT_EQ(answer["weekday"], "Tuesday");
  EXPECT_EQ(answer["time_zone"], "CEST");
  EXPECT_EQ(answer["utc_offset"], "+02:00");
  EXPECT_EQ(answer["iso8601"], "2025-07-01T12:30:00+02:00");
  auto clock = make_clock_tool();
  ASSERT_EQ(clock->list({}).size(), 1u);
  EXPECT_EQ(clock->list({})[0].name, "get_current_time");
  EXPECT_TRUE(clock->call({}, "get_current_time", "{}", CancelToken(), {}).ok);
  unsetenv("TZ");
  tzset();
}

TEST(ToolsConfig, KeysParseAndBadValuesAreNamed) {
  BridgeConfig c;
  ASSERT_EQ(parse_bridge_config("[tools]\nclock = true\nmax_steps = 3\ncall_timeout_ms = 2000\n"
                                "filler_after_ms = 0\nfiller = \"Hm.\"\n",
                                "t.toml", &c),
            "");
  EXPECT_TRUE(c.tools.clock);
  EXPECT_EQ(c.tools.max_steps, 3);
  EXPECT_EQ(c.tools.call_timeout_ms, 2000);
  EXPECT_EQ(c.tools.filler_after_ms, 0);
  EXPECT_EQ(c.tools.filler, "Hm.");
  c.server.allow_anonymous = true;
  EXPECT_EQ(validate(c), "");
  c.tools.max_steps = 0;
  EXPECT_EQ(validate(c), "tools.max_steps: must be 1-32");
  BridgeConfig d;
  EXPECT_NE(parse_bridge_config("[tools]\nclocks = true\n", "t.toml", &d).find("unknown setting"),
            std::string::npos);
}

}  // namespace
}  // namespace earshot::host
