#!/usr/bin/env python3
"""Lays out the sixth held-out split (tests/data/vad/heldout6) from Debian packages.

All five earlier held-out splits have been scored, so the next candidate needs speech and noise
nothing has been scored on. This split was laid out and committed before anything was scored on
it. It shares no speaker, recording or noise with training, validation or the first five splits,
and uses none of their packages (nor those tried on validation, such as hedgewars-data, btanks-data
and flare-game, nor those the training noises come from). All of its speech is full band (recorded
at 16 kHz or more): short spoken commands and single words as well as sentences, as a home
assistant hears them.

Called by bench/vad_data.sh with the unpacked packages' root; writes 16 kHz mono 16-bit WAVs and
their word labels (.words: "start end word", seconds) by pocketsphinx as the other splits' scripts
do (bench/vad_split_audio.py): forced alignment to the recording's known text, or free recognition
where its text is not known; a recording the alignment cannot cover, or whose labels leave 300 ms
of its loud frames outside every word, is left out.

  speech/megaglest_tech_N.wav      megaglest-data 3.13.0-3: the Glest team's unit voices that the
                                   tech faction (and others) share (techs/megapack/commondata/
                                   sounds/{technician,worker,archer,guard,horseman,swordman,
                                   archmage}_{ack,select}N.wav, 22.05 kHz: "yes my lord", "as you
                                   wish", "what do you want"), peak-normalized to -6 dBFS; two clips
                                   of seeded halves of them, laid end to end until 25 s; free
                                   recognition (no text ships with them), lines recognised with a
                                   laugh or interjection left out
  speech/megaglest_magic.wav       megaglest-data: the magic faction's own unit voices
                                   (factions/magic/units/{initiate,battlemage,summoner}/sounds/
                                   *_{ack,select}N.wav, 22.05 kHz), the same way, until 25 s
  speech/qabcs_N.wav               qabcs-data 1.0.2-6: the English (US) alphabet's spoken words
                                   (abcs/en/sounds/words/*.ogg, 44.1 kHz: "angelfish", "electric
                                   guitar"), peak-normalized to -6 dBFS; two clips of seeded halves
                                   of them, until 22 s; aligned to each word's name in
                                   abcs/en/abc1.json, free recognition where the name has a word
                                   the dictionary lacks ("ipu") or the alignment does not cover
                                   the recording
  speech/unknown_horizons.wav      unknown-horizons 2019.1-6: the English voice of the new-world
                                   notices (content/audio/voice/en/0/new_world/N.ogg, 44.1 kHz:
                                   "the new group of islands is waiting ..."), peak-normalized to
                                   -6 dBFS; free recognition (the game keeps no text for them)
  speech/marsshooter.wav           marsshooter-data 0.7.6-7: the announcer
                                   (/usr/share/games/marsshooter/audio/announcer/*.wav, 16 kHz:
                                   "nice one", "well done"), peak-normalized to -6 dBFS; aligned
                                   to the words of each file's name ("thatWasGreat"), free
                                   recognition where the alignment does not cover the recording
  speech/linphone.wav              linphone-common 5.1.65-4: the echo test's spoken greeting
                                   (/usr/share/sounds/linphone/hello16000.wav, 16 kHz: "hello,
                                   this is Simon speaking ..."), peak-normalized to -6 dBFS; free
                                   recognition
  livingroom.wav                   a child's toys (a yo-yo, a spinning top, a whirligig, a rubber
                                   ball, a jump rope, a seesaw, a rocking horse, a kazoo, dice,
                                   a magnet, a lunchbox, a paper airplane), a dog, a cat, a hamster,
                                   a clock and a watch, a keyboard, a newspaper, a zipper, a jar,
                                   a vase, spoons, a pen, an umbrella, a button and a games
                                   console (qabcs-data abcs/all/noises/*.ogg), each
                                   peak-normalized to -6 dBFS, in two seeded streams with 0-1 s
                                   between events, overlapped (60 s)
  music.wav                        7.5 s from 30 s into each of eight seeded tracks of the 15 of
                                   unknown-horizons' soundtrack (content/audio/music/*.ogg and
                                   menu/main_theme.ogg; the seed picks beware_the_ships_kobold,
                                   waves, main_theme, irelands_coast, uh_gameplay3, music2,
                                   newfrontier and music: orchestral and folk game music),
                                   peak-normalized to -6 dBFS (60 s)
  square.wav                       a village square: a crowd and a tavern's talk, a warehouse,
                                   a smith's and a stonemason's hammering, a lumberjack, sheep, a
                                   windmill and a ship's bell (unknown-horizons
                                   content/audio/sounds/*.ogg, the long ones cut to their first
                                   8 s), each peak-normalized to -6 dBFS, in two seeded streams
                                   with 0-1 s between events, overlapped (60 s)

The noises are peak-normalized to -1 dBFS. Deterministic: the choices come from a seeded
generator and sox runs with -R.
"""
import json
import os
import random
import re
import sys

from vad_split_audio import (RATE, decode, dictionary_words, events_stream, lay_out,
                             lay_out_halves, peak_normalized, split_dirs, words_known, write_wav)

MEGAGLEST = "usr/share/games/megaglest/techs/megapack"
# The Glest team's voices: the ones in commondata that the tech faction uses (and other factions
# share), and the magic faction's own. The other factions' voices (Indians, Norsemen, Egyptians,
# Persians, Romans) are left out: their language is not known to be English.
TECH_UNITS = ("technician", "worker", "archer", "guard", "horseman", "swordman", "archmage")
MAGIC_UNITS = ("initiate", "battlemage", "summoner")
QABCS = "usr/share/qabcs/abcs"
UH = "usr/share/unknown-horizons/content/audio"
MARS = "usr/share/games/marsshooter/audio/announcer"
LINPHONE = "usr/share/sounds/linphone/hello16000.wav"
LIVINGROOM = ["yoyo", "top", "whirligig", "rubber_ball", "jump_rope", "seesaw", "rocking_horse",
              "kazoo", "dice", "magnet", "lunchbox", "paper_airplane", "dog", "cat", "hamster",
              "clock", "watch", "keyboard", "newspaper", "zipper", "jar", "vase", "spoons", "pen",
              "umbrella", "button", "xbox"]
