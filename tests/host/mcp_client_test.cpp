// The MCP client (host/tools/mcp_client.h) against a real MCP server, tests/host/
// mcp_test_server.py, written for these tests from the MCP specification (not from the client):
// once over stdio (the client starts it) and once over Streamable HTTP (the test starts it).
//
// What it shows, over both transports: every page of tools/list is read; a call and its answer;
// a failing tool (isError) is an error result; notifications/tools/list_changed refreshes the
// list; a call cancelled by barge-in or past its timeout is cancelled at the server
// (notifications/cancelled); the server killed in the middle of a call gives an error result at
// once, its tools vanish, and it is restarted with its tools back; the per-room / per-node
// allow-list. And through the real conversation core (as tool_loop_test.cpp drives it): a slow
// MCP tool gets the filler said, and a failing one — or one whose server is killed in the middle
// of the call — goes back to the model as the tool's result, and the reply goes on.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "host/bridge_config.h"
#include "host/conversation/conversation.h"
#include "host/engines/embedded_engines.h"
#include "host/engines/openai_engines.h"
#include "host/store/store.h"
#include "host/tools/mcp_client.h"
#include "host/tools/tool_runner.h"
#include "protocol/mcp/mcp_messages.h"
#include "tests/support/fake_http_server.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_audio.h"

namespace earshot::host {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

const std::string kServerScript =
    std::string(EARSHOT_SOURCE_DIR) + "/tests/host/mcp_test_server.py";

std::vector<std::string> names(const std::vector<ToolSpec>& tools) {
  std::vector<std::string> out;
  for (const ToolSpec& t : tools)
    out.push_back(t.name);
  return out;
}

bool has_line(const std::string& log, const std::string& line) {
  return ("\n" + test::read_file(log)).find("\n" + line + "\n") != std::string::npos;
}

// The pid of the server's latest start, from its log.
pid_t latest_pid(const std::string& log) {
  std::istringstream in(test::read_file(log));
  pid_t pid = -1;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("started ", 0) == 0) pid = pid_t(std::stol(line.substr(8)));
  return pid;
}

// Remembers what the client says happened, as the bridge's log would get it.
struct ClientLog {
  std::mutex mutex;
  std::vector<std::string> lines;
  McpClient::Log callback() {
    return [this](bool, const std::string& line) {
      std::lock_guard<std::mutex> lock(mutex);
      lines.push_back(line);
    };
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mutex);
    std::string out;
    for (const std::string& l : lines)
      out += l + "\n";
    return out;
  }
  bool contains(const std::string& part) {
    std::lock_guard<std::mutex> lock(mutex);
    for (const std::string& l : lines)
      if (l.find(part) != std::string::npos) return true;
    return false;
  }
};

// A scratch directory of this test's own: ctest runs the tests as parallel processes, and
// scratch_dir() empties the directory it hands out.
std::string own_scratch_dir(const std::string& base) {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (char& c : name)
    if (c == '/') c = '_';
  return test::scratch_dir(base + "_" + name);
}

// One MCP server under test, over one transport.
class Server {
 public:
  explicit Server(bool http, McpServerConfig config = {}) : http_(http) {
    dir_ = own_scratch_dir(http ? "mcp_http" : "mcp_stdio");
    log_ = dir_ + "/server.log";
    config.name = "test";
    if (http) {
      port_ = test::free_port();
      start_http();
      config.url = "http://127.0.0.1:" + std::to_string(port_) + "/mcp";
    } else {
      config.command = "python3";
      config.args = {kServerScript, "stdio", log_};
    }
    config_ = config;
  }
  void start_http() {
    process_ = std::make_unique<test::Subprocess>(
        std::vector<std::string>{"python3", kServerScript, "http", std::to_string(port_), log_},
        dir_ + "/http" + std::to_string(++starts_));
    const std::string listening = "listening " + std::to_string(port_);
    const size_t seen = count(listening);
    EXPECT_TRUE(test::wait_until([&] { return count(listening) > seen; }, 10s));
  }
  size_t count(const std::string& line) {
    std::istringstream in(test::read_file(log_));
    size_t n = 0;
    for (std::string l; std::getline(in, l);)
      n += l == line;
    return n;
  }
  const McpServerConfig& config() const { return config_; }
  const std::string& log() const { return log_; }
  void kill_it() {
    const pid_t pid = latest_pid(log_);
    ASSERT_GT(pid, 0);
    ::kill(pid, SIGKILL);
    if (http_) process_->wait(5s);
  }
  bool http() const { return http_; }

