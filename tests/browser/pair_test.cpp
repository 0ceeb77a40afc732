// The status page's pairing in a real browser (Debian's chromium, headless, driven by
// tests/browser/pair_driver.mjs): opened from another address of this machine with
// server.status_token, as an operator on the LAN would, "Pair a node" opens the window, the
// waiting node is listed, and the code the node shows, typed in, pairs it: the node keeps its token
// (mode 0600) and connects with it. The refusals without the token are
// tests/integration/pairing_test.cpp's (Pairing.TheStatusPagePairsANodeOnlyWithTheStatusToken).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/integration/bridge_fixture.h"

namespace earshot {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
using test::Bridge;
using test::Subprocess;

const std::string kDriver = std::string(EARSHOT_SOURCE_DIR) + "/tests/browser/pair_driver.mjs";

TEST(BrowserPairing, TheStatusPagePairsTheNodeWhoseCodeIsTyped) {
  const std::string address = test::non_loopback_address();
  if (address.empty()) GTEST_SKIP() << "no non-loopback IPv4 address to open the page from";
  // Engines that start at once (echo LLM, flite; a speech recogniser that is never asked).
  Bridge bridge("browser_pairing",
                "[stt]\nengine = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\n",
                "listen = \"0.0.0.0\"\nstatus_token = \"s3cret-status\"\n");
  bridge.start();
  const std::string state = bridge.dir + "/node-state";
  Subprocess node({test::kNode, "--node-id", "porch", "--url",
                   "ws://127.0.0.1:" + std::to_string(bridge.port) + "/", "--state-dir", state,
                   "--log-plain", "--source", "file", "--file",
                   test::data_path("whisper.cpp/jfk.wav"), "--loop", "--sink", "none"},
                  bridge.dir + "/node");
  std::string code;
  ASSERT_TRUE(test::wait_until(
      [&] {
        std::smatch m;
        const std::string log = node.stderr_text();
        if (!std::regex_search(log, m, std::regex("pairing code ([0-9]{6})"))) return false;
        code = m[1].str();
        return true;
      },
      30s))
      << node.stderr_text();

  const std::string dir = bridge.dir + "/page";
  json config = {
      {"url", "http://" + address + ":" + std::to_string(bridge.port) + "/?token=s3cret-status"},
      {"nodeId", "porch"},
      {"code", code},
      {"outDir", dir},
      {"userDataDir", bridge.dir + "/profile"},
      {"timeoutMs", 60000}};
  std::ofstream(bridge.dir + "/pair.json") << config.dump(1);
  const int exit = test::run_command({"node", kDriver, bridge.dir + "/pair.json"}, dir, 180s);
  const std::string said = test::read_file(dir + "/result.json");
  ASSERT_EQ(exit, 0) << said << test::read_file(dir + "/console.log")
                     << test::read_file(dir + ".err");
  const json result = json::parse(said);
  EXPECT_NE(result.value("state", "").find("window open"), std::string::npos) << said;
  EXPECT_EQ(result.value("result", "").rfind("paired porch", 0), 0u) << said;
  // The page closed the window after pairing, as `earshot-bridge pair` does.
  std::string pairing;
  EXPECT_EQ(
      test::http_get("http://127.0.0.1:" + std::to_string(bridge.port) + "/api/pairing", &pairing),
      200);
  EXPECT_NE(pairing.find("\"open\":false"), std::string::npos) << pairing;

  ASSERT_TRUE(test::wait_until([&] { return access((state + "/token").c_str(), F_OK) == 0; }, 30s))
      << node.stderr_text();
  struct stat st {};
  ASSERT_EQ(stat((state + "/token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(test::wait_until(
      [&] { return node.stderr_text().find("connected: session") != std::string::npos; }, 30s))
      << node.stderr_text();
  node.signal(SIGTERM);
  node.wait(20s);
  EXPECT_EQ(bridge.stop(), 0) << bridge.process->stderr_text();
}

}  // namespace
}  // namespace earshot
