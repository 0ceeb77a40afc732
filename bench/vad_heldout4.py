#!/usr/bin/env python3
"""Lays out the fourth held-out split (tests/data/vad/heldout4) from Debian packages.

The third held-out split has been scored once (the refitted model), so the next candidate (the
recurrent model) needs speech and noise nothing has been scored on. This split was laid out and
committed before anything was scored on it. It shares no speaker, recording or noise with
training, validation or the first three splits, and uses none of their packages (nor those tried
on validation, nor those the training noises come from).

Called by bench/vad_data.sh with the unpacked packages' root; writes 16 kHz mono 16-bit WAVs and
their word labels (.words: "start end word", seconds) by pocketsphinx as the third split's script
does (bench/vad_split_audio.py): forced alignment to the recording's known text, or free
recognition where its text is not known; a recording the alignment cannot cover, or whose labels
leave 300 ms of its loud frames outside every word, is left out.

  speech/queen_<who>.wav           flight-of-the-amazon-queen 1.0.0-9: the talkie's English voices
                                   (queen.1c, ScummVM's rebuilt resource file; each line an MP3 at
                                   11025 Hz, so nothing above 5.5 kHz), peak-normalized to -6 dBFS:
                                   the hero Joe King's object descriptions (JOE*.SB) and the lines
                                   of six characters he talks to (the other party's lines, "P", of
                                   their dialogue files' talk keys); seeded lines of each, laid end
                                   to end with 0.3-0.7 s of silence until 12 s; free recognition
                                   (the subtitles are in the dialogue files, not by line file)
  speech/asterisk_N.wav            asterisk-core-sounds-en-wav 1.6.1-1: Allison Smith's telephone
                                   prompts (8 kHz, so nothing above 4 kHz), peak-normalized to
                                   -6 dBFS; two clips of seeded prompts laid out as the lines until
                                   28 s; aligned to each prompt's text in asterisk-core-sounds-en
                                   1.6.1-1's core-sounds-en.txt (prompts with digits or words the
                                   dictionary lacks are left out)
  household.wav                    gcompris-qt-data 3.1-2 (the Qt resource files' sounds): a tap,
                                   a door, a ringing bell, falling objects, coins, a card, drips,
                                   an eraser and a brush, a metal hit, a dog's bark, footsteps on
                                   ice, clicks, each peak-normalized to -6 dBFS, in two seeded
                                   streams with 0-1 s between events, overlapped (60 s)
  machines.wav                     gcompris-qt-data 3.1-2: a car engine started and stopped, a
                                   train slowing down, factory noises, a helicopter, a passing car,
                                   a train, a canal lock's water and gates, a harbour; the same way
  music.wav                        7.5 s from 30 s into eight seeded tracks of freedroidrpg-data
                                   1.0-1's instrumental soundtrack (60 s)

Needs sox with its MP3 format (libsox-fmt-mp3) and pocketsphinx. Deterministic: the choices come
from a seeded generator and sox runs with -R.
"""
import gzip
import os
import random
import re
import struct
import subprocess
import sys
import zlib

from vad_split_audio import (RATE, decode, dictionary_words, events_stream, lay_out,
                             lay_out_halves, split_dirs, words_known, write_wav)

QUEEN = "usr/share/scummvm/flight-of-the-amazon-queen/queen.1c"
# Who -> the dialogue files (.DOG) whose other party speaks in their voice.
QUEEN_VOICES = {"faye": "FAYE", "witch": "WITCH", "naomi": "NAOMI", "zombie": "ZOMBIE",
                "oracle": "ORACLE", "frank": "FRANK"}
ALLISON = "usr/share/asterisk/sounds/en_US_f_Allison"
ALLISON_TEXT = "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
GCOMPRIS = "usr/share/gcompris-qt/rcc"
HOUSEHOLD = ["core/resource/sounds/water.wav", "memory-sound/resource/LRDoor_Open_2_LA.ogg",
             "memory-sound/resource/LRRing_01_LA.ogg",
             "memory-sound/resource/LRObject_falling_01_LA.ogg",
             "memory-sound/resource/LRObject_falling_02_LA.ogg", "money/resource/money1.wav",
             "money/resource/money2.wav", "memory/resource/card_flip.wav",
             "clickgame/resource/drip.wav", "erase/resource/eraser1.wav",
             "redraw/resource/brush.wav", "scalesboard/resource/metal_hit.wav",
             "memory-sound/resource/LRBark_1_LA_cut.ogg", "reversecount/resource/icy_walk.wav",
             "nine_men_morris/resource/click.wav"]
MACHINES = ["memory-sound/resource/LRStartAndStopCarEngine1LACut.ogg",
            "memory-sound/resource/LRTrain_slowing_down_01_LA_cut.ogg",
            "memory-sound/resource/LRFactory_noise_01_LA.ogg",
            "memory-sound/resource/LRFactory_noise_02_LA.ogg",
            "memory-sound/resource/LRFactory_noise_03_LA.ogg",
            "memory-sound/resource/LRFactory_noise_04_LA.ogg",
            "guessnumber/resource/helicopter.wav", "traffic/resource/car.wav",
            "railroad/resource/sounds/train.wav", "canal_lock/resource/water_fill.wav",
            "canal_lock/resource/door_open.wav", "canal_lock/resource/door_close.wav",
            "watercycle/resource/harbor1.wav", "watercycle/resource/harbor2.wav"]
FREEDROID = "usr/share/freedroidrpg/data/sound/music"
# Silence between lines: these recordings are cut tight and said fast, so longer pauses than the
# third split's keep the split near half speech.
PAUSE = (0.5, 1.5)