 private:
  bool http_;
  std::string dir_, log_;
  int port_ = 0;
  int starts_ = 0;
  std::unique_ptr<test::Subprocess> process_;
  McpServerConfig config_;
};

const ToolScope kKitchen{"c1", "n1", "kitchen"};

std::vector<ToolSpec> wait_for_tools(McpClient& client, size_t count,
                                     const ToolScope& scope = kKitchen) {
  std::vector<ToolSpec> tools;
  test::wait_until(
      [&] {
        tools = client.list(scope);
        return tools.size() == count;
      },
      15s);
  return tools;
}

ToolResult call(McpClient& client, const std::string& name, const std::string& args,
                const CancelToken& cancel = CancelToken()) {
  return client.call(kKitchen, name, args, cancel, Clock::now() + 20s);
}

class McpClientTest : public ::testing::TestWithParam<bool> {};  // true: Streamable HTTP

TEST_P(McpClientTest, ListsEveryPageAndCallsTools) {
  Server server(GetParam());
  ClientLog log;
  McpClient client(server.config(), log.callback());
  const std::vector<ToolSpec> tools = wait_for_tools(client, 4);
  EXPECT_EQ(names(tools), (std::vector<std::string>{"echo", "fail", "slow", "add_tool"}))
      << log.text();
  EXPECT_EQ(server.count("list"), 2u);  // two pages of two
  EXPECT_TRUE(has_line(server.log(), "initialized"));
  EXPECT_EQ(tools[0].description, "Says the text back.");
  EXPECT_EQ(json::parse(tools[0].parameters)["required"], json::array({"text"}));

  ToolResult echo = call(client, "echo", R"({"text":"hello"})");
  EXPECT_TRUE(echo.ok);
  EXPECT_EQ(echo.content, "echo: hello");

  ToolResult fail = call(client, "fail", "{}");
  EXPECT_FALSE(fail.ok);
  EXPECT_EQ(fail.content, "error: the lights are unreachable");

  ToolResult unknown = call(client, "nope", "{}");  // a JSON-RPC error from the server
  EXPECT_FALSE(unknown.ok);
  EXPECT_NE(unknown.content.find("Unknown tool: nope"), std::string::npos) << unknown.content;
  EXPECT_EQ(client.connections(), 1u);
}

TEST_P(McpClientTest, ListChangedRefreshesTheTools) {
  Server server(GetParam());
  McpClient client(server.config());
  ASSERT_EQ(wait_for_tools(client, 4).size(), 4u);
  EXPECT_TRUE(call(client, "add_tool", "{}").ok);
  const std::vector<ToolSpec> tools = wait_for_tools(client, 5);
  ASSERT_EQ(tools.size(), 5u);
  EXPECT_EQ(tools[4].name, "extra");
  EXPECT_EQ(call(client, "extra", "{}").content, "extra");
}

