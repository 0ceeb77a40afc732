#include "host/tools/tool_runner.h"

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace earshot::host {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// How often a waiting step looks at the reply's cancel token (it has no way to wake a waiter).
constexpr auto kCancelPoll = std::chrono::milliseconds(5);

// What the calls' threads and the waiting step share; the threads hold it alive.
struct StepState {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<ToolResult> results;
  // Not vector<bool>: its elements share words, and each call's thread writes its own.
  std::vector<char> done;
  std::vector<double> duration_ms;
  std::vector<char> given_up;  // no answer by the deadline, or cancelled
  size_t pending = 0;
  CancelToken stop;  // cancels the calls still running (barge-in, deadline)
};

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Why these arguments cannot be passed on, or "" when they can.
std::string argument_problem(const std::string& arguments) {
  const json j = json::parse(arguments.empty() ? "{}" : arguments, nullptr, false);
  if (j.is_discarded()) return "the arguments are not valid JSON: " + arguments.substr(0, 200);
  if (!j.is_object())
    return "the arguments must be a JSON object, got: " + arguments.substr(0, 200);
  return "";
}

}  // namespace

std::vector<ToolOutcome> run_tool_calls(const ToolRegistry& registry, const ToolScope& scope,
                                        const std::vector<ToolCall>& calls,
                                        const CancelToken& cancel, const ToolRunOptions& options,
                                        const std::function<void()>& on_slow) {
  const Clock::time_point t0 = Clock::now();
  const Clock::time_point deadline = t0 + std::chrono::milliseconds(options.timeout_ms);
  auto state = std::make_shared<StepState>();
  state->results.resize(calls.size());
  state->done.assign(calls.size(), false);
  state->duration_ms.assign(calls.size(), 0.0);
  state->given_up.assign(calls.size(), false);
  for (size_t i = 0; i < calls.size(); ++i) {
    const ToolCall& c = calls[i];
    std::string problem = argument_problem(c.arguments);
    std::shared_ptr<ToolProvider> provider;
    if (problem.empty()) {
      provider = registry.find(scope, c.name);
      if (!provider) problem = "there is no tool named \"" + c.name + "\"";
    }
    // Under the lock: the calls started before this one may already be answering.
    std::unique_lock<std::mutex> setup(state->mutex);
    if (!problem.empty()) {
      state->results[i] = {false, "error: " + problem};
      state->done[i] = true;
      continue;
    }
    ++state->pending;
    setup.unlock();
    const std::string arguments = c.arguments.empty() ? "{}" : c.arguments;
    std::thread([state, i, provider, scope, name = c.name, arguments, deadline, t0] {
      ToolResult r;
      try {
        r = provider->call(scope, name, arguments, state->stop, deadline);
      } catch (const std::exception& e) {  // a provider's bug is the model's error result
        r = {false, std::string("error: the tool failed: ") + e.what()};
      }
      std::lock_guard<std::mutex> lock(state->mutex);
      if (state->done[i]) return;  // given up on already
      state->results[i] = std::move(r);
      state->done[i] = true;
      state->duration_ms[i] = ms_since(t0);
      --state->pending;
      state->changed.notify_all();
    }).detach();
  }

  bool slow_said = options.filler_after_ms <= 0;
  const Clock::time_point filler_at = t0 + std::chrono::milliseconds(options.filler_after_ms);
  bool cancelled = false;
  {
    std::unique_lock<std::mutex> lock(state->mutex);
    while (state->pending > 0) {
      if (cancel.cancelled()) {
        cancelled = true;
        break;
      }
      const Clock::time_point now = Clock::now();
      if (now >= deadline) break;
      if (!slow_said && now >= filler_at) {
        slow_said = true;
        lock.unlock();
        if (on_slow) on_slow();
        lock.lock();
        continue;
      }
      Clock::time_point wake = std::min(deadline, now + kCancelPoll);
      if (!slow_said) wake = std::min(wake, filler_at);
      state->changed.wait_until(lock, wake);
    }
    // Whatever has not answered is given up on: told to stop, reported as such.
    state->stop.cancel();
    for (size_t i = 0; i < calls.size(); ++i) {
      if (state->done[i]) continue;
      state->done[i] = true;
      state->given_up[i] = true;
      state->duration_ms[i] = ms_since(t0);
      state->results[i] = {false, cancelled ? "error: cancelled"
                                            : "error: the tool did not answer within " +
                                                  std::to_string(options.timeout_ms) + " ms"};
    }
  }
  std::vector<ToolOutcome> out(calls.size());
  std::lock_guard<std::mutex> lock(state->mutex);
  for (size_t i = 0; i < calls.size(); ++i) {
    out[i].call = calls[i];
    out[i].result = state->results[i];
    out[i].duration_ms = state->duration_ms[i];
    out[i].cancelled = cancelled && state->given_up[i];
    out[i].timed_out = !cancelled && state->given_up[i];
  }
  return out;
}

}  // namespace earshot::host
