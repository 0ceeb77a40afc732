// The labelled VAD sets: the training set vad_fit fits on and the held-out splits vad_bench scores
// (they share no speaker, recording or noise), each laid end to end with silence between clips,
// with per-10 ms word-level and utterance-level labels, and noise mixed in at a chosen SNR.
#pragma once

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "dsp/resampler.h"
#include "dsp/vad/speech_segmenter.h"

namespace earshot::bench {

using earshot::dsp::Resampler;

constexpr int kRate = 16000;
constexpr size_t kFrame = 160;  // 10 ms

inline std::string data(const std::string& rel) {
  return std::string(EARSHOT_TEST_DATA_DIR) + "/" + rel;
}

// Any file sndfile reads, downmixed and resampled to 16 kHz.
// Audio as a detector gets it, for a detector outside the bench to score (float WAV, 16 kHz mono;
// vad_bench --dump-audio, vad_fit --teacher-dump). Exits on failure.
inline void write_wav(const std::string& path, const std::vector<float>& audio) {
  SF_INFO info{};
  info.samplerate = kRate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f || sf_write_float(f, audio.data(), sf_count_t(audio.size())) != sf_count_t(audio.size())) {
    fprintf(stderr, "cannot write %s\n", path.c_str());
    exit(1);
  }
  sf_close(f);
}

// What such a detector made of it: one float32 per 10 ms frame (bench/silero/scores.js), exactly
// `frames` of them. Exits, saying how to make them, otherwise.
inline std::vector<float> read_scores(const std::string& path, size_t frames) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> score(frames);
  in.read(reinterpret_cast<char*>(score.data()), std::streamsize(frames * sizeof(float)));
  if (!in || in.peek() != std::ifstream::traits_type::eof()) {
    fprintf(stderr, "%s: not %zu scores (bench/vad_silero.sh makes them)\n", path.c_str(), frames);
    exit(1);
  }
  return score;
}

inline std::vector<float> load(const std::string& path) {
  SF_INFO info{};
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
  if (!f) {
    fprintf(stderr, "vad_bench: cannot open %s\n", path.c_str());
    exit(1);
  }
  std::vector<float> inter(size_t(info.frames) * size_t(info.channels));
  sf_readf_float(f, inter.data(), info.frames);
  sf_close(f);
  std::vector<float> mono(size_t(info.frames));
  for (size_t i = 0; i < mono.size(); ++i) {
    float s = 0;
    for (int c = 0; c < info.channels; ++c)
      s += inter[i * size_t(info.channels) + size_t(c)];
    mono[i] = s / float(info.channels);
  }
  if (info.samplerate == kRate) return mono;
  std::string err;
  auto rs = Resampler::create(info.samplerate, kRate, mono.size(), &err);
  std::vector<float> out(rs->max_output_frames() * 2 + 64);
  size_t n = rs->process(mono.data(), mono.size(), out.data(), out.size());
  while (size_t m = rs->flush(out.data() + n, out.size() - n))
    n += m;
  out.resize(n);
  return out;
}

struct Corpus {
  std::vector<float> clean;
  std::vector<bool> label;      // per 10 ms frame (word-level on the held-out split)
  std::vector<bool> utterance;  // per 10 ms frame, utterance-level (held-out split only)
  std::vector<float> weight;    // per 10 ms frame, what it weighs in fitting (vad_fit); empty: 1
};

// Word spans from a .words file ("start end word" per line, seconds) as per-frame labels: a frame
// is speech when its middle falls inside a word, so the pauses between words are non-speech.
inline std::vector<bool> word_labels(const std::string& path, size_t frames) {
  std::ifstream in(path);
  if (!in) {
    fprintf(stderr, "vad_bench: cannot open %s\n", path.c_str());
    exit(1);
  }
  std::vector<bool> lab(frames);
  double t0, t1;
  std::string word;
  while (in >> t0 >> t1 >> word)
    for (size_t k = 0; k < frames; ++k) {
      const double mid = (double(k) + 0.5) * kFrame / kRate;
      if (mid >= t0 && mid < t1) lab[k] = true;
    }
  // A line that is not "start end word" would end the reading there and leave the rest of the
  // clip's words unlabelled (two training clips were, until 2026-11-30): refuse it.
  if (!in.eof()) {
    fprintf(stderr, "vad_bench: %s: a line is not \"start end word\"\n", path.c_str());
    exit(1);
  }
  return lab;
}

