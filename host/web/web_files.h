// The browser client's files, as the bridge serves them (host/web/: talk.html, talk.js,
// timings.js, talk_worklet.js, embedded at build time by embed_web_files.cmake):
//
//   /talk              the page: microphone -> earshot.v1 -> replies played (docs/bridge.md)
//   /talk/talk.js      its script
//   /talk/timings.js   per-stage timing bars, shared with the status page at /
//   /talk/worklet.js   its AudioWorklet processors (capture, playback)
//
// The files hold no secret (the token stays in the URL fragment and the browser), so they are
// served to anyone who can reach the bridge, like the status page itself.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace earshot::host {

struct WebFile {
  const char* content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

// The file served at URL path `path` (no query), or nullopt when it is not one of these.
std::optional<WebFile> find_web_file(std::string_view path);

// The generated table (embedded_web_files.cpp): file name -> contents.
struct EmbeddedWebFile {
  const char* name;
  const char* body;
};
extern const EmbeddedWebFile kEmbeddedWebFiles[];
extern const size_t kEmbeddedWebFileCount;

}  // namespace earshot::host
