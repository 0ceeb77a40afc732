#!/usr/bin/env python3
"""Lays out the fifth held-out split (tests/data/vad/heldout5) from Debian packages.

All four earlier held-out splits have been scored, so the next candidate needs speech and noise
nothing has been scored on. This split was laid out and committed before anything was scored on
it. It shares no speaker, recording or noise with training, validation or the first four splits,
and uses none of their packages (nor those tried on validation, such as hedgewars-data, btanks-data
and flare-game, nor those the training noises come from). Where the fourth split's speech was all
band-limited (11 and 8 kHz), some 60 % of this one is full band, as the node hears its room.

Called by bench/vad_data.sh with the unpacked packages' root; writes 16 kHz mono 16-bit WAVs and
their word labels (.words: "start end word", seconds) by pocketsphinx as the other splits' scripts
do (bench/vad_split_audio.py): forced alignment to the recording's known text, or free recognition
where its text is not known; a recording the alignment cannot cover, or whose labels leave 300 ms
of its loud frames outside every word, is left out.

  speech/ardentryst.wav            ardentryst 1.71-9: the narrator of the game's introduction
                                   (Sounds/VOI_Intro_*.ogg, 44.1 kHz), peak-normalized to -6 dBFS,
                                   laid end to end with 0.3-0.7 s of silence; aligned to the lines
                                   game.py shows with each, free recognition where a line has a
                                   word the dictionary lacks ("Kiripan") or the alignment does not
                                   cover the recording (said otherwise than its text)
  speech/brewtarget_N.wav          brewtarget 3.0.6-1: Jay Cummings's spoken brewing reminders
                                   (data/sounds/*.wav, 32 kHz: "time to pitch the yeast"),
                                   peak-normalized to -6 dBFS; two clips of seeded halves of them;
                                   aligned to the words of each file's name ("45minLeft": "forty
                                   five minutes left"), free recognition where the name leaves
                                   words out ("checkGravity": "check your gravity") so that the
                                   alignment does not cover the recording, or has one the
                                   dictionary lacks ("sparge")
  speech/bass_sN.wav               beneath-a-steel-sky 0.0372-8: the CD version's English voices
                                   (sky.dsk, files 50000 on: each line RNC-packed 8-bit PCM at
                                   11025 Hz, so nothing above 5.5 kHz), peak-normalized to -6 dBFS;
                                   seeded lines of each of the game's sections 0-5 (each a cast of
                                   several characters), laid end to end until 10 s; free
                                   recognition (the subtitles are Huffman-coded with a tree kept in
                                   the engine, not in the data), lines recognised with a laugh or
                                   interjection left out
  tv.wav                           7.5 s from 30 s into each of the eight songs of
                                   fretsonfire-songs-muldjord 2.dfsg-2.1 and
                                   fretsonfire-songs-sectoid 1.dfsg-3.1 (backing and lead guitar
                                   tracks mixed; rock and metal, Muldjord's with sung vocals in
                                   places), in a seeded order, with a crowd cheering and applauding
                                   (dustracing2d-data 2.1.1-2, circuslinux-data 1.0.3-34.1) 1-4 s
                                   apart, 10 dB under the music's peak: a concert or a game show on
                                   the television (60 s)
  kitchen.wav                      running and pouring water (caveexpress-data 2.5.2-1), a ticking
                                   clock, a wind-up kitchen timer and two timer bells
                                   (gnome-shell-pomodoro-data 0.22.1-1), an appliance's beep
                                   (brewtarget) and a drink poured (ardentryst), each
                                   peak-normalized to -6 dBFS, in two seeded streams with 0-1 s
                                   between events, overlapped (60 s)
  street.wav                       wind (lugaru-data 1.2-6, Wind.ogg) and rain (ardentryst
                                   Rain_Loop.ogg, looped) under a seeded stream of a car engine,
                                   skids and crashes (dustracing2d-data), thunder, rain and gusts
                                   (7kaa-data 2.15.5+dfsg-1) 0.5-3 s apart (60 s)

The noises are peak-normalized to -1 dBFS. Deterministic: the choices come from a seeded
generator and sox runs with -R.
"""
import os
import random
import re
import struct
import subprocess
import sys

