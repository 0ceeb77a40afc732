// Zero-config pairing with real processes (docs/deploy.md, "Pairing a new node"): a bridge
// advertised over Avahi, a node with no URL and no token that finds it, shows a code, and is
// paired when the operator confirms that code with `earshot-bridge pair`; the token kept mode 0600
// and used after both restart; every refusal (closed window, wrong code, a used code, an id that is
// paired already, the window timing out) logged with nothing stored; and the certificate pinned at
// pairing refused when the bridge shows another one.
//
// Discovery runs on a private D-Bus with an avahi-daemon restricted to loopback (as
// tests/integration/wyoming_test.cpp does). Where that daemon cannot run, the same pairing runs
// through a configured URL and the test says so on its output.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"
#include "tests/support/ws_test_client.h"

namespace earshot {
namespace {

using namespace std::chrono_literals;
using test::Subprocess;
using Env = std::map<std::string, std::string>;

const std::string kNode = std::string(EARSHOT_BINARY_DIR) + "/device/earshot-node";
const std::string kBridge = std::string(EARSHOT_BINARY_DIR) + "/host/earshot-bridge";

bool exists(const std::string& path) {
  return access(path.c_str(), F_OK) == 0;  // sockets too
}

// A self-signed certificate for 127.0.0.1: dir/cert.pem and dir/key.pem (replaced if there).
void make_certificate(const std::string& dir) {
  ASSERT_EQ(test::run_command({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                               "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem", "-days", "2",
                               "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"},
                              dir + "/openssl"),
            0)
      << test::read_file(dir + "/openssl.err");
}

// What openssl says the certificate's SHA-256 fingerprint is ("AB:CD:...").
std::string openssl_fingerprint(const std::string& dir) {
  std::string out;
  test::run_command(
      {"openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", dir + "/cert.pem"},
      dir + "/fingerprint", 10s, &out);
  const size_t eq = out.find('=');
  return eq == std::string::npos ? "" : out.substr(eq + 1, out.find_first_of("\r\n") - eq - 1);
}

// A private system bus and a loopback-only avahi-daemon; `env` points programs at the bus.
// `why_not` says why not when they cannot run here.
struct PrivateAvahi {
  std::unique_ptr<Subprocess> dbus, avahi;
  Env env;
  std::string why_not;

  explicit PrivateAvahi(const std::string& dir) {
    for (const char* tool : {"/usr/bin/dbus-daemon", "/usr/sbin/avahi-daemon"})
      if (!exists(tool)) {
        why_not = std::string(tool) + " is not installed (tools/install-deps.sh)";
        return;
      }
    if (exists("/run/avahi-daemon/pid")) {
      why_not = "an avahi-daemon already runs on this machine (its pid file is fixed)";
      return;
    }
    const std::string bus = dir + "/bus";
    std::ofstream(dir + "/bus.conf")
        << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\" "
           "\"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
           "<busconfig><type>system</type><listen>unix:path="
        << bus
        << "</listen><auth>EXTERNAL</auth><policy context=\"default\"><allow user=\"*\"/>"
           "<allow own=\"*\"/><allow send_type=\"method_call\"/><allow send_destination=\"*\"/>"
           "<allow receive_type=\"*\"/></policy></busconfig>\n";
    std::ofstream(dir + "/avahi.conf")
        << "[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=lo\n"
           "enable-dbus=yes\n[publish]\npublish-hinfo=no\npublish-workstation=no\n";
    env = {{"DBUS_SYSTEM_BUS_ADDRESS", "unix:path=" + bus}};
    dbus = std::make_unique<Subprocess>(
        std::vector<std::string>{"dbus-daemon", "--config-file=" + dir + "/bus.conf", "--nofork"},
        dir + "/dbus");
    if (!test::wait_until([&] { return exists(bus) || !dbus->running(); }, 10s) || !exists(bus)) {
      why_not = "dbus-daemon did not start: " + dbus->stderr_text();
      return;
    }
    avahi = std::make_unique<Subprocess>(
        std::vector<std::string>{"avahi-daemon", "-f", dir + "/avahi.conf", "--no-drop-root",
                                 "--no-chroot", "--no-rlimits"},
        dir + "/avahi", env);
    if (!test::wait_until(
            [&] {
              return avahi->stderr_text().find("Server startup complete") != std::string::npos ||
                     !avahi->running();
            },
            15s) ||
        !avahi->running())
      why_not = "avahi-daemon cannot run here: " + avahi->stderr_text();
  }
  ~PrivateAvahi() {
    for (auto* p : {avahi.get(), dbus.get()})
      if (p && p->running()) {
        p->signal(SIGTERM);
        p->wait(10s);
      }
  }
  bool ok() const { return why_not.empty(); }
};

// Engines that start at once (echo LLM, flite; a speech recogniser that is never asked).
const std::string kQuickEngines =
    "[stt]\nengine = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n";

struct BridgeProcess {
  std::string dir;
  int port = test::free_port();
  bool tls = false;
  Env env;
  std::unique_ptr<Subprocess> process;

