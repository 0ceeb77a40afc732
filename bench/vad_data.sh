#!/usr/bin/env bash
# Regenerates the VAD's held-out labels, the synthesized noises and the Debian voices and music in
# tests/data/vad/ (all committed: the benches and tests never run this). Needs sox and
# pocketsphinx (tools/install-deps.sh), python3, and apt-get able to download from Debian's archive.
#
#   bash bench/vad_data.sh        (SHARED=/path/to/shared/data if not ../shared/data)
#
# Held-out speech (tests/data/vad/heldout/*.wav): recordings that share no speaker and no recording
# with anything the detector is fitted or tuned on. Word labels (*.words: "start end word", seconds)
# come from pocketsphinx: forced alignment to the known text where the clip has a .txt beside it
# (a JSGF grammar of exactly those words, silences free between them), otherwise its free
# recognition's word segmentation (only where words and pauses are is used, not which words).
#
# Noises, two disjoint sets made here (sources in tests/data/SOURCES):
#   heldout: babble = four overlapped, shifted copies of the aepyx telephone talk show (real voices
#            no clip in training has); fan = pink noise low-passed at 1.2 kHz with a 100 Hz hum and
#            its harmonics, slowly modulated; music = a plucked-string melody over organ chords.
#   train:   babble = the CMU ARCTIC, JFK and LibriVox training voices overlapped; fan = brown and
#            white noise band-passed at 300-3500 Hz with a 60 Hz hum; music = square-wave chords and
#            a triangle-wave melody (different instruments, notes and tempo from the held-out one).
set -euo pipefail
cd "$(dirname "$0")/.."
D=tests/data
OUT=$D/vad
mkdir -p "$OUT/heldout" "$OUT/noise"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
MODEL=/usr/share/pocketsphinx/model/en-us
# Where the source recordings come from (only this script reads it; see tests/data/SOURCES).
SHARED=${SHARED:-../shared/data}

# Held-out speech: copied in once (sources in tests/data/SOURCES).
H=$OUT/heldout
[[ -f $H/silero_test.wav ]] || cp "$SHARED/speech/silero-vad/test.wav" "$H/silero_test.wav"
[[ -f $H/xmas.wav ]] || cp "$SHARED/speech/spatialaudio/xmas.wav" "$H/xmas.wav"
echo "wishing you a merry christmas and happy new year" >"$H/xmas.txt"
for c in Front_Center Front_Left Front_Right Rear_Center Rear_Left Rear_Right Side_Left Side_Right; do
  [[ -f $H/alsa_$c.wav ]] || cp "/usr/share/sounds/alsa/$c.wav" "$H/alsa_$c.wav"
  echo "${c/_/ }" >"$H/alsa_$c.txt"
done

# pocketsphinx's word lines ("word start end score") as "start end word"; <s>, </s>, <sil> and
# [NOISE] are pauses. The hypothesis line also has four fields when it has four words, so start
# and end must be numbers (cards_001/002's labels once began with one).
spans() {
  awk 'NF == 4 && $2 ~ /^[0-9.]+$/ && $3 ~ /^[0-9.]+$/ && $1 !~ /^(<s>|<\/s>|<sil>|\[NOISE\])$/ { sub(/\([0-9]+\)$/, "", $1); printf "%s %s %s\n", $2, $3 + 0.01, $1 }'
}

