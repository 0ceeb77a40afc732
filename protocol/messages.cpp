#include "protocol/messages.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace earshot::protocol {
namespace {

using json = nlohmann::json;
constexpr uint64_t kMaxSafeInteger = (uint64_t(1) << 53) - 1;
constexpr uint64_t kMaxPcm16Bytes = 1275;  // protocol/audio_frame.h kMaxOpusPacket

// Reads fields of one JSON object, recording the first problem as "<type>.<field>: <what>".
class Reader {
 public:
  Reader(const json& object, const char* type) : o_(object), type_(type) {}
  const std::string& error() const { return error_; }
  bool ok() const { return error_.empty(); }

  void fail(const std::string& field, const std::string& what) {
    if (error_.empty()) error_ = std::string(type_) + "." + field + ": " + what;
  }
  const json* find(const char* field, bool required) {
    auto it = o_.find(field);
    if (it == o_.end() || it->is_null()) {
      if (required) fail(field, "missing");
      return nullptr;
    }
    return &*it;
  }
  std::string str(const char* field, bool required = true, size_t max = kMaxTextLength) {
    const json* v = find(field, required);
    if (!v) return {};
    if (!v->is_string()) return fail(field, "must be a string"), std::string();
    const std::string& s = v->get_ref<const std::string&>();
    if (s.size() > max)
      return fail(field, "longer than " + std::to_string(max) + " bytes"), std::string();
    return s;
  }
  std::optional<std::string> opt_str(const char* field, size_t max = kMaxTextLength) {
    if (!find(field, false)) return std::nullopt;
    return str(field, true, max);
  }
  std::string id(const char* field) {
    std::string s = str(field, true, kMaxIdLength);
    if (ok() && !is_valid_id(s)) fail(field, "must be 1-64 characters of [A-Za-z0-9._-]");
    return s;
  }
  uint64_t uint(const char* field, bool required = true) {
    const json* v = find(field, required);
    if (!v) return 0;
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0))
      return fail(field, "must be a non-negative integer"), 0;
    const uint64_t n = v->get<uint64_t>();
    if (n > kMaxSafeInteger) return fail(field, "must be below 2^53"), 0;
    return n;
  }
  std::optional<uint64_t> opt_uint(const char* field) {
    if (!find(field, false)) return std::nullopt;
    return uint(field);
  }
  bool boolean(const char* field, bool required, bool fallback = false) {
    const json* v = find(field, required);
    if (!v) return fallback;
    if (!v->is_boolean()) return fail(field, "must be true or false"), fallback;
    return v->get<bool>();
  }
  Mode mode(const char* field, bool required) {
    const json* v = find(field, required);
    if (!v) return Mode::kConversation;
    if (v->is_string() && *v == "conversation") return Mode::kConversation;
    if (v->is_string() && *v == "ambient") return Mode::kAmbient;
    fail(field, "must be \"conversation\" or \"ambient\"");
    return Mode::kConversation;
  }
  AudioParams audio(const char* field, bool required) {
    AudioParams a;
    const json* v = find(field, required);
    if (!v) return a;
    if (!v->is_object()) return fail(field, "must be an object"), a;
    Reader r(*v, (std::string(type_) + "." + field).c_str());
    a.codec = r.str("codec", true, 16);
    const uint64_t rate = r.uint("sample_rate");
    const uint64_t channels = r.uint("channels");
    const uint64_t frame_ms = r.uint("frame_ms");
    if (r.ok() && a.codec != kCodecOpus && a.codec != kCodecPcm16)
      r.fail("codec", "must be \"opus\" or \"pcm16\"");
    static const uint64_t kRates[] = {8000, 12000, 16000, 24000, 48000};
    if (r.ok() && std::find(std::begin(kRates), std::end(kRates), rate) == std::end(kRates))
      r.fail("sample_rate", "must be one of 8000, 12000, 16000, 24000, 48000");
    if (r.ok() && (channels < 1 || channels > 2)) r.fail("channels", "must be 1 or 2");
    if (r.ok() && frame_ms != 10 && frame_ms != 20 && frame_ms != 40 && frame_ms != 60)
      r.fail("frame_ms", "must be 10, 20, 40 or 60");
    // A pcm16 frame travels whole in one audio frame (payload at most 1275 bytes).
    if (r.ok() && a.codec == kCodecPcm16 && rate * frame_ms / 1000 * channels * 2 > kMaxPcm16Bytes)
      r.fail("frame_ms", "a pcm16 frame must fit 1275 bytes (16 kHz mono: 10 or 20 ms)");
    if (!r.ok()) {
      if (error_.empty()) error_ = r.error();
      return a;
    }
    a.sample_rate = uint32_t(rate);
    a.channels = uint32_t(channels);
    a.frame_ms = uint32_t(frame_ms);
    return a;
  }

 private:
  const json& o_;
  std::string type_;
  std::string error_;
};