TEST_P(McpClientTest, ABargeInCancelsTheCallAtTheServer) {
  Server server(GetParam());
  McpClient client(server.config());
  ASSERT_EQ(wait_for_tools(client, 4).size(), 4u);
  CancelToken cancel;
  auto running = std::async(std::launch::async,
                            [&] { return call(client, "slow", R"({"ms":60000})", cancel); });
  ASSERT_TRUE(test::wait_until(
      [&] {
        return server.count("list") >= 2 &&
               test::read_file(server.log()).find("call slow") != std::string::npos;
      },
      10s));
  const Clock::time_point cancelled_at = Clock::now();
  cancel.cancel();
  ASSERT_EQ(running.wait_for(5s), std::future_status::ready);
  const ToolResult result = running.get();
  EXPECT_LT(Clock::now() - cancelled_at, 2s);
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.content, "error: cancelled");
  // The server hears which request was cancelled: the id it saw in "call slow <id>".
  std::string log = test::read_file(server.log());
  const size_t at = log.find("call slow ");
  const std::string id = log.substr(at + 10, log.find('\n', at) - at - 10);
  EXPECT_TRUE(test::wait_until([&] { return has_line(server.log(), "cancelled " + id); }, 10s));
  EXPECT_EQ(call(client, "echo", R"({"text":"still here"})").content, "echo: still here");
}

TEST_P(McpClientTest, ACallPastItsTimeoutIsAnErrorAndCancelled) {
  McpServerConfig config;
  config.call_timeout_ms = 300;
  Server server(GetParam(), config);
  McpClient client(server.config());
  ASSERT_EQ(wait_for_tools(client, 4).size(), 4u);
  const ToolResult result = call(client, "slow", R"({"ms":30000})");
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.content.find("error: MCP server 'test'"), std::string::npos) << result.content;
  EXPECT_TRUE(test::wait_until(
      [&] { return test::read_file(server.log()).find("cancelled ") != std::string::npos; }, 10s));
  EXPECT_TRUE(call(client, "slow", R"({"ms":10})").ok);  // still usable
}

TEST_P(McpClientTest, AServerKilledMidCallIsAnErrorThenRestartedWithItsTools) {
  Server server(GetParam());
  ClientLog log;
  McpClient client(server.config(), log.callback());
  ASSERT_EQ(wait_for_tools(client, 4).size(), 4u);
  auto running =
      std::async(std::launch::async, [&] { return call(client, "slow", R"({"ms":60000})"); });
  ASSERT_TRUE(test::wait_until(
      [&] { return test::read_file(server.log()).find("call slow") != std::string::npos; }, 10s));
  server.kill_it();
  ASSERT_EQ(running.wait_for(10s), std::future_status::ready);
  const ToolResult result = running.get();
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.content.find("error: MCP server 'test'"), std::string::npos) << result.content;
  // Its tools were withdrawn while it was down (the client said it would start it again).
  EXPECT_TRUE(test::wait_until([&] { return log.contains("starting it again"); }, 10s));
  if (server.http()) {
    // Until the server is back, the client cannot reach it and offers none of its tools.
    EXPECT_TRUE(client.list(kKitchen).empty());
    EXPECT_FALSE(client.connected());
    const ToolResult down = call(client, "echo", R"({"text":"x"})");
    EXPECT_EQ(down.content, "error: MCP server 'test' is not running; try again later");
    server.start_http();
  }  // stdio: the client starts it again itself
  EXPECT_EQ(wait_for_tools(client, 4).size(), 4u);
  EXPECT_TRUE(test::wait_until([&] { return client.connections() == 2; }, 15s));
  EXPECT_EQ(call(client, "echo", R"({"text":"back"})").content, "echo: back");
}

TEST_P(McpClientTest, TheAllowListShowsToolsToItsRoomsAndNodesOnly) {
  McpServerConfig config;
  config.rooms = {"kitchen"};
  config.nodes = {"n7"};
  Server server(GetParam(), config);
  McpClient client(server.config());
  ASSERT_EQ(wait_for_tools(client, 4).size(), 4u);
  const ToolScope office{"c2", "n2", "office"};
  const ToolScope office_n7{"c3", "n7", "office"};
  EXPECT_TRUE(client.list(office).empty());
  EXPECT_EQ(client.list(office_n7).size(), 4u);
  const ToolResult refused =
      client.call(office, "echo", R"({"text":"x"})", CancelToken(), Clock::now() + 5s);
  EXPECT_FALSE(refused.ok);
  EXPECT_EQ(test::read_file(server.log()).find("call echo"), std::string::npos);
  // Through the registry: the same provider, other rooms see nothing of it.
  ToolRegistry registry;
  auto shared = std::shared_ptr<McpClient>(&client, [](McpClient*) {});
  auto registration = registry.add(shared);
  EXPECT_EQ(registry.list(kKitchen).size(), 4u);
  EXPECT_EQ(registry.find(office, "echo"), nullptr);
  EXPECT_NE(registry.find(kKitchen, "echo"), nullptr);
}

