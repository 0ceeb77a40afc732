// The node's configuration: a TOML file (default /etc/earshot/node.toml) whose every key can also
// be given as a command-line flag that overrides it. Both come from ONE option table
// (node_config.cpp), so the file, the flags, `--help` and docs/configuration.md cannot drift apart.
// Keys are unique across sections: key `device` in [capture] is the flag `--device`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/messages.h"

namespace earshot::device {

struct NodeConfig {
  // [node]
  std::string node_id = "node";
  std::string room;
  std::string mode = "conversation";  // "conversation" | "ambient"
  std::string language;               // hint for the host's STT, e.g. "en", "kn"
  // [host]
  std::string url;  // "": find the bridge over mDNS (device/bridge_setup.h)
  std::string token;
  std::string token_file;       // read the token from this file (keeps it out of the unit file)
  std::string ca_file;          // wss: pinned CA certificate (PEM); empty: the system store
  std::string tls_fingerprint;  // wss: accept only this certificate (SHA-256); set by pairing
  std::string state_dir = "/var/lib/earshot-node";  // a paired node's token (device/node_state.h)
  bool tls_insecure = false;
  int keepalive_s = 10;
  int backoff_max_ms = 30000;
  // [capture]
  std::string source = "alsa";  // "alsa" | "file" | "stdin"
  std::string device = "default";
  int sample_rate = 48000;  // requested; ALSA picks the nearest the card offers
  int channels = 1;
  int period_ms = 10;
  bool pace = false;     // alsa: keep real time ourselves (for unpaced test PCMs)
  std::string file;      // source = "file": WAV/FLAC
  bool realtime = true;  // file/stdin: pace to real time (false: as fast as possible)
  bool loop = false;
  int stdin_rate = 16000;  // source = "stdin": raw S16_LE
  int stdin_channels = 1;
  // [playback]
  std::string sink = "alsa";  // "alsa" | "wav" | "none"
  std::string playback_device = "default";
  std::string playback_file;  // sink = "wav"
  bool playback_pace = false;
  int jitter_ms = 60;
  // [dsp]
  int high_pass_hz = 80;
  bool echo_cancellation = true;  // uses playback as the echo reference; off when sink = "none"
  bool noise_suppression = false;
  int noise_suppression_level = 2;
  // [vad]
  double vad_threshold = 0.7;  // dsp::VadConfig::threshold; docs/vad.md
  int pre_roll_ms = 300;
  int hangover_ms = 400;
  int min_speech_ms = 40;
  // [opus]
  int bitrate = 32000;
  int complexity = 10;
  // [buffer]
  int buffer_seconds = 60;  // speech kept while the link is down
  // [debug]
  int metrics_port = 0;                       // the node's Prometheus endpoint; 0: off
  std::string metrics_address = "127.0.0.1";  // where it listens (device/metrics_endpoint.h)

  std::string record;  // also write what is sent to this Ogg Opus file
  std::string log_level = "info";
  bool log_plain = false;
  int drain_timeout_ms = 10000;  // at end of input: wait this long for the host to ack everything

  protocol::Mode protocol_mode() const;
};

struct ConfigResult {
  bool ok = false;
  std::string
      error;  // file:line and the key, e.g. "node.toml:3: capture.sample_rate: not an integer"
  bool help = false;   // --help was printed: exit 0
  bool check = false;  // --check: validate and exit
  std::string config_path;
};

// Parses TOML text into `config` (keys not present keep their values). Unknown keys are errors:
// a typo must not silently do nothing.
ConfigResult parse_config_toml(const std::string& text, const std::string& origin,
                               NodeConfig* config);

// argv: `--config FILE` (default /etc/earshot/node.toml if it exists), then every flag overrides.
ConfigResult load_config(int argc, const char* const* argv, NodeConfig* config);

// Cross-field validation (ranges, file/URL presence); returns "" when valid.
std::string validate(const NodeConfig& config);

// docs/configuration.md's table, generated from the option table (tools and tests use it).
std::string describe_options_markdown();

}  // namespace earshot::device