json audio_json(const AudioParams& a) {
  return {{"codec", a.codec},
          {"sample_rate", a.sample_rate},
          {"channels", a.channels},
          {"frame_ms", a.frame_ms}};
}

// Every message type, once: its wire name and which way it may travel, in the order of the
// Message variant (the static_assert below holds them together). Readers and writers are found
// by the variant index.
enum Travels : uint8_t { kUp = 1, kDown = 2, kBoth = 3 };  // node->host, host->node
struct MessageType {
  const char* name;
  Travels travels;
};
constexpr MessageType kMessageTypes[] = {
    {"hello", kUp},                  // Hello
    {"speech_start", kUp},           // SpeechStart
    {"speech_end", kUp},             // SpeechEnd
    {"interrupt", kBoth},            // Interrupt
    {"playback_done", kUp},          // PlaybackDone
    {"mode", kBoth},                 // ModeChange
    {"welcome", kDown},              // Welcome
    {"ack", kDown},                  // Ack
    {"transcript", kDown},           // Transcript
    {"reply_text", kDown},           // ReplyText
    {"speech_out_start", kDown},     // SpeechOutStart
    {"speech_out_sentence", kDown},  // SpeechOutSentence
    {"speech_out_end", kDown},       // SpeechOutEnd
    {"error", kDown},                // Error
    {"turn_timings", kDown},         // TurnTimings
};
static_assert(sizeof kMessageTypes / sizeof kMessageTypes[0] == std::variant_size_v<Message>);

// The variant index of message type T.
template <typename T, size_t I = 0>
constexpr size_t index_of() {
  if constexpr (std::is_same_v<std::variant_alternative_t<I, Message>, T>) {
    return I;
  } else {
    return index_of<T, I + 1>();
  }
}

// The variant index of the type named `name`, or nullopt.
std::optional<size_t> find_type(const std::string& name) {
  for (size_t i = 0; i < sizeof kMessageTypes / sizeof kMessageTypes[0]; ++i)
    if (name == kMessageTypes[i].name) return i;
  return std::nullopt;
}