// --- through the conversation core -------------------------------------------------------------

// vLLM's chunk (serving_chat.py, exclude_unset) around a delta, as tool_loop_test.cpp documents.
std::string vllm(const std::string& delta, const std::string& finish = "null") {
  return R"({"id":"chatcmpl-9","object":"chat.completion.chunk","created":1732500000,"model":"m","choices":[{"index":0,"delta":)" +
         delta + R"(,"logprobs":null,"finish_reason":)" + finish +
         (finish == "null" ? "" : R"(,"stop_reason":null)") + "}]}";
}
std::string text_chunk(const std::string& t) {
  return vllm(R"({"content":)" + json(t).dump() + "}");
}
// A hermes-parser call in one chunk, then the end of the message.
std::vector<std::string> call_chunks(const std::string& id, const std::string& name,
                                     const std::string& arguments) {
  return {vllm(R"({"tool_calls":[{"id":")" + id +
               R"(","type":"function","index":0,"function":{"name":")" + name +
               R"(","arguments":)" + json(arguments).dump() + "}}]}"),
          vllm(R"({"content":""})", R"("tool_calls")")};
}

// The model: request 0 calls `name`, request 1 answers in words.
class ScriptedLlm {
 public:
  ScriptedLlm(std::string name, std::string arguments)
      : server_([this, name, arguments](const test::HttpRequestSeen&, test::HttpResponder& r) {
          const size_t n = served_.fetch_add(1);
          r.start_chunked(200, "text/event-stream; charset=utf-8");
          std::vector<std::string> events =
              n == 0 ? call_chunks("chatcmpl-tool-1", name, arguments)
                     : std::vector<std::string>{text_chunk("Done."),
                                                vllm(R"({"content":""})", R"("stop")")};
          for (const std::string& e : events)
            r.chunk(test::sse(e));
          r.chunk(test::sse("[DONE]"));
          r.end_chunked();
        }) {}
  EngineConfig config() const {
    EngineConfig c;
    c.engine = "openai";
    c.base_url = server_.base_url();
    c.model = "m";
    return c;
  }
  std::vector<json> bodies() {
    std::vector<json> out;
    for (const test::HttpRequestSeen& r : server_.requests())
      out.push_back(json::parse(r.body));
    return out;
  }

 private:
  std::atomic<size_t> served_{0};
  test::FakeHttpServer server_;
};

// The door: remembers what was said, reports every reply played to its end.
class Door : public ConversationSink {
 public:
  Conversation* conversation = nullptr;
  bool said(const std::string& s) {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::find(sentences_.begin(), sentences_.end(), s) != sentences_.end();
  }
  size_t turns() {
    std::lock_guard<std::mutex> lock(mutex_);
    return turns_.size();
  }
  void acknowledged(uint64_t) override {}
  void speech_started(const std::string&, uint64_t) override {}
  void speech_stopped(const std::string&, uint64_t) override {}
  void transcript(const std::string&, const std::string&, bool, const std::string&) override {}
  void reply_started(const std::string&, const std::string&) override {}
  void reply_text(const std::string&, const std::string&, const std::string&) override {}
  void reply_text_done(const std::string&, const std::string&) override {}
  void reply_audio_started(const std::string&, const std::string&) override {}
  void reply_sentence(const std::string&, uint32_t, const std::string& text, uint64_t) override {
    std::lock_guard<std::mutex> lock(mutex_);
    sentences_.push_back(text);
  }
  bool reply_audio(const std::string&, uint64_t, const float*, size_t, int64_t, int64_t) override {
    return true;
  }
  void reply_audio_ended(const std::string& reply_id, uint64_t frames, bool interrupted) override {
    if (!interrupted) conversation->played({reply_id, frames * 20, std::nullopt});
  }
  uint64_t reply_interrupted(const std::string&) override { return 0; }
  void turn_done(const TurnReport& report) override {
    std::lock_guard<std::mutex> lock(mutex_);
    turns_.push_back(report);
  }
  void error(const std::string&, const std::string&) override {}
  void close(uint16_t, const std::string&) override {}