# Word labels: pocketsphinx word tokens with their times.
words() {
  local wav=$1 txt=${1%.wav}.txt
  # -R: no random dither, so the same labels each run. The first split's committed labels were made
  # before it: regenerating them moves two word edges (alsa_Rear_Left "left" 10 ms, xmas
  # "christmas"/"and" 30 ms); the figures in docs/benchmarks.md are on the committed ones.
  sox -R "$wav" -r 16000 -b 16 -c 1 "$TMP/in.wav"
  local grammar=()
  if [[ -f $txt ]]; then
    {
      echo '#JSGF V1.0;'
      echo 'grammar clip;'
      echo "public <clip> = $(tr 'A-Z' 'a-z' <"$txt" | tr -cd 'a-z \n' | xargs);"
    } >"$TMP/clip.gram"
    grammar=(-jsgf "$TMP/clip.gram")
  fi
  pocketsphinx_continuous -infile "$TMP/in.wav" -time yes -logfn /dev/null \
    -hmm "$MODEL/en-us" -dict "$MODEL/cmudict-en-us.dict" "${grammar[@]}" 2>/dev/null |
    spans >"$TMP/words"
  # A grammar that cannot cover the whole clip gives nothing: fall back to free recognition.
  if [[ ! -s $TMP/words && -f $txt ]]; then
    pocketsphinx_continuous -infile "$TMP/in.wav" -time yes -logfn /dev/null \
      -hmm "$MODEL/en-us" -dict "$MODEL/cmudict-en-us.dict" 2>/dev/null |
      spans >"$TMP/words"
  fi
  cat "$TMP/words"
}
for wav in "$OUT"/heldout/*.wav; do
  words "$wav" >"${wav%.wav}.words"
  echo "$(basename "$wav"): $(wc -l <"${wav%.wav}.words") words"
done

# Training labels the same way, for the clips bench/vad_fit.cpp fits on (tests/data/vad/train).
mkdir -p "$OUT/train"
for wav in "$D"/cmu-arctic/*.wav "$D"/whisper.cpp/jfk.wav "$D"/pocketsphinx/cards/*.wav \
  "$D"/pocketsphinx/librivox/*.wav; do
  name=$(basename "$(dirname "$wav")")_$(basename "${wav%.wav}")
  words "$wav" >"$OUT/train/$name.words"
  echo "train/$name: $(wc -l <"$OUT/train/$name.words") words"
done

# Downloads pinned Debian packages and unpacks them into $TMP/NAME/root:
# debian_unpack NAME PACKAGE=VERSION...
debian_unpack() {
  local name=$1
  shift
  mkdir -p "$TMP/$name"
  (cd "$TMP/$name" && apt-get download "$@")
  for deb in "$TMP/$name"/*.deb; do dpkg -x "$deb" "$TMP/$name/root"; done
}

# Lays out speech from pinned Debian packages: debian_speech NAME SCRIPT DEST PACKAGE=VERSION...
# downloads and unpacks the packages, runs bench/SCRIPT on them (into $TMP/NAME/out) and keeps its
# speech/*.wav as DEST/*.flac with their .words; the caller takes the noises from $TMP/NAME/out.
debian_speech() {
  local name=$1 script=$2 dest=$3
  shift 3
  mkdir -p "$dest"
  debian_unpack "$name" "$@"
  python3 "bench/$script" "$TMP/$name/root" "$TMP/$name/out"
  for wav in "$TMP/$name"/out/speech/*.wav; do
    sox "$wav" "$dest/$(basename "${wav%.wav}").flac"
    cp "${wav%.wav}.words" "$dest/"
  done
}

# Real voices and music from Debian packages (tests/data/vad/debian, train_babble_voices/radio,
# train_music_real; bench/vad_debian_voices.py): made once, kept; delete them to make new ones.
if [[ ! -f $OUT/noise/train_music_real.flac ]]; then
  debian_speech voices vad_debian_voices.py "$OUT/debian" ktuberling-data=4:22.12.3-1 \
    klettres-data=4:22.12.3-1 wesnoth-1.16-music=1:1.16.9-1
  for n in babble_voices babble_radio; do
    sox "$TMP/voices/out/$n.wav" "$OUT/noise/train_$n.flac"
  done
  sox "$TMP/voices/out/music.wav" "$OUT/noise/train_music_real.flac"
fi

# The second held-out split (tests/data/vad/heldout2, heldout2_* noises; bench/vad_heldout2.py):
# voices, ambience and music from other Debian packages, laid out before anything was scored on
# it. Made once, kept; delete tests/data/vad/heldout2 to make it again.
if [[ ! -d $OUT/heldout2 ]]; then
  debian_speech heldout2 vad_heldout2.py "$OUT/heldout2" kajongg=4:22.12.3-1 \
    warzone2100-data=4.3.3-3 boswars-data=2.7+svn160110-5 etw-data=3.6+svn162-6 \
    lincity-ng-data=2.9~git20150314-5 asterisk-moh-opsound-wav=2.03-1.1
  for n in crowd ambience music; do
    sox "$TMP/heldout2/out/$n.wav" "$OUT/noise/heldout2_$n.flac"
  done
fi

# The third held-out split (tests/data/vad/heldout3, heldout3_* noises; bench/vad_heldout3.py):
# game dialogue, team orders and spoken stamp names, household sounds, rain and sea, and another
# soundtrack, from Debian packages none of the sets above uses; laid out before anything was
# scored on it. Made once, kept; delete tests/data/vad/heldout3 to make it again.
if [[ ! -d $OUT/heldout3 ]]; then
  debian_speech heldout3 vad_heldout3.py "$OUT/heldout3" drascula=1.0+ds4-2 \
    openarena-data=0.8.5split-14 tuxpaint-stamps-default=2022.06.04-1 \
    minetest-mod-homedecor=20210327.1-2 plee-the-bear-data=0.6.0-8 scorched3d-data=44+dfsg-8 \
    fillets-ng-data=1.0.1-1.1
  for n in household weather music; do
    sox "$TMP/heldout3/out/$n.wav" "$OUT/noise/heldout3_$n.flac"
  done
fi

# Household and everyday sounds for training (tests/data/vad/noise/train_household.flac;
# bench/vad_train_household.py): doors, cupboards, footsteps, knocks, clinks, thuds, water, cards
# and paper, switches and clicks, phones, bells and beeps, from Debian packages none of the
# held-out splits uses (names m-z; the fourth split took its own from a-l). Made once, kept; delete it
# to make it again (the same bytes: the layout is seeded and sox runs with -R).
if [[ ! -f $OUT/noise/train_household.flac ]]; then
  debian_unpack household minetest-data=5.6.1+dfsg+~1.9.0mt8+dfsg-2 \
    minetest-mod-mesecons=1:1.2.1-2 minetest-mod-xdecor=1.0+dfsg1-2 sound-theme-freedesktop=0.8-2 \
    xboard=4.9.1-2+b1 pychess=1.0.3-1 pokerth-data=1.1.2-2 pingus-data=0.7.6-5.1 sound-icons=0.1-8
  python3 bench/vad_train_household.py "$TMP/household/root" "$TMP/household/out"
  sox "$TMP/household/out/household.wav" "$OUT/noise/train_household.flac"
fi

# More and more varied real music for training (tests/data/vad/noise/train_music_more.flac;
# bench/vad_train_music.py): electronic, rock, chiptune, acoustic (guitar, piano, plucked
# strings), a band, ambient pads, drum loops, and sung phrases over backing loops, from Debian
# packages none of the held-out splits uses (names m-z). Needs libsox-fmt-mp3 (Scratch's phrases
# and loops are MP3s). Made once, kept; delete it to make it again (the same bytes: the layout is
# seeded and sox runs with -R).
if [[ ! -f $OUT/noise/train_music_more.flac ]]; then
  debian_unpack music nexuiz-music=2.5.2-12 pushover-data=0.0.5+git20180909-4 \
    powermanga-data=0.93.1-5 sonic-pi-samples=3.2.2~repack-8 planetblupi-music-ogg=1.14.2-3 \
    singularity-music=007-2 scratch=1.4.0.6~dfsg1-6.1
  python3 bench/vad_train_music.py "$TMP/music/root" "$TMP/music/out"
  sox "$TMP/music/out/music_more.wav" "$OUT/noise/train_music_more.flac"
fi

# The fourth held-out split (tests/data/vad/heldout4, heldout4_* noises; bench/vad_heldout4.py):
# an adventure game's voices and telephone prompts, household sounds, machines and vehicles, and
# another soundtrack, from Debian packages none of the sets above (nor the training noises') uses;
# laid out before anything was scored on it. Needs libsox-fmt-mp3 (tools/install-deps.sh): the
# game's lines are MP3s.
# Made once, kept; delete tests/data/vad/heldout4 to make it again.
if [[ ! -d $OUT/heldout4 ]]; then
  debian_speech heldout4 vad_heldout4.py "$OUT/heldout4" flight-of-the-amazon-queen=1.0.0-9 \
    asterisk-core-sounds-en-wav=1.6.1-1 asterisk-core-sounds-en=1.6.1-1 \
    gcompris-qt-data=3.1-2 freedroidrpg-data=1.0-1
  for n in household machines music; do
    sox "$TMP/heldout4/out/$n.wav" "$OUT/noise/heldout4_$n.flac"
  done
fi

# The fifth held-out split (tests/data/vad/heldout5, heldout5_* noises; bench/vad_heldout5.py): a
# game's narrator and a brewer's spoken reminders (full band), an adventure game's voices (11 kHz),
# songs with a cheering crowd, kitchen water and timers, and wind, rain and cars, from Debian
# packages (names a-l) that none of the sets above, their noises' or validation's use; laid out
# before anything was scored on it. Made once, kept; delete tests/data/vad/heldout5 (and its
# noises) to make it again: the same bytes.
if [[ ! -d $OUT/heldout5 ]]; then
  debian_speech heldout5 vad_heldout5.py "$OUT/heldout5" ardentryst=1.71-9 brewtarget=3.0.6-1 \
    beneath-a-steel-sky=0.0372-8 fretsonfire-songs-muldjord=2.dfsg-2.1 \
    fretsonfire-songs-sectoid=1.dfsg-3.1 dustracing2d-data=2.1.1-2 circuslinux-data=1.0.3-34.1 \
    caveexpress-data=2.5.2-1 gnome-shell-pomodoro-data=0.22.1-1 lugaru-data=1.2-6 \
    7kaa-data=2.15.5+dfsg-1
  for n in tv kitchen street; do
    sox "$TMP/heldout5/out/$n.wav" "$OUT/noise/heldout5_$n.flac"
  done
fi

# Festival's voices as more training speech (tests/data/vad/tts; bench/vad_tts_voices.py): twelve
# synthesized speakers reading whole sentences, labelled with Festival's own word spans; fitted on
# only with vad_fit --tts (tried 2026-12-01, not in the shipped model: docs/benchmarks.md). Festival
# runs from the unpacked root, nothing is installed. Made once, kept; delete tests/data/vad/tts to
# make it again: the same bytes.
if [[ ! -d $OUT/tts ]]; then
  debian_speech tts vad_tts_voices.py "$OUT/tts" festival=1:2.5.0-9 libestools2.5=1:2.5.0-13 \
    festlex-cmu=2.4-2 festlex-poslex=2.4-1 festlex-ifd=2.0+debian0-6 festival-ca=3.0.6-2 \
    festival-czech=0.3-6 festvox-kallpc16k=2.4-1 festvox-kdlpc16k=1.4.0-6.1 \
    festvox-us-slt-hts=0.2010.10.25-4 festvox-italp16k=2.0+debian0-6 \
    festvox-itapc16k=2.0+debian0-6 festvox-ca-ona-hts=1.3-3 \
    festvox-suopuhe-common=1.0g-20051204-5 festvox-suopuhe-lj=1.0g-20051204-5 \
    festvox-suopuhe-mv=20041119-3 festvox-ru=0.5+dfsg-6 festvox-czech-dita=1.0.0-5 \
    festvox-czech-krb=1.0.0-5 festvox-czech-machac=1.0.0-5
fi

# Hedgewars' voice packs as more real training speech (tests/data/vad/hedgewars;
# bench/vad_hedgewars_voices.py): thirteen voice packs' spoken phrases, labelled from their
# energy; fitted on only with vad_fit --hedgewars (tried 2026-12-01, not in the shipped model:
# docs/benchmarks.md). Not committed (11 MB for an option that is off; .gitignore): made here, the
# same bytes each time; delete tests/data/vad/hedgewars to make it again.
if [[ ! -d $OUT/hedgewars ]]; then
  debian_speech hedgewars vad_hedgewars_voices.py "$OUT/hedgewars" hedgewars-data=1.0.2-6
fi

# The sixth held-out split (tests/data/vad/heldout6, heldout6_* noises; bench/vad_heldout6.py): a
# strategy game's spoken unit commands, a children's alphabet's spoken words, a game's notices, a
# game's announcer and a softphone's spoken greeting (all full band), a child's toys and pets in a
# living room, orchestral and folk game music, and a village square, from Debian packages that none
# of the sets above, their noises' or validation's use; laid out before anything was scored on it.
# Made once, kept; delete tests/data/vad/heldout6 (and its noises) to make it again: the same bytes.
if [[ ! -d $OUT/heldout6 ]]; then
  debian_speech heldout6 vad_heldout6.py "$OUT/heldout6" megaglest-data=3.13.0-3 \
    qabcs-data=1.0.2-6 unknown-horizons=2019.1-6 marsshooter-data=0.7.6-7 \
    linphone-common=5.1.65-4
  for n in livingroom music square; do
    sox "$TMP/heldout6/out/$n.wav" "$OUT/noise/heldout6_$n.flac"
  done
fi

# The noises are random (sox's noise generators): made once, kept; delete them to make new ones.
if [[ -f $OUT/noise/train_music.flac ]]; then
  ls -l "$OUT/noise"
  exit 0
fi

# Held-out noises (30 s each, 16 kHz mono 16-bit).
A=$TMP/aepyx.wav
sox "$SHARED/speech/silero-vad/aepyx_8k.wav" -r 16000 "$A"
sox -m -v 1 "$A" -v 1 "|sox $A -p trim 40" -v 1 "|sox $A -p trim 80" -v 1 "|sox $A -p trim 120" \
  "$TMP/babble.wav" trim 0 30
sox "$TMP/babble.wav" -b 16 "$OUT/noise/heldout_babble.flac" norm -3
sox -R -n -r 16000 -c 1 "$TMP/fan_noise.wav" synth 30 pinknoise lowpass 1200 tremolo 0.3 20
sox -R -n -r 16000 -c 1 "$TMP/fan_hum.wav" synth 30 sine 100 sine 200 sine 300 remix 1 vol 0.3
sox -m "$TMP/fan_noise.wav" "$TMP/fan_hum.wav" -b 16 "$OUT/noise/heldout_fan.flac" norm -3
notes=(E4 G4 A4 B4 D5 B4 A4 G4 E4 D4 E4 G4 A4 A4 G4 E4)
parts=()
for i in $(seq 0 59); do
  n=${notes[$((i % 16))]}
  sox -n -r 16000 -c 1 "$TMP/m$i.wav" synth 0.5 pluck "$n" fade 0 0.5 0.3
  parts+=("$TMP/m$i.wav")
done
sox "${parts[@]}" "$TMP/melody.wav"
sox -n -r 16000 -c 1 "$TMP/chords.wav" synth 30 sine E3 sine G3 sine B3 remix - tremolo 0.5 30 vol 0.4
sox -m "$TMP/melody.wav" "$TMP/chords.wav" -b 16 "$OUT/noise/heldout_music.flac" norm -3

# Training noises.
parts=()
for f in cmu-arctic/cmu_arctic_us_aew_a0001 cmu-arctic/cmu_arctic_us_axb_a0004 whisper.cpp/jfk \
  pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-0870 \
  pocketsphinx/librivox/sense_and_sensibility_01_austen_64kb-0890; do
  sox "$D/$f.wav" -r 16000 -c 1 "$TMP/t_$(basename "$f").wav"
  parts+=("$TMP/t_$(basename "$f").wav")
done
sox "${parts[@]}" "$TMP/voices.wav" repeat 3
sox -m "$TMP/voices.wav" "|sox $TMP/voices.wav -p trim 7" "|sox $TMP/voices.wav -p trim 15" \
  "|sox $TMP/voices.wav -p trim 23" "$TMP/tbabble.wav" trim 0 30
sox "$TMP/tbabble.wav" -b 16 "$OUT/noise/train_babble.flac" norm -3
sox -R -n -r 16000 -c 1 "$TMP/tfan_a.wav" synth 30 brownnoise vol 0.6
sox -R -n -r 16000 -c 1 "$TMP/tfan_b.wav" synth 30 whitenoise sinc 300-3500 vol 0.3
sox -n -r 16000 -c 1 "$TMP/tfan_h.wav" synth 30 sine 60 sine 120 remix 1 vol 0.2
sox -m "$TMP/tfan_a.wav" "$TMP/tfan_b.wav" "$TMP/tfan_h.wav" -b 16 "$OUT/noise/train_fan.flac" norm -3
tnotes=(C4 E4 G4 C5 A4 F4 D4 G4 B3 D4 F4 A4)
parts=()
for i in $(seq 0 99); do
  n=${tnotes[$((i % 12))]}
  sox -n -r 16000 -c 1 "$TMP/t$i.wav" synth 0.3 triangle "$n" fade 0.01 0.3 0.1
  parts+=("$TMP/t$i.wav")
done
sox "${parts[@]}" "$TMP/tmelody.wav"
sox -n -r 16000 -c 1 "$TMP/tchords.wav" synth 30 square C3 square E3 square G3 remix - vol 0.2 lowpass 2500
sox -m "$TMP/tmelody.wav" "$TMP/tchords.wav" -b 16 "$OUT/noise/train_music.flac" trim 0 30 norm -3
ls -l "$OUT/noise"
