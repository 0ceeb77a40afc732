// WyomingServices: the bridge's speech-to-text and text-to-speech engines served over the Wyoming
// protocol on a TCP port (10300 by default), so Home Assistant's Wyoming integration can use them
// as its STT and TTS (docs/wyoming.md). Off unless [wyoming] serve = true.
//
//   describe                                   → info (asr: the STT engine, tts: the TTS voice)
//   transcribe, audio-start, audio-chunk*, audio-stop → transcript
//   synthesize                                 → audio-start, audio-chunk*, audio-stop
//   ping                                       → pong
// Limits: max_connections at once (one more is told `error` busy and closed); max_audio_s of
// audio per transcribe; max_text_chars per synthesize. A request that breaks a limit, or an event
// we do not serve, gets an `error` event and the connection goes on; bad framing gets an `error`
// and the connection is closed (nothing after it can be trusted). One connection's failure
// touches no other.
//
// Threads: one acceptor; one thread per connection, which blocks in the engine calls (engines
// are thread-safe and shared with the conversations). stop() closes all and joins.
#pragma once

#include <memory>
#include <string>

#include "host/services.h"
#include "host/wyoming/wyoming_config.h"

namespace earshot::host {

class WyomingServices {
 public:
  WyomingServices(const WyomingConfig& config, Services& services);
  ~WyomingServices();
  WyomingServices(const WyomingServices&) = delete;
  WyomingServices& operator=(const WyomingServices&) = delete;

  bool start(std::string* error);
  int port() const;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace earshot::host