std::optional<Message> read_message(size_t type, Reader& r, const json& o) {
  if (type == index_of<Hello>()) {
    Hello m;
    const json* versions = r.find("versions", true);
    if (versions) {
      if (!versions->is_array() || versions->empty() || versions->size() > 16) {
        r.fail("versions", "must be a non-empty array of protocol versions");
      } else {
        m.versions.clear();
        for (const json& v : *versions) {
          if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 1000) {
            r.fail("versions", "must hold positive integers");
            break;
          }
          m.versions.push_back(int(v.get<int64_t>()));
        }
      }
    }
    m.node_id = r.id("node_id");
    m.token = r.opt_str("token", 1024);
    m.room = r.opt_str("room", 128);
    m.audio = r.audio("audio", true);
    if (const json* caps = r.find("capabilities", false)) {
      if (!caps->is_array() || caps->size() > 32) {
        r.fail("capabilities", "must be an array of strings");
      } else {
        for (const json& c : *caps) {
          if (!c.is_string() || c.get_ref<const std::string&>().size() > 64) {
            r.fail("capabilities", "must be an array of short strings");
            break;
          }
          m.capabilities.push_back(c.get<std::string>());
        }
      }
    }
    m.mode = r.mode("mode", false);
    m.language = r.opt_str("language", 35);
    return m;
  }
  if (type == index_of<SpeechStart>()) return SpeechStart{r.uint("seq"), r.uint("timestamp")};
  if (type == index_of<SpeechEnd>()) return SpeechEnd{r.uint("seq"), r.uint("timestamp")};
  if (type == index_of<Interrupt>()) {
    Interrupt m;
    m.reply_id = r.id("reply_id");
    m.played_ms = r.uint("played_ms", false);
    m.played_seq = r.opt_uint("played_seq");
    return m;
  }
  if (type == index_of<PlaybackDone>()) {
    PlaybackDone m;
    m.reply_id = r.id("reply_id");
    m.played_ms = r.uint("played_ms");
    return m;
  }
  if (type == index_of<ModeChange>()) return ModeChange{r.mode("mode", true)};
  if (type == index_of<Welcome>()) {
    Welcome m;
    const uint64_t v = r.uint("version");
    if (r.ok() && (v < 1 || v > 1000)) r.fail("version", "must be a protocol version");
    m.version = int(v);
    m.session_id = r.id("session_id");
    m.audio = r.audio("audio", true);
    m.mode = r.mode("mode", false);
    m.acked_seq = r.opt_uint("acked_seq");
    return m;
  }
  if (type == index_of<Ack>()) return Ack{r.uint("seq")};
  if (type == index_of<Transcript>()) {
    Transcript m;
    m.turn_id = r.id("turn_id");
    m.text = r.str("text");
    m.final = r.boolean("final", true);
    m.language = r.opt_str("language", 35);
    return m;
  }
  if (type == index_of<ReplyText>()) {
    ReplyText m;
    m.reply_id = r.id("reply_id");
    m.turn_id = r.id("turn_id");
    m.delta = r.str("delta");
    m.final = r.boolean("final", false);
    return m;
  }
  if (type == index_of<SpeechOutStart>()) {
    SpeechOutStart m;
    m.reply_id = r.id("reply_id");
    m.turn_id = r.id("turn_id");
    m.audio = r.audio("audio", false);
    m.reason = r.str("reason", false, 32);
    if (m.reason.empty()) m.reason = kSpeechReasonReply;
    return m;
  }
  if (type == index_of<SpeechOutSentence>()) {
    SpeechOutSentence m;
    m.reply_id = r.id("reply_id");
    const uint64_t index = r.uint("index");
    if (r.ok() && index > UINT32_MAX) r.fail("index", "too large");
    m.index = uint32_t(index);
    m.text = r.str("text");
    m.first_seq = r.uint("first_seq");
    return m;
  }
  if (type == index_of<SpeechOutEnd>()) {
    SpeechOutEnd m;
    m.reply_id = r.id("reply_id");
    m.last_seq = r.uint("last_seq");
    m.reason = r.str("reason", false, 32);
    if (m.reason.empty()) m.reason = "complete";
    if (r.ok() && m.reason != "complete" && m.reason != "interrupted" && m.reason != "error")
      r.fail("reason", "must be complete, interrupted or error");
    return m;
  }
  if (type == index_of<Error>()) {
    Error m;
    m.code = r.str("code", true, 64);
    m.message = r.str("message");
    m.fatal = r.boolean("fatal", false);
    return m;
  }
  if (type == index_of<TurnTimings>()) {
    TurnTimings m;
    m.turn_id = r.id("turn_id");
    if (r.find("reply_id", false)) m.reply_id = r.id("reply_id");
    m.end_of_turn_ms = r.opt_uint("end_of_turn_ms");
    m.stt_final_ms = r.opt_uint("stt_final_ms");
    m.llm_first_token_ms = r.opt_uint("llm_first_token_ms");
    m.first_sentence_ms = r.opt_uint("first_sentence_ms");
    m.tts_first_audio_ms = r.opt_uint("tts_first_audio_ms");
    m.first_frame_sent_ms = r.opt_uint("first_frame_sent_ms");
    return m;
  }
  (void)o;
  return std::nullopt;
}

