#include "protocol/realtime/events.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <iterator>

#include "protocol/realtime/base64.h"

namespace earshot::protocol::realtime {
namespace {

using json = nlohmann::json;
constexpr uint64_t kMaxSafeInteger = (uint64_t(1) << 53) - 1;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// Fields of the beta interface a GA client must name differently (the GA parser refuses them as
// unknown, with a hint).
struct BetaField {
  const char* beta;
  const char* ga;
};
constexpr BetaField kBetaSessionFields[] = {
    {"modalities", "session.output_modalities"},
    {"input_audio_format", "session.audio.input.format"},
    {"output_audio_format", "session.audio.output.format"},
    {"voice", "session.audio.output.voice"},
    {"turn_detection", "session.audio.input.turn_detection"},
    {"input_audio_transcription", "session.audio.input.transcription"},
    {"input_audio_noise_reduction", "session.audio.input.noise_reduction"},
    {"max_response_output_tokens", "session.max_output_tokens"},
};

// The first problem found while reading an event.
struct Failure {
  bool set = false;
  std::string code, message, param;
};

// Reads the fields of one JSON object at `path` ("session.audio.input"), recording the first
// problem with the field's full path as the error's `param`.
class Reader {
 public:
  Reader(const json& object, std::string path, Failure* failure)
      : o_(object), path_(std::move(path)), f_(failure) {}

  bool ok() const { return !f_->set; }
  std::string param(const std::string& field) const {
    return path_.empty() ? field : path_ + "." + field;
  }
  void fail(const std::string& field, const char* code, const std::string& message) {
    if (f_->set) return;
    f_->set = true;
    f_->code = code;
    f_->param = param(field);
    f_->message = message;
  }
  void invalid(const std::string& field, const std::string& what) {
    fail(field, "invalid_value", "Invalid value for '" + param(field) + "': " + what + ".");
  }
  void wrong_type(const std::string& field, const char* expected) {
    fail(field, "invalid_type",
         "Invalid type for '" + param(field) + "': expected " + expected + ".");
  }

  // Unknown fields are an error (as the API does): a client is told what Earshot does not know
  // rather than left to guess. `ignored` fields are accepted and listed.
  void known(std::initializer_list<const char*> fields,
             std::initializer_list<const char*> ignored = {},
             std::vector<std::string>* ignored_out = nullptr, const BetaField* beta = nullptr,
             size_t beta_count = 0) {
    for (auto it = o_.begin(); it != o_.end() && ok(); ++it) {
      const std::string& key = it.key();
      auto is = [&](const char* f) { return key == f; };
      if (std::any_of(fields.begin(), fields.end(), is)) continue;
      if (std::any_of(ignored.begin(), ignored.end(), is)) {
        if (ignored_out) ignored_out->push_back(param(key));
        continue;
      }
      std::string hint;
      for (size_t i = 0; i < beta_count; ++i)
        if (key == beta[i].beta)
          hint = std::string(" This is the beta interface's field; use '") + beta[i].ga + "'.";
      fail(key, "unknown_parameter", "Unknown parameter: '" + param(key) + "'." + hint);
    }
  }

