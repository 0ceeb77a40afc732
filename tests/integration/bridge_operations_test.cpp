// earshot-bridge as an operator meets it: --check, start-up errors, the command line, one port for
// plain and TLS clients, and HTTP responses over HTTP/1.1 and HTTP/2. Real bridge processes on
// loopback with the embedded engines that load in a moment (echo, flite); test servers stand in for
// the engine servers; Debian's curl (built with HTTP/2), openssl and sqlite3 are the clients.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "tests/support/fake_http_server.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using test::Subprocess;

const std::string kNode = std::string(EARSHOT_BINARY_DIR) + "/device/earshot-node";
const std::string kBridge = std::string(EARSHOT_BINARY_DIR) + "/host/earshot-bridge";

// A self-signed certificate for 127.0.0.1 in `dir`: cert.pem and key.pem.
void make_certificate(const std::string& dir) {
  ASSERT_EQ(test::run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                               "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem", "-days", "2",
                               "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
                              dir + "/openssl"),
            0)
      << test::read_file(dir + "/openssl.err");
}

// A bridge with its config, store and logs in a scratch directory.
struct BridgeProcess {
  std::string dir;
  int port = test::free_port();
  std::unique_ptr<Subprocess> process;

  explicit BridgeProcess(const std::string& name) : dir(test::scratch_dir(name)) {}
  std::string config() const { return dir + "/bridge.toml"; }
  // [server] on 127.0.0.1 and the free port, then `server` (more keys), node tokens n0/n1, the
  // store (in the directory unless given), then `sections`.
  void write_config(const std::string& server, const std::string& sections,
                    std::string store = "") {
    if (store.empty()) store = dir + "/earshot.db";
    std::ofstream(config()) << "[server]\nlisten = \"127.0.0.1\"\nport = " << port << "\n"
                            << server << "[nodes]\nn0 = \"t0\"\nn1 = \"t1\"\n"
                            << "[store]\npath = \"" << store << "\"\n"
                            << sections;
  }
  // The self-signed certificate made by make_certificate(dir), as [server] keys.
  std::string tls() const {
    return "tls_cert = \"" + dir + "/cert.pem\"\ntls_key = \"" + dir + "/key.pem\"\n";
  }
  // Starts it and waits for it to listen.
  void start(const std::string& tag = "bridge") {
    process = std::make_unique<Subprocess>(std::vector<std::string>{kBridge, "--config", config()},
                                           dir + "/" + tag);
    ASSERT_TRUE(test::wait_until(
        [&] {
          return process->stdout_text().find("listening on port") != std::string::npos ||
                 !process->running();
        },
        60s));
    ASSERT_TRUE(process->running()) << process->stderr_text();
  }
  int stop() {
    process->signal(SIGTERM);
    return process->wait(20s);
  }
  // Runs earshot-bridge with `args` on this config to its end: the exit code, and stdout + stderr.
  std::pair<int, std::string> run(std::vector<std::string> args, const std::string& tag) {
    std::vector<std::string> argv = {kBridge, "--config", config()};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess p(argv, dir + "/" + tag);
    const int code = p.wait(30s);
    return {code, p.stdout_text() + p.stderr_text()};
  }
  std::string url(const std::string& scheme, const std::string& path) const {
    return scheme + "://127.0.0.1:" + std::to_string(port) + path;
  }
};

// curl's exit code, body and the HTTP version it spoke; `how` is e.g. {"--http2"}. -k: the
// certificate is self-signed.
struct Fetched {
  int code = -1;
  std::string body, http_version, error;
};
Fetched curl(const BridgeProcess& b, const std::string& url, std::vector<std::string> how) {
  static int count = 0;
  const std::string out = b.dir + "/curl-" + std::to_string(++count);
  std::vector<std::string> argv = {"curl", "-sS",         "-k", "--max-time",     "20",
                                   "-o",   out + ".body", "-w", "%{http_version}"};
  argv.insert(argv.end(), how.begin(), how.end());
  argv.push_back(url);
  Fetched f;
  f.code = test::run_command(argv, out, 30s, &f.http_version);
  f.body = test::read_file(out + ".body");
  f.error = test::read_file(out + ".err");
  return f;
}

