// What the bridge's process-level tests share: a real earshot-bridge in a scratch directory with
// its config, store and logs, real earshot-node processes against it, and plain HTTP reads.
#pragma once

#include <signal.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "host/engines/http_client.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot::test {

using namespace std::chrono_literals;

inline const std::string kNode = std::string(EARSHOT_BINARY_DIR) + "/device/earshot-node";
inline const std::string kBridge = std::string(EARSHOT_BINARY_DIR) + "/host/earshot-bridge";

inline std::string librivox(const std::string& id, const char* ext) {
  return test::data_path("pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-" + id + ext);
}

// GET url; returns the HTTP status (0 if none) and the body in `body`.
inline long http_get(const std::string& url, std::string* body,
                     std::vector<std::string> headers = {}) {
  host::HttpRequest req;
  req.url = url;
  req.headers = std::move(headers);
  req.first_byte_timeout_ms = 5000;
  body->clear();
  host::HttpResponse r = host::http_request(
      req,
      [&](std::string_view chunk) {
        body->append(chunk);
        return true;
      },
      host::CancelToken());
  if (!r.ok) *body += r.error_body;
  return r.status;
}

struct Bridge {
  std::string dir;
  int port = test::free_port();
  std::unique_ptr<Subprocess> process;

  Bridge(const std::string& name, const std::string& extra_toml = "",
         const std::string& server_toml = "listen = \"127.0.0.1\"\n")
      : dir(test::scratch_dir(name)) {
    std::ofstream(dir + "/bridge.toml")
        << "[server]\n"
        << server_toml << "port = " << port << "\n"
        << "[nodes]\nn0 = \"t0\"\nn1 = \"t1\"\nn2 = \"t2\"\nn3 = \"t3\"\nn4 = \"t4\"\nn5 = \"t5\"\n"
        << "[store]\npath = \"" << dir << "/earshot.db\"\n"
        << extra_toml;
  }
  void start(const std::string& tag = "bridge") {
    process = std::make_unique<Subprocess>(
        std::vector<std::string>{kBridge, "--config", dir + "/bridge.toml", "--print-turns"},
        dir + "/" + tag);
    ASSERT_TRUE(test::wait_until(
        [&] { return process->stdout_text().find("listening on port") != std::string::npos; }, 60s))
        << process->stderr_text();
  }
  int stop() {
    process->signal(SIGTERM);
    return process->wait(20s);
  }
  long frames_received() { return metric("earshot_frames_received_total"); }
  // A counter from the bridge's /metrics, or -1.
  long metric(const std::string& counter) {
    std::string body;
    host::HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
    req.first_byte_timeout_ms = 2000;
    host::http_request(
        req,
        [&](std::string_view chunk) {
          body.append(chunk);
          return true;
        },
        host::CancelToken());
    const std::string name = "\n" + counter + " ";
    const size_t at = body.find(name);
    return at == std::string::npos ? -1 : std::stol(body.substr(at + name.size()));
  }
  std::unique_ptr<Subprocess> node(int index, std::vector<std::string> extra,
                                   const std::string& tag = "") {
    const std::string id = "n" + std::to_string(index);
    std::vector<std::string> argv = {kNode,
                                     "--url",
                                     "ws://127.0.0.1:" + std::to_string(port) + "/",
                                     "--token",
                                     "t" + std::to_string(index),
                                     "--node-id",
                                     id,
                                     "--log-plain",
                                     "--drain-timeout-ms",
                                     "40000"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Subprocess>(argv, dir + "/" + (tag.empty() ? id : tag));
  }
};

}  // namespace earshot::test