  // The field, or nullptr when absent. `null` counts as absent unless `keep_null`.
  const json* get(const char* field, bool required, bool keep_null = false) {
    auto it = o_.find(field);
    if (it == o_.end() || (it->is_null() && !keep_null)) {
      if (required)
        fail(field, "missing_required_parameter",
             "Missing required parameter: '" + param(field) + "'.");
      return nullptr;
    }
    return &*it;
  }
  std::string str(const char* field, size_t max = kMaxEventBytes) {
    const json* v = get(field, true);
    if (!v) return {};
    if (!v->is_string()) return wrong_type(field, "a string"), std::string();
    const std::string& s = v->get_ref<const std::string&>();
    if (s.size() > max)
      return invalid(field, "longer than " + std::to_string(max) + " bytes"), std::string();
    return s;
  }
  std::optional<std::string> opt_str(const char* field, size_t max = kMaxEventBytes) {
    if (!get(field, false)) return std::nullopt;
    return str(field, max);
  }
  std::string id(const char* field) {
    std::string s = str(field, kMaxIdLength);
    if (ok() && !is_valid_id(s)) invalid(field, "must be 1-64 characters of [A-Za-z0-9._-]");
    return s;
  }
  std::optional<std::string> opt_id(const char* field) {
    if (!get(field, false)) return std::nullopt;
    return id(field);
  }
  Nullable<std::string> nullable_id(const char* field) {
    const json* v = get(field, false, true);
    if (!v) return std::nullopt;
    if (v->is_null()) return std::optional<std::string>();
    return std::optional<std::string>(id(field));
  }
  Nullable<std::string> nullable_str(const char* field) {
    const json* v = get(field, false, true);
    if (!v) return std::nullopt;
    if (v->is_null()) return std::optional<std::string>();
    return std::optional<std::string>(str(field));
  }
  uint64_t uint(const char* field, uint64_t max = kMaxSafeInteger) {
    const json* v = get(field, true);
    if (!v) return 0;
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0))
      return wrong_type(field, "a non-negative integer"), 0;
    const uint64_t n = v->get<uint64_t>();
    if (n > max) return invalid(field, "must be at most " + std::to_string(max)), 0;
    return n;
  }
  std::optional<uint64_t> opt_uint(const char* field) {
    if (!get(field, false)) return std::nullopt;
    return uint(field);
  }
  std::optional<int> opt_int(const char* field, int min, int max) {
    if (!get(field, false)) return std::nullopt;
    const json* v = get(field, true);
    if (!v->is_number_integer()) return wrong_type(field, "an integer"), std::optional<int>();
    const int64_t n = v->get<int64_t>();
    if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(max)) {
      invalid(field, "must be " + std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
    if (n < min || n > max) {
      invalid(field, "must be " + std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
    return int(n);
  }
  std::optional<double> opt_number(const char* field, double min, double max) {
    if (!get(field, false)) return std::nullopt;
    const json* v = get(field, true);
    if (!v->is_number()) return wrong_type(field, "a number"), std::optional<double>();
    const double d = v->get<double>();
    if (!(d >= min && d <= max)) {
      invalid(field, "must be " + json(min).dump() + " to " + json(max).dump());
      return std::nullopt;
    }
    return d;
  }
  std::optional<bool> opt_bool(const char* field) {
    const json* v = get(field, false);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) return wrong_type(field, "a boolean"), std::optional<bool>();
    return v->get<bool>();
  }
  // A field that must be an object: its reader (at the field's path), or nullopt if absent.
  const json* object(const char* field, bool required) {
    const json* v = get(field, required);
    if (v && !v->is_object()) return wrong_type(field, "an object"), nullptr;
    return v;
  }
  Reader child(const json& object, const std::string& field) const {
    return Reader(object, param(field), f_);
  }
  // Base64 pcm16, decoded.
  std::string audio(const char* field) {
    const json* v = get(field, true);
    if (!v) return {};
    if (!v->is_string()) return wrong_type(field, "a base64 string"), std::string();
    std::string bytes;
    if (!base64_decode(v->get_ref<const std::string&>(), &bytes)) {
      fail(field, "invalid_base64",
           "Invalid value for '" + param(field) + "': not valid base64 (standard alphabet).");
      return {};
    }
    return bytes;
  }
  std::vector<Modality> modalities(const char* field) {
    std::vector<Modality> out;
    const json* v = get(field, true);
    if (!v) return out;
    if (!v->is_array()) return wrong_type(field, "an array"), out;
    if (v->size() != 1) {
      invalid(field,
              "must name exactly one of \"audio\" and \"text\" (both at once is not "
              "possible)");
      return out;
    }
    const json& m = v->front();
    if (m == "audio") {
      out.push_back(Modality::kAudio);
    } else if (m == "text") {
      out.push_back(Modality::kText);
    } else {
      invalid(field, "must be [\"audio\"] or [\"text\"]");
    }
    return out;
  }

 private:
  const json& o_;
  std::string path_;
  Failure* f_;
};

// --- shared objects: read and write -------------------------------------------------------------

const char* to_string(Modality m) {
  return m == Modality::kAudio ? "audio" : "text";
}
json modalities_json(const std::vector<Modality>& ms) {
  json a = json::array();
  for (Modality m : ms)
    a.push_back(to_string(m));
  return a;
}

AudioFormat read_format(Reader r) {
  AudioFormat f;
  r.known({"type", "rate"});
  f.type = r.str("type", 32);
  f.rate = r.opt_int("rate", 1, 384000);
  if (r.ok() && f.type != "audio/pcm" && f.type != "audio/pcmu" && f.type != "audio/pcma")
    r.invalid("type", "must be \"audio/pcm\", \"audio/pcmu\" or \"audio/pcma\"");
  return f;
}
json format_json(const AudioFormat& f) {
  json j = {{"type", f.type}};
  if (f.rate) j["rate"] = *f.rate;
  return j;
}

TurnDetection read_turn_detection(Reader r) {
  TurnDetection t;
  r.known({"type", "threshold", "prefix_padding_ms", "silence_duration_ms", "create_response",
           "interrupt_response", "idle_timeout_ms", "eagerness"});
  t.type = r.str("type", 32);
  if (r.ok() && t.type != "server_vad" && t.type != "semantic_vad")
    r.invalid("type", "must be \"server_vad\" or \"semantic_vad\"");
  t.threshold = r.opt_number("threshold", 0.0, 1.0);
  t.prefix_padding_ms = r.opt_int("prefix_padding_ms", 0, 10000);
  t.silence_duration_ms = r.opt_int("silence_duration_ms", 0, 10000);
  t.create_response = r.opt_bool("create_response");
  t.interrupt_response = r.opt_bool("interrupt_response");
  if (const json* v = r.get("idle_timeout_ms", false, true)) {
    t.idle_timeout_ms =
        v->is_null() ? std::optional<int>() : r.opt_int("idle_timeout_ms", 0, 24 * 3600 * 1000);
  }
  t.eagerness = r.opt_str("eagerness", 16);
  if (r.ok() && t.eagerness && *t.eagerness != "low" && *t.eagerness != "medium" &&
      *t.eagerness != "high" && *t.eagerness != "auto")
    r.invalid("eagerness", "must be \"low\", \"medium\", \"high\" or \"auto\"");
  return t;
}
json turn_detection_json(const TurnDetection& t) {
  json j = {{"type", t.type}};
  if (t.threshold) j["threshold"] = *t.threshold;
  if (t.prefix_padding_ms) j["prefix_padding_ms"] = *t.prefix_padding_ms;
  if (t.silence_duration_ms) j["silence_duration_ms"] = *t.silence_duration_ms;
  if (t.create_response) j["create_response"] = *t.create_response;
  if (t.interrupt_response) j["interrupt_response"] = *t.interrupt_response;
  if (t.idle_timeout_ms)
    j["idle_timeout_ms"] = *t.idle_timeout_ms ? json(**t.idle_timeout_ms) : json();
  if (t.eagerness) j["eagerness"] = *t.eagerness;
  return j;
}

Transcription read_transcription(Reader r) {
  Transcription t;
  r.known({"model", "language", "prompt"});
  t.model = r.opt_str("model", 128);
  t.language = r.opt_str("language", 35);
  t.prompt = r.opt_str("prompt", 16 * 1024);
  return t;
}
json transcription_json(const Transcription& t) {
  json j = json::object();
  if (t.model) j["model"] = *t.model;
  if (t.language) j["language"] = *t.language;
  if (t.prompt) j["prompt"] = *t.prompt;
  return j;
}

Session read_session(Reader r) {
  Session s;
  r.known({"type", "id", "object", "model", "instructions", "output_modalities", "audio"},
          {"tools", "tool_choice", "tracing", "truncation", "prompt", "include",
           "max_output_tokens", "expires_at"},
          &s.ignored, kBetaSessionFields, std::size(kBetaSessionFields));
  s.type = r.opt_str("type", 32);
  if (r.ok() && s.type && *s.type != "realtime" && *s.type != "transcription")
    r.invalid("type", "must be \"realtime\" or \"transcription\"");
  s.id = r.opt_str("id", 128);
  s.object = r.opt_str("object", 32);
  s.model = r.opt_str("model", 128);
  s.instructions = r.opt_str("instructions");
  if (r.get("output_modalities", false)) s.output_modalities = r.modalities("output_modalities");
  if (const json* audio = r.object("audio", false)) {
    Reader a = r.child(*audio, "audio");
    a.known({"input", "output"});
    if (const json* in = a.object("input", false)) {
      Reader i = a.child(*in, "input");
      i.known({"format", "turn_detection", "transcription"}, {"noise_reduction"}, &s.ignored);
      if (const json* f = i.object("format", false))
        s.input_format = read_format(i.child(*f, "format"));
      if (const json* t = i.get("turn_detection", false, true)) {
        if (t->is_null()) {
          s.turn_detection = std::optional<TurnDetection>();
        } else if (i.object("turn_detection", true)) {
          s.turn_detection = read_turn_detection(i.child(*t, "turn_detection"));
        }
      }
      if (const json* t = i.get("transcription", false, true)) {
        if (t->is_null()) {
          s.transcription = std::optional<Transcription>();
        } else if (i.object("transcription", true)) {
          s.transcription = read_transcription(i.child(*t, "transcription"));
        }
      }
    }
    if (const json* out = a.object("output", false)) {
      Reader o = a.child(*out, "output");
      o.known({"format", "voice", "speed"});
      if (const json* f = o.object("format", false))
        s.output_format = read_format(o.child(*f, "format"));
      if (const json* v = o.get("voice", false)) {
        // A custom voice object ({"id": ...}) names a voice the same way.
        if (v->is_object()) {
          Reader vr = o.child(*v, "voice");
          vr.known({"id"});
          s.voice = vr.str("id", 128);
        } else {
          s.voice = o.str("voice", 128);
        }
      }
      s.speed = o.opt_number("speed", 0.25, 1.5);
    }
  }
  return s;
}
json session_json(const Session& s) {
  json j = json::object();
  if (s.type) j["type"] = *s.type;
  if (s.id) j["id"] = *s.id;
  if (s.object) j["object"] = *s.object;
  if (s.model) j["model"] = *s.model;
  if (s.instructions) j["instructions"] = *s.instructions;
  if (s.output_modalities) j["output_modalities"] = modalities_json(*s.output_modalities);
  json input = json::object(), output = json::object();
  if (s.input_format) input["format"] = format_json(*s.input_format);
  if (s.transcription)
    input["transcription"] = *s.transcription ? transcription_json(**s.transcription) : json();
  if (s.turn_detection)
    input["turn_detection"] = *s.turn_detection ? turn_detection_json(**s.turn_detection) : json();
  if (s.output_format) output["format"] = format_json(*s.output_format);
  if (s.voice) output["voice"] = *s.voice;
  if (s.speed) output["speed"] = *s.speed;
  if (!input.empty() || !output.empty()) {
    json audio = json::object();
    if (!input.empty()) audio["input"] = input;
    if (!output.empty()) audio["output"] = output;
    j["audio"] = audio;
  }
  return j;
}

struct ContentTypeName {
  ContentType type;
  const char* name;
};
constexpr ContentTypeName kContentTypes[] = {
    {ContentType::kInputText, "input_text"},
    {ContentType::kInputAudio, "input_audio"},
    {ContentType::kOutputText, "output_text"},
    {ContentType::kOutputAudio, "output_audio"},
    {ContentType::kText, "text"},
    {ContentType::kAudio, "audio"},
};
const char* to_string(ContentType t) {
  for (const auto& c : kContentTypes)
    if (c.type == t) return c.name;
  return "?";
}

Content read_content(Reader r) {
  Content c;
  r.known({"type", "text", "audio", "transcript"});
  const std::string type = r.str("type", 32);
  if (!r.ok()) return c;
  const auto it = std::find_if(std::begin(kContentTypes), std::end(kContentTypes),
                               [&](const ContentTypeName& n) { return type == n.name; });
  if (it == std::end(kContentTypes)) {
    r.fail("type", "unsupported_content_type",
           "Unsupported content type '" + type + "' in '" + r.param("type") +
               "': Earshot takes input_text, input_audio, output_text, output_audio, text and "
               "audio.");
    return c;
  }
  c.type = it->type;
  c.text = r.opt_str("text");
  if (r.get("audio", false)) c.audio = r.audio("audio");
  c.transcript = r.nullable_str("transcript");
  return c;
}
json content_json(const Content& c) {
  json j = {{"type", to_string(c.type)}};
  if (c.text) j["text"] = *c.text;
  if (c.audio) j["audio"] = base64_encode(*c.audio);
  if (c.transcript) j["transcript"] = *c.transcript ? json(**c.transcript) : json();
  return j;
}

const char* to_string(Role r) {
  return r == Role::kUser ? "user" : r == Role::kAssistant ? "assistant" : "system";
}
const char* to_string(ItemStatus s) {
  return s == ItemStatus::kCompleted    ? "completed"
         : s == ItemStatus::kIncomplete ? "incomplete"
                                        : "in_progress";
}

Item read_item(Reader r) {
  Item item;
  // The item's type first: a function call is refused as such, not for its unknown fields.
  const std::string type = r.str("type", 32);
  if (r.ok() && type != "message") {
    r.fail("type", "unsupported_item_type",
           "Unsupported item type '" + type + "' in '" + r.param("type") +
               "': Earshot takes message items only (no function calls or MCP).");
    return item;
  }
  r.known({"id", "object", "type", "role", "status", "content"});
  item.id = r.opt_id("id");
  item.object = r.opt_str("object", 32);
  const std::string role = r.str("role", 16);
  if (r.ok()) {
    if (role == "user") {
      item.role = Role::kUser;
    } else if (role == "assistant") {
      item.role = Role::kAssistant;
    } else if (role == "system") {
      item.role = Role::kSystem;
    } else {
      r.invalid("role", "must be \"user\", \"assistant\" or \"system\"");
    }
  }
  if (std::optional<std::string> status = r.opt_str("status", 16)) {
    if (*status == "completed") {
      item.status = ItemStatus::kCompleted;
    } else if (*status == "incomplete") {
      item.status = ItemStatus::kIncomplete;
    } else if (*status == "in_progress") {
      item.status = ItemStatus::kInProgress;
    } else {
      r.invalid("status", "must be \"completed\", \"incomplete\" or \"in_progress\"");
    }
  }
  const json* content = r.get("content", true);
  if (content && !content->is_array()) r.wrong_type("content", "an array");
  if (content && r.ok()) {
    if (content->size() > 64) r.invalid("content", "more than 64 parts");
    for (size_t i = 0; i < content->size() && r.ok(); ++i) {
      const std::string field = "content[" + std::to_string(i) + "]";
      if (!(*content)[i].is_object()) {
        r.wrong_type(field, "an object");
        break;
      }
      item.content.push_back(read_content(r.child((*content)[i], field)));
    }
  }
  return item;
}
json item_json(const Item& item) {
  json j = json::object();
  if (item.id) j["id"] = *item.id;
  if (item.object) j["object"] = *item.object;
  j["type"] = "message";
  j["role"] = to_string(item.role);
  if (item.status) j["status"] = to_string(*item.status);
  json content = json::array();
  for (const Content& c : item.content)
    content.push_back(content_json(c));
  j["content"] = content;
  return j;
}

TokenDetails read_token_details(Reader r, bool input) {
  TokenDetails d;
  if (input) {
    r.known({"text_tokens", "audio_tokens", "cached_tokens"});
  } else {
    r.known({"text_tokens", "audio_tokens"});
  }
  d.text_tokens = r.opt_uint("text_tokens");
  d.audio_tokens = r.opt_uint("audio_tokens");
  if (input) d.cached_tokens = r.opt_uint("cached_tokens");
  return d;
}
json token_details_json(const TokenDetails& d) {
  json j = json::object();
  if (d.text_tokens) j["text_tokens"] = *d.text_tokens;
  if (d.audio_tokens) j["audio_tokens"] = *d.audio_tokens;
  if (d.cached_tokens) j["cached_tokens"] = *d.cached_tokens;
  return j;
}

Usage read_usage(Reader r) {
  Usage u;
  r.known({"total_tokens", "input_tokens", "output_tokens", "input_token_details",
           "output_token_details"});
  u.total_tokens = r.uint("total_tokens");
  u.input_tokens = r.uint("input_tokens");
  u.output_tokens = r.uint("output_tokens");
  if (const json* d = r.object("input_token_details", false))
    u.input_token_details = read_token_details(r.child(*d, "input_token_details"), true);
  if (const json* d = r.object("output_token_details", false))
    u.output_token_details = read_token_details(r.child(*d, "output_token_details"), false);
  return u;
}
json usage_json(const Usage& u) {
  return {{"total_tokens", u.total_tokens},
          {"input_tokens", u.input_tokens},
          {"output_tokens", u.output_tokens},
          {"input_token_details", token_details_json(u.input_token_details)},
          {"output_token_details", token_details_json(u.output_token_details)}};
}

Response read_response(Reader r) {
  Response resp;
  r.known({"id", "object", "status", "status_details", "output", "conversation_id",
           "output_modalities", "audio", "usage", "max_output_tokens", "metadata"});
  resp.id = r.id("id");
  resp.status = r.str("status", 16);
  if (r.ok() && resp.status != "in_progress" && resp.status != "completed" &&
      resp.status != "cancelled" && resp.status != "failed" && resp.status != "incomplete")
    r.invalid("status", "must be in_progress, completed, cancelled, failed or incomplete");
  if (const json* d = r.object("status_details", false)) {
    Reader dr = r.child(*d, "status_details");
    dr.known({"type", "reason", "error"});
    StatusDetails sd;
    sd.type = dr.str("type", 16);
    sd.reason = dr.opt_str("reason", 32);
    if (const json* e = dr.object("error", false)) {
      Reader er = dr.child(*e, "error");
      er.known({"type", "code"});
      sd.error_type = er.opt_str("type", 64);
      sd.error_code = er.opt_str("code", 64);
    }
    resp.status_details = sd;
  }
  if (const json* out = r.get("output", false)) {
    if (!out->is_array()) {
      r.wrong_type("output", "an array");
    } else {
      for (size_t i = 0; i < out->size() && r.ok(); ++i) {
        const std::string field = "output[" + std::to_string(i) + "]";
        if (!(*out)[i].is_object()) {
          r.wrong_type(field, "an object");
          break;
        }
        resp.output.push_back(read_item(r.child((*out)[i], field)));
      }
    }
  }
  resp.conversation_id = r.opt_str("conversation_id", 128);
  if (r.get("output_modalities", false)) resp.output_modalities = r.modalities("output_modalities");
  if (const json* audio = r.object("audio", false)) {
    Reader a = r.child(*audio, "audio");
    a.known({"output"});
    if (const json* out = a.object("output", false)) {
      Reader o = a.child(*out, "output");
      o.known({"format", "voice"});
      if (const json* f = o.object("format", false))
        resp.output_format = read_format(o.child(*f, "format"));
      resp.voice = o.opt_str("voice", 128);
    }
  }
  if (const json* u = r.object("usage", false)) resp.usage = read_usage(r.child(*u, "usage"));
  return resp;
}
json response_json(const Response& resp) {
  json j = {{"id", resp.id}, {"object", "realtime.response"}, {"status", resp.status}};
  if (resp.status_details) {
    const StatusDetails& sd = *resp.status_details;
    json d = {{"type", sd.type}};
    if (sd.reason) d["reason"] = *sd.reason;
    if (sd.error_type || sd.error_code) {
      json e = json::object();
      if (sd.error_type) e["type"] = *sd.error_type;
      if (sd.error_code) e["code"] = *sd.error_code;
      d["error"] = e;
    }
    j["status_details"] = d;
  } else {
    j["status_details"] = nullptr;
  }
  json output = json::array();
  for (const Item& item : resp.output)
    output.push_back(item_json(item));
  j["output"] = output;
  if (resp.conversation_id) j["conversation_id"] = *resp.conversation_id;
  if (!resp.output_modalities.empty())
    j["output_modalities"] = modalities_json(resp.output_modalities);
  if (resp.output_format || resp.voice) {
    json o = json::object();
    if (resp.output_format) o["format"] = format_json(*resp.output_format);
    if (resp.voice) o["voice"] = *resp.voice;
    j["audio"] = {{"output", o}};
  }
  j["max_output_tokens"] = "inf";
  j["metadata"] = nullptr;
  j["usage"] = resp.usage ? usage_json(*resp.usage) : json();
  return j;
}

ResponseParams read_response_params(Reader r) {
  ResponseParams p;
  r.known({"instructions", "output_modalities", "audio", "conversation", "input"},
          {"metadata", "max_output_tokens", "tools", "tool_choice", "prompt"}, &p.ignored);
  p.instructions = r.opt_str("instructions");
  if (r.get("output_modalities", false)) p.output_modalities = r.modalities("output_modalities");
  if (const json* audio = r.object("audio", false)) {
    Reader a = r.child(*audio, "audio");
    a.known({"output"});
    if (const json* out = a.object("output", false)) {
      Reader o = a.child(*out, "output");
      o.known({"format", "voice"});
      if (const json* f = o.object("format", false))
        p.output_format = read_format(o.child(*f, "format"));
      p.voice = o.opt_str("voice", 128);
    }
  }
  p.conversation = r.opt_str("conversation", 32);
  if (r.ok() && p.conversation && *p.conversation != "auto" && *p.conversation != "none")
    r.invalid("conversation", "must be \"auto\" or \"none\"");
  if (const json* in = r.get("input", false)) {
    if (!in->is_array()) r.wrong_type("input", "an array");
    p.has_input = true;
  }
  return p;
}
json response_params_json(const ResponseParams& p) {
  json j = json::object();
  if (p.instructions) j["instructions"] = *p.instructions;
  if (p.output_modalities) j["output_modalities"] = modalities_json(*p.output_modalities);
  if (p.output_format || p.voice) {
    json o = json::object();
    if (p.output_format) o["format"] = format_json(*p.output_format);
    if (p.voice) o["voice"] = *p.voice;
    j["audio"] = {{"output", o}};
  }
  if (p.conversation) j["conversation"] = *p.conversation;
  if (p.has_input) j["input"] = json::array();
  return j;
}

void write_nullable_id(json& j, const char* field, const Nullable<std::string>& v) {
  if (v) j[field] = *v ? json(**v) : json();
}

PartRef read_ref(Reader& r) {
  PartRef ref;
  ref.response_id = r.id("response_id");
  ref.item_id = r.id("item_id");
  ref.output_index = uint32_t(r.uint("output_index", UINT32_MAX));
  ref.content_index = uint32_t(r.uint("content_index", UINT32_MAX));
  return ref;
}
void write_ref(const PartRef& ref, json& j) {
  j["response_id"] = ref.response_id;
  j["item_id"] = ref.item_id;
  j["output_index"] = ref.output_index;
  j["content_index"] = ref.content_index;
}

// --- one reader and one writer per event --------------------------------------------------------
// read(Reader&, T*) reads the event's fields (its envelope, type and event_id, is the table's);
// write(const T&, json&) writes them.

void read(Reader& r, SessionUpdate* e) {
  r.known({"type", "event_id", "session"});
  if (const json* s = r.object("session", true)) e->session = read_session(r.child(*s, "session"));
  if (r.ok() && !e->session.type)
    r.fail("session.type", "missing_required_parameter",
           "Missing required parameter: 'session.type' (\"realtime\").");
}
void write(const SessionUpdate& e, json& j) {
  j["session"] = session_json(e.session);
}

void read(Reader& r, InputAudioBufferAppend* e) {
  r.known({"type", "event_id", "audio"});
  e->audio = r.audio("audio");
}
void write(const InputAudioBufferAppend& e, json& j) {
  j["audio"] = base64_encode(e.audio);
}

void read(Reader& r, InputAudioBufferCommit*) {
  r.known({"type", "event_id"});
}
void write(const InputAudioBufferCommit&, json&) {}

void read(Reader& r, InputAudioBufferClear*) {
  r.known({"type", "event_id"});
}
void write(const InputAudioBufferClear&, json&) {}

void read(Reader& r, ConversationItemCreate* e) {
  r.known({"type", "event_id", "previous_item_id", "item"});
  if (const json* v = r.get("previous_item_id", false)) {
    // "root" puts the item first; otherwise an item id.
    if (v->is_string() && *v == "root") {
      e->previous_item_id = "root";
    } else {
      e->previous_item_id = r.id("previous_item_id");
    }
  }
  if (const json* item = r.object("item", true)) e->item = read_item(r.child(*item, "item"));
}
void write(const ConversationItemCreate& e, json& j) {
  if (e.previous_item_id) j["previous_item_id"] = *e.previous_item_id;
  j["item"] = item_json(e.item);
}

void read(Reader& r, ConversationItemTruncate* e) {
  r.known({"type", "event_id", "item_id", "content_index", "audio_end_ms"});
  e->item_id = r.id("item_id");
  e->content_index = uint32_t(r.uint("content_index", UINT32_MAX));
  e->audio_end_ms = r.uint("audio_end_ms");
}
void write(const ConversationItemTruncate& e, json& j) {
  j["item_id"] = e.item_id;
  j["content_index"] = e.content_index;
  j["audio_end_ms"] = e.audio_end_ms;
}

void read(Reader& r, ResponseCreate* e) {
  r.known({"type", "event_id", "response"});
  if (const json* p = r.object("response", false))
    e->response = read_response_params(r.child(*p, "response"));
}
void write(const ResponseCreate& e, json& j) {
  if (e.response) j["response"] = response_params_json(*e.response);
}

void read(Reader& r, ResponseCancel* e) {
  r.known({"type", "event_id", "response_id"});
  e->response_id = r.opt_id("response_id");
}
void write(const ResponseCancel& e, json& j) {
  if (e.response_id) j["response_id"] = *e.response_id;
}

void read(Reader& r, SessionCreated* e) {
  r.known({"type", "event_id", "session"});
  if (const json* s = r.object("session", true)) e->session = read_session(r.child(*s, "session"));
}
void write(const SessionCreated& e, json& j) {
  j["session"] = session_json(e.session);
}
void read(Reader& r, SessionUpdated* e) {
  r.known({"type", "event_id", "session"});
  if (const json* s = r.object("session", true)) e->session = read_session(r.child(*s, "session"));
}
void write(const SessionUpdated& e, json& j) {
  j["session"] = session_json(e.session);
}

void read(Reader& r, InputAudioBufferSpeechStarted* e) {
  r.known({"type", "event_id", "audio_start_ms", "item_id"});
  e->audio_start_ms = r.uint("audio_start_ms");
  e->item_id = r.id("item_id");
}
void write(const InputAudioBufferSpeechStarted& e, json& j) {
  j["audio_start_ms"] = e.audio_start_ms;
  j["item_id"] = e.item_id;
}
void read(Reader& r, InputAudioBufferSpeechStopped* e) {
  r.known({"type", "event_id", "audio_end_ms", "item_id"});
  e->audio_end_ms = r.uint("audio_end_ms");
  e->item_id = r.id("item_id");
}
void write(const InputAudioBufferSpeechStopped& e, json& j) {
  j["audio_end_ms"] = e.audio_end_ms;
  j["item_id"] = e.item_id;
}
void read(Reader& r, InputAudioBufferCommitted* e) {
  r.known({"type", "event_id", "previous_item_id", "item_id"});
  e->previous_item_id = r.nullable_id("previous_item_id");
  e->item_id = r.id("item_id");
}
void write(const InputAudioBufferCommitted& e, json& j) {
  write_nullable_id(j, "previous_item_id", e.previous_item_id);
  j["item_id"] = e.item_id;
}
void read(Reader& r, InputAudioBufferCleared*) {
  r.known({"type", "event_id"});
}
void write(const InputAudioBufferCleared&, json&) {}

template <typename T>
void read_item_event(Reader& r, T* e) {
  r.known({"type", "event_id", "previous_item_id", "item"});
  e->previous_item_id = r.nullable_id("previous_item_id");
  if (const json* item = r.object("item", true)) e->item = read_item(r.child(*item, "item"));
}
template <typename T>
void write_item_event(const T& e, json& j) {
  write_nullable_id(j, "previous_item_id", e.previous_item_id);
  j["item"] = item_json(e.item);
}
void read(Reader& r, ConversationItemAdded* e) {
  read_item_event(r, e);
}
void write(const ConversationItemAdded& e, json& j) {
  write_item_event(e, j);
}
void read(Reader& r, ConversationItemDone* e) {
  read_item_event(r, e);
}
void write(const ConversationItemDone& e, json& j) {
  write_item_event(e, j);
}

void read(Reader& r, ConversationItemTruncated* e) {
  r.known({"type", "event_id", "item_id", "content_index", "audio_end_ms"});
  e->item_id = r.id("item_id");
  e->content_index = uint32_t(r.uint("content_index", UINT32_MAX));
  e->audio_end_ms = r.uint("audio_end_ms");
}
void write(const ConversationItemTruncated& e, json& j) {
  j["item_id"] = e.item_id;
  j["content_index"] = e.content_index;
  j["audio_end_ms"] = e.audio_end_ms;
}

void read(Reader& r, InputAudioTranscriptionDelta* e) {
  r.known({"type", "event_id", "item_id", "content_index", "delta"});
  e->item_id = r.id("item_id");
  e->content_index = uint32_t(r.uint("content_index", UINT32_MAX));
  e->delta = r.str("delta");
}
void write(const InputAudioTranscriptionDelta& e, json& j) {
  j["item_id"] = e.item_id;
  j["content_index"] = e.content_index;
  j["delta"] = e.delta;
}
void read(Reader& r, InputAudioTranscriptionCompleted* e) {
  r.known({"type", "event_id", "item_id", "content_index", "transcript", "usage"});
  e->item_id = r.id("item_id");
  e->content_index = uint32_t(r.uint("content_index", UINT32_MAX));
  e->transcript = r.str("transcript");
  if (const json* u = r.object("usage", true)) {
    Reader ur = r.child(*u, "usage");
    ur.known({"type", "seconds"});
    if (ur.str("type", 16) != "duration" && ur.ok()) ur.invalid("type", "must be \"duration\"");
    const json* s = ur.get("seconds", true);
    if (s && !s->is_number()) ur.wrong_type("seconds", "a number");
    if (s && s->is_number()) e->seconds = s->get<double>();
    if (ur.ok() && !(e->seconds >= 0 && std::isfinite(e->seconds)))
      ur.invalid("seconds", "must be non-negative");
  }
}
void write(const InputAudioTranscriptionCompleted& e, json& j) {
  j["item_id"] = e.item_id;
  j["content_index"] = e.content_index;
  j["transcript"] = e.transcript;
  j["usage"] = {{"type", "duration"}, {"seconds", e.seconds}};
}

void read(Reader& r, ResponseCreated* e) {
  r.known({"type", "event_id", "response"});
  if (const json* p = r.object("response", true))
    e->response = read_response(r.child(*p, "response"));
}
void write(const ResponseCreated& e, json& j) {
  j["response"] = response_json(e.response);
}
void read(Reader& r, ResponseDone* e) {
  r.known({"type", "event_id", "response"});
  if (const json* p = r.object("response", true))
    e->response = read_response(r.child(*p, "response"));
}
void write(const ResponseDone& e, json& j) {
  j["response"] = response_json(e.response);
}

template <typename T>
void read_output_item(Reader& r, T* e) {
  r.known({"type", "event_id", "response_id", "output_index", "item"});
  e->response_id = r.id("response_id");
  e->output_index = uint32_t(r.uint("output_index", UINT32_MAX));
  if (const json* item = r.object("item", true)) e->item = read_item(r.child(*item, "item"));
}
template <typename T>
void write_output_item(const T& e, json& j) {
  j["response_id"] = e.response_id;
  j["output_index"] = e.output_index;
  j["item"] = item_json(e.item);
}
void read(Reader& r, ResponseOutputItemAdded* e) {
  read_output_item(r, e);
}
void write(const ResponseOutputItemAdded& e, json& j) {
  write_output_item(e, j);
}
void read(Reader& r, ResponseOutputItemDone* e) {
  read_output_item(r, e);
}
void write(const ResponseOutputItemDone& e, json& j) {
  write_output_item(e, j);
}

template <typename T>
void read_part(Reader& r, T* e) {
  r.known({"type", "event_id", "response_id", "item_id", "output_index", "content_index", "part"});
  e->ref = read_ref(r);
  if (const json* p = r.object("part", true)) e->part = read_content(r.child(*p, "part"));
}
template <typename T>
void write_part(const T& e, json& j) {
  write_ref(e.ref, j);
  j["part"] = content_json(e.part);
}
void read(Reader& r, ResponseContentPartAdded* e) {
  read_part(r, e);
}
void write(const ResponseContentPartAdded& e, json& j) {
  write_part(e, j);
}
void read(Reader& r, ResponseContentPartDone* e) {
  read_part(r, e);
}
void write(const ResponseContentPartDone& e, json& j) {
  write_part(e, j);
}

// The response.output_* events: the part's place, and one text (or audio) field.
template <typename T>
void read_ref_and(Reader& r, T* e, const char* field, std::string T::*member, bool audio) {
  r.known({"type", "event_id", "response_id", "item_id", "output_index", "content_index", field});
  e->ref = read_ref(r);
  e->*member = audio ? r.audio(field) : r.str(field);
}
void read(Reader& r, ResponseOutputAudioDelta* e) {
  read_ref_and(r, e, "delta", &ResponseOutputAudioDelta::delta, true);
}
void write(const ResponseOutputAudioDelta& e, json& j) {
  write_ref(e.ref, j);
  j["delta"] = base64_encode(e.delta);
}
void read(Reader& r, ResponseOutputAudioDone* e) {
  r.known({"type", "event_id", "response_id", "item_id", "output_index", "content_index"});
  e->ref = read_ref(r);
}
void write(const ResponseOutputAudioDone& e, json& j) {
  write_ref(e.ref, j);
}
void read(Reader& r, ResponseOutputAudioTranscriptDelta* e) {
  read_ref_and(r, e, "delta", &ResponseOutputAudioTranscriptDelta::delta, false);
}
void write(const ResponseOutputAudioTranscriptDelta& e, json& j) {
  write_ref(e.ref, j);
  j["delta"] = e.delta;
}
void read(Reader& r, ResponseOutputAudioTranscriptDone* e) {
  read_ref_and(r, e, "transcript", &ResponseOutputAudioTranscriptDone::transcript, false);
}
void write(const ResponseOutputAudioTranscriptDone& e, json& j) {
  write_ref(e.ref, j);
  j["transcript"] = e.transcript;
}
void read(Reader& r, ResponseOutputTextDelta* e) {
  read_ref_and(r, e, "delta", &ResponseOutputTextDelta::delta, false);
}
void write(const ResponseOutputTextDelta& e, json& j) {
  write_ref(e.ref, j);
  j["delta"] = e.delta;
}
void read(Reader& r, ResponseOutputTextDone* e) {
  read_ref_and(r, e, "text", &ResponseOutputTextDone::text, false);
}
void write(const ResponseOutputTextDone& e, json& j) {
  write_ref(e.ref, j);
  j["text"] = e.text;
}

void read(Reader& r, Error* e) {
  r.known({"type", "event_id", "error"});
  const json* v = r.object("error", true);
  if (!v) return;
  Reader er = r.child(*v, "error");
  er.known({"type", "code", "message", "param", "event_id"});
  e->error.type = er.str("type", 64);
  if (const json* c = er.get("code", false)) {
    if (!c->is_string()) er.wrong_type("code", "a string");
    e->error.code = er.str("code", 64);
  }
  e->error.message = er.str("message");
  e->error.param = er.opt_str("param", 256);
  e->error.event_id = er.opt_str("event_id", kMaxEventIdLength);
}
void write(const Error& e, json& j) {
  j["error"] = {{"type", e.error.type},
                {"code", e.error.code},
                {"message", e.error.message},
                {"param", e.error.param ? json(*e.error.param) : json()},
                {"event_id", e.error.event_id ? json(*e.error.event_id) : json()}};
}

// --- the tables: one entry per event type, in the variant's order -------------------------------

template <typename Variant>
struct Entry {
  const char* type;
  bool (*read)(Reader&, Variant*);
  void (*write)(const Variant&, json&);
};

template <typename T, typename Variant>
bool read_as(Reader& r, Variant* out) {
  T event;
  read(r, &event);
  if (!r.ok()) return false;
  *out = std::move(event);
  return true;
}
template <typename T, typename Variant>
void write_as(const Variant& v, json& j) {
  write(std::get<T>(v), j);
}
template <typename T, typename Variant>
constexpr Entry<Variant> entry(const char* type) {
  return {type, &read_as<T, Variant>, &write_as<T, Variant>};
}

using C = ClientEventBody;
constexpr Entry<C> kClientEvents[] = {
    entry<SessionUpdate, C>("session.update"),
    entry<InputAudioBufferAppend, C>("input_audio_buffer.append"),
    entry<InputAudioBufferCommit, C>("input_audio_buffer.commit"),
    entry<InputAudioBufferClear, C>("input_audio_buffer.clear"),
    entry<ConversationItemCreate, C>("conversation.item.create"),
    entry<ConversationItemTruncate, C>("conversation.item.truncate"),
    entry<ResponseCreate, C>("response.create"),
    entry<ResponseCancel, C>("response.cancel"),
};
static_assert(std::size(kClientEvents) == std::variant_size_v<C>, "one entry per client event");

// Client events of the API that Earshot does not take: refused by name, not as unknown.
constexpr const char* kUnsupportedClientEvents[] = {
    "conversation.item.delete", "conversation.item.retrieve", "output_audio_buffer.clear",
    "transcription_session.update"};

using S = ServerEventBody;
constexpr Entry<S> kServerEvents[] = {
    entry<SessionCreated, S>("session.created"),
    entry<SessionUpdated, S>("session.updated"),
    entry<InputAudioBufferSpeechStarted, S>("input_audio_buffer.speech_started"),
    entry<InputAudioBufferSpeechStopped, S>("input_audio_buffer.speech_stopped"),
    entry<InputAudioBufferCommitted, S>("input_audio_buffer.committed"),
    entry<InputAudioBufferCleared, S>("input_audio_buffer.cleared"),
    entry<ConversationItemAdded, S>("conversation.item.added"),
    entry<ConversationItemDone, S>("conversation.item.done"),
    entry<ConversationItemTruncated, S>("conversation.item.truncated"),
    entry<InputAudioTranscriptionDelta, S>("conversation.item.input_audio_transcription.delta"),
    entry<InputAudioTranscriptionCompleted, S>(
        "conversation.item.input_audio_transcription.completed"),
    entry<ResponseCreated, S>("response.created"),
    entry<ResponseDone, S>("response.done"),
    entry<ResponseOutputItemAdded, S>("response.output_item.added"),
    entry<ResponseOutputItemDone, S>("response.output_item.done"),
    entry<ResponseContentPartAdded, S>("response.content_part.added"),
    entry<ResponseContentPartDone, S>("response.content_part.done"),
    entry<ResponseOutputAudioDelta, S>("response.output_audio.delta"),
    entry<ResponseOutputAudioDone, S>("response.output_audio.done"),
    entry<ResponseOutputAudioTranscriptDelta, S>("response.output_audio_transcript.delta"),
    entry<ResponseOutputAudioTranscriptDone, S>("response.output_audio_transcript.done"),
    entry<ResponseOutputTextDelta, S>("response.output_text.delta"),
    entry<ResponseOutputTextDone, S>("response.output_text.done"),
    entry<Error, S>("error"),
};
static_assert(std::size(kServerEvents) == std::variant_size_v<S>, "one entry per server event");

template <typename Variant, size_t N>
const Entry<Variant>* find_entry(const Entry<Variant> (&table)[N], const std::string& type) {
  for (const Entry<Variant>& e : table)
    if (type == e.type) return &e;
  return nullptr;
}

ErrorInfo to_error(const Failure& f) {
  ErrorInfo e;
  e.code = f.code;
  e.message = f.message;
  if (!f.param.empty()) e.param = f.param;
  return e;
}

ErrorInfo invalid_json(const std::string& why) {
  ErrorInfo e;
  e.code = "invalid_json";
  e.message = "The event is not valid JSON: " + why;
  return e;
}

// Parses the envelope (an object with a string "type" and an optional "event_id") and looks the
// type up; the entry's reader does the rest.
template <typename Variant, size_t N>
bool parse_event(std::string_view text, const Entry<Variant> (&table)[N], bool client,
                 std::optional<std::string>* event_id, Variant* body, ErrorInfo* error) {
  if (text.size() > kMaxEventBytes) {
    error->code = "message_too_large";
    error->message = "The event is larger than " + std::to_string(kMaxEventBytes) + " bytes.";
    return false;
  }
  const json o = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (o.is_discarded()) return *error = invalid_json("it does not parse"), false;
  if (!o.is_object()) return *error = invalid_json("an event is a JSON object"), false;
  Failure failure;
  Reader r(o, "", &failure);
  if (const json* id = r.get("event_id", !client)) {
    if (id->is_string() && id->get_ref<const std::string&>().size() <= kMaxEventIdLength) {
      *event_id = id->get<std::string>();
    } else {
      r.invalid("event_id",
                "must be a string of at most " + std::to_string(kMaxEventIdLength) + " bytes");
    }
  }
  const std::string type = r.str("type", 128);
  if (!r.ok()) return *error = to_error(failure), false;
  const Entry<Variant>* entry = find_entry(table, type);
  if (!entry) {
    ErrorInfo e;
    e.param = "type";
    const bool unsupported =
        client && std::find_if(std::begin(kUnsupportedClientEvents),
                               std::end(kUnsupportedClientEvents), [&](const char* name) {
                                 return type == name;
                               }) != std::end(kUnsupportedClientEvents);
    e.code = unsupported ? "unsupported_event" : "unknown_event_type";
    e.message = unsupported ? "Earshot does not support the event type '" + type + "'."
                            : "Unknown event type '" + type + "'.";
    *error = e;
    return false;
  }
  if (!entry->read(r, body)) return *error = to_error(failure), false;
  return true;
}

template <typename Variant, size_t N>
json write_event(const Entry<Variant> (&table)[N], const Variant& body) {
  const Entry<Variant>& entry = table[body.index()];
  json j = {{"type", entry.type}};
  entry.write(body, j);
  return j;
}

}  // namespace

ClientParse parse_client_event(std::string_view text) {
  ClientParse p;
  ClientEventBody body;
  if (parse_event(text, kClientEvents, true, &p.event_id, &body, &p.error)) {
    p.event = ClientEvent{p.event_id, std::move(body)};
  } else {
    p.error.event_id = p.event_id;
  }
  return p;
}

ServerParse parse_server_event(std::string_view text) {
  ServerParse p;
  std::optional<std::string> event_id;
  ServerEventBody body;
  if (parse_event(text, kServerEvents, false, &event_id, &body, &p.error))
    p.event = ServerEvent{event_id.value_or(""), std::move(body)};
  return p;
}

std::string to_json(const ClientEvent& event) {
  json j = write_event(kClientEvents, event.body);
  if (event.event_id) j["event_id"] = *event.event_id;
  return dump(j);
}

std::string to_json(const ServerEvent& event) {
  json j = write_event(kServerEvents, event.body);
  j["event_id"] = event.event_id;
  return dump(j);
}

const char* type_name(const ClientEventBody& body) {
  return kClientEvents[body.index()].type;
}
const char* type_name(const ServerEventBody& body) {
  return kServerEvents[body.index()].type;
}

void apply_update(const Session& patch, Session* into) {
  auto take = [](const auto& from, auto& to) {
    if (from) to = from;
  };
  take(patch.type, into->type);
  take(patch.model, into->model);
  take(patch.instructions, into->instructions);
  take(patch.output_modalities, into->output_modalities);
  take(patch.input_format, into->input_format);
  take(patch.transcription, into->transcription);
  take(patch.output_format, into->output_format);
  take(patch.voice, into->voice);
  take(patch.speed, into->speed);
  if (!patch.turn_detection) return;
  if (!*patch.turn_detection || !into->turn_detection || !*into->turn_detection ||
      (*into->turn_detection)->type != (*patch.turn_detection)->type) {
    into->turn_detection = patch.turn_detection;
    return;
  }
  TurnDetection& to = **into->turn_detection;
  const TurnDetection& from = **patch.turn_detection;
  take(from.threshold, to.threshold);
  take(from.prefix_padding_ms, to.prefix_padding_ms);
  take(from.silence_duration_ms, to.silence_duration_ms);
  take(from.create_response, to.create_response);
  take(from.interrupt_response, to.interrupt_response);
  take(from.idle_timeout_ms, to.idle_timeout_ms);
  take(from.eagerness, to.eagerness);
}

}  // namespace earshot::protocol::realtime