// Engines that start at once: the embedded echo LLM and flite, and a speech recogniser whose
// server is never asked (no turn is taken) in place of pocketsphinx, which takes seconds to load.
const std::string kQuickEngines =
    "[stt]\nengine = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n";

// An engine server that answers /models as vLLM does.
test::FakeHttpServer::Handler answering(int status) {
  return [status](const test::HttpRequestSeen&, test::HttpResponder& r) {
    r.full(status, "application/json", R"({"object":"list","data":[{"id":"m","object":"model"}]})");
  };
}

// --check said OK with every engine server down, with base_url = "htp:/nowhere" and with
// no TLS key. Now it asks every server, loads the certificate and key, and looks at the store's
// directory: one line per item, exit 1 on any problem.
TEST(BridgeCheck, AsksEveryEngineServerAndNamesEveryProblemOnItsOwnLine) {
  test::FakeHttpServer llm(answering(200));
  // Accepts and says nothing until the bridge gives up on it.
  test::FakeHttpServer silent(
      [](const test::HttpRequestSeen&, test::HttpResponder& r) { r.wait_ms(20000); });
  const int dead = test::free_port();  // nothing listens there
  BridgeProcess bridge("bridge_check_problems");
  make_certificate(bridge.dir);
  // The certificate without its key, a store in a directory that is not there, and three servers:
  // one answering, one down, one silent.
  const std::string missing_key = bridge.dir + "/missing.key";
  bridge.write_config(
      "tls_cert = \"" + bridge.dir + "/cert.pem\"\ntls_key = \"" + missing_key + "\"\n",
      "[stt]\nengine = \"openai\"\nbase_url = \"http://127.0.0.1:" + std::to_string(dead) +
          "/v1\"\n[llm]\nengine = \"openai\"\nbase_url = \"" + llm.base_url() +
          "\"\nmodel = \"m\"\n[tts]\nengine = \"openai\"\nbase_url = \"" + silent.base_url() +
          "\"\nmodel = \"kokoro\"\n",
      bridge.dir + "/no-dir/earshot.db");
  auto [code, out] = bridge.run({"--check"}, "check");
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("llm: openai at " + llm.base_url() + " (model m): answering (HTTP 200)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("stt: openai at http://127.0.0.1:" + std::to_string(dead) +
                     "/v1: NOT answering: http://127.0.0.1:" + std::to_string(dead) +
                     " refused the connection"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("tts: openai at " + silent.base_url() + " (model kokoro): NOT answering: "),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("server: TLS key '" + missing_key + "': No such file or directory"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("store: cannot create '" + bridge.dir + "/no-dir/earshot.db': directory '" +
                     bridge.dir + "/no-dir': No such file or directory"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("check failed: 4 problem(s)"), std::string::npos) << out;
  EXPECT_EQ(out.find("check OK"), std::string::npos) << out;
  // The answering server was asked for its model list.
  const std::vector<test::HttpRequestSeen> asked = llm.requests();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].method, "GET");
  EXPECT_EQ(asked[0].path, "/v1/models");
}

