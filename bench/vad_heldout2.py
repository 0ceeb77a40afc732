#!/usr/bin/env python3
"""Lays out the second held-out split (tests/data/vad/heldout2) from Debian packages.

The first held-out split was scored seven times while the detector changed, so it no longer
measures speech the detector was never tuned on. This one was laid out before anything was scored
on it and is meant to be scored once per shipped model. It shares no speaker, recording or noise
with training, validation or the first split.

Called by bench/vad_data.sh with the unpacked packages' root; writes 16 kHz mono 16-bit WAVs and
their word labels (.words: "start end word", seconds) by pocketsphinx as vad_data.sh labels the
first split: forced alignment to the recording's known text, or free recognition where its text is
not known exactly. A recording whose text the alignment cannot cover says something else and is
left out.

  speech/kajongg_<voice>.wav       kajongg 4:22.12.3-1: four voices (two women, two men, US English)
                                   calling tiles; 12 calls each, peak-normalized to -6 dBFS, with
                                   0.3-0.7 s of silence between them (the recordings are cut to
                                   their words and end in digital silence); aligned to the call
  speech/warzone_tutNN.wav         warzone2100-data 4.3.3-3: the tutorial narrator's first twelve
                                   lines whose words pocketsphinx's dictionary knows, as recorded;
                                   aligned to the line's text in the tutorial's script
  speech/boswars_level01-NN.wav    boswars-data 2.7+svn160110-5: the tutorial's Central Command
                                   transmissions, as recorded; their text is not given exactly,
                                   so free recognition
  crowd.wav                        etw-data 3.6+svn162-6: a football crowd (60 s)
  ambience.wav                     lincity-ng-data 2.9~git20150314-5: traffic, water, harbour, fire
                                   and windmill recordings (60 s; the ones with voices are left out)
  music.wav                        7.5 s from 30 s into each of lincity-ng-data's three tracks and
                                   asterisk-moh-opsound-wav 2.03-1.1's five (blues, ambient,
                                   electronic, acoustic; 60 s)

Needs sox and pocketsphinx. Deterministic: the choices come from a seeded generator and sox runs
with -R.
"""
import os
import random
import re
import sys
import zipfile

from vad_split_audio import (RATE, decode, dictionary_words, split_dirs, words_of, write_wav,
                             write_words)

KAJONGG = "usr/share/kajongg/voices"
KAJONGG_VOICES = ["female1", "female2", "male1", "male2"]
NUMBERS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
KAJONGG_NAMES = {"b": "bamboo", "c": "character", "s": "stone"}
KAJONGG_WORDS = {
    "chow": "chow", "pung": "pung", "kong": "kong", "nochoice": "no choice",
    "originalcall": "original call", "violatesoriginalcall": "violates original call",
    "dangerousgame": "dangerous game", "db": "blue dragon", "dg": "green dragon",
    "dr": "red dragon", "we": "east wind", "wn": "north wind", "ws": "south wind",
    "ww": "west wind"}  # "mahjongg" is not in the dictionary
WARZONE = "usr/share/games/warzone2100"
BOSWARS = "usr/share/games/boswars/campaigns/tutorial"
CROWD = "usr/share/games/etw/crowd"
LINCITY = "usr/share/games/lincity-ng"
AMBIENCE = ["TraficHigh", "TraficLow", "Water", "Harbor", "Fire", "WindMill"]
MOH = "usr/share/asterisk/moh"


def kajongg_text(name):
    if name in KAJONGG_WORDS:
        return KAJONGG_WORDS[name]
    m = re.fullmatch(r"([bcs])([1-9])", name)
    return f"{KAJONGG_NAMES[m.group(1)]} {NUMBERS[int(m.group(2)) - 1]}" if m else None


