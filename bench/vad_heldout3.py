#!/usr/bin/env python3
"""Lays out the third held-out split (tests/data/vad/heldout3) from Debian packages.

The second held-out split has been scored twice (the shipped model, then its held score's mean and
hold), so the next detector candidate needs speech and noise nothing has been scored on. This split
was laid out and committed before anything was scored on it. It shares no speaker, recording or
noise with training, validation or the first two splits, and uses none of their packages (nor those
tried on validation).

Called by bench/vad_data.sh with the unpacked packages' root; writes 16 kHz mono 16-bit WAVs and
their word labels (.words: "start end word", seconds) by pocketsphinx as vad_data.sh labels the
first split: forced alignment to the recording's known text, or free recognition where its text
is not known exactly. A recording the alignment cannot cover says something else than its text and
is left out; so is one whose labels leave 300 ms of its loud frames outside every word (the
alignment gave speech the text does not have to its silence).

  speech/drascula_<who>.wav        drascula 1.0+ds4-2: the English dialogue of six characters
                                   (hero John Hacker, B.J., Count Drascula, Igor, the bartender,
                                   Von Braun), each its own voice, as recorded (11025 Hz 8-bit, so
                                   nothing above 5.5 kHz), -3 dB; seeded lines of each, laid end to
                                   end with 0.3-0.7 s of silence until 10 s (or the lines run out);
                                   aligned to the line's subtitle in drascula.dat (lines with laughs
                                   or interjections, which the alignment cannot place, are left out)
  speech/openarena_rott_N.wav      openarena-data 0.8.5split-14: the "rott" team-order voice (one
                                   man) of missionpack/mp-pak0.pk3, 16 kHz, peak-normalized to
                                   -6 dBFS; two clips of 14 seeded orders, 0.3-0.7 s of silence
                                   between; free recognition (the file names, "haveflag", leave
                                   words out, so the text is not known exactly)
  speech/tuxpaint_N.wav            tuxpaint-stamps-default 2022.06.04-1: the spoken English stamp
                                   descriptions ("A brown hen."), 44.1 kHz, peak-normalized to
                                   -6 dBFS; two clips of 16 seeded descriptions, laid out as the
                                   orders; aligned to the stamp's English description (the first
                                   line of its .txt)
  household.wav                    minetest-mod-homedecor 20210327.1-2: faucet, shower, toilet
                                   flush, doors, gate, book, doorbell, toaster, bin and small fire
                                   recordings, each peak-normalized to -6 dBFS, in two seeded
                                   streams with 0-1 s between events, overlapped (60 s)
  weather.wav                      rain and sea: plee-the-bear-data 0.6.0-8's rain (30 s), then
                                   scorched3d-data 44+dfsg-8's rain and ocean waves (60 s)
  music.wav                        7.5 s from 30 s into eight seeded tracks of fillets-ng-data
                                   1.0.1-1.1's instrumental soundtrack (60 s)

Needs sox and pocketsphinx. Deterministic: the choices come from a seeded generator and sox runs
with -R.
"""
import os
import random
import re
import struct
import subprocess
import sys
import zipfile

from vad_split_audio import (LAUGHS, RATE, decode, dictionary_words, lay_out, lay_out_halves,
                             split_dirs, words_known, write_wav)

DRASCULA = "usr/share/scummvm/drascula/en"
# Speech file prefix -> (name, its text array's place in drascula.dat): the engine plays
# "<prefix><n>.als" with the subtitle <array>[n] (ScummVM engines/drascula/talk.cpp).
DRASCULA_VOICES = {"": ("hacker", 0), "BJ": ("bj", 3), "D": ("drascula", 1), "I": ("igor", 5),
                   "T": ("bartender", 8), "VB": ("vonbraun", 9)}
OPENARENA = "usr/share/games/openarena/missionpack/mp-pak0.pk3"
TUXPAINT = "usr/share/tuxpaint/stamps"
HOMEDECOR = "usr/share/games/minetest/mods/homedecor"
HOUSEHOLD = ["homedecor_faucet", "homedecor_shower", "homedecor_toilet_flush",
             "homedecor_door_open", "homedecor_door_close", "homedecor_gate_open_close",
             "homedecor_book_close", "homedecor_doorbell", "toaster", "homedecor_trash_all",
             "fire_small", "fire_extinguish"]
PLEE_RAIN = "usr/share/games/plee-the-bear/sound/weather/rain.ogg"
SCORCHED = "usr/share/games/scorched3d/data/globalmods/none/data/wav/misc"
FILLETS = "usr/share/games/fillets-ng/music"


def drascula_texts(path):
    """drascula.dat's English subtitle arrays (ScummVM's format, version 6): the header's tables
    are skipped, then each array holds every language's strings; English is the first."""
    d = open(path, "rb").read()
    assert d[:8] == b"DRASCULA" and d[8] == 6, "unexpected drascula.dat"
    p = 9

    def u16():
        nonlocal p
        p += 2
        return struct.unpack_from(">H", d, p - 2)[0]

    # charMap, itemLocations, polX/Y, verbBarX, x1d/y1d menu, frameX, candleX/Y, pianistX, drunkX,
    # room pre-updates, room updates, room actions, talk sequences: bytes per record.
    for size in (4, 4, 4, 2, 4, 2, 4, 2, 2, 20, 20, 10, 8):
        records = u16()
        p += records * size
    langs = u16()
    arrays = []
    for _ in range(15):
        count = u16()
        for lang in range(langs):
            n = u16()
            buf = d[p:p + n]
            p += n
            if lang == 0:  # each string's length precedes the next (engine's loadTexts)
                texts, q = [buf[:buf.index(b"\0")]], 4
                for _ in range(1, count):
                    q += struct.unpack_from(">H", buf, q - 2)[0]
                    texts.append(buf[q:buf.index(b"\0", q)])
                arrays.append([t.decode("latin-1") for t in texts])
    return arrays


