#include "host/web/web_files.h"

#include <cstring>

namespace earshot::host {
namespace {

struct Route {
  const char* path;
  const char* file;
  const char* content_type;
};

constexpr Route kRoutes[] = {
    {"/talk", "talk.html", "text/html; charset=utf-8"},
    {"/talk/", "talk.html", "text/html; charset=utf-8"},
    {"/talk/talk.js", "talk.js", "text/javascript; charset=utf-8"},
    {"/talk/timings.js", "timings.js", "text/javascript; charset=utf-8"},
    {"/talk/worklet.js", "talk_worklet.js", "text/javascript; charset=utf-8"},
};

}  // namespace

std::optional<WebFile> find_web_file(std::string_view path) {
  for (const Route& route : kRoutes) {
    if (path != route.path) continue;
    for (size_t i = 0; i < kEmbeddedWebFileCount; ++i) {
      if (std::strcmp(kEmbeddedWebFiles[i].name, route.file) == 0)
        return WebFile{route.content_type, kEmbeddedWebFiles[i].body};
    }
  }
  return std::nullopt;
}

}  // namespace earshot::host
