#include "host/bridge_check.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <future>
#include <vector>

#include "host/engine_factory.h"
#include "host/engines/openai_engines.h"
#include "host/tls_files.h"

namespace earshot::host {
namespace {

constexpr int kProbeTimeoutMs = 3000;

// Lines as they are found; the problems are counted for the exit code.
class Report {
 public:
  void ok(const std::string& line) {
    printf("%s\n", line.c_str());
    fflush(stdout);
  }
  void problem(const std::string& line) {
    fprintf(stderr, "%s\n", line.c_str());
    fflush(stderr);
    ++problems_;
  }
  int problems() const { return problems_; }

 private:
  int problems_ = 0;
};

// "" if SQLite can keep a database at `path`: the file, when it exists, can be read and written,
// and its directory can be written, since the WAL and shared-memory files go beside it.
std::string store_unusable(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return "'" + path + "' is a directory, not a file";
    if (access(path.c_str(), R_OK | W_OK) != 0)
      return "cannot write '" + path + "': " + strerror(errno);
  }
  if (stat(dir.c_str(), &st) != 0)
    return "cannot create '" + path + "': directory '" + dir + "': " + strerror(errno);
  if (!S_ISDIR(st.st_mode)) return "cannot create '" + path + "': '" + dir + "' is not a directory";
  if (access(dir.c_str(), W_OK | X_OK) != 0)
    return "cannot write in '" + dir +
           "', where the database and its WAL files go: " + strerror(errno);
  return "";
}

void check_server(const ServerConfig& s, Report* report) {
  if (s.tls_cert.empty()) {
    report->ok("server: no TLS certificate: ws:// and http:// only");
  } else if (std::string why = check_tls_files(s.tls_cert, s.tls_key); !why.empty()) {
    report->problem("server: " + why);
  } else {
    report->ok("server: TLS certificate '" + s.tls_cert + "' and key '" + s.tls_key +
               "' load and match");
  }
  if (!s.web_root.empty()) {
    const std::string page = s.web_root + "/index.html";
    if (access(page.c_str(), R_OK) != 0) {
      report->problem("server: web_root: cannot read '" + page + "': " + strerror(errno));
    } else {
      report->ok("server: web_root: serving '" + page + "'");
    }
  }
}

void check_store(const std::string& path, Report* report) {
  if (path.empty()) return report->ok("store: off");
  if (std::string why = store_unusable(path); !why.empty()) return report->problem("store: " + why);
  report->ok("store: '" + path + "' can be written");
}

// "openai at http://127.0.0.1:8000/v1 (model m)", "pocketsphinx", "flite".
std::string describe(const EngineConfig& e) {
  if (is_embedded(e)) return e.engine;
  return e.engine + " at " + e.base_url + (e.model.empty() ? "" : " (model " + e.model + ")");
}

void check_engines(const BridgeConfig& c, Report* report) {
  struct Role {
    const char* name;
    const EngineConfig* engine;
    bool (*load)(const EngineConfig&, std::string* why);  // an embedded engine, built and dropped
  };
  const Role roles[] = {
      {"stt", &c.stt, [](const EngineConfig& e, std::string* why) { return !!make_stt(e, why); }},
      {"llm", &c.llm, [](const EngineConfig& e, std::string* why) { return !!make_llm(e, why); }},
      {"tts", &c.tts, [](const EngineConfig& e, std::string* why) { return !!make_tts(e, why); }},
  };
  // The servers are asked all at once, so a check with every server down takes 3 s, not 9.
  std::vector<std::future<ServerProbe>> probes;
  for (const Role& r : roles) {
    if (is_embedded(*r.engine)) continue;
    probes.push_back(
        std::async(std::launch::async, probe_openai_server, *r.engine, kProbeTimeoutMs));
  }
  size_t next_probe = 0;
  for (const Role& r : roles) {
    const std::string what = std::string(r.name) + ": " + describe(*r.engine) + ": ";
    std::string why;
    if (is_embedded(*r.engine)) {
      if (r.load(*r.engine, &why)) {
        report->ok(what + "embedded, loaded");
      } else {
        report->problem(what + "NOT loaded: " + why);
      }
      continue;
    }
    const ServerProbe p = probes[next_probe++].get();
    if (p.answering) {
      report->ok(what + "answering (HTTP " + std::to_string(p.status) + ")");
    } else {
      report->problem(what + "NOT answering: " + p.error);
    }
  }
}

}  // namespace

int run_bridge_check(const BridgeConfig& config) {
  Report report;
  report.ok("config: valid");
  check_server(config.server, &report);
  check_store(config.store_path, &report);
  check_engines(config, &report);
  if (report.problems() > 0) {
    fprintf(stderr, "earshot-bridge: check failed: %d problem(s)\n", report.problems());
    return 1;
  }
  printf("earshot-bridge: check OK\n");
  return 0;
}

}  // namespace earshot::host