def kajongg(root, tmp, out, rng):
    for voice in KAJONGG_VOICES:
        d = os.path.join(root, KAJONGG, voice)
        calls = sorted(f[:-4] for f in os.listdir(d) if f.endswith(".ogg") and kajongg_text(f[:-4]))
        rng.shuffle(calls)
        x, words, taken = [], [], 0
        pad = [0] * (RATE * 3 // 10)  # the calls start on their first word: aligned with a pause
        for name in calls:
            y = decode(os.path.join(d, name + ".ogg"), tmp, ("norm", "-6"))
            spans = words_of(pad + y + pad, tmp, kajongg_text(name))
            if not spans:  # said otherwise than its name: left out
                continue
            at = len(x) / RATE - len(pad) / RATE
            words += [(a + at, b + at, w) for a, b, w in spans]
            x += y + [0] * int(RATE * rng.uniform(0.3, 0.7))
            taken += 1
            if taken == 12:
                break
        write_wav(os.path.join(out, f"kajongg_{voice}.wav"), x)
        write_words(os.path.join(out, f"kajongg_{voice}.words"), words)


def warzone(root, tmp, out, known):
    base = zipfile.ZipFile(os.path.join(root, WARZONE, "base.wz"))  # the game's data is a zip
    # The tutorial script pairs each recording with its text.
    js = base.read("script/tutorial.js").decode("utf-8")
    lines = re.findall(r'"audio": "(tut\d+)\.ogg".*?"message": _\("([^"]*)"\)', js)
    taken = 0
    for name, text in lines:
        words = re.sub(r"[^a-z' ]", " ", text.lower()).split()
        if any(w not in known for w in words):
            continue
        ogg = os.path.join(tmp, "clip.ogg")
        with open(ogg, "wb") as f:
            f.write(base.read(f"audio/tutorial/{name}.ogg"))
        y = decode(ogg, tmp)
        spans = words_of(y, tmp, " ".join(words))
        if not spans:  # the recording says less than the script's text (tut4, tut5, tut8)
            continue
        write_wav(os.path.join(out, f"warzone_{name}.wav"), y)
        write_words(os.path.join(out, f"warzone_{name}.words"), spans)
        taken += 1
        if taken == 12:
            break


def boswars(root, tmp, out):
    d = os.path.join(root, BOSWARS)
    for f in sorted(os.listdir(d)):
        if re.fullmatch(r"level01-\d\d\.wav", f):
            y = decode(os.path.join(d, f), tmp)
            write_wav(os.path.join(out, "boswars_" + f), y)
            write_words(os.path.join(out, "boswars_" + f[:-4] + ".words"), words_of(y, tmp))


def noises(root, tmp, out):
    crowd = []
    for i in range(1, 18):
        crowd += decode(os.path.join(root, CROWD, f"crowd{i:02d}.wav"), tmp)
    write_wav(os.path.join(out, "crowd.wav"), crowd[:60 * RATE])
    sounds = os.path.join(root, LINCITY, "sounds")
    amb = []
    for kind in AMBIENCE:
        for f in sorted(os.listdir(sounds)):
            if re.fullmatch(kind + r"\d*\.wav", f):
                amb += decode(os.path.join(sounds, f), tmp)
    write_wav(os.path.join(out, "ambience.wav"), amb[:60 * RATE])
    tracks = sorted(os.path.join(root, LINCITY, "music/default", f)
                    for f in os.listdir(os.path.join(root, LINCITY, "music/default"))
                    if f.endswith(".ogg"))
    tracks += sorted(os.path.join(root, MOH, f) for f in os.listdir(os.path.join(root, MOH)))
    music = []
    for t in tracks:
        music += decode(t, tmp, ("trim", "30", "7.5"))
    write_wav(os.path.join(out, "music.wav"), music[:60 * RATE])


def main():
    root, out, speech, tmp = split_dirs(sys.argv)
    rng = random.Random(20261130)
    kajongg(root, tmp, speech, rng)
    warzone(root, tmp, speech, dictionary_words())
    boswars(root, tmp, speech)
    noises(root, tmp, out)


if __name__ == "__main__":
    main()