from vad_split_audio import (RATE, decode, dictionary_words, event_stream, events_stream,
                             lay_out, lay_out_halves, peak_normalized, split_dirs, words_known,
                             write_wav)

ARDENTRYST = "usr/share/games/ardentryst"
BREWTARGET = "usr/share/brewtarget/sounds"
# Words of brewtarget's file names as said: numbers and abbreviations spelt out, compounds the
# dictionary has as two words split.
BREW_WORDS = {"45": "forty five", "min": "minutes", "homebrew": "home brew",
              "flameout": "flame out"}
BASS = "usr/share/scummvm/beneath-a-steel-sky"
# The first speech file of each section of the game (ScummVM engines/sky/sound.cpp: text numbers to
# file numbers); section 6 (the ending, 150 lines) is left out.
BASS_SECTIONS = [0, 600, 1100, 2430, 3380, 4530, 5080]
FRETSONFIRE = "usr/share/games/fretsonfire/data/songs"
DUSTRACING = "usr/share/games/dustracing2d/sounds"
CROWD = [DUSTRACING + "/cheering.ogg", "usr/share/games/circuslinux/data/sounds/cheering.wav",
         "usr/share/games/circuslinux/data/sounds/applause.wav"]
KITCHEN = ["usr/share/games/caveexpress/sounds/water-rising.ogg",
           "usr/share/games/caveexpress/sounds/tile-waterfall.ogg",
           "usr/share/games/caveexpress/sounds/water-impact.ogg",
           "usr/share/games/caveexpress/sounds/water-leave.ogg",
           "usr/share/gnome-pomodoro/sounds/clock.ogg", "usr/share/gnome-pomodoro/sounds/timer.ogg",
           "usr/share/gnome-pomodoro/sounds/bell.ogg",
           "usr/share/gnome-pomodoro/sounds/loud-bell.ogg", BREWTARGET + "/beep.wav",
           ARDENTRYST + "/Sounds/drink.ogg"]
TRAFFIC = [DUSTRACING + "/carEngine.ogg", DUSTRACING + "/skid.ogg", DUSTRACING + "/carHit.ogg",
           DUSTRACING + "/carHit2.ogg", "usr/share/games/7kaa/SOUND/THUNDER.WAV",
           "usr/share/games/7kaa/SOUND/RAIN.WAV", "usr/share/games/7kaa/SOUND/WIND.WAV"]
# Silence between lines, as the third split's: the narrator's and the brewer's recordings keep
# their own room tone around their words.
PAUSE = (0.3, 0.7)


def ardentryst(root, tmp, out, rng, known):
    """The introduction's lines: in game.py each scene is (picture, (its lines), its voice, ...)."""
    with open(os.path.join(root, ARDENTRYST, "game.py"), encoding="utf-8") as f:
        game = f.read()
    lines = []
    for said, voice in re.findall(r'\(\s*"[^"]*",\s*\(([^()]*)\),\s*"(VOI_Intro_\d+\.ogg)"', game):
        # A line with a word the dictionary lacks ("Kiripan") is labelled by free recognition.
        text = words_known(" ".join(re.findall(r'"([^"]*)"', said)), known)
        lines.append((os.path.join(root, ARDENTRYST, "Sounds", voice), text))

    def said(chosen):
        for path, text in chosen:
            yield decode(path, tmp, ("norm", "-6")), text

    lay_out(said(lines), tmp, out, "ardentryst", rng, lambda n, s: False, PAUSE,
            fallback=True)


def brewtarget(root, tmp, out, rng, known):
    prompts = []
    directory = os.path.join(root, BREWTARGET)
    for f in sorted(os.listdir(directory)):
        if not f.endswith(".wav") or f == "beep.wav":
            continue
        words = re.findall(r"\d+|[A-Z]?[a-z]+", f[:-4])
        text = words_known(" ".join(BREW_WORDS.get(w.lower(), w) for w in words), known)
        prompts.append((os.path.join(directory, f), text))
    # The names shorten what is said ("checkGravity": "check your gravity"), so a recording the
    # alignment to them does not cover is labelled by free recognition, as is one whose name has a
    # word the dictionary lacks ("sparge").
    lay_out_halves(prompts, tmp, out, "brewtarget", rng, lambda n, s: False, PAUSE,
                   fallback=True)