// Utterance-level labels from word-level ones: pauses shorter than `max_pause_frames` between two
// words belong to the utterance (what the node's held score and segmenter are meant to bridge).
inline std::vector<bool> close_pauses(std::vector<bool> lab, size_t max_pause_frames) {
  size_t last = SIZE_MAX;
  for (size_t k = 0; k < lab.size(); ++k) {
    if (!lab[k]) continue;
    if (last != SIZE_MAX && k - last > 1 && k - last <= max_pause_frames)
      for (size_t j = last; j < k; ++j)
        lab[j] = true;
    last = k;
  }
  return lab;
}

// `samples` of digital silence, labelled non-speech at both levels.
inline void append_silence(Corpus* corpus, size_t samples) {
  corpus->clean.insert(corpus->clean.end(), samples, 0.0f);
  corpus->label.insert(corpus->label.end(), samples / kFrame, false);
  corpus->utterance.insert(corpus->utterance.end(), samples / kFrame, false);
}

// A clip with its word labels; its utterance labels close the pauses under 300 ms between words.
inline void append_clip(Corpus* corpus, const std::vector<float>& x,
                        const std::vector<bool>& words) {
  const std::vector<bool> utterance = close_pauses(words, 30);
  corpus->clean.insert(corpus->clean.end(), x.begin(), x.end());
  corpus->label.insert(corpus->label.end(), words.begin(), words.end());
  corpus->utterance.insert(corpus->utterance.end(), utterance.begin(), utterance.end());
}

// Recordings laid end to end with 1-2.5 s of silence before each (and 2 s after the last), with
// their word labels (.words beside each) and utterance labels that close the pauses under 300 ms.
inline Corpus build_split(const std::string& dir, const std::vector<std::string>& clips,
                          const std::string& extension) {
  Corpus corpus;
  for (size_t i = 0; i < clips.size(); ++i) {
    const size_t gap = size_t(kRate) * (2 + i % 4) / 2;  // 1, 1.5, 2, 2.5 s of silence
    append_silence(&corpus, gap);
    const std::string base = data(dir + "/" + clips[i]);
    std::vector<float> x = load(base + extension);
    x.resize(x.size() / kFrame * kFrame);
    const std::vector<bool> words = word_labels(base + ".words", x.size() / kFrame);
    append_clip(&corpus, x, words);
  }
  append_silence(&corpus, size_t(kRate) * 2);
  return corpus;
}

// The held-out split (tests/data/vad/heldout, made by bench/vad_data.sh): recordings sharing no
// speaker and no recording with the training set. Word-level labels from pocketsphinx's
// alignment.
inline Corpus build_heldout() {
  std::vector<std::string> clips = {"silero_test", "xmas"};
  for (const char* c : {"Front_Center", "Front_Left", "Front_Right", "Rear_Center", "Rear_Left",
                        "Rear_Right", "Side_Left", "Side_Right"})
    clips.push_back(std::string("alsa_") + c);
  return build_split("vad/heldout", clips, ".wav");
}

// The second held-out split (tests/data/vad/heldout2, bench/vad_heldout2.py): voices of Debian's
// kajongg, warzone2100-data and boswars-data packages, sharing no speaker or recording with the
// training set or the first split, and laid out before anything was scored on it.
inline Corpus build_heldout2() {
  std::vector<std::string> clips;
  for (const char* v : {"female1", "female2", "male1", "male2"})
    clips.push_back(std::string("kajongg_") + v);
  for (int n : {1, 2, 3, 7, 9, 10, 11, 12, 13, 15, 18, 20})
    clips.push_back("warzone_tut" + std::to_string(n));
  for (const char* n : {"01", "03", "04", "05"})
    clips.push_back(std::string("boswars_level01-") + n);
  return build_split("vad/heldout2", clips, ".flac");
}

