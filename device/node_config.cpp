#include "device/node_config.h"

#include <toml++/toml.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <variant>

#include "device/link/bridge_url.h"

namespace earshot::device {
namespace {

// One row per setting: where it lives in TOML, its flag, its help, and the field it fills.
struct Option {
  const char* section;
  const char* key;
  const char* help;
  std::variant<std::string NodeConfig::*, int NodeConfig::*, bool NodeConfig::*,
               double NodeConfig::*>
      field;
};

const std::vector<Option>& options() {
  static const std::vector<Option> table = {
      {"node", "node_id", "stable id of this node ([A-Za-z0-9._-], at most 64)",
       &NodeConfig::node_id},
      {"node", "room", "room name the host stores with what was said", &NodeConfig::room},
      {"node", "mode", "conversation (answers) or ambient (transcribe and store only)",
       &NodeConfig::mode},
      {"node", "language", "language hint for speech recognition, e.g. en, kn",
       &NodeConfig::language},
      {"host", "url",
       "bridge address: ws://host:port/ or wss://host:port/; empty: find it over mDNS",
       &NodeConfig::url},
      {"host", "token", "bearer token (prefer token_file)", &NodeConfig::token},
      {"host", "token_file", "file holding the bearer token", &NodeConfig::token_file},
      {"host", "state_dir",
       "where a node without a token keeps the one it gets by pairing (and the pinned certificate)",
       &NodeConfig::state_dir},
      {"host", "tls_fingerprint",
       "wss: accept only the bridge certificate with this SHA-256 fingerprint (pairing pins it)",
       &NodeConfig::tls_fingerprint},
      {"host", "ca_file", "wss: pinned CA certificate (PEM); empty uses the system store",
       &NodeConfig::ca_file},
      {"host", "tls_insecure", "wss: accept any certificate (testing only)",
       &NodeConfig::tls_insecure},
      {"host", "keepalive_s", "seconds between keepalive pings", &NodeConfig::keepalive_s},
      {"host", "backoff_max_ms", "longest wait between reconnect attempts",
       &NodeConfig::backoff_max_ms},
      {"capture", "source", "alsa, file or stdin", &NodeConfig::source},
      {"capture", "device", "ALSA capture device", &NodeConfig::device},
      {"capture", "sample_rate", "requested capture rate (the card's nearest is used)",
       &NodeConfig::sample_rate},
      {"capture", "channels", "requested capture channels (downmixed to mono)",
       &NodeConfig::channels},
      {"capture", "period_ms", "ALSA period", &NodeConfig::period_ms},
      {"capture", "pace", "ALSA: keep real time ourselves (for unpaced test PCMs)",
       &NodeConfig::pace},
      {"capture", "file", "source=file: WAV or FLAC to read", &NodeConfig::file},
      {"capture", "realtime", "file/stdin: read at real-time speed", &NodeConfig::realtime},
      {"capture", "loop", "file: start again at the end", &NodeConfig::loop},
      {"capture", "stdin_rate", "source=stdin: sample rate of the raw S16_LE input",
       &NodeConfig::stdin_rate},
      {"capture", "stdin_channels", "source=stdin: channels of the raw input",
       &NodeConfig::stdin_channels},
      {"playback", "sink", "alsa, wav or none", &NodeConfig::sink},
      {"playback", "playback_device", "ALSA playback device", &NodeConfig::playback_device},
      {"playback", "playback_file", "sink=wav: file to write replies to",
       &NodeConfig::playback_file},
      {"playback", "playback_pace", "keep real time ourselves (for unpaced PCMs and files)",
       &NodeConfig::playback_pace},
      {"playback", "jitter_ms", "reply audio buffered before playing starts",
       &NodeConfig::jitter_ms},
      {"dsp", "high_pass_hz", "high-pass cutoff (removes DC and rumble); 0 turns it off",
       &NodeConfig::high_pass_hz},
      {"dsp", "echo_cancellation", "cancel the node's own playback from the microphone",
       &NodeConfig::echo_cancellation},
      {"dsp", "noise_suppression", "suppress stationary noise before the VAD and encoder",
       &NodeConfig::noise_suppression},
      {"dsp", "noise_suppression_level", "0 (mild) to 3 (strongest)",
       &NodeConfig::noise_suppression_level},
      {"vad", "vad_threshold", "speech score threshold, 0..1", &NodeConfig::vad_threshold},
      {"vad", "pre_roll_ms", "audio kept from before the VAD fires", &NodeConfig::pre_roll_ms},
      {"vad", "hangover_ms", "silence before a segment ends", &NodeConfig::hangover_ms},
      {"vad", "min_speech_ms", "speech needed before a segment starts", &NodeConfig::min_speech_ms},
      {"opus", "bitrate", "Opus bitrate, bit/s", &NodeConfig::bitrate},
      {"opus", "complexity", "Opus complexity 0..10 (lower costs less CPU)",
       &NodeConfig::complexity},
      {"buffer", "buffer_seconds", "speech kept while the host is unreachable",
       &NodeConfig::buffer_seconds},
      {"metrics", "metrics_port",
       "serve the node's counters for Prometheus at http://ADDRESS:PORT/metrics; 0: off",
       &NodeConfig::metrics_port},
      {"metrics", "metrics_address",
       "address the metrics endpoint listens on (127.0.0.1: this machine only)",
       &NodeConfig::metrics_address},
      {"debug", "record", "also write what is sent to this Ogg Opus file", &NodeConfig::record},
      {"debug", "log_level", "error, warning, info or debug", &NodeConfig::log_level},
      {"debug", "log_plain", "plain log lines (no journald priority prefix)",
       &NodeConfig::log_plain},
      {"debug", "drain_timeout_ms", "at end of input, wait this long for acknowledgements",
       &NodeConfig::drain_timeout_ms},
  };
  return table;
}

// Keys are unique across sections, so a key's flag is simply --key with dashes.
std::string flag_name(const Option& o) {
  std::string name = o.key;
  for (char& c : name)
    if (c == '_') c = '-';
  return "--" + name;
}

const char* type_name(const Option& o) {
  switch (o.field.index()) {
    case 0:
      return "string";
    case 1:
      return "integer";
    case 2:
      return "boolean";
    default:
      return "number";
  }
}

std::string position(const toml::source_region& where, const std::string& origin) {
  return origin + ":" + std::to_string(where.begin.line);
}

}  // namespace

protocol::Mode NodeConfig::protocol_mode() const {
  return mode == "ambient" ? protocol::Mode::kAmbient : protocol::Mode::kConversation;
}

ConfigResult parse_config_toml(const std::string& text, const std::string& origin,
                               NodeConfig* config) {
  ConfigResult result;
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    result.error = position(e.source(), origin) + ": " + std::string(e.description());
    return result;
  }
  for (auto&& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    const toml::table* section_table = section_node.as_table();
    if (!section_table) {
      result.error =
          position(section_node.source(), origin) + ": '" + section + "' must be a [section]";
      return result;
    }
    for (auto&& entry : *section_table) {
      const toml::key& key = entry.first;
      const toml::node& value = entry.second;  // a plain reference: lambdas may capture it
      const Option* option = nullptr;
      for (const Option& o : options())
        if (section == o.section && key.str() == o.key) option = &o;
      const std::string name = section + "." + std::string(key.str());
      if (!option) {
        result.error = position(value.source(), origin) + ": unknown setting " + name;
        return result;
      }
      bool ok = std::visit(
          [&](auto member) {
            using T = std::decay_t<decltype(config->*member)>;
            if constexpr (std::is_same_v<T, std::string>) {
              if (auto v = value.template value_exact<std::string>())
                return config->*member = *v, true;
            } else if constexpr (std::is_same_v<T, bool>) {
              if (auto v = value.template value_exact<bool>()) return config->*member = *v, true;
            } else if constexpr (std::is_same_v<T, int>) {
              if (auto v = value.template value_exact<int64_t>()) {
                if (*v < INT32_MIN || *v > INT32_MAX) return false;
                return config->*member = int(*v), true;
              }
            } else {
              if (auto v = value.template value<double>()) return config->*member = *v, true;
            }
            return false;
          },
          option->field);
      if (!ok) {
        result.error =
            position(value.source(), origin) + ": " + name + ": expected " + type_name(*option);
        return result;
      }
    }
  }
  result.ok = true;
  return result;
}