TEST(BridgeCheck, PassesWhenAllIsWellAndAnyHttpStatusCountsAsAnswering) {
  // A server that wants a key we do not send is still up: 401 is an answer.
  test::FakeHttpServer llm(answering(401));
  test::FakeHttpServer stt(answering(200));
  BridgeProcess bridge("bridge_check_ok");
  make_certificate(bridge.dir);
  bridge.write_config(bridge.tls(), "[stt]\nengine = \"openai\"\nbase_url = \"" + stt.base_url() +
                                        "/\"\n[llm]\nengine = \"openai\"\nbase_url = \"" +
                                        llm.base_url() +
                                        "\"\nmodel = \"m\"\napi_key = \"k3y\"\n"
                                        "[tts]\nengine = \"flite\"\n");
  auto [code, out] = bridge.run({"--check"}, "check");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("llm: openai at " + llm.base_url() + " (model m): answering (HTTP 401)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("stt: openai at " + stt.base_url() + "/: answering (HTTP 200)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("tts: flite: embedded, loaded"), std::string::npos) << out;
  EXPECT_NE(out.find("load and match"), std::string::npos) << out;
  EXPECT_NE(out.find("check OK"), std::string::npos) << out;
  // The key goes along (the server may list models only to those who have one); a trailing slash
  // in base_url does not double.
  std::vector<test::HttpRequestSeen> asked = llm.requests();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].headers["authorization"], "Bearer k3y");
  asked = stt.requests();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].path, "/v1/models");
  // --check opened no store.
  EXPECT_EQ(access((bridge.dir + "/earshot.db").c_str(), F_OK), -1);
}

// A malformed engine URL is a config error, with --check and without: exit 2, naming the key.
TEST(BridgeCheck, AMalformedEngineUrlIsAConfigErrorNamingTheKey) {
  for (const char* url : {"htp:/nowhere", "http:///v1", "http://127.0.0.1:99999/v1", "127.0.0.1"}) {
    BridgeProcess bridge("bridge_check_url");
    bridge.write_config("",
                        std::string("[llm]\nengine = \"openai\"\nbase_url = \"") + url + "\"\n");
    for (const std::vector<std::string>& args : {std::vector<std::string>{"--check"}, {}}) {
      auto [code, out] = bridge.run(args, "run");
      EXPECT_EQ(code, 2) << url << "\n" << out;
      EXPECT_NE(out.find(std::string("config: llm.base_url: '") + url + "'"), std::string::npos)
          << out;
    }
  }
}