// The third held-out split (tests/data/vad/heldout3, bench/vad_heldout3.py): the English dialogue
// of six characters of Debian's drascula, the OpenArena "rott" team-order voice and Tux Paint's
// spoken stamp descriptions, sharing no speaker or recording with the training set or the first two
// splits, and laid out before anything was scored on it.
inline Corpus build_heldout3() {
  std::vector<std::string> clips;
  for (const char* who : {"hacker", "bj", "drascula", "igor", "bartender", "vonbraun"})
    clips.push_back(std::string("drascula_") + who);
  for (const char* n : {"openarena_rott_1", "openarena_rott_2", "tuxpaint_1", "tuxpaint_2"})
    clips.push_back(n);
  return build_split("vad/heldout3", clips, ".flac");
}

// The fourth held-out split (tests/data/vad/heldout4, bench/vad_heldout4.py): Flight of the Amazon
// Queen's voices (Joe King and six characters he talks to) and Allison Smith's Asterisk telephone
// prompts, sharing no speaker or recording with the training set or the first three splits, and
// laid out before anything was scored on it.
inline Corpus build_heldout4() {
  std::vector<std::string> clips;
  for (const char* who : {"joe", "faye", "witch", "naomi", "zombie", "oracle", "frank"})
    clips.push_back(std::string("queen_") + who);
  for (const char* n : {"asterisk_1", "asterisk_2"})
    clips.push_back(n);
  return build_split("vad/heldout4", clips, ".flac");
}

// The fifth held-out split (tests/data/vad/heldout5, bench/vad_heldout5.py): Ardentryst's narrator
// and Brewtarget's spoken brewing reminders (full band) and Beneath a Steel Sky's voices (11 kHz),
// sharing no speaker or recording with the training set or the first four splits, and laid out
// before anything was scored on it.
inline Corpus build_heldout5() {
  std::vector<std::string> clips = {"ardentryst", "brewtarget_1", "brewtarget_2"};
  for (int section = 0; section < 6; ++section)
    clips.push_back("bass_s" + std::to_string(section));
  return build_split("vad/heldout5", clips, ".flac");
}

// The sixth held-out split (tests/data/vad/heldout6, bench/vad_heldout6.py): MegaGlest's spoken
// unit commands (the Glest team's tech and magic voices), qABCs's spoken English words, Unknown
// Horizons's notices, Mars Shooter's announcer and Linphone's spoken greeting, all full band,
// sharing no speaker or recording with the training set or the first five splits, and laid out
// before anything was scored on it.
inline Corpus build_heldout6() {
  const std::vector<std::string> clips = {
      "megaglest_tech_1", "megaglest_tech_2", "megaglest_magic", "qabcs_1",
      "qabcs_2",          "unknown_horizons", "marsshooter",     "linphone"};
  return build_split("vad/heldout6", clips, ".flac");
}

// The training clips (under tests/data): CMU ARCTIC, JFK, "cards" and LibriVox; none of their
// speakers is in the held-out split.
// Festival's voices in Debian (bench/vad_tts_voices.py): twelve synthesized speakers reading whole
// sentences, with Festival's own word spans; in fitting only when asked (vad_fit --tts).
inline std::vector<std::string> tts_clips() {
  std::vector<std::string> clips;
  for (const char* v :
       {"kal", "ked", "slt", "lp", "pc", "ona", "lj", "mv", "nsh", "dita", "krb", "machac"})
    clips.push_back(std::string("vad/tts/tts_") + v);
  return clips;
}

