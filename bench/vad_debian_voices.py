#!/usr/bin/env python3
"""Lays out real voices and music from Debian packages as more VAD training material.

Called by bench/vad_data.sh with the unpacked packages' root; writes 16 kHz mono 16-bit WAVs (the
script turns them into FLAC) and word labels ("start end word" per line, seconds) beside them:

  speech/<set>_<lang>.wav/.words  one speaker set per language: 14 of its isolated words and
                                  letters, each cut to 150 ms either side of its speech, laid end
                                  to end with pauses of 0.2-0.8 s, at 0 to -18 dB; a word is the
                                  span of its frames within 30 dB of the clip's loudest and 12 dB
                                  over its room tone (gaps under 60 ms closed), so the pauses are
                                  non-speech as in the pocketsphinx word labels.
  babble_voices.wav               six overlapped streams of those words, full band;
  babble_radio.wav                six other streams, band-limited to 200-3600 Hz (a radio, TV or
                                  phone in the room);
  music.wav                       8 s excerpts of instrumental tracks.
Each noise's first 70 % comes from training languages/tracks only and its last 30 % from the
validation ones (bench/vad_fit.cpp's validation takes the last 30 % of every noise), so validation
hears voices and tracks that fitting never did.

Needs sox. Deterministic: the choices come from a seeded generator and sox runs with -R (its
dither repeatable). The files committed on 2026-11-30, which the shipped model was fitted on, were
made before -R: regenerating them changes samples by at most 2 LSB (the dither), not the labels.
"""
import array
import math
import os
import random
import subprocess
import sys
import wave

RATE = 16000
FRAME = 160

# (set, language dir): ktuberling's spoken object names and klettres' letters and syllables, each
# language recorded by its own volunteer(s).
KTUBERLING = ["en", "fr", "de", "ru", "uk", "da", "ca", "lt", "el", "gl", "sl", "wa"]
KLETTRES = ["cs", "es", "it", "hu", "he", "ar", "pt_BR", "nl", "ml", "nb", "nds", "en_GB", "da"]
VALIDATION = {("ktuberling", "el"), ("ktuberling", "sl"), ("klettres", "hu"), ("klettres", "he")}
TRAIN_TRACKS = ["battle", "casualties_of_war", "heroes_rite", "into_the_shadows", "journeys_end",
                "loyalists", "northerners", "silvan_sanctuary"]
VALIDATION_TRACKS = ["traveling_minstrels", "wanderer", "knolls"]


def clips_of(root, set_name, lang):
    if set_name == "ktuberling":
        d = os.path.join(root, "usr/share/ktuberling/sounds", lang)
        return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith((".ogg", ".wav")))
    out = []
    for sub in ("alpha", "syllab"):
        d = os.path.join(root, "usr/share/klettres", lang, sub)
        if os.path.isdir(d):
            out += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".ogg"))
    return out


def decode(path, tmp, effects=()):
    """The file as 16 kHz mono floats, normalized to -3 dBFS peak, through sox `effects`."""
    out = os.path.join(tmp, "clip.wav")
    subprocess.run(["sox", "-R", path, "-r", str(RATE), "-c", "1", "-b", "16", out, *effects,
                    "norm", "-3"], check=True, stderr=subprocess.DEVNULL)
    with wave.open(out) as w:
        a = array.array("h", w.readframes(w.getnframes()))
    return [v / 32768.0 for v in a]