ConfigResult load_config(int argc, const char* const* argv, NodeConfig* config) {
  ConfigResult result;
  CLI::App app{"earshot-node: the Earshot room microphone appliance", "earshot-node"};
  app.set_help_flag("-h,--help", "show this help");
  std::string config_path;
  bool check = false;
  app.add_option("-c,--config", config_path, "TOML config file (default /etc/earshot/node.toml)");
  app.add_flag("--check", check, "validate the config and the audio devices, then exit");
  bool reference = false;
  app.add_flag("--config-reference", reference,
               "print every setting as the Markdown table in docs/configuration.md, then exit");

  // Flags write into a scratch copy; only flags actually given are applied over the file.
  NodeConfig flags;
  std::vector<std::pair<const Option*, CLI::Option*>> given;
  for (const Option& o : options()) {
    std::string help = std::string(o.help) + "  [" + o.section + "] " + o.key;
    CLI::Option* opt = std::visit(
        [&](auto member) -> CLI::Option* {
          using T = std::decay_t<decltype(flags.*member)>;
          if constexpr (std::is_same_v<T, bool>) {
            // --flag means true; --flag=false also works.
            return app.add_flag(flag_name(o), flags.*member, help);
          } else {
            return app.add_option(flag_name(o), flags.*member, help);
          }
        },
        o.field);
    given.emplace_back(&o, opt);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    app.exit(e);
    result.help = true;
    return result;
  } catch (const CLI::ParseError& e) {
    result.error = e.what();
    return result;
  }
  if (reference) {
    fputs(describe_options_markdown().c_str(), stdout);
    result.help = true;
    return result;
  }

  if (config_path.empty() && access("/etc/earshot/node.toml", R_OK) == 0)
    config_path = "/etc/earshot/node.toml";
  if (!config_path.empty()) {
    std::ifstream in(config_path);
    if (!in) {
      result.error = "cannot read config file " + config_path;
      return result;
    }
    std::stringstream text;
    text << in.rdbuf();
    ConfigResult parsed = parse_config_toml(text.str(), config_path, config);
    if (!parsed.ok) return parsed;
  }
  for (auto& [o, opt] : given) {
    if (opt->count() == 0) continue;
    std::visit([&](auto member) { config->*member = flags.*member; }, o->field);
  }
  if (!config->token_file.empty()) {
    std::ifstream in(config->token_file);
    if (!in) {
      result.error = "cannot read token file " + config->token_file;
      return result;
    }
    std::getline(in, config->token);
  }
  result.ok = true;
  result.check = check;
  result.config_path = config_path;
  return result;
}