// Hedgewars' voice packs in Debian (bench/vad_hedgewars_voices.py): thirteen packs' spoken
// phrases, labelled from their energy; in fitting only when asked (vad_fit --hedgewars).
inline std::vector<std::string> hedgewars_clips() {
  std::vector<std::string> clips;
  for (const char* p :
       {"British", "Classic", "Default", "Default_es", "Default_pl", "Default_ru", "Default_uk",
        "HillBilly", "Mobster", "Pirate", "Russian", "Russian_pl", "Surfer"})
    clips.push_back(std::string("vad/hedgewars/hedgewars_") + p);
  return clips;
}

inline std::vector<std::string> training_clips() {
  std::vector<std::string> clips;
  for (const char* a :
       {"aew_a0001", "aew_a0002", "aew_a0003", "axb_a0004", "axb_a0005", "axb_a0006"})
    clips.push_back(std::string("cmu-arctic/cmu_arctic_us_") + a);
  clips.push_back("whisper.cpp/jfk");
  for (const char* c : {"001", "002", "003", "004", "005"})
    clips.push_back(std::string("pocketsphinx/cards/") + c);
  for (const char* id : {"0870", "0880", "0890", "0920", "0930"})
    clips.push_back(std::string("pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-") +
                    id);
  // Real voices in 24 languages from Debian's ktuberling-data and klettres-data (words and letters,
  // one speaker set per language; bench/vad_debian_voices.py lays them out and labels them).
  for (const char* l : {"ca", "da", "de", "el", "en", "fr", "gl", "lt", "ru", "sl", "uk", "wa"})
    clips.push_back(std::string("vad/debian/ktuberling_") + l);
  for (const char* l :
       {"ar", "cs", "da", "en_GB", "es", "he", "hu", "it", "ml", "nb", "nds", "nl", "pt_BR"})
    clips.push_back(std::string("vad/debian/klettres_") + l);
  return clips;
}

// The training set bench/vad_fit.cpp fits on (`clips`, by default all of training_clips()), laid
// out like the held-out split, with word labels from pocketsphinx (tests/data/vad/train, made by
// bench/vad_data.sh) and utterance labels closing pauses under 300 ms.
inline Corpus build_training(const std::vector<std::string>& clips = training_clips()) {
  Corpus corpus;
  for (size_t i = 0; i < clips.size(); ++i) {
    const size_t gap = size_t(kRate) * (2 + i % 4) / 2;  // 1, 1.5, 2, 2.5 s of silence
    append_silence(&corpus, gap);
    const std::string& clip = clips[i];
    const size_t slash = clip.find('/');
    const std::string dir = clip.substr(0, slash), file = clip.substr(clip.rfind('/') + 1);
    // The Debian voices keep their labels beside them; the other clips' are in vad/train.
    const bool own_labels = dir == "vad";
    std::vector<float> x = load(data(clip + (own_labels ? ".flac" : ".wav")));
    x.resize(x.size() / kFrame * kFrame);
    const std::string set =
        dir == "pocketsphinx" ? clip.substr(slash + 1, clip.rfind('/') - slash - 1) : dir;
    const std::vector<bool> words =
        word_labels(data(own_labels ? clip + ".words" : "vad/train/" + set + "_" + file + ".words"),
                    x.size() / kFrame);
    append_clip(&corpus, x, words);
  }
  append_silence(&corpus, size_t(kRate) * 2);
  return corpus;
}

// A set of noises: name and file under tests/data.
using NoiseList = std::vector<std::pair<std::string, std::string>>;