def crc16(data):
    """CRC-16 (polynomial 0xA001, reflected, from 0), as RNC ProPack's headers hold."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


class Bits:
    """RNC method 1's bit stream: bits least significant first from little-endian 16-bit words,
    with the literal bytes between them."""

    def __init__(self, data, at):
        self.data, self.at, self.buffer, self.count = data + bytes(4), at, 0, 0

    def peek(self, n):
        buffer, count, at = self.buffer, self.count, self.at
        while count < n:
            buffer |= struct.unpack_from("<H", self.data, at)[0] << count
            at += 2
            count += 16
        return buffer & ((1 << n) - 1)

    def read(self, n):
        while self.count < n:
            self.buffer |= struct.unpack_from("<H", self.data, self.at)[0] << self.count
            self.at += 2
            self.count += 16
        value = self.buffer & ((1 << n) - 1)
        self.buffer >>= n
        self.count -= n
        return value

    def literal(self, n):
        # Literal bytes start after the last word read into the buffer.
        data = self.data[self.at:self.at + n]
        self.at += n
        return data


def huffman_table(bits):
    """A block's table: how many codes (5 bits), each one's length (4 bits); canonical codes in
    order of length, then value, stored bit-reversed since the stream is read from its low bit."""
    lengths = [bits.read(4) for _ in range(bits.read(5))]
    codes, code = [], 0
    for length in range(1, 17):
        for value, n in enumerate(lengths):
            if n == length:
                reversed_code = int(format(code >> (16 - length), f"0{length}b")[::-1], 2)
                codes.append((length, reversed_code, value))
                code += 1 << (16 - length)
    return codes


def huffman_value(bits, codes):
    """A code's value v: 0 or 1 as it is, else 2^(v-1) plus v-1 more bits."""
    for length, reversed_code, value in codes:
        if bits.peek(length) == reversed_code:
            bits.read(length)
            return bits.read(value - 1) | 1 << (value - 1) if value >= 2 else value
    raise ValueError("RNC: no code matches")


def rnc_unpack(packed):
    """Unpacks RNC ProPack method 1 data: "RNC\\1", the unpacked and packed sizes, their CRCs, then
    blocks of three Huffman tables (literal run lengths, match offsets, match lengths) and a count
    of literal runs, each followed but the last by a match."""
    assert packed[:4] == b"RNC\x01", "not RNC method 1"
    size, packed_size, crc_unpacked, crc_packed = struct.unpack_from(">IIHH", packed, 4)
    assert crc16(packed[18:18 + packed_size]) == crc_packed, "RNC: packed CRC"
    bits = Bits(packed, 18)
    bits.read(2)  # the lock and key flags
    out = bytearray()
    for _ in range(packed[17]):
        raw, offsets, lengths = (huffman_table(bits) for _ in range(3))
        runs = bits.read(16)
        for run in range(runs):
            out += bits.literal(huffman_value(bits, raw))
            if run < runs - 1:
                offset = huffman_value(bits, offsets) + 1
                for _ in range(huffman_value(bits, lengths) + 2):
                    out.append(out[-offset])
    assert len(out) == size and crc16(out) == crc_unpacked, "RNC: unpacked CRC"
    return bytes(out)


def sky_files(root):
    """sky.dnr's table (a count, then per file its number, a 24-bit offset whose bit 23 says it is
    in 16-byte units, and 24 bits of size and flags) over sky.dsk: {number: bytes}."""
    dnr = open(os.path.join(root, BASS, "sky.dnr"), "rb").read()
    dsk = open(os.path.join(root, BASS, "sky.dsk"), "rb").read()
    files = {}
    for i in range(struct.unpack_from("<I", dnr, 0)[0]):
        number, offset = struct.unpack_from("<HI", dnr, 4 + 8 * i)
        offset &= 0xFFFFFF
        offset = (offset & 0x7FFFFF) << 4 if offset >> 23 else offset
        size = int.from_bytes(dnr[4 + 8 * i + 5:4 + 8 * i + 8], "little") & 0x3FFFFF
        files[number] = dsk[offset:offset + size]
    return files