 private:
  std::mutex mutex_;
  std::vector<std::string> sentences_;
  std::vector<TurnReport> turns_;
};

// One typed turn through the real core, with the MCP server's tools in the registry.
void mcp_turn(ScriptedLlm& llm, McpClient& client, Door& door, ToolSettings settings) {
  std::string error;
  auto store = Store::open(own_scratch_dir("mcp_core") + "/earshot.db", {}, &error);
  ASSERT_TRUE(store) << error;
  auto llm_engine = make_openai_llm(llm.config());
  EngineConfig flite;
  flite.voice = "slt";
  auto tts = make_flite_tts(flite, &error);
  ASSERT_TRUE(tts) << error;
  ToolRegistry registry;
  auto registration = registry.add(std::shared_ptr<McpClient>(&client, [](McpClient*) {}));
  Services services;
  services.llm = llm_engine.get();
  services.tts = tts.get();
  services.store = store.get();
  services.delivery = std::make_unique<DeliveryLedger>(store.get());
  services.tools = &registry;
  services.tool_settings = settings;
  ConversationSettings conversation_settings;
  conversation_settings.conversation_id = "c1";
  conversation_settings.client_id = "n1";
  conversation_settings.room = "kitchen";
  conversation_settings.server_turn_detection = false;
  conversation_settings.auto_respond = false;
  auto lease = services.delivery->claim("n1", &error);
  ASSERT_TRUE(lease) << error;
  Conversation conversation(services, conversation_settings, *lease, door);
  door.conversation = &conversation;
  ASSERT_TRUE(conversation.start(&error)) << error;
  conversation.user_text("Do it.");
  conversation.respond();
  EXPECT_TRUE(test::wait_until([&] { return door.turns() > 0; }, 30s));
  conversation.stop();
}

// The tool message the model got back for the call (request 1's last message).
json tool_message(ScriptedLlm& llm) {
  const std::vector<json> bodies = llm.bodies();
  if (bodies.size() < 2) return nullptr;
  return bodies[1]["messages"].back();
}

TEST_P(McpClientTest, ThroughTheCoreASlowToolGetsTheFiller) {
  Server server(GetParam());
  McpClient client(server.config());
  ASSERT_EQ(wait_for_tools(client, 4).size(), 4u);
  ScriptedLlm llm("slow", R"({"ms":1500})");
  Door door;
  ToolSettings settings;
  settings.filler_after_ms = 100;
  settings.filler = "Hold on.";
  mcp_turn(llm, client, door, settings);
  EXPECT_TRUE(door.said("Hold on."));
  EXPECT_TRUE(door.said("Done."));
  const json tool = tool_message(llm);
  ASSERT_TRUE(tool.is_object());
  EXPECT_EQ(tool["role"], "tool");
  EXPECT_EQ(tool["content"], "done after 1500 ms");
  // The tools the model was offered are the server's.
  const std::vector<json> bodies = llm.bodies();
  ASSERT_FALSE(bodies.empty());
  EXPECT_EQ(bodies[0]["tools"].size(), 4u);
}

TEST_P(McpClientTest, ThroughTheCoreAFailingToolGoesBackToTheModel) {
  Server server(GetParam());
  McpClient client(server.config());
  ASSERT_EQ(wait_for_tools(client, 4).size(), 4u);
  ScriptedLlm llm("fail", "{}");
  Door door;
  mcp_turn(llm, client, door, ToolSettings{});
  const json tool = tool_message(llm);
  ASSERT_TRUE(tool.is_object());
  EXPECT_EQ(tool["role"], "tool");
  EXPECT_NE(tool["content"].get<std::string>().find("the lights are unreachable"),
            std::string::npos)
      << tool.dump();
  EXPECT_TRUE(door.said("Done."));  // the turn went on: the model answered after the error
}