def queen_files(path):
    """The resource table of ScummVM's rebuilt queen.1c: "QTBL", a 6-byte version, two bytes, the
    compression (1: MP3), the entry count, then per entry a 12-byte name, its bundle, offset and
    size (ScummVM engines/queen/resource.cpp)."""
    d = open(path, "rb").read()
    assert d[:4] == b"QTBL" and d[12] == 1, "unexpected queen.1c"
    files, p = {}, 15
    for _ in range(struct.unpack_from(">H", d, 13)[0]):
        name = d[p:p + 12].split(b"\0")[0].decode()
        offset, size = struct.unpack_from(">II", d, p + 13)
        files[name] = d[offset:offset + size]
        p += 21
    return files


def queen(root, tmp, out, rng):
    files = queen_files(os.path.join(root, QUEEN))
    # A dialogue file (an AMOS bank: 20 bytes of header) holds its talk key at byte 4 of its data;
    # the lines spoken in it are "<key><line>J<n>.SB" (Joe) and "<key><line>P<n>.SB" (the other).
    keys = {}
    for name, data in files.items():
        if name.endswith(".DOG"):
            keys.setdefault(re.sub(r"\d+$", "", name[:-4]), set()).add(
                struct.unpack_from(">H", data, 24)[0])
    mp3 = os.path.join(tmp, "line.mp3")

    def lines(chosen):
        for name in chosen:
            with open(mp3, "wb") as f:
                f.write(files[name])
            yield decode(mp3, tmp, ("norm", "-6")), None

    voices = {"joe": sorted(n for n in files if re.fullmatch(r"JOE\d+\.SB", n))}
    for who, dog in QUEEN_VOICES.items():
        voices[who] = sorted(n for n in files if re.fullmatch(r"\d{6}P\d\.SB", n) and
                             int(n[:2]) in keys[dog])
    for who, names in voices.items():
        rng.shuffle(names)
        lay_out(lines(names), tmp, out, "queen_" + who, rng, lambda n, s: s >= 12, PAUSE,
                laughs=True)


def asterisk(root, tmp, out, rng, known):
    prompts = []
    with gzip.open(os.path.join(root, ALLISON_TEXT), "rt", encoding="utf-8") as f:
        for line in f:
            m = re.fullmatch(r"([\w-]+): (.*)", line.strip())
            wav = os.path.join(root, ALLISON, m.group(1) + ".wav") if m else ""
            # Digits ("press 1") and bracketed descriptions ("[beep]") are not the words said.
            if (m and os.path.exists(wav) and not re.search(r"[0-9\[]", m.group(2)) and
                    words_known(m.group(2), known)):
                prompts.append((wav, words_known(m.group(2), known)))
    lay_out_halves(prompts, tmp, out, "asterisk", rng, lambda n, s: s >= 28, PAUSE)


def rcc_files(path):
    """The files of a Qt resource file (rcc format 1-3): its tree of names, and each file's data,
    zlib-compressed when its flags say so (Qt's rcc.cpp)."""
    d = open(path, "rb").read()
    assert d[:4] == b"qres", "unexpected rcc"
    version, tree, data, names = struct.unpack_from(">IIII", d, 4)
    node = 22 if version >= 2 else 14
    files = {}

    def name(offset):
        n = struct.unpack_from(">H", d, names + offset)[0]
        return d[names + offset + 6:names + offset + 6 + 2 * n].decode("utf-16-be")

    def walk(i, path):
        p = tree + i * node
        offset, flags = struct.unpack_from(">IH", d, p)
        here = path + "/" + name(offset) if i else ""
        if flags & 2:  # a directory: its children's count and first index
            count, first = struct.unpack_from(">II", d, p + 6)
            for c in range(first, first + count):
                walk(c, here)
            return
        at = data + struct.unpack_from(">I", d, p + 10)[0]
        blob = d[at + 4:at + 4 + struct.unpack_from(">I", d, at)[0]]
        assert not flags & 4, "zstd-compressed resource"
        files[here] = zlib.decompress(blob[4:]) if flags & 1 else blob

    walk(0, "")
    return files


def noises(root, tmp, out, rng):
    sounds = {}
    for f in sorted(os.listdir(os.path.join(root, GCOMPRIS))):
        for path, blob in rcc_files(os.path.join(root, GCOMPRIS, f)).items():
            sounds[path.split("/activities/")[-1].split("/src/")[-1]] = blob
    for name, kinds in (("household", HOUSEHOLD), ("machines", MACHINES)):
        events = []
        for kind in kinds:
            clip = os.path.join(tmp, "event" + os.path.splitext(kind)[1])
            with open(clip, "wb") as f:
                f.write(sounds[kind])
            events.append(decode(clip, tmp, ("norm", "-6")))
        write_wav(os.path.join(out, name + ".wav"), events_stream(events, rng))
    music_dir = os.path.join(root, FREEDROID)
    tracks = []
    for f in sorted(os.listdir(music_dir)):
        seconds = subprocess.run(["soxi", "-D", os.path.join(music_dir, f)], check=True,
                                 capture_output=True, text=True).stdout
        if f.endswith(".ogg") and float(seconds) >= 37.5:  # 7.5 s from 30 s in
            tracks.append(f)
    music = []
    chosen = sorted(rng.sample(tracks, 8))
    print("music: " + " ".join(chosen), file=sys.stderr)
    for t in chosen:
        music += decode(os.path.join(music_dir, t), tmp, ("trim", "30", "7.5"))
    write_wav(os.path.join(out, "music.wav"), music[:60 * RATE])


def main():
    root, out, speech, tmp = split_dirs(sys.argv)
    known = dictionary_words()
    rng = random.Random(20261202)
    queen(root, tmp, speech, rng)
    asterisk(root, tmp, speech, rng, known)
    noises(root, tmp, out, rng)


if __name__ == "__main__":
    main()