def bass(root, tmp, out, rng):
    files = sky_files(root)
    raw = os.path.join(tmp, "line.raw")

    def lines(chosen):
        for number in chosen:
            # A 22-byte header, then the samples, RNC-packed where the header's flag says so.
            data = files[number]
            packed = data[0] & 0x80 and data[22:26] == b"RNC\x01"
            pcm = rnc_unpack(data[22:]) if packed else data[22:]
            with open(raw, "wb") as f:
                f.write(pcm)
            yield decode(raw, tmp, ("norm", "-6"),
                         ("-t", "raw", "-r", "11025", "-e", "unsigned", "-b", "8", "-c", "1")), None

    for section in range(len(BASS_SECTIONS) - 1):
        first, last = (50000 + n for n in BASS_SECTIONS[section:section + 2])
        numbers = sorted(n for n in files if first <= n < last)
        rng.shuffle(numbers)
        lay_out(lines(numbers), tmp, out, f"bass_s{section}", rng, lambda n, s: s >= 10, PAUSE,
                laughs=True)


def mixed(paths, tmp, effects=()):
    """The recordings mixed (sox -m) at RATE, mono, 16-bit."""
    out = os.path.join(tmp, "mix.wav")
    subprocess.run(["sox", "-R", "-m", *paths, "-r", str(RATE), "-c", "1", "-b", "16", out,
                    *effects], check=True, stderr=subprocess.DEVNULL)
    return decode(out, tmp)


def noises(root, tmp, out, rng):
    songs = sorted(os.path.join(band, song) for band in ("muldjord", "sectoid")
                   for song in os.listdir(os.path.join(root, FRETSONFIRE, band))
                   if os.path.isdir(os.path.join(root, FRETSONFIRE, band, song)))
    rng.shuffle(songs)
    print("tv: " + ", ".join(songs), file=sys.stderr)
    music = []
    for song in songs:
        d = os.path.join(root, FRETSONFIRE, song)
        music += mixed([os.path.join(d, "song.ogg"), os.path.join(d, "guitar.ogg")], tmp,
                       ("trim", "30", "7.5", "norm", "-6"))
    crowd = [decode(os.path.join(root, p), tmp, ("norm", "-16")) for p in CROWD]
    write_wav(os.path.join(out, "tv.wav"),
              peak_normalized([a + b for a, b in zip(music[:60 * RATE],
                                                     event_stream(crowd, rng, (1, 4)))]))

    kitchen = [decode(os.path.join(root, p), tmp, ("trim", "0", "5", "norm", "-6"))
               if p.endswith("clock.ogg") else decode(os.path.join(root, p), tmp, ("norm", "-6"))
               for p in KITCHEN]
    write_wav(os.path.join(out, "kitchen.wav"), peak_normalized(events_stream(kitchen, rng)))

    wind = decode(os.path.join(root, "usr/share/games/lugaru/Sounds/Wind.ogg"), tmp,
                  ("norm", "-12"))
    rain = decode(os.path.join(root, ARDENTRYST, "Sounds/Rain_Loop.ogg"), tmp,
                  ("norm", "-14", "repeat", "2"))
    traffic = [decode(os.path.join(root, p), tmp, ("norm", "-6")) for p in TRAFFIC]
    street = event_stream(traffic, rng, (0.5, 3))
    write_wav(os.path.join(out, "street.wav"),
              peak_normalized([a + b + c for a, b, c in zip(wind + [0] * 60 * RATE,
                                                            rain + [0] * 60 * RATE, street)]))


def main():
    root, out, speech, tmp = split_dirs(sys.argv)
    known = dictionary_words()
    rng = random.Random(20261203)
    ardentryst(root, tmp, speech, rng, known)
    brewtarget(root, tmp, speech, rng, known)
    bass(root, tmp, speech, rng)
    noises(root, tmp, out, rng)


if __name__ == "__main__":
    main()
