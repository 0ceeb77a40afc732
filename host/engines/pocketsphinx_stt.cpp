// PocketsphinxStt: incremental recognition with pocketsphinx 0.8 and Debian's en-us model.
#include <pocketsphinx.h>
#include <sphinxbase/err.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "host/engines/embedded_engines.h"

namespace earshot::host {
namespace {

constexpr const char* kDefaultModelDir = "/usr/share/pocketsphinx/model/en-us";

// Every utterance gets a fresh decoder. A used one carries state into the next utterance (live
// cepstral mean, noise estimate, pre-speech buffer), so the same words would be recognised
// differently depending on what some other room said before — measurably so on our test speech.
// A model load takes ~170 ms of CPU, so a background thread keeps spare decoders loaded and frees
// used ones, off every session's path. A decoder holds a whole model (~65 MB, most of it the
// language model), so at most `max_live` are handed out at once, bridge-wide: a flood of
// utterances waits for decoders instead of loading one each (the fault probe saw 1.2 GB with five
// sessions), and past a wait of kTakeWaitMs the new utterance fails as overloaded.
constexpr auto kTakeWait = std::chrono::seconds(10);

class DecoderPool {
 public:
  DecoderPool(std::string model_dir, size_t spares, size_t max_live)
      : dir_(std::move(model_dir)), spares_(spares), max_live_(max_live) {}
  ~DecoderPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
    for (ps_decoder_t* d : ready_)
      ps_free(d);
    for (ps_decoder_t* d : used_)
      ps_free(d);
  }
  // Loads the first decoder now (so a missing model is a start-up error) and starts the worker.
  bool start(std::string* error) {
    ps_decoder_t* d = load(error);
    if (!d) return false;
    ready_.push_back(d);
    worker_ = std::thread([this] { run(); });
    return true;
  }
  ps_decoder_t* take(std::string* error) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!cv_.wait_for(lock, kTakeWait, [&] { return live_ < max_live_ || stop_; }) || stop_) {
        *error = "speech recognition is overloaded: " + std::to_string(max_live_) +
                 " utterances are being decoded (stt.max_streams)";
        return nullptr;
      }
      ++live_;
      if (!ready_.empty()) {
        ps_decoder_t* d = ready_.back();
        ready_.pop_back();
        cv_.notify_all();  // load a replacement
        return d;
      }
    }
    ps_decoder_t* d = load(error);  // more utterances at once than spares: load one here
    if (!d) {
      std::lock_guard<std::mutex> lock(mutex_);
      --live_;
      cv_.notify_all();
    }
    return d;
  }
  // A used decoder still counts as live until the worker has freed it: under load the worker
  // lags, and its memory is only back once it has.
  void give_back(ps_decoder_t* d) {
    std::lock_guard<std::mutex> lock(mutex_);
    used_.push_back(d);
    cv_.notify_all();
  }

 private:
  ps_decoder_t* load(std::string* error) {
    // sphinxbase logs to one process-wide FILE*. A "-logfn" per decoder made every load fopen a
    // new one and fclose the previous — possibly while another thread loading or decoding was
    // writing to it (ThreadSanitizer caught the worker and a session thread doing this at once).
    // Logging is switched off once, before the first decoder, and never touched again.
    static std::once_flag log_off;
    std::call_once(log_off, [] { err_set_logfp(nullptr); });
    const std::string hmm = dir_ + "/en-us", lm = dir_ + "/en-us.lm.bin",
                      dict = dir_ + "/cmudict-en-us.dict";
    cmd_ln_t* config = cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-lm", lm.c_str(),
                                   "-dict", dict.c_str(), nullptr);
    ps_decoder_t* d = config ? ps_init(config) : nullptr;
    if (config) cmd_ln_free_r(config);
    if (!d) *error = "pocketsphinx could not load its model from " + dir_;
    return d;
  }
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      if (!used_.empty()) {
        ps_decoder_t* d = used_.back();
        used_.pop_back();
        lock.unlock();
        ps_free(d);
        lock.lock();
        --live_;
        cv_.notify_all();
        continue;
      }
      if (ready_.size() < spares_) {
        lock.unlock();
        std::string error;
        ps_decoder_t* d = load(&error);
        lock.lock();
        if (d) ready_.push_back(d);
        continue;
      }
      cv_.wait(lock);
    }
  }

  std::string dir_;
  size_t spares_;
  size_t max_live_;
  size_t live_ = 0;  // handed out, or given back and not yet freed
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<ps_decoder_t*> ready_;  // fresh, never used
  std::vector<ps_decoder_t*> used_;   // to free
  std::thread worker_;
};

class PocketsphinxStream : public SttStream {
 public:
  PocketsphinxStream(DecoderPool& pool, ps_decoder_t* d, std::string error)
      : pool_(pool), d_(d), error_(std::move(error)) {
    if (d_ && ps_start_utt(d_) < 0) error_ = "pocketsphinx could not start an utterance";
  }
  ~PocketsphinxStream() override {
    if (!d_) return;
    if (!finished_) ps_end_utt(d_);
    pool_.give_back(d_);
  }
  void feed(const float* samples, size_t count) override {
    if (!d_ || !error_.empty()) return;
    int16_t pcm[1600];
    while (count > 0) {
      const size_t n = std::min(count, sizeof pcm / sizeof pcm[0]);
      for (size_t i = 0; i < n; ++i)
        pcm[i] = int16_t(std::clamp(samples[i], -1.0f, 1.0f) * 32767.0f);
      ps_process_raw(d_, pcm, n, FALSE, FALSE);  // incremental: the search runs as audio comes
      samples += n;
      count -= n;
    }
  }
  std::optional<std::string> partial() override {
    if (!d_ || !error_.empty()) return std::nullopt;
    int32 score = 0;
    const char* hyp = ps_get_hyp(d_, &score);
    std::string text = hyp ? hyp : "";
    if (text.empty() || text == last_partial_) return std::nullopt;
    last_partial_ = text;
    return text;
  }
  SttResult finish(const CancelToken&) override {
    SttResult r;
    if (!error_.empty()) {
      r.error = error_;
      return r;
    }
    ps_end_utt(d_);
    finished_ = true;
    int32 score = 0;
    const char* hyp = ps_get_hyp(d_, &score);
    r.ok = true;
    r.text = hyp ? hyp : "";
    r.language = "en";
    return r;
  }

 private:
  DecoderPool& pool_;
  ps_decoder_t* d_;
  std::string error_;
  std::string last_partial_;
  bool finished_ = false;
};

class PocketsphinxStt : public SttEngine {
 public:
  PocketsphinxStt(std::string dir, size_t max_streams)
      : pool_(std::move(dir), /*spares=*/2, max_streams) {}
  std::string name() const override { return "pocketsphinx(en-us)"; }
  std::unique_ptr<SttStream> start(const std::string&) override {
    std::string error;
    ps_decoder_t* d = pool_.take(&error);
    return std::make_unique<PocketsphinxStream>(pool_, d, error);
  }
  DecoderPool pool_;
};

}  // namespace

std::unique_ptr<SttEngine> make_pocketsphinx_stt(const EngineConfig& config, std::string* error) {
  auto engine = std::make_unique<PocketsphinxStt>(
      config.model_dir.empty() ? kDefaultModelDir : config.model_dir,
      size_t(std::max(1, config.max_streams)));
  if (!engine->pool_.start(error)) return nullptr;
  return engine;
}

}  // namespace earshot::host