// The training noises: the whole kitchen recording, the synthesized training babble, fan and
// music, and real voices, music (two sets) and household sounds from Debian packages (none of them
// is mixed into a held-out split).
inline const NoiseList& training_noises() {
  static const NoiseList noises = {
      {"dishes", "noise/doing_the_dishes.wav"},
      {"babble", "vad/noise/train_babble.flac"},
      {"fan", "vad/noise/train_fan.flac"},
      {"music", "vad/noise/train_music.flac"},
      // Real voices and music from Debian packages (bench/vad_debian_voices.py): 24 languages'
      // words overlapped, full band and through a 200-3600 Hz radio band, and Wesnoth's
      // instrumental tracks.
      {"voices", "vad/noise/train_babble_voices.flac"},
      {"radio", "vad/noise/train_babble_radio.flac"},
      {"tracks", "vad/noise/train_music_real.flac"},
      // Real household and everyday sounds from Debian packages (bench/vad_train_household.py):
      // doors, cupboards, footsteps, knocks, clinks, thuds, water, cards and paper, switches,
      // phones, bells and beeps, laid out with random gaps and overlaps over a quiet room tone.
      {"household", "vad/noise/train_household.flac"},
      // More and more varied real music from Debian packages (bench/vad_train_music.py):
      // electronic, rock, chiptune, acoustic, band, ambient and drum excerpts, and sung phrases
      // over backing loops. The shipped model predates it (its recipe plus --leave-out music_more
      // gives the same weights); on validation it moved nothing beyond a seed's spread.
      {"music_more", "vad/noise/train_music_more.flac"}};
  return noises;
}

// The held-out noises (never in training): name and file under tests/data/vad/noise.
inline NoiseList heldout_noises() {
  return {{"babble", "vad/noise/heldout_babble.flac"},
          {"fan", "vad/noise/heldout_fan.flac"},
          {"music", "vad/noise/heldout_music.flac"}};
}

// The second split's noises (never in training, nor in the first split): a football crowd,
// street and machine ambience, and eight music tracks (bench/vad_heldout2.py).
inline NoiseList heldout2_noises() {
  return {{"crowd", "vad/noise/heldout2_crowd.flac"},
          {"ambience", "vad/noise/heldout2_ambience.flac"},
          {"music", "vad/noise/heldout2_music.flac"}};
}

// The third split's noises (never in training, nor in the first two splits): household sounds
// (taps, shower, toilet, doors, toaster, doorbell), rain and sea, and eight soundtrack excerpts
// (bench/vad_heldout3.py).
inline NoiseList heldout3_noises() {
  return {{"household", "vad/noise/heldout3_household.flac"},
          {"weather", "vad/noise/heldout3_weather.flac"},
          {"music", "vad/noise/heldout3_music.flac"}};
}

// The fourth split's noises (never in training, nor in the first three splits): household sounds
// (tap, door, bell, falling objects, coins, drips, a bark, footsteps), machines and vehicles (car
// engine, trains, factory, helicopter, canal lock, harbour) and eight soundtrack excerpts
// (bench/vad_heldout4.py).
inline NoiseList heldout4_noises() {
  return {{"household", "vad/noise/heldout4_household.flac"},
          {"machines", "vad/noise/heldout4_machines.flac"},
          {"music", "vad/noise/heldout4_music.flac"}};
}

// The fifth split's noises (never in training, nor in the first four splits): a television's
// songs with a cheering crowd, kitchen sounds (running water, a ticking clock and timer, bells, a
// beep) and the street (wind, rain, a car engine, skids, crashes, thunder) (bench/vad_heldout5.py).
inline NoiseList heldout5_noises() {
  return {{"tv", "vad/noise/heldout5_tv.flac"},
          {"kitchen", "vad/noise/heldout5_kitchen.flac"},
          {"street", "vad/noise/heldout5_street.flac"}};
}

// The sixth split's noises (never in training, nor in the first five splits): a living room (a
// child's toys, a dog, a cat, a hamster, clocks, paper, a zipper, spoons), orchestral and folk
// game music, and a village square (a crowd, a tavern, hammering, sheep, a windmill, a bell)
// (bench/vad_heldout6.py).
inline NoiseList heldout6_noises() {
  return {{"livingroom", "vad/noise/heldout6_livingroom.flac"},
          {"music", "vad/noise/heldout6_music.flac"},
          {"square", "vad/noise/heldout6_square.flac"}};
}

