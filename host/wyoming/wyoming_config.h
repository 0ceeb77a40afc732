// The bridge's Wyoming settings ([wyoming] and [[wyoming.satellites]] in bridge.toml; every key
// in docs/configuration.md, the why in docs/wyoming.md).
#pragma once

#include <string>
#include <vector>

namespace earshot::host {

// A Wyoming satellite the bridge connects to (as Home Assistant would): wyoming-satellite
// listens on port 10700 by default.
struct WyomingSatelliteConfig {
  std::string name;  // unique; its turns are stored under client id "wyoming-<name>"
  std::string host;
  int port = 10700;
  std::string room;  // shown on the status page; the satellite's own area if empty
  // Answer run-pipeline from the wake stage as if from asr (push-to-talk devices without a wake
  // word); off: such a request gets an error, since the bridge has no wake word detection.
  bool listen_without_wake_word = false;
};

struct WyomingConfig {
  // Serve the bridge's speech-to-text and text-to-speech as Wyoming services (Home Assistant's
  // "Wyoming Protocol" integration). Off by default: Wyoming has no authentication, so this opens
  // a port anyone on the network can use.
  bool serve = false;
  std::string listen = "0.0.0.0";
  int port = 10300;
  bool advertise = true;      // zeroconf _wyoming._tcp (Avahi) while serving
  std::string service_name;   // advertised name; empty: "Earshot on <hostname>"
  int max_connections = 8;    // concurrent service connections
  int max_audio_s = 60;       // longest audio one transcribe takes
  int max_text_chars = 2000;  // longest text one synthesize takes
  // Satellites: re-dial a lost one after 1 s, doubling up to this.
  int reconnect_max_ms = 30000;
  std::string language;  // not a key of its own: stt.language, for `info` and transcriptions
  std::vector<WyomingSatelliteConfig> satellites;
};

}  // namespace earshot::host