// A missing certificate read "port in use, or a bad certificate/key". The file is named;
// a port that another socket holds is said to be in use, and nothing about certificates.
TEST(BridgeStart, AMissingCertificateIsNamedAndABusyPortIsSaidToBeInUse) {
  BridgeProcess bridge("bridge_start_errors");
  make_certificate(bridge.dir);
  const std::string missing = bridge.dir + "/missing.pem";
  bridge.write_config("tls_cert = \"" + missing + "\"\ntls_key = \"" + bridge.dir + "/key.pem\"\n",
                      kQuickEngines);
  auto [code1, out1] = bridge.run({}, "no-cert");
  EXPECT_EQ(code1, 1) << out1;
  EXPECT_NE(out1.find("TLS certificate '" + missing + "': No such file or directory"),
            std::string::npos)
      << out1;
  EXPECT_EQ(out1.find("port in use"), std::string::npos) << out1;

  // The key given as the certificate: not PEM certificate, said so.
  bridge.write_config(
      "tls_cert = \"" + bridge.dir + "/key.pem\"\ntls_key = \"" + bridge.dir + "/key.pem\"\n",
      kQuickEngines);
  auto [code2, out2] = bridge.run({}, "key-as-cert");
  EXPECT_EQ(code2, 1) << out2;
  EXPECT_NE(out2.find("TLS certificate '" + bridge.dir + "/key.pem' is not a PEM certificate"),
            std::string::npos)
      << out2;

  // Good files, but the port is taken.
  bridge.write_config(bridge.tls(), kQuickEngines);
  const int holder = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(bridge.port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << strerror(errno);
  ASSERT_EQ(listen(holder, 1), 0);
  auto [code3, out3] = bridge.run({}, "port-taken");
  close(holder);
  EXPECT_EQ(code3, 1) << out3;
  EXPECT_NE(out3.find("cannot listen on 127.0.0.1:" + std::to_string(bridge.port) +
                      ": Address already in use (another process has the port)"),
            std::string::npos)
      << out3;
  EXPECT_EQ(out3.find("certificate"), std::string::npos) << out3;
}

// A command line CLI11 cannot parse exited with CLI11's own codes (104, 109); now 2, the code
// for bad configuration, which systemd does not retry, with CLI11's message. --help exits 0.
TEST(BridgeCli, CommandLineErrorsExit2AndHelpExits0) {
  const std::string dir = test::scratch_dir("bridge_cli");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--no-such-flag"}, 2, "The following argument was not expected: --no-such-flag"},
      {{"--port", "notanumber"}, 2, "--port"},
      {{"--config"}, 2, "--config"},
      {{"--help"}, 0, "--check"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {kBridge};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    Subprocess bridge(argv, dir + "/cli");
    EXPECT_EQ(bridge.wait(20s), c.code) << c.args[0];
    EXPECT_NE((bridge.stderr_text() + bridge.stdout_text()).find(c.says), std::string::npos)
        << bridge.stderr_text() << bridge.stdout_text();
  }
}

// A node streaming to the bridge until it says it is connected; then stopped.
void expect_node_connects(const BridgeProcess& bridge, std::vector<std::string> link,
                          const std::string& id, const std::string& tag) {
  std::vector<std::string> argv = {
      kNode,         "--node-id", id,     "--token", "t" + id.substr(1),
      "--log-plain", "--source",  "file", "--file",  test::data_path("whisper.cpp/jfk.wav"),
      "--sink",      "none"};
  argv.insert(argv.end(), link.begin(), link.end());
  Subprocess node(argv, bridge.dir + "/" + tag);
  EXPECT_TRUE(test::wait_until(
      [&] {
        return node.stderr_text().find("connected: session") != std::string::npos ||
               !node.running();
      },
      30s));
  EXPECT_NE(node.stderr_text().find("connected: session"), std::string::npos) << tag << ":\n"
                                                                              << node.stderr_text();
  node.signal(SIGTERM);
  EXPECT_EQ(node.wait(20s), 0) << node.stderr_text();
}

// docs/deploy.md says ws:// and wss:// (and http:// and https://) share the port when TLS
// is on; http:// was refused. All four work, and so does a node on either.
TEST(BridgeTls, PlainAndTlsClientsShareThePort) {
  BridgeProcess bridge("bridge_tls_port");
  make_certificate(bridge.dir);
  bridge.write_config(bridge.tls(), kQuickEngines);
  bridge.start();
  Fetched plain = curl(bridge, bridge.url("http", "/healthz"), {});
  EXPECT_EQ(plain.code, 0) << plain.error;
  EXPECT_EQ(plain.body, "ok\n");
  Fetched tls = curl(bridge, bridge.url("https", "/healthz"), {});
  EXPECT_EQ(tls.code, 0) << tls.error;
  EXPECT_EQ(tls.body, "ok\n");
  expect_node_connects(bridge, {"--url", bridge.url("ws", "/")}, "n0", "node-ws");
  expect_node_connects(bridge,
                       {"--url", bridge.url("wss", "/"), "--ca-file", bridge.dir + "/cert.pem"},
                       "n1", "node-wss");
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

// Every line of a Prometheus text exposition: a comment, or a sample with a number.
bool is_prometheus_text(const std::string& body, std::string* bad_line) {
  static const std::regex comment(R"(# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+)");
  static const std::regex sample(
      R"([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? (-?[0-9.]+([eE][-+]?[0-9]+)?|[-+]Inf|NaN))");
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (!std::regex_match(line, comment) && !std::regex_match(line, sample)) {
      *bad_line = line;
      return false;
    }
  }
  return true;
}

// Over HTTPS with HTTP/2 (curl --http2, browsers, Prometheus) /metrics was cut at ~4 KB
// of ~8 KB and the stream reset; /api/status too. Both arrive whole over HTTP/2, HTTP/1.1 over
// TLS, and plain HTTP/1.1 — the status page at ~100 KB: 20 turns of ~5 KB transcripts, as long
// speech gives, written into the store before the bridge starts.
TEST(BridgeHttp, LargeResponsesArriveWholeOverHttp2AndHttp11) {
  std::string features;
  ASSERT_EQ(test::run_command({"curl", "-V"}, test::scratch_dir("bridge_http_curl") + "/v", 10s,
                              &features),
            0);
  ASSERT_NE(features.find("HTTP2"), std::string::npos) << "curl without HTTP/2:\n" << features;

  BridgeProcess bridge("bridge_http_large");
  make_certificate(bridge.dir);
  bridge.write_config(bridge.tls(), kQuickEngines);
  // The bridge makes its store; the turns go in while it is stopped.
  bridge.start("bridge-1");
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  std::vector<std::string> transcripts;
  std::ofstream sql(bridge.dir + "/turns.sql");
  sql << "BEGIN;\n";
  for (int i = 0; i < 20; ++i) {
    std::string text = "turn " + std::to_string(i) + ":";
    while (text.size() < 5000)
      text +=
          " the quick brown fox said caf\u00e9 and "
          "\u0c95\u0ca8\u0ccd\u0ca8\u0ca1 " +
          std::to_string(text.size());
    transcripts.push_back(text);
    sql << "INSERT INTO turns (session_id, node_id, turn_id, transcript, "
           "reply, started_at_ms) "
        << "VALUES ('s1', 'n0', 't" << i << "', '" << text << "', 'ok', " << 1700000000000 + i
        << ");\n";
  }
  sql << "COMMIT;\n";
  sql.close();
  ASSERT_EQ(test::run_command(
                {"sqlite3", bridge.dir + "/earshot.db", ".read " + bridge.dir + "/turns.sql"},
                bridge.dir + "/sqlite3"),
            0)
      << test::read_file(bridge.dir + "/sqlite3.err");
  bridge.start("bridge-2");

  struct Way {
    std::string scheme;
    std::vector<std::string> how;
    std::string version;  // what curl says it spoke
  };
  const std::vector<Way> ways = {
      {"https", {"--http2"}, "2"}, {"https", {"--http1.1"}, "1.1"}, {"http", {"--http1.1"}, "1.1"}};
  std::string first_metrics;
  for (const Way& way : ways) {
    const std::string label = way.scheme + " " + way.how[0];
    Fetched status = curl(bridge, bridge.url(way.scheme, "/api/status"), way.how);
    EXPECT_EQ(status.code, 0) << label << ": " << status.error;
    EXPECT_EQ(status.http_version, way.version) << label;
    EXPECT_GT(status.body.size(), 100000u) << label;
    nlohmann::json j = nlohmann::json::parse(status.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << label << ": not JSON, " << status.body.size() << " bytes";
    ASSERT_EQ(j["turns"].size(), 20u) << label;
    for (const auto& turn : j["turns"]) {
      const int index = std::stoi(turn["turn_id"].get<std::string>().substr(1));
      EXPECT_EQ(turn["transcript"], transcripts[size_t(index)]) << label;
    }

    Fetched metrics = curl(bridge, bridge.url(way.scheme, "/metrics"), way.how);
    EXPECT_EQ(metrics.code, 0) << label << ": " << metrics.error;
    EXPECT_EQ(metrics.http_version, way.version) << label;
    EXPECT_GT(metrics.body.size(), 4096u) << label;
    ASSERT_FALSE(metrics.body.empty()) << label;
    EXPECT_EQ(metrics.body.back(), '\n') << label;
    std::string bad;
    EXPECT_TRUE(is_prometheus_text(metrics.body, &bad)) << label << ": " << bad;
    // Nothing moves while no node is connected: every way gives the same text, but for the
    // process' own figures (CPU time, memory, open files), which move by themselves.
    std::string steady;
    std::istringstream lines(metrics.body);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("process_", 0) != 0 && line.find(" process_") == std::string::npos)
        steady += line + "\n";
    EXPECT_NE(steady.find("earshot_build_info{"), std::string::npos) << label;
    if (first_metrics.empty()) first_metrics = steady;
    EXPECT_EQ(steady, first_metrics) << label;
  }
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

}  // namespace
}  // namespace earshot
