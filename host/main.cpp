// earshot-bridge: the host side. Loads the config, starts the engines, the store and the server,
// and runs until SIGTERM/SIGINT, then drains: replies in flight finish, sessions close with 1001.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <mutex>

#include "host/bridge_check.h"
#include "host/bridge_config.h"
#include "host/client_tokens.h"
#include "host/clock.h"
#include "host/conversation/memory.h"
#include "host/engine_factory.h"
#include "host/engines/http_client.h"
#include "host/log.h"
#include "host/pairing_command.h"
#include "host/server.h"
#include "host/store/store.h"
#include "host/systemd_notify.h"
#include "host/tools/builtin_tools.h"
#include "host/tools/household_tools.h"
#include "host/tools/mcp_client.h"
#include "host/wyoming/satellite_link.h"
#include "host/wyoming/wyoming_services.h"
#include "host/wyoming/zeroconf.h"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) {
  g_stop.store(true);
}

earshot::host::LogLevel parse_level(const std::string& s) {
  using earshot::host::LogLevel;
  if (s == "error") return LogLevel::kError;
  if (s == "warning") return LogLevel::kWarning;
  if (s == "debug") return LogLevel::kDebug;
  return LogLevel::kInfo;
}

std::string ms(double v) {
  return v < 0 ? "-" : std::to_string(long(v + 0.5)) + " ms";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace earshot::host;
  http_client_init();  // before any thread (host/engines/http_client.h)
  CLI::App app{"earshot-bridge: the Earshot host (STT, LLM, TTS for room nodes)", "earshot-bridge"};
  std::string config_path;
  int port = -1;
  bool anonymous = false, check = false, print_turns = false;
  std::string store_path = "\x01";
  app.add_option("-c,--config", config_path, "TOML config (default /etc/earshot/bridge.toml)");
  app.add_option("--port", port, "override server.port");
  app.add_option("--store", store_path, "override store.path (\"\" for no store)");
  app.add_flag("--allow-anonymous", anonymous, "accept nodes without a token (local demos)");
  app.add_flag("--print-turns", print_turns, "print every turn (transcript, reply, timings)");
  app.add_flag("--check", check,
               "validate the config, check its files, load the engines and ask the engine "
               "servers, then exit (0: all well)");
  std::vector<std::string> tokens_args;
  std::string url_host;
  CLI::App* tokens = app.add_subcommand(
      "tokens", "browser clients' tokens: add NAME, list, revoke NAME (docs/bridge.md)");
  tokens->add_option("command", tokens_args, "add NAME | list | revoke NAME")->required();
  tokens->add_option("--url-host", url_host, "host name in the URL `tokens add` prints");
  std::vector<std::string> pair_args;
  int pair_window_s = 120;
  CLI::App* pair = app.add_subcommand(
      "pair",
      "pair a node: [CODE] opens a pairing window on the running bridge and confirms the code the "
      "node shows; list; remove NODE_ID (docs/deploy.md)");
  pair->add_option("command", pair_args, "[CODE] | list | remove NODE_ID");
  pair->add_option("--window", pair_window_s, "seconds the pairing window stays open (1-600)")
      ->check(CLI::Range(1, 600));
  std::vector<std::string> forget_args;
  CLI::App* forget = app.add_subcommand(
      "forget", "conversation memory: forget node NAME | room NAME | all (docs/bridge.md)");
  forget->add_option("what", forget_args, "node NAME | room NAME | all")->required();
  // A command line that does not parse is bad configuration: exit 2, like a bad config file
  // (systemd's RestartPreventExitStatus=2), not CLI11's own codes (104, 109, ...).
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints CLI11's message to stderr
    return 2;
  }

  BridgeConfig config;
  if (config_path.empty() && access("/etc/earshot/bridge.toml", R_OK) == 0)
    config_path = "/etc/earshot/bridge.toml";
  if (!config_path.empty()) {
    std::string error = load_bridge_config(config_path, &config);
    if (!error.empty()) {
      fprintf(stderr, "earshot-bridge: %s\n", error.c_str());
      return 2;
    }
  }
  if (port >= 0) config.server.port = port;
  if (anonymous) config.server.allow_anonymous = true;
  if (store_path != "\x01") config.store_path = store_path;
  if (std::string problem = validate(config); !problem.empty()) {
    fprintf(stderr, "earshot-bridge: config: %s\n", problem.c_str());
    return 2;
  }
  set_log_level(parse_level(config.log_level));
  if (check) return run_bridge_check(config);
  if (*tokens) return run_tokens_command(config, tokens_args, url_host);
  if (*forget) return run_forget_command(config, forget_args);
  if (*pair) return run_pair_command(config, pair_args, pair_window_s);

  Services services;
  services.turn = config.turn;
  services.reply = config.reply;
  services.tool_settings = config.tools;
  ToolRegistry tools;
  std::vector<ToolRegistry::Registration> builtin_tools;
  if (config.tools.clock) builtin_tools.push_back(tools.add(make_clock_tool()));
  // Each [[mcp.servers]] entry: started now, its tools offered once it is ready.
  McpClients mcp_clients =
      start_mcp_clients(config.mcp_servers, &tools, [](bool problem, const std::string& line) {
        if (problem)
          LOG_WARN("mcp", "%s", line.c_str());
        else
          LOG_INFO("mcp", "%s", line.c_str());
      });
  services.tools = &tools;
  std::unique_ptr<Store> store;
  std::string error;
  if (!config.store_path.empty()) {
    StoreOptions options;
    options.synchronous_full = config.store_synchronous == "full";
    store = Store::open(config.store_path, options, &error);
    if (!store) {
      fprintf(stderr, "earshot-bridge: store: %s\n", error.c_str());
      return 1;
    }
    services.store = store.get();
    services.recent_turns.prime(store->recent_turns(20));
  }
  services.delivery = std::make_unique<DeliveryLedger>(services.store);
  // Household tools: timers in the store, spoken to their room's clients when they go off. The
  // ringer outlives the server (declared before it), so no conversation outlives what it joined.
  RoomDirectory rooms;
  services.rooms = &rooms;
  TimerBook timer_book(services.store);
  HouseholdSettings household;
  household.grace_ms = int64_t(config.tools.timer_grace_s) * 1000;
  household.now_ms = [] { return wall_ms(); };
  household.log = [](const std::string& line) { LOG_INFO("timers", "%s", line.c_str()); };
  TimerRinger ringer(timer_book, rooms, household);
  ToolRegistry::Registration household_tools;
  if (config.tools.household) {
    timer_book.load();
    rooms.set_on_join([&ringer](const std::string&) { ringer.wake(); });
    household_tools = tools.add(make_household_tools(timer_book, ringer, rooms, household));
    ringer.start();
  }
  Engines engines;
  if (!make_engines(config, &engines, &error)) {
    fprintf(stderr, "earshot-bridge: %s\n", error.c_str());
    return 1;
  }
  services.stt = engines.stt.get();
  services.llm = engines.llm.get();
  services.tts = engines.tts.get();
  services.metrics.set_build_info(EARSHOT_VERSION, config.stt.engine, config.llm.engine,
                                  config.tts.engine);
  std::mutex print_mutex;
  if (print_turns) {
    services.on_turn = [&print_mutex](const TurnReport& r) {
      std::lock_guard<std::mutex> lock(print_mutex);
      printf("turn %s [%s]: heard \"%s\"\n", r.turn_id.c_str(), r.node_id.c_str(),
             r.transcript.c_str());
      printf("  reply%s: \"%s\"\n", r.interrupted ? " (interrupted; heard part)" : "",
             r.reply_heard.c_str());
      for (const ToolCallRecord& c : r.tool_calls)
        printf("  tool %s(%s) -> %s (%.0f ms)\n", c.name.c_str(), c.arguments.c_str(),
               c.result.c_str(), c.duration_ms);
      if (!r.error.empty()) printf("  error: %s\n", r.error.c_str());
      printf(
          "  after end of speech: turn end %s, transcript %s, first token %s, "
          "first sentence %s, first audio %s, first frame sent %s\n",
          ms(r.end_of_turn_ms).c_str(), ms(r.stt_final_ms).c_str(),
          ms(r.llm_first_token_ms).c_str(), ms(r.first_sentence_ms).c_str(),
          ms(r.tts_first_audio_ms).c_str(), ms(r.first_frame_sent_ms).c_str());
      fflush(stdout);
    };
    services.on_segment = [&print_mutex](const std::string& node, const std::string& text,
                                         const std::string& lang) {
      std::lock_guard<std::mutex> lock(print_mutex);
      printf("segment [%s] (%s): \"%s\"\n", node.c_str(), lang.c_str(), text.c_str());
      fflush(stdout);
    };
  }

  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  // Block the stop signals in every thread; main() waits for them with sigsuspend, which cannot
  // miss one that arrives between the check and the wait.
  sigset_t stop_signals, previous;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);

  BridgeServer server(config.server, services);
  if (!server.start(&error)) {
    fprintf(stderr, "earshot-bridge: %s\n", error.c_str());
    return 1;
  }
  // Nodes with no URL configured find the bridge over mDNS (docs/deploy.md).
  ZeroconfAdvertiser earshot_zeroconf;
  if (config.server.advertise) {
    char host[256] = "bridge";
    gethostname(host, sizeof host - 1);
    const bool tls = !config.server.tls_cert.empty();
    earshot_zeroconf.start(
        {config.server.service_name.empty() ? std::string("Earshot on ") + host
                                            : config.server.service_name,
         "_earshot._tcp",
         server.port(),
         {"protocol=earshot.v1", "version=1", std::string("tls=") + (tls ? "1" : "0"), "path=/"},
         "the bridge is"});
  }
  // Wyoming (docs/wyoming.md): the engines as services for Home Assistant, advertised over
  // zeroconf, and the satellites the bridge dials.
  config.wyoming.language = config.stt.language;
  WyomingServices wyoming_services(config.wyoming, services);
  ZeroconfAdvertiser zeroconf;
  if (config.wyoming.serve) {
    if (!wyoming_services.start(&error)) {
      fprintf(stderr, "earshot-bridge: %s\n", error.c_str());
      return 1;
    }
    if (config.wyoming.advertise) {
      char host[256] = "bridge";
      gethostname(host, sizeof host - 1);
      zeroconf.start(config.wyoming.service_name.empty() ? std::string("Earshot on ") + host
                                                         : config.wyoming.service_name,
                     wyoming_services.port());
    }
  }
  WyomingSatellites satellites(config.wyoming, services);
  satellites.start();

  printf("earshot-bridge: listening on port %d (stt=%s, llm=%s, tts=%s)\n", server.port(),
         engines.stt->name().c_str(), engines.llm->name().c_str(), engines.tts->name().c_str());
  if (config.wyoming.serve)
    printf("earshot-bridge: wyoming services on port %d\n", wyoming_services.port());
  fflush(stdout);
  systemd_notify_ready();
  while (!g_stop.load())
    sigsuspend(&previous);
  LOG_INFO("bridge", "SIGTERM: draining");
  systemd_notify_stopping();
  satellites.stop();  // their replies in flight end with the connection (pause-satellite first)
  zeroconf.stop();
  earshot_zeroconf.stop();
  wyoming_services.stop();
  server.drain_and_stop(std::chrono::milliseconds(config.drain_timeout_ms));
  return 0;
}