struct Writer {
  json operator()(const Hello& m) const {
    json j = {{"versions", m.versions},
              {"node_id", m.node_id},
              {"audio", audio_json(m.audio)},
              {"capabilities", m.capabilities},
              {"mode", to_string(m.mode)}};
    if (m.token) j["token"] = *m.token;
    if (m.room) j["room"] = *m.room;
    if (m.language) j["language"] = *m.language;
    return j;
  }
  json operator()(const SpeechStart& m) const {
    return {{"seq", m.seq}, {"timestamp", m.timestamp}};
  }
  json operator()(const SpeechEnd& m) const { return {{"seq", m.seq}, {"timestamp", m.timestamp}}; }
  json operator()(const Interrupt& m) const {
    json j = {{"reply_id", m.reply_id}, {"played_ms", m.played_ms}};
    if (m.played_seq) j["played_seq"] = *m.played_seq;
    return j;
  }
  json operator()(const PlaybackDone& m) const {
    return {{"reply_id", m.reply_id}, {"played_ms", m.played_ms}};
  }
  json operator()(const ModeChange& m) const { return {{"mode", to_string(m.mode)}}; }
  json operator()(const Welcome& m) const {
    json j = {{"version", m.version},
              {"session_id", m.session_id},
              {"audio", audio_json(m.audio)},
              {"mode", to_string(m.mode)}};
    if (m.acked_seq) j["acked_seq"] = *m.acked_seq;
    return j;
  }
  json operator()(const Ack& m) const { return {{"seq", m.seq}}; }
  json operator()(const Transcript& m) const {
    json j = {{"turn_id", m.turn_id}, {"text", m.text}, {"final", m.final}};
    if (m.language) j["language"] = *m.language;
    return j;
  }
  json operator()(const ReplyText& m) const {
    return {
        {"reply_id", m.reply_id}, {"turn_id", m.turn_id}, {"delta", m.delta}, {"final", m.final}};
  }
  json operator()(const SpeechOutStart& m) const {
    json j = {{"reply_id", m.reply_id}, {"turn_id", m.turn_id}, {"audio", audio_json(m.audio)}};
    if (m.reason != kSpeechReasonReply) j["reason"] = m.reason;
    return j;
  }
  json operator()(const SpeechOutSentence& m) const {
    return {
        {"reply_id", m.reply_id}, {"index", m.index}, {"text", m.text}, {"first_seq", m.first_seq}};
  }
  json operator()(const SpeechOutEnd& m) const {
    return {{"reply_id", m.reply_id}, {"last_seq", m.last_seq}, {"reason", m.reason}};
  }
  json operator()(const Error& m) const {
    return {{"code", m.code}, {"message", m.message}, {"fatal", m.fatal}};
  }
  json operator()(const TurnTimings& m) const {
    json j = {{"turn_id", m.turn_id}};
    if (m.reply_id) j["reply_id"] = *m.reply_id;
    const std::pair<const char*, const std::optional<uint64_t>&> stages[] = {
        {"end_of_turn_ms", m.end_of_turn_ms},
        {"stt_final_ms", m.stt_final_ms},
        {"llm_first_token_ms", m.llm_first_token_ms},
        {"first_sentence_ms", m.first_sentence_ms},
        {"tts_first_audio_ms", m.tts_first_audio_ms},
        {"first_frame_sent_ms", m.first_frame_sent_ms}};
    for (const auto& [name, value] : stages)
      if (value) j[name] = *value;
    return j;
  }
};

}  // namespace

const char* to_string(Mode mode) {
  return mode == Mode::kAmbient ? "ambient" : "conversation";
}

const char* type_name(const Message& message) {
  return kMessageTypes[message.index()].name;
}

std::optional<uint64_t> TurnTimings::from_ms(double ms) {
  if (!(ms >= 0)) return std::nullopt;  // negative or NaN: unknown
  if (ms >= double(kMaxSafeInteger)) return kMaxSafeInteger;
  return uint64_t(ms + 0.5);
}

bool has_capability(const Hello& hello, std::string_view capability) {
  return std::find(hello.capabilities.begin(), hello.capabilities.end(), capability) !=
         hello.capabilities.end();
}

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<int> negotiate_version(const std::vector<int>& offered) {
  std::optional<int> best;
  for (int v : offered)
    if (v == kProtocolVersion) best = v;
  return best;
}

ParseResult parse_message(std::string_view text, Direction direction) {
  ParseResult result;
  if (text.size() > kMaxControlMessageSize) {
    result.error = "message larger than " + std::to_string(kMaxControlMessageSize) + " bytes";
    return result;
  }
  json o = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (o.is_discarded()) {
    result.error = "not valid JSON";
    return result;
  }
  if (!o.is_object()) {
    result.error = "a message must be a JSON object";
    return result;
  }
  auto type_it = o.find("type");
  if (type_it == o.end() || !type_it->is_string()) {
    result.error = "message.type: missing or not a string";
    return result;
  }
  const std::string type = type_it->get<std::string>();
  const std::optional<size_t> index = find_type(type);
  if (!index) {
    result.error = "unknown message type '" + type.substr(0, 40) + "'";
    return result;
  }
  const Travels way = direction == Direction::kNodeToHost ? kUp : kDown;
  if (!(kMessageTypes[*index].travels & way)) {
    result.error = type + (direction == Direction::kNodeToHost ? " is not a node->host message"
                                                               : " is not a host->node message");
    return result;
  }
  try {
    Reader reader(o, type.c_str());
    std::optional<Message> m = read_message(*index, reader, o);
    if (!reader.ok()) {
      result.error = reader.error();
      return result;
    }
    result.message = std::move(m);
  } catch (const std::exception& e) {  // defensive: nlohmann type errors
    result.error = type + ": " + e.what();
  }
  return result;
}

std::string to_json(const Message& message) {
  // Invalid UTF-8 in text (e.g. from an engine) is replaced, never thrown.
  json j = std::visit(Writer{}, message);
  j["type"] = type_name(message);
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace earshot::protocol
