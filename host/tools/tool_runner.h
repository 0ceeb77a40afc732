// Runs the tool calls of one model step: all of them at once, each on a thread of its own, and
// waits for their results. Every call ends as a result for the model — a tool's answer, or an
// error it can act on: arguments that are not a JSON object, a tool nobody offers, a tool that
// failed or did not answer by its deadline. Nothing here fails the turn.
//
// While the calls run, the caller's thread waits; if they have not all answered after
// `filler_after_ms`, it calls on_slow() once (the responder says a short filler then, so the room
// is not silent). A cancelled `cancel` (barge-in) ends the wait at once: every call still running
// is told to stop (its provider sees its own cancel token fire) and is reported as cancelled.
// A provider that ignores its deadline is left to finish on its thread; its answer is dropped.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "host/tools/tool_registry.h"

namespace earshot::host {

struct ToolRunOptions {
  int timeout_ms = 10000;     // each call's deadline, from the start of the step
  int filler_after_ms = 700;  // on_slow() after this long (0: never)
};

struct ToolOutcome {
  ToolCall call;      // as the model asked (arguments as it wrote them)
  ToolResult result;  // what goes back to the model
  double duration_ms = 0;
  bool timed_out = false;
  bool cancelled = false;
};

std::vector<ToolOutcome> run_tool_calls(const ToolRegistry& registry, const ToolScope& scope,
                                        const std::vector<ToolCall>& calls,
                                        const CancelToken& cancel, const ToolRunOptions& options,
                                        const std::function<void()>& on_slow);

}  // namespace earshot::host