def drascula(root, tmp, out, rng, known):
    d = os.path.join(root, DRASCULA)
    texts = drascula_texts(os.path.join(d, "drascula.dat"))
    for prefix, (who, index) in DRASCULA_VOICES.items():
        lines = []
        for f in sorted(os.listdir(d)):
            m = re.fullmatch(prefix + r"(\d+)\.ALS", f)
            n = int(m.group(1)) if m else 0
            # Laughs and interjections ("HA, HA") are in the subtitles but not said as words: the
            # alignment puts them anywhere, so those lines are left out.
            if (n and n < len(texts[index]) and words_known(texts[index][n], known) and
                    not re.search(LAUGHS, texts[index][n])):
                lines.append((f, words_known(texts[index][n], known)))
        rng.shuffle(lines)

        def speech():
            for f, text in lines:
                # Unsigned 8-bit at 11025 Hz; the engine skips 32 bytes at each end.
                with open(os.path.join(d, f), "rb") as src:
                    data = src.read()[32:-32]
                raw = os.path.join(tmp, "line.u8")
                with open(raw, "wb") as dst:
                    dst.write(data)
                yield decode(raw, tmp, ("gain", "-3"), ("-t", "u8", "-r", "11025", "-c", "1")), text

        lay_out(speech(), tmp, out, "drascula_" + who, rng, lambda n, s: s >= 10)


def openarena(root, tmp, out, rng):
    pk3 = zipfile.ZipFile(os.path.join(root, OPENARENA))  # the game's data is a zip
    names = sorted(n for n in pk3.namelist() if re.fullmatch(r"sound/voices/rott/\w+\.ogg", n))
    rng.shuffle(names)
    ogg = os.path.join(tmp, "clip.ogg")

    def orders(chosen):
        for name in chosen:
            with open(ogg, "wb") as f:
                f.write(pk3.read(name))
            # The file names ("haveflag") leave words out: free recognition.
            yield decode(ogg, tmp, ("norm", "-6")), None

    half = len(names) // 2
    lay_out(orders(names[:half]), tmp, out, "openarena_rott_1", rng, lambda n, s: n == 14)
    lay_out(orders(names[half:]), tmp, out, "openarena_rott_2", rng, lambda n, s: n == 14)


def tuxpaint(root, tmp, out, rng, known):
    stamps = os.path.join(root, TUXPAINT)
    found = []
    for d, _, files in os.walk(stamps):
        for f in files:
            if f.endswith("_desc.ogg"):
                txt = os.path.join(d, f[:-len("_desc.ogg")] + ".txt")
                first = open(txt, encoding="utf-8").readline() if os.path.exists(txt) else ""
                if words_known(first, known):
                    found.append((os.path.join(d, f), words_known(first, known)))
    lay_out_halves(found, tmp, out, "tuxpaint", rng, lambda n, s: n == 16)


def noises(root, tmp, out, rng):
    events = {}
    for d, _, files in os.walk(os.path.join(root, HOMEDECOR)):
        for f in files:
            if f[:-4] in HOUSEHOLD and f.endswith(".ogg"):
                events[f[:-4]] = decode(os.path.join(d, f), tmp, ("norm", "-6"))
    streams = []
    for _ in range(2):
        s = []
        while len(s) < 60 * RATE:
            s += events[rng.choice(HOUSEHOLD)] + [0] * int(RATE * rng.uniform(0, 1))
        streams.append(s[:60 * RATE])
    write_wav(os.path.join(out, "household.wav"), [a + b for a, b in zip(*streams)])
    weather = decode(os.path.join(root, PLEE_RAIN), tmp)
    weather += decode(os.path.join(root, SCORCHED, "rain.wav"), tmp)
    weather += decode(os.path.join(root, SCORCHED, "oceanwaves.wav"), tmp)
    write_wav(os.path.join(out, "weather.wav"), weather[:60 * RATE])
    tracks = []
    for f in sorted(os.listdir(os.path.join(root, FILLETS))):
        if not re.fullmatch(r"rybky\d+\.ogg", f):
            continue
        seconds = subprocess.run(["soxi", "-D", os.path.join(root, FILLETS, f)], check=True,
                                 capture_output=True, text=True).stdout
        if float(seconds) >= 37.5:  # long enough for 7.5 s from 30 s in
            tracks.append(f)
    music = []
    chosen = sorted(rng.sample(tracks, 8))
    print("music: " + " ".join(chosen), file=sys.stderr)
    for t in chosen:
        music += decode(os.path.join(root, FILLETS, t), tmp, ("trim", "30", "7.5"))
    write_wav(os.path.join(out, "music.wav"), music[:60 * RATE])


def main():
    root, out, speech, tmp = split_dirs(sys.argv)
    known = dictionary_words()
    rng = random.Random(20261201)
    drascula(root, tmp, speech, rng, known)
    openarena(root, tmp, speech, rng)
    tuxpaint(root, tmp, speech, rng, known)
    noises(root, tmp, out, rng)


if __name__ == "__main__":
    main()