  // `server`: more of the [server] section; by default it listens on loopback only.
  BridgeProcess(const std::string& name, bool with_tls, Env environment = {},
                const std::string& server = "listen = \"127.0.0.1\"\n")
      : dir(test::scratch_dir(name)), tls(with_tls), env(std::move(environment)) {
    if (tls) make_certificate(dir);
    std::ofstream(dir + "/bridge.toml")
        << "[server]\n"
        << server << "port = " << port << "\n"
        << "service_name = \"Earshot pairing test " << getpid() << "\"\n"
        << (tls ? "tls_cert = \"" + dir + "/cert.pem\"\ntls_key = \"" + dir + "/key.pem\"\n" : "")
        << "[nodes]\nn0 = \"t0\"\n"
        << "[store]\npath = \"" << dir << "/earshot.db\"\n"
        << kQuickEngines;
  }
  void start(const std::string& tag = "bridge") {
    process = std::make_unique<Subprocess>(
        std::vector<std::string>{kBridge, "--config", dir + "/bridge.toml"}, dir + "/" + tag, env);
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
  std::string url() const {
    return std::string(tls ? "wss" : "ws") + "://127.0.0.1:" + std::to_string(port) + "/";
  }
  // `earshot-bridge pair ARGS` to its end: exit code and output.
  std::pair<int, std::string> pair(std::vector<std::string> args, const std::string& tag) {
    std::vector<std::string> argv = {kBridge, "--config", dir + "/bridge.toml", "pair"};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess p(argv, dir + "/" + tag, env);
    const int code = p.wait(90s);
    return {code, p.stdout_text() + p.stderr_text()};
  }
  std::unique_ptr<Subprocess> pair_in_background(std::vector<std::string> args,
                                                 const std::string& tag) {
    std::vector<std::string> argv = {kBridge, "--config", dir + "/bridge.toml", "pair"};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<Subprocess>(argv, dir + "/" + tag, env);
  }
  // POSTs JSON to the running bridge's pairing API with curl: the HTTP status. `address`: where
  // to reach it from (another address of this machine looks like another machine to the bridge);
  // `headers`: more request headers.
  int post(const std::string& path, const std::string& json,
           const std::string& content_type = "application/json",
           const std::string& address = "127.0.0.1", std::vector<std::string> headers = {}) {
    static int count = 0;
    std::string status;
    std::vector<std::string> argv = {
        "curl",         "-sS", "-o",   "/dev/null", "-w",
        "%{http_code}", "-X",  "POST", "-H",        "Content-Type: " + content_type,
        "-d",           json};
    for (const std::string& h : headers) {
      argv.push_back("-H");
      argv.push_back(h);
    }
    argv.push_back("http://" + address + ":" + std::to_string(port) + path);
    test::run_command(argv, dir + "/curl-" + std::to_string(++count), 20s, &status);
    return atoi(status.c_str());
  }
};

// An earshot-node with no token (and, with `url` empty, no URL), its state in `state_dir`.
std::unique_ptr<Subprocess> start_node(const std::string& id, const std::string& url,
                                       const std::string& state_dir, const std::string& log,
                                       const Env& env) {
  std::vector<std::string> argv = {
      kNode,         "--node-id", id,     "--state-dir", state_dir,
      "--log-plain", "--source",  "file", "--file",      test::data_path("whisper.cpp/jfk.wav"),
      "--loop",      "--sink",    "none"};
  if (!url.empty()) {
    argv.push_back("--url");
    argv.push_back(url);
  }
  return std::make_unique<Subprocess>(argv, log, env);
}

bool has(const Subprocess& p, const std::string& text) {
  return p.stderr_text().find(text) != std::string::npos;
}

// How many times `text` is in the process's log.
size_t count(const Subprocess& p, const std::string& text) {
  const std::string log = p.stderr_text();
  size_t n = 0;
  for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1))
    ++n;
  return n;
}

// The code a node shows in its log, or "".
std::string shown_code(const Subprocess& node) {
  std::smatch m;
  const std::string log = node.stderr_text();
  return std::regex_search(log, m, std::regex("pairing code ([0-9]{6})")) ? m[1].str() : "";
}

// A pair_request sent by hand (tests/support/ws_test_client.h): what the bridge answers first.
struct Asked {
  std::unique_ptr<test::WsTestClient> client;
  nlohmann::json first;  // the first message back
};
Asked ask_to_pair(int port, const std::string& node_id, const std::string& code) {
  Asked a;
  a.client = std::make_unique<test::WsTestClient>();
  std::string error;
  EXPECT_TRUE(a.client->connect(port, {}, 0, &error)) << error;
  EXPECT_TRUE(a.client->send_text(
      nlohmann::json(
          {{"type", "pair_request"}, {"versions", {1}}, {"node_id", node_id}, {"code", code}})
          .dump()));
  test::WsTestClient::Received r = a.client->read(5000);
  if (r.kind == test::WsTestClient::Received::kText)
    a.first = nlohmann::json::parse(r.payload, nullptr, false);
  return a;
}

// The code of the error that ends a refused pairing connection, and its close code.
std::pair<std::string, int> refusal(Asked& a) {
  std::vector<std::string> texts;
  const int close = a.client->read_until_closed(15000, &texts);
  std::string code =
      a.first.is_object() && a.first.value("type", "") == "error" ? a.first.value("code", "") : "";
  for (const std::string& t : texts) {
    nlohmann::json j = nlohmann::json::parse(t, nullptr, false);
    if (j.is_object() && j.value("type", "") == "error") code = j.value("code", "");
  }
  return {code, close};
}

// The whole story as a new user meets it: a TLS bridge advertised over Avahi; a node with neither
// URL nor token finds it, shows a code, the operator confirms it with `earshot-bridge pair`, both
// sides show the same certificate fingerprint; the node keeps its token (0600) and connects; both
// restart and the node connects with the kept token, no pairing again.
TEST(Pairing, NodeFindsTheBridgePairsWithTheConfirmedCodeAndReconnectsAfterRestarts) {
  const std::string dir = test::scratch_dir("pairing_e2e");
  PrivateAvahi avahi(dir);
  if (!avahi.ok())
    std::cout << "[ NOTE     ] discovery over Avahi NOT TESTED: " << avahi.why_not
              << "; the same pairing runs through a configured URL\n";
  BridgeProcess bridge("pairing_e2e_bridge", true, avahi.env);
  bridge.start();
  if (avahi.ok()) {
    ASSERT_TRUE(test::wait_until([&] { return has(*bridge.process, "(_earshot._tcp)"); }, 20s))
        << bridge.process->stderr_text();
  }
  const std::string state = dir + "/state";
  const std::string configured_url = avahi.ok() ? "" : bridge.url();
  auto node = start_node("kitchen", configured_url, state, dir + "/node", avahi.env);
  if (avahi.ok()) {
    ASSERT_TRUE(test::wait_until([&] { return has(*node, "found \""); }, 30s))
        << node->stderr_text();
    EXPECT_TRUE(has(*node, "at " + bridge.url())) << node->stderr_text();
  }
  ASSERT_TRUE(test::wait_until([&] { return !shown_code(*node).empty(); }, 30s))
      << node->stderr_text();
  const std::string code = shown_code(*node);

  auto [exit_code, said] = bridge.pair({code, "--window", "60"}, "pair");
  ASSERT_EQ(exit_code, 0) << said << "\n" << bridge.process->stderr_text();
  EXPECT_NE(said.find("paired node 'kitchen'"), std::string::npos) << said;
  const std::string fingerprint = openssl_fingerprint(bridge.dir);
  ASSERT_FALSE(fingerprint.empty());
  EXPECT_NE(said.find("bridge certificate SHA-256: " + fingerprint), std::string::npos) << said;

  ASSERT_TRUE(test::wait_until([&] { return has(*node, "connected: session"); }, 30s))
      << node->stderr_text();
  EXPECT_TRUE(has(*node, "pinned the bridge's certificate, SHA-256 " + fingerprint))
      << node->stderr_text();
  struct stat st {};
  ASSERT_EQ(stat((state + "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string token = test::read_file(state + "/token");
  EXPECT_EQ(token.rfind("kitchen.", 0), 0u) << token;
  EXPECT_EQ(test::read_file(state + "/bridge.fingerprint"), fingerprint + "\n");
  EXPECT_TRUE(has(*bridge.process, "paired node 'kitchen'")) << bridge.process->stderr_text();
  // The store keeps the token's hash, never the token.
  EXPECT_EQ(test::read_file(bridge.dir + "/earshot.db").find(token.substr(0, token.size() - 1)),
            std::string::npos);

  node->signal(SIGTERM);
  EXPECT_EQ(node->wait(20s), 0) << node->stderr_text();
  ASSERT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
  bridge.start("bridge-again");
  auto again = start_node("kitchen", configured_url, state, dir + "/node-again", avahi.env);
  ASSERT_TRUE(test::wait_until([&] { return has(*again, "connected: session"); }, 40s))
      << again->stderr_text();
  EXPECT_TRUE(has(*again, "using the token kept in " + state)) << again->stderr_text();
  EXPECT_EQ(shown_code(*again), "") << again->stderr_text();
  again->signal(SIGTERM);
  EXPECT_EQ(again->wait(20s), 0) << again->stderr_text();
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

// Every refusal, each logged by the bridge, with nothing stored: no window; a wrong code (the
// window closes, the waiting node is told); a replayed code; an id already paired (by pairing or
// in [nodes]); the window timing out. The pairing API takes only application/json. A token that
// was issued admits its node's hello.
TEST(Pairing, RefusalsAreLoggedAndStoreNothing) {
  BridgeProcess bridge("pairing_refusals", false);
  bridge.start();

  Asked closed = ask_to_pair(bridge.port, "a", "111111");
  EXPECT_EQ(refusal(closed), std::make_pair(std::string("pairing_closed"), 4009));
  EXPECT_TRUE(has(*bridge.process, "refused a pairing request from 'a'"));

  // A web page elsewhere can send a form, not application/json.
  EXPECT_EQ(bridge.post("/api/pairing/open", "window_s=60", "application/x-www-form-urlencoded"),
            415);

  // Wrong code: the operator's command fails, the window closes, the waiting node is told.
  const std::string opened = "pairing window open";
  auto operator_wrong = bridge.pair_in_background({"333333", "--window", "30"}, "pair-wrong");
  ASSERT_TRUE(test::wait_until([&] { return count(*bridge.process, opened) == 1; }, 20s));
  Asked waiting = ask_to_pair(bridge.port, "b", "222222");
  EXPECT_EQ(waiting.first.value("type", ""), "pair_pending") << waiting.first;
  EXPECT_EQ(operator_wrong->wait(30s), 1);
  const std::string wrong_said = operator_wrong->stdout_text() + operator_wrong->stderr_text();
  EXPECT_NE(wrong_said.find("no waiting node shows this code"), std::string::npos) << wrong_said;
  EXPECT_EQ(refusal(waiting), std::make_pair(std::string("pairing_closed"), 4009));
  EXPECT_TRUE(has(*bridge.process, "refused a confirmation"));

  // A good pairing, by hand: the token admits node c's hello, and only node c's.
  auto operator_c = bridge.pair_in_background({"444444", "--window", "30"}, "pair-c");
  ASSERT_TRUE(test::wait_until([&] { return count(*bridge.process, opened) == 2; }, 20s));
  Asked good = ask_to_pair(bridge.port, "c", "444444");
  EXPECT_EQ(good.first.value("type", ""), "pair_pending") << good.first;
  test::WsTestClient::Received paired = good.client->read(30000);
  ASSERT_EQ(paired.kind, test::WsTestClient::Received::kText);
  const nlohmann::json p = nlohmann::json::parse(paired.payload, nullptr, false);
  ASSERT_EQ(p.value("type", ""), "paired") << paired.payload;
  const std::string token = p.value("token", "");
  EXPECT_EQ(operator_c->wait(30s), 0) << operator_c->stdout_text() << operator_c->stderr_text();
  {
    test::WsTestClient hello;
    std::string error;
    ASSERT_TRUE(hello.connect(bridge.port, {"Authorization: Bearer " + token}, 0, &error)) << error;
    ASSERT_TRUE(hello.send_text(R"({"type":"hello","versions":[1],"node_id":"c",)"
                                R"("audio":{"codec":"opus","sample_rate":16000,"channels":1,)"
                                R"("frame_ms":20}})"));
    test::WsTestClient::Received w = hello.read(10000);
    EXPECT_NE(w.payload.find("\"welcome\""), std::string::npos) << w.payload;
    test::WsTestClient other;
    ASSERT_TRUE(other.connect(bridge.port, {"Authorization: Bearer " + token}, 0, &error));
    ASSERT_TRUE(other.send_text(R"({"type":"hello","versions":[1],"node_id":"d",)"
                                R"("audio":{"codec":"opus","sample_rate":16000,"channels":1,)"
                                R"("frame_ms":20}})"));
    EXPECT_EQ(other.read_until_closed(10000), 4001);
  }

  // With a window open: a replayed code, and ids already paired, are refused at once.
  auto operator_e = bridge.pair_in_background({"555555", "--window", "30"}, "pair-e");
  ASSERT_TRUE(test::wait_until([&] { return count(*bridge.process, opened) == 3; }, 20s));
  Asked replay = ask_to_pair(bridge.port, "e2", "444444");
  EXPECT_EQ(refusal(replay), std::make_pair(std::string("code_used"), 4009));
  Asked taken = ask_to_pair(bridge.port, "c", "666666");
  EXPECT_EQ(refusal(taken), std::make_pair(std::string("already_paired"), 4009));
  Asked configured = ask_to_pair(bridge.port, "n0", "777777");
  EXPECT_EQ(refusal(configured), std::make_pair(std::string("already_paired"), 4009));
  Asked e = ask_to_pair(bridge.port, "e", "555555");
  EXPECT_EQ(e.first.value("type", ""), "pair_pending") << e.first;
  EXPECT_EQ(operator_e->wait(30s), 0) << operator_e->stdout_text() << operator_e->stderr_text();

  // The window times out with a node waiting: it is told, nothing is stored.
  ASSERT_EQ(bridge.post("/api/pairing/open", R"({"window_s":2})"), 200);
  Asked late = ask_to_pair(bridge.port, "f", "888888");
  EXPECT_EQ(late.first.value("type", ""), "pair_pending") << late.first;
  EXPECT_EQ(refusal(late), std::make_pair(std::string("pairing_closed"), 4009));
  EXPECT_TRUE(has(*bridge.process, "pairing window closed before node 'f'"));

  auto [list_exit, listed] = bridge.pair({"list"}, "pair-list");
  EXPECT_EQ(list_exit, 0) << listed;
  std::vector<std::string> ids;
  std::istringstream lines(listed);
  for (std::string line; std::getline(lines, line);)
    ids.push_back(line.substr(0, line.find(' ')));
  EXPECT_EQ(ids, (std::vector<std::string>{"c", "e"})) << listed;
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

// The status page's "Pair a node" button (host/web_client.cpp) makes the same calls as
// `earshot-bridge pair`: it opens the window, lists the node asking, and confirms the code the
// node shows. Those calls are served to this machine, or to another one with
// server.status_token (as a bearer token: the page sends the one it was opened with), never to
// anyone else on the network. Here a real node is paired that way from another address.
TEST(Pairing, TheStatusPagePairsANodeOnlyWithTheStatusToken) {
  const std::string address = test::non_loopback_address();
  if (address.empty()) GTEST_SKIP() << "no non-loopback IPv4 address to call the bridge from";
  BridgeProcess bridge("pairing_status_page", false, {},
                       "listen = \"0.0.0.0\"\nstatus_token = \"s3cret-status\"\n");
  bridge.start();

  // The page carries the button, and the calls it makes send the status token.
  std::string page;
  ASSERT_EQ(
      test::run_command({"curl", "-sS", "http://127.0.0.1:" + std::to_string(bridge.port) + "/"},
                        bridge.dir + "/page", 20s, &page),
      0);
  EXPECT_NE(page.find("id=\"pair-open\""), std::string::npos) << page;
  for (const char* call : {"/api/pairing/open", "/api/pairing/confirm", "/api/pairing/close",
                           "\"Authorization\"] = \"Bearer \" + statusToken"})
    EXPECT_NE(page.find(call), std::string::npos) << call;

  const std::string bearer = "Authorization: Bearer s3cret-status";
  const std::string json = "application/json";
  // Anyone else on the network: refused, with no token or a wrong one.
  EXPECT_EQ(bridge.post("/api/pairing/open", R"({"window_s":60})", json, address), 401);
  EXPECT_EQ(bridge.post("/api/pairing/open", R"({"window_s":60})", json, address,
                        {"Authorization: Bearer wrong"}),
            401);
  EXPECT_FALSE(has(*bridge.process, "pairing window open"));
  // The operator, with the token: the window opens and the node asking is shown.
  ASSERT_EQ(bridge.post("/api/pairing/open", R"({"window_s":60})", json, address, {bearer}), 200);
  const std::string state = bridge.dir + "/node-state";
  auto node = start_node("page-node", bridge.url(), state, bridge.dir + "/node", {});
  ASSERT_TRUE(test::wait_until([&] { return !shown_code(*node).empty(); }, 30s))
      << node->stderr_text();
  const std::string code = shown_code(*node);
  std::string waiting;
  ASSERT_TRUE(test::wait_until(
      [&] {
        waiting.clear();
        test::run_command(
            {"curl", "-sS", "-H", bearer,
             "http://" + address + ":" + std::to_string(bridge.port) + "/api/pairing"},
            bridge.dir + "/waiting", 20s, &waiting);
        return waiting.find("\"page-node\"") != std::string::npos;
      },
      30s))
      << waiting;
  // A confirmation without the token changes nothing; with it, the node is paired and keeps its
  // token.
  EXPECT_EQ(bridge.post("/api/pairing/confirm", "{\"code\":\"" + code + "\"}", json, address), 401);
  EXPECT_FALSE(exists(state + "/token"));
  EXPECT_EQ(
      bridge.post("/api/pairing/confirm", "{\"code\":\"" + code + "\"}", json, address, {bearer}),
      200);
  ASSERT_TRUE(test::wait_until([&] { return exists(state + "/token"); }, 30s))
      << node->stderr_text();
  struct stat st {};
  ASSERT_EQ(stat((state + "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  node->signal(SIGTERM);
  node->wait(20s);
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

// `earshot-bridge pair remove` unpairs a node: its kept token is refused (4001), the node forgets
// it and stops, and its next start pairs again with a new code.
TEST(Pairing, AnUnpairedNodeForgetsItsTokenAndPairsAgain) {
  const std::string dir = test::scratch_dir("pairing_remove");
  BridgeProcess bridge("pairing_remove_bridge", false);
  bridge.start();
  const std::string state = dir + "/state";
  auto node = start_node("hall", bridge.url(), state, dir + "/node", {});
  ASSERT_TRUE(test::wait_until([&] { return !shown_code(*node).empty(); }, 30s))
      << node->stderr_text();
  const std::string first_code = shown_code(*node);
  ASSERT_EQ(bridge.pair({first_code, "--window", "60"}, "pair").first, 0);
  ASSERT_TRUE(test::wait_until([&] { return has(*node, "connected: session"); }, 30s))
      << node->stderr_text();
  node->signal(SIGTERM);
  EXPECT_EQ(node->wait(20s), 0);

  auto [removed, said] = bridge.pair({"remove", "hall"}, "pair-remove");
  ASSERT_EQ(removed, 0) << said;
  auto refused = start_node("hall", bridge.url(), state, dir + "/node-refused", {});
  EXPECT_EQ(refused->wait(30s), 1) << refused->stderr_text();
  EXPECT_TRUE(has(*refused, "forgot it")) << refused->stderr_text();
  EXPECT_FALSE(exists(state + "/token"));

  auto again = start_node("hall", bridge.url(), state, dir + "/node-again", {});
  ASSERT_TRUE(test::wait_until([&] { return !shown_code(*again).empty(); }, 30s))
      << again->stderr_text();
  ASSERT_EQ(bridge.pair({shown_code(*again), "--window", "60"}, "pair-again").first, 0);
  ASSERT_TRUE(test::wait_until([&] { return has(*again, "connected: session"); }, 30s))
      << again->stderr_text();
  again->signal(SIGTERM);
  EXPECT_EQ(again->wait(20s), 0);
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

// Trust on first use: a node paired over wss:// pins the bridge's certificate; when the bridge
// comes back with another certificate the node refuses it before sending its token.
TEST(Pairing, NodeRefusesACertificateOtherThanThePinnedOne) {
  const std::string dir = test::scratch_dir("pairing_pin");
  BridgeProcess bridge("pairing_pin_bridge", true);
  bridge.start();
  const std::string state = dir + "/state";
  auto node = start_node("porch", bridge.url(), state, dir + "/node", {});
  ASSERT_TRUE(test::wait_until([&] { return !shown_code(*node).empty(); }, 30s))
      << node->stderr_text();
  auto [exit_code, said] = bridge.pair({shown_code(*node), "--window", "60"}, "pair");
  ASSERT_EQ(exit_code, 0) << said;
  ASSERT_TRUE(test::wait_until([&] { return has(*node, "connected: session"); }, 30s))
      << node->stderr_text();
  node->signal(SIGTERM);
  EXPECT_EQ(node->wait(20s), 0);
  ASSERT_EQ(bridge.stop(), 0);

  make_certificate(bridge.dir);  // the same paths, a new key and certificate
  bridge.start("bridge-new-cert");
  auto again = start_node("porch", bridge.url(), state, dir + "/node-again", {});
  ASSERT_TRUE(
      test::wait_until([&] { return has(*again, "is not the one pinned at pairing"); }, 30s))
      << again->stderr_text();
  EXPECT_FALSE(has(*again, "connected: session")) << again->stderr_text();
  EXPECT_FALSE(has(*bridge.process, "node 'porch'")) << bridge.process->stderr_text();
  again->signal(SIGTERM);
  EXPECT_EQ(again->wait(20s), 0) << again->stderr_text();
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

}  // namespace
}  // namespace earshot