TEST_P(McpClientTest, ThroughTheCoreAServerKilledMidCallIsAnErrorForTheModel) {
  Server server(GetParam());
  McpClient client(server.config());
  ASSERT_EQ(wait_for_tools(client, 4).size(), 4u);
  ScriptedLlm llm("slow", R"({"ms":60000})");
  Door door;
  auto killer = std::async(std::launch::async, [&] {
    if (test::wait_until(
            [&] { return test::read_file(server.log()).find("call slow") != std::string::npos; },
            20s))
      server.kill_it();
  });
  const Clock::time_point start = Clock::now();
  mcp_turn(llm, client, door, ToolSettings{});
  killer.get();
  EXPECT_LT(Clock::now() - start, 10s);  // not the tool's 60 s, nor the 10 s call timeout
  const json tool = tool_message(llm);
  ASSERT_TRUE(tool.is_object());
  EXPECT_EQ(tool["content"].get<std::string>().rfind("error: MCP server 'test'", 0), 0u)
      << tool.dump();
  EXPECT_TRUE(door.said("Done."));
}

INSTANTIATE_TEST_SUITE_P(Transports, McpClientTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "Http" : "Stdio";
                         });

TEST(McpClient, AServerThatCannotStartIsRetriedAndOffersNothing) {
  McpServerConfig config;
  config.name = "missing";
  config.command = "/nonexistent/mcp-server";
  ClientLog log;
  McpClient client(config, log.callback());
  EXPECT_TRUE(test::wait_until([&] { return log.contains("starting it again in 500 ms"); }, 10s));
  EXPECT_TRUE(client.list(kKitchen).empty());
  const ToolResult r = call(client, "echo", "{}");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.content.find("not running"), std::string::npos) << r.content;
}

// --- [[mcp.servers]] --------------------------------------------------------------------------

TEST(McpConfig, ServersOverStdioAndHttpWithTheirAllowLists) {
  BridgeConfig c;
  ASSERT_EQ(parse_bridge_config(R"(
[[mcp.servers]]
name = "files"
command = "npx"
args = ["-y", "server-filesystem", "/srv"]
env = { NODE_ENV = "production" }
rooms = ["office"]

[[mcp.servers]]
name = "home"
url = "http://127.0.0.1:8123/mcp"
headers = { Authorization = "Bearer t" }
nodes = ["kitchen-node"]
call_timeout_ms = 5000
restart_max_ms = 60000
)",
                                "t.toml", &c),
            "");
  c.server.allow_anonymous = true;
  EXPECT_EQ(validate(c), "");
  ASSERT_EQ(c.mcp_servers.size(), 2u);
  const McpServerConfig& files = c.mcp_servers[0];
  EXPECT_EQ(files.command, "npx");
  EXPECT_EQ(files.args, (std::vector<std::string>{"-y", "server-filesystem", "/srv"}));
  EXPECT_EQ(files.env.at("NODE_ENV"), "production");
  EXPECT_EQ(files.rooms, std::vector<std::string>{"office"});
  EXPECT_EQ(files.call_timeout_ms, 10000);
  const McpServerConfig& home = c.mcp_servers[1];
  EXPECT_EQ(home.url, "http://127.0.0.1:8123/mcp");
  EXPECT_EQ(home.headers.at("Authorization"), "Bearer t");
  EXPECT_EQ(home.nodes, std::vector<std::string>{"kitchen-node"});
  EXPECT_EQ(home.call_timeout_ms, 5000);
  EXPECT_EQ(home.restart_max_ms, 60000);
}