// The clean corpus with the noise (looped) at `snr_db` over the speech frames' power.
// The gain that puts `noise` `snr_db` under the corpus's speech (its power over the frames
// labelled speech).
inline double noise_gain(const Corpus& c, const std::vector<float>& noise, double snr_db) {
  double ps = 0, pn = 0;
  size_t ns = 0;
  for (size_t k = 0; k < c.label.size(); ++k) {
    if (!c.label[k]) continue;
    for (size_t i = 0; i < kFrame; ++i)
      ps += double(c.clean[k * kFrame + i]) * c.clean[k * kFrame + i];
    ns += kFrame;
  }
  ps /= double(ns);
  for (float v : noise)
    pn += double(v) * v;
  pn /= double(noise.size());
  return std::sqrt(ps / pn / std::pow(10.0, snr_db / 10));
}

// `noise` by itself (whole frames of it), at the level it has when mixed into `c` at `snr_db`:
// a room where nobody speaks, for longer than any of a detector's context.
inline std::vector<float> noise_alone(const Corpus& c, const std::vector<float>& noise,
                                      double snr_db) {
  const double gain = noise_gain(c, noise, snr_db);
  std::vector<float> out(noise.size() / kFrame * kFrame);
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = std::clamp(float(gain * noise[i]), -1.0f, 1.0f);
  return out;
}

inline std::vector<float> mix(const Corpus& c, const std::vector<float>& noise, double snr_db) {
  const double gain = noise_gain(c, noise, snr_db);
  std::vector<float> out(c.clean.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = std::clamp(float(c.clean[i] + gain * noise[i % noise.size()]), -1.0f, 1.0f);
  return out;
}

// What the node's segmenter (SpeechSegmenter's defaults: 40 ms to open, 400 ms to close, on 20 ms
// blocks that are speech if either 10 ms frame is) makes of a detector's decisions, against the
// utterances (runs of utterance labels: no pause in one is 300 ms long, so a segment that ends
// inside one ended at speech the detector missed). An utterance two segments or more overlap was
// cut; one none overlaps was lost. Also how many segments there were and how many 10 ms frames
// they held.
struct SegmentCount {
  int utterances = 0, cut = 0, lost = 0, segments = 0;
  size_t frames = 0;
};

inline SegmentCount through_segmenter(const std::vector<bool>& utterance,
                                      const std::vector<bool>& decision) {
  earshot::dsp::SpeechSegmenter seg;
  const std::vector<float> silence(earshot::dsp::kCodecFrameSamples, 0.0f);
  std::vector<std::pair<size_t, size_t>> spans;  // 10 ms frames, both ends included
  for (size_t k = 0; 2 * k + 1 < decision.size(); ++k)
    seg.push(silence.data(), 2 * k, decision[2 * k] || decision[2 * k + 1],
             [&](const earshot::dsp::SegmentFrame& f) {
               if (f.flags & earshot::dsp::kSegmentStart) spans.push_back({f.timestamp, 0});
               if (!spans.empty()) spans.back().second = f.timestamp + 1;
             });
  std::vector<std::pair<size_t, size_t>> clips;
  for (size_t k = 0; k < utterance.size(); ++k) {
    if (!utterance[k]) continue;
    if (!clips.empty() && k == clips.back().second + 1) {
      clips.back().second = k;
    } else {
      clips.push_back({k, k});
    }
  }
  SegmentCount out;
  out.utterances = int(clips.size());
  out.segments = int(spans.size());
  for (const auto& [from, to] : spans)
    out.frames += to - from + 1;
  for (const auto& [from, to] : clips) {
    int n = 0;
    for (const auto& [s_from, s_to] : spans)
      n += s_from <= to && s_to >= from;
    out.cut += n >= 2;
    out.lost += n == 0;
  }
  return out;
}

}  // namespace earshot::bench