def word_spans(x):
    """Frames within 30 dB of the clip's loudest frame and 12 dB over its room tone (or within 15 dB
    of the loudest where the clip has no room tone), gaps under
    60 ms closed, runs under 30 ms dropped: (first, end) frame spans."""
    n = len(x) // FRAME
    db = []
    for k in range(n):
        e = sum(v * v for v in x[k * FRAME:(k + 1) * FRAME]) / FRAME
        db.append(10 * math.log10(e + 1e-12))
    if not db:
        return []
    # Within 30 dB of the loudest frame and 12 dB over the clip's quietest tenth (its room tone),
    # unless that tenth is speech too (clips cut tight to the word): then within 15 dB.
    peak, room = max(db), sorted(db)[len(db) // 10]
    floor = max(peak - 30, min(room + 12, peak - 15))
    spans = []
    for k, d in enumerate(db):
        if d < floor:
            continue
        if spans and k - spans[-1][1] < 6:
            spans[-1][1] = k + 1
        else:
            spans.append([k, k + 1])
    return [(a, b) for a, b in spans if b - a >= 3]


def write_wav(path, x):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(array.array(
            "h", (int(max(-1.0, min(1.0, v)) * 32767) for v in x)).tobytes())


def lay_out(clips, tmp, rng):
    """`clips` end to end, each cut to 150 ms either side of its speech, at 0, -6, -12 and -18 dB in
    turn, with pauses of 0.2-0.8 s after each: the samples and the word spans (start, end) in
    seconds. A clip with no speech in it is skipped."""
    x, words = [], []
    for i, clip in enumerate(clips):
        y = decode(clip, tmp)
        gain = 10 ** (-(6 * (i % 4)) / 20)  # 0, -6, -12, -18 dB
        y = [v * gain for v in y][: len(y) // FRAME * FRAME]
        spans = word_spans(y)
        if not spans:
            continue
        # Cut to the words with 150 ms of the clip's room tone either side: a room's tone does
        # not start out of digital silence, and the detector's noise floor needs ~2 s to learn one.
        first = max(0, spans[0][0] - 15)
        y = y[first * FRAME: (spans[-1][1] + 15) * FRAME]
        start = len(x) // FRAME - first
        words += [((start + a) * FRAME / RATE, (start + b) * FRAME / RATE) for a, b in spans]
        x += y
        x += [0.0] * (FRAME * rng.choice([20, 35, 50, 80]))
    return x, words


def write_speech(out_dir, name, x, words):
    """NAME.wav and NAME.words (one "start end w" line per word) in `out_dir`."""
    write_wav(os.path.join(out_dir, name + ".wav"), x)
    with open(os.path.join(out_dir, name + ".words"), "w") as f:
        for a, b in words:
            f.write(f"{a:.3f} {b:.3f} w\n")


def speech_file(root, tmp, out_dir, set_name, lang, rng):
    clips = clips_of(root, set_name, lang)
    rng.shuffle(clips)
    x, words = lay_out(clips[:14], tmp, rng)
    write_speech(out_dir, f"{set_name}_{lang}", x, words)
    return len(x) / RATE


def stream(root, tmp, langs, seconds, rng, effects=()):
    """Random words of `langs` end to end with short gaps, `seconds` long."""
    pool = [c for s, l in langs for c in clips_of(root, s, l)]
    x = []
    while len(x) < seconds * RATE:
        x += decode(rng.choice(pool), tmp, effects)
        x += [0.0] * int(RATE * rng.uniform(0.02, 0.3))
    return x[: int(seconds * RATE)]


def babble(root, tmp, train_langs, val_langs, rng, effects=()):
    x = [0.0] * (60 * RATE)
    cut = 42 * RATE  # the first 70 %: training voices; the rest: validation voices
    for _ in range(6):
        a = stream(root, tmp, train_langs, 42, rng, effects)
        b = stream(root, tmp, val_langs, 18, rng, effects)
        for i, v in enumerate(a + b):
            x[i] += v / 3
    assert len(a) == cut
    return x


def main():
    root, out = sys.argv[1], sys.argv[2]
    tmp = os.path.join(out, "tmp")
    os.makedirs(os.path.join(out, "speech"), exist_ok=True)
    os.makedirs(tmp, exist_ok=True)
    rng = random.Random(20261130)
    sets = [("ktuberling", l) for l in KTUBERLING] + [("klettres", l) for l in KLETTRES]
    total = 0.0
    for s, l in sets:
        total += speech_file(root, tmp, os.path.join(out, "speech"), s, l, rng)
    print(f"speech: {len(sets)} files, {total:.0f} s")
    train = [sl for sl in sets if sl not in VALIDATION]
    val = sorted(VALIDATION)
    write_wav(os.path.join(out, "babble_voices.wav"), babble(root, tmp, train, val, rng))
    write_wav(os.path.join(out, "babble_radio.wav"),
              babble(root, tmp, train, val, rng, ("sinc", "200-3600")))
    music = []
    d = os.path.join(root, "usr/share/games/wesnoth/1.16/data/core/music")
    for t in TRAIN_TRACKS + VALIDATION_TRACKS:
        music += decode(os.path.join(d, t + ".ogg"), tmp, ("trim", "60", "8"))
    write_wav(os.path.join(out, "music.wav"), music)
    print("noises: babble_voices, babble_radio, music")


if __name__ == "__main__":
    main()