SQUARE = ["main_square", "tavern", "warehouse", "smith", "stonemason", "lumberjack_long",
          "sheepfield", "windmill", "ships_bell"]
# Silence between lines, as the fifth split's.
PAUSE = (0.3, 0.7)


def voice_lines(directory, units):
    """The acknowledgement and selection lines ("unit_ackN", "unit_selectN") of `units`."""
    pattern = re.compile(r"(%s)_(ack|select)\d+\.(wav|ogg)" % "|".join(units))
    return sorted(os.path.join(directory, f) for f in os.listdir(directory)
                  if pattern.fullmatch(f))


def said(paths, tmp):
    """Each recording peak-normalized to -6 dBFS, to be labelled by free recognition."""
    for path in paths:
        yield decode(path, tmp, ("norm", "-6")), None


def megaglest(root, tmp, out, rng):
    tech = voice_lines(os.path.join(root, MEGAGLEST, "commondata/sounds"), TECH_UNITS)
    rng.shuffle(tech)
    half = len(tech) // 2
    lay_out(said(tech[:half], tmp), tmp, out, "megaglest_tech_1", rng, lambda n, s: s >= 25, PAUSE,
            laughs=True)
    lay_out(said(tech[half:], tmp), tmp, out, "megaglest_tech_2", rng, lambda n, s: s >= 25, PAUSE,
            laughs=True)
    magic = []
    for unit in MAGIC_UNITS:
        magic += voice_lines(os.path.join(root, MEGAGLEST, "factions/magic/units", unit, "sounds"),
                             MAGIC_UNITS)
    magic.sort()
    rng.shuffle(magic)
    lay_out(said(magic, tmp), tmp, out, "megaglest_magic", rng, lambda n, s: s >= 25, PAUSE,
            laughs=True)


def qabcs(root, tmp, out, rng, known):
    """The English alphabet's words: abc1.json names each letter's pictures and their sounds."""
    with open(os.path.join(root, QABCS, "en/abc1.json"), encoding="utf-8") as f:
        letters = json.load(f)["letters"]
    words = []
    for letter in letters:
        for pictures in letter.values():
            for picture in pictures.values():
                if isinstance(picture, dict) and "sound_pic" in picture:
                    path = os.path.join(root, QABCS, "en/sounds/words", picture["sound_pic"])
                    text = words_known(picture["name"].replace("-", " "), known)
                    words.append((path, text))
    lay_out_halves(words, tmp, out, "qabcs", rng, lambda n, s: s >= 22, PAUSE, fallback=True)


def unknown_horizons(root, tmp, out, rng):
    directory = os.path.join(root, UH, "voice/en/0/new_world")
    lines = sorted(os.path.join(directory, f) for f in os.listdir(directory))
    lay_out(said(lines, tmp), tmp, out, "unknown_horizons", rng, lambda n, s: False, PAUSE)


def marsshooter(root, tmp, out, rng, known):
    directory = os.path.join(root, MARS)
    lines = []
    for f in sorted(os.listdir(directory)):
        # "thatWasGreat": "that was great"
        text = words_known(" ".join(re.findall(r"[A-Z]?[a-z]+", f[:-4])), known)
        lines.append((decode(os.path.join(directory, f), tmp, ("norm", "-6")), text))
    lay_out(iter(lines), tmp, out, "marsshooter", rng, lambda n, s: False, PAUSE, fallback=True)


def linphone(root, tmp, out, rng):
    greeting = [os.path.join(root, LINPHONE)]
    lay_out(said(greeting, tmp), tmp, out, "linphone", rng, lambda n, s: False, PAUSE)


def noises(root, tmp, out, rng):
    toys = [decode(os.path.join(root, QABCS, "all/noises", n + ".ogg"), tmp, ("norm", "-6"))
            for n in LIVINGROOM]
    write_wav(os.path.join(out, "livingroom.wav"), peak_normalized(events_stream(toys, rng)))

    directory = os.path.join(root, UH, "music")
    tracks = sorted(os.path.join(directory, f) for f in os.listdir(directory)
                    if f.endswith(".ogg")) + [os.path.join(directory, "menu/main_theme.ogg")]
    rng.shuffle(tracks)
    print("music: " + ", ".join(os.path.basename(t) for t in tracks[:8]), file=sys.stderr)
    music = []
    for track in tracks[:8]:
        music += decode(track, tmp, ("trim", "30", "7.5", "norm", "-6"))
    write_wav(os.path.join(out, "music.wav"), peak_normalized(music[:60 * RATE]))

    square = [decode(os.path.join(root, UH, "sounds", n + ".ogg"), tmp,
                     ("trim", "0", "8", "norm", "-6")) for n in SQUARE]
    write_wav(os.path.join(out, "square.wav"), peak_normalized(events_stream(square, rng)))


def main():
    root, out, speech, tmp = split_dirs(sys.argv)
    known = dictionary_words()
    rng = random.Random(20261201)
    megaglest(root, tmp, speech, rng)
    qabcs(root, tmp, speech, rng, known)
    unknown_horizons(root, tmp, speech, rng)
    marsshooter(root, tmp, speech, rng, known)
    linphone(root, tmp, speech, rng)
    noises(root, tmp, out, rng)


if __name__ == "__main__":
    main()