std::string validate(const NodeConfig& c) {
  auto bad = [](const std::string& what) { return what; };
  if (!protocol::is_valid_id(c.node_id))
    return bad("node.node_id: must be 1-64 of [A-Za-z0-9._-], got '" + c.node_id + "'");
  if (c.mode != "conversation" && c.mode != "ambient")
    return bad("node.mode: must be conversation or ambient, got '" + c.mode + "'");
  BridgeUrl url;
  std::string url_error;
  if (!c.url.empty() && !parse_bridge_url(c.url, &url, &url_error))
    return bad("host.url: " + url_error);
  if (c.source != "alsa" && c.source != "file" && c.source != "stdin")
    return bad("capture.source: must be alsa, file or stdin, got '" + c.source + "'");
  if (c.source == "file" && c.file.empty()) return bad("capture.file: required when source = file");
  if (c.sample_rate < 8000 || c.sample_rate > 192000)
    return bad("capture.sample_rate: " + std::to_string(c.sample_rate) +
               " Hz is not supported (8000-192000)");
  if (c.stdin_rate < 8000 || c.stdin_rate > 192000)
    return bad("capture.stdin_rate: " + std::to_string(c.stdin_rate) +
               " Hz is not supported (8000-192000)");
  if (c.channels < 1 || c.channels > 32) return bad("capture.channels: must be 1-32");
  if (c.stdin_channels < 1 || c.stdin_channels > 32)
    return bad("capture.stdin_channels: must be 1-32");
  if (c.period_ms < 2 || c.period_ms > 100) return bad("capture.period_ms: must be 2-100");
  if (c.sink != "alsa" && c.sink != "wav" && c.sink != "none")
    return bad("playback.sink: must be alsa, wav or none, got '" + c.sink + "'");
  if (c.sink == "wav" && c.playback_file.empty())
    return bad("playback.playback_file: required when sink = wav");
  if (c.jitter_ms < 0 || c.jitter_ms > 2000) return bad("playback.jitter_ms: must be 0-2000");
  if (c.vad_threshold < 0 || c.vad_threshold > 1) return bad("vad.vad_threshold: must be 0-1");
  if (c.pre_roll_ms < 0 || c.pre_roll_ms > 2000) return bad("vad.pre_roll_ms: must be 0-2000");
  if (c.hangover_ms < 20 || c.hangover_ms > 5000) return bad("vad.hangover_ms: must be 20-5000");
  if (c.min_speech_ms < 0 || c.min_speech_ms > 2000)
    return bad("vad.min_speech_ms: must be 0-2000");
  if (c.bitrate < 6000 || c.bitrate > 128000) return bad("opus.bitrate: must be 6000-128000");
  if (c.complexity < 0 || c.complexity > 10) return bad("opus.complexity: must be 0-10");
  if (c.buffer_seconds < 1 || c.buffer_seconds > 3600)
    return bad("buffer.buffer_seconds: must be 1-3600");
  if (c.noise_suppression_level < 0 || c.noise_suppression_level > 3)
    return bad("dsp.noise_suppression_level: must be 0-3");
  if (c.high_pass_hz < 0 || c.high_pass_hz > 1000) return bad("dsp.high_pass_hz: must be 0-1000");
  if (c.metrics_port < 0 || c.metrics_port > 65535)
    return bad("metrics.metrics_port: must be 0-65535");
  if (c.log_level != "error" && c.log_level != "warning" && c.log_level != "info" &&
      c.log_level != "debug")
    return bad("debug.log_level: must be error, warning, info or debug");
  return "";
}

std::string describe_options_markdown() {
  std::ostringstream out;
  out << "| section | key | flag | type | default | meaning |\n|---|---|---|---|---|---|\n";
  NodeConfig defaults;
  for (const Option& o : options()) {
    std::string def = std::visit(
        [&](auto member) -> std::string {
          using T = std::decay_t<decltype(defaults.*member)>;
          if constexpr (std::is_same_v<T, std::string>) {
            return (defaults.*member).empty() ? "" : "`\"" + defaults.*member + "\"`";
          } else if constexpr (std::is_same_v<T, bool>) {
            return defaults.*member ? "`true`" : "`false`";
          } else {
            std::ostringstream s;
            s << "`" << (defaults.*member) << "`";
            return s.str();
          }
        },
        o.field);
    out << "| `[" << o.section << "]` | `" << o.key << "` | `" << flag_name(o) << "` | "
        << type_name(o) << " | " << def << " | " << o.help << " |\n";
  }
  return out.str();
}

}  // namespace earshot::device
