#!/usr/bin/env python3
"""Lays out the real voices of Debian's hedgewars-data as more VAD training speech.

Called by bench/vad_data.sh with the unpacked package's root; writes 16 kHz mono 16-bit WAVs (the
script turns them into FLAC) and word labels ("start end word" per line, seconds) beside them:

  speech/hedgewars_<pack>.wav/.words  one voice pack each: its spoken phrases ("Leave me alone",
                                      "Take cover", "You'll regret that"; 20-50 per pack) in a
                                      seeded order, each cut to 150 ms either side of its speech and
                                      laid end to end with pauses of 0.2-0.8 s, at 0 to -18 dB,
                                      labelled from their energy as bench/vad_debian_voices.py
                                      labels its words.

Thirteen packs: English ones in several accents and characters, and packs made for Spanish, Polish
and Russian players (the *_es, *_pl, *_ru ones). The package does not say who voiced them, so some
may share an actor. That is more speakers saying more than one word, which the fitting side has
little of. Left out: the Robot pack (synthesized), the Singer pack (sung: the training music has
singing as non-speech), and in every pack the grunts, groans, coughs, laughs and shouts (Ooff*,
Ow*, Jump*, Firepunch*, Laugh, Poison*, Hmm), which are voice but not speech.

Needs sox. Deterministic: the order comes from a seeded generator and sox runs with -R.
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vad_debian_voices import RATE, lay_out, write_speech  # noqa: E402

VOICES = "usr/share/games/hedgewars/Data/Sounds/voices"
PACKS = ["British", "Classic", "Default", "Default_es", "Default_pl", "Default_ru", "Default_uk",
         "HillBilly", "Mobster", "Pirate", "Russian", "Russian_pl", "Surfer"]
NOT_SPEECH = ("Ooff", "Ow", "Jump", "Firepunch", "Laugh", "Poison", "Hmm")


def phrases_of(root, pack):
    d = os.path.join(root, VOICES, pack)
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if f.endswith(".ogg") and not f.startswith(NOT_SPEECH))


def pack_file(root, tmp, out_dir, pack, rng):
    clips = phrases_of(root, pack)
    rng.shuffle(clips)
    x, words = lay_out(clips, tmp, rng)
    write_speech(out_dir, "hedgewars_" + pack, x, words)
    return len(x) / RATE, sum(b - a for a, b in words), len(clips)


def main():
    root, out = sys.argv[1], sys.argv[2]
    tmp = os.path.join(out, "tmp")
    os.makedirs(os.path.join(out, "speech"), exist_ok=True)
    os.makedirs(tmp, exist_ok=True)
    rng = random.Random(20261201)
    total = speech = 0.0
    for pack in PACKS:
        t, s, n = pack_file(root, tmp, os.path.join(out, "speech"), pack, rng)
        print(f"{pack}: {n} phrases, {t:.1f} s, {s:.1f} s labelled speech")
        total, speech = total + t, speech + s
    print(f"speech: {len(PACKS)} files, {total:.0f} s, {speech:.0f} s labelled speech")


if __name__ == "__main__":
    main()
