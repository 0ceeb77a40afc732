// DeviceToolProvider: a device's own tools (its MCP server, held by DeviceTools) offered to the
// model through the tool registry (host/tools/tool_registry.h). The xiaozhi door registers one
// for its session when the box speaks MCP, for the life of the connection; the model then sees
// the box's tools (the speaker's volume, the screen, ...) beside the bridge's own.
//
// Names: the firmware names its tools "self.audio_speaker.set_volume"; model APIs take
// [A-Za-z0-9_-]{1,64}. A tool is offered under its name with every other character made "_"
// (self_audio_speaker_set_volume), at most 64 characters, and called back by that name.
//
// Threads: list() and call() from any thread (the responder's, a tool runner's); call() blocks
// until the device answers, the deadline, or `cancel`, polling the token every 20 ms.
#pragma once

#include <memory>
#include <string>

#include "host/doors/device_tools.h"
#include "host/tools/tool_registry.h"

namespace earshot::host {

// The name the model sees for a device's tool.
std::string model_tool_name(const std::string& device_tool_name);

class DeviceToolProvider : public ToolProvider {
 public:
  // `device`: for logs ("device:<device>").
  DeviceToolProvider(std::shared_ptr<DeviceTools> tools, std::string device);

  std::string name() const override { return "device:" + device_; }
  std::vector<ToolSpec> list(const ToolScope& scope) override;
  ToolResult call(const ToolScope& scope, const std::string& name, const std::string& arguments,
                  const CancelToken& cancel,
                  std::chrono::steady_clock::time_point deadline) override;

 private:
  const std::shared_ptr<DeviceTools> tools_;
  const std::string device_;
};

}  // namespace earshot::host