TEST(McpConfig, MistakesAreNamed) {
  auto problem = [](const std::string& toml) {
    BridgeConfig c;
    c.server.allow_anonymous = true;
    std::string e = parse_bridge_config(toml, "t.toml", &c);
    return e.empty() ? validate(c) : e;
  };
  EXPECT_EQ(problem("[[mcp.servers]]\nname = \"a\"\ncommand = \"x\"\nurl = \"http://h/mcp\"\n"),
            "mcp.servers 'a': needs either a command (stdio) or a url (Streamable HTTP)");
  EXPECT_EQ(problem("[[mcp.servers]]\nname = \"a\"\n"),
            "mcp.servers 'a': needs either a command (stdio) or a url (Streamable HTTP)");
  EXPECT_EQ(problem("[[mcp.servers]]\ncommand = \"x\"\n"),
            "mcp.servers: every server needs a name");
  EXPECT_EQ(problem("[[mcp.servers]]\nname = \"a\"\ncommand = \"x\"\n[[mcp.servers]]\nname = "
                    "\"a\"\ncommand = \"y\"\n"),
            "mcp.servers: the name 'a' is used twice");
  EXPECT_EQ(problem("[[mcp.servers]]\nname = \"a\"\ncommand = \"x\"\ncomand = \"y\"\n"),
            "t.toml:4: unknown setting mcp.servers.comand");
  EXPECT_EQ(problem("[[mcp.servers]]\nname = \"a\"\ncommand = \"x\"\nargs = \"-v\"\n"),
            "t.toml:4: mcp.servers.args: wrong type or range");
  EXPECT_NE(
      problem("[[mcp.servers]]\nname = \"a\"\nurl = \"htp:/x\"\n").find("mcp.servers 'a': url:"),
      std::string::npos);
  EXPECT_EQ(problem("[[mcp.servers]]\nname = \"a\"\ncommand = \"x\"\ncall_timeout_ms = 5\n"),
            "mcp.servers 'a': call_timeout_ms must be 100-600000");
}

// --- the messages, apart from any server ------------------------------------------------------

TEST(McpMessages, ResultsForTheModel) {
  namespace mcp = protocol::mcp;
  mcp::CallResult r;
  std::string error;
  ASSERT_TRUE(mcp::parse_call_result(
      R"({"content":[{"type":"text","text":"a"},{"type":"image","data":"x","mimeType":"image/png"},{"type":"text","text":"b"}]})",
      &r, &error));
  EXPECT_FALSE(r.is_error);
  EXPECT_EQ(r.text, "a\n[image omitted]\nb");
  ASSERT_TRUE(mcp::parse_call_result(R"({"content":[],"structuredContent":{"t":7}})", &r, &error));
  EXPECT_EQ(r.text, R"({"t":7})");
  EXPECT_FALSE(mcp::parse_call_result(R"([1])", &r, &error));

  std::vector<mcp::Message> messages;
  EXPECT_FALSE(mcp::parse_messages(R"({"id":1,"result":{}})", &messages, &error));  // no jsonrpc
  EXPECT_FALSE(mcp::parse_messages(R"({"jsonrpc":"2.0","id":"x","result":{}})", &messages, &error));
  ASSERT_TRUE(mcp::parse_messages(
      R"([{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"bad"}},{"jsonrpc":"2.0","method":"ping","id":"p1"}])",
      &messages, &error));
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(messages[0].is_error);
  EXPECT_EQ(messages[0].error_message, "bad");
  EXPECT_EQ(mcp::answer_request(messages[1]), R"({"jsonrpc":"2.0","id":"p1","result":{}})");
  std::string request;
  EXPECT_FALSE(mcp::tools_call_request(1, "x", "[1,2]", &request));
  ASSERT_TRUE(mcp::tools_call_request(9, "echo", R"({"text":"hi"})", &request));
  EXPECT_EQ(
      request,
      R"({"id":9,"jsonrpc":"2.0","method":"tools/call","params":{"arguments":{"text":"hi"},"name":"echo"}})");
}

}  // namespace
}  // namespace earshot::host
