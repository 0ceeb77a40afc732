// What is stored as heard of an interrupted reply is what was played: the node's report, else what
// reached the wire, else nothing. (Point 8 of the fault probe: a reply cut before its first frame
// left was stored with 275 characters "heard", counted from the audio synthesized and queued.)
#include "host/heard_reply.h"

#include <gtest/gtest.h>

namespace earshot::host {
namespace {

// Two sentences voiced: 1 s and 2 s of audio at 16 kHz.
std::vector<VoicedSentence> two_sentences() {
  return {{"The kettle is on.", 0, 16000},
          {"It will boil in about two minutes from now.", 16000, 48000}};
}

TEST(HeardReply, AReplyCutBeforeItsFirstFrameLeftWasNotHeardAtAll) {
  PlayedPoint nothing_sent;
  nothing_sent.frames_on_wire = 0;  // the interrupt came before the first frame was written
  EXPECT_EQ(heard_part(two_sentences(), nothing_sent), "");
  // No report and nothing known of the wire: still nothing (never the synthesized audio).
  EXPECT_EQ(heard_part(two_sentences(), PlayedPoint{}), "");
}

TEST(HeardReply, TheNodesReportWinsOverWhatWasSent) {
  PlayedPoint p;
  p.reported_ms = 2000;    // 1 s of the second sentence: half of it
  p.frames_on_wire = 150;  // 3 s sent: all of it
  EXPECT_EQ(heard_part(two_sentences(), p), "The kettle is on. It will boil in");
  p.reported_ms = 0;  // the node says it played none of this reply
  EXPECT_EQ(heard_part(two_sentences(), p), "");
}

TEST(HeardReply, WithoutAReportTheFramesOnTheWireBoundWhatWasHeard) {
  PlayedPoint p;
  p.frames_on_wire = 50;  // 1 s: the first sentence, exactly
  EXPECT_EQ(heard_part(two_sentences(), p), "The kettle is on.");
  p.frames_on_wire = 1000;  // more than the reply: all of it
  EXPECT_EQ(heard_part(two_sentences(), p),
            "The kettle is on. It will boil in about two minutes from now.");
}

TEST(HeardReply, ASentenceCutWhileItWasSynthesizedIsMeasuredByItsWordsNotItsAudioSoFar) {
  // The client left 1 s in, at the end of the first sentence, before any of the second's audio was
  // made: the second was not heard at all (it used to count as heard in full, its span empty).
  std::vector<VoicedSentence> s = {{"The kettle is on.", 0, 16000},
                                   {"It will boil in about two minutes from now.", 16000, 16000}};
  s[1].made_whole = false;
  PlayedPoint p;
  p.frames_on_wire = 50;
  EXPECT_EQ(heard_part(s, p), "The kettle is on.");
  // 0.5 s of its audio made and sent: of nine words (3.6 s at 2.5 a second), the first only,
  // not all nine.
  s[1].end_sample = 24000;
  p.frames_on_wire = 75;
  EXPECT_EQ(heard_part(s, p), "The kettle is on. It");
  // Made whole, the same span is the sentence's real length.
  s[1].made_whole = true;
  EXPECT_EQ(heard_part(s, p), "The kettle is on. It will boil in about two minutes from now.");
}

TEST(HeardReply, LeadingWordsRoundDown) {
  EXPECT_EQ(leading_words("one two three four", 0.5), "one two");
  EXPECT_EQ(leading_words("one two three four", 0.49), "one");
  EXPECT_EQ(leading_words("one two three four", 1.5), "one two three four");
  EXPECT_EQ(leading_words("", 1.0), "");
}

}  // namespace
}  // namespace earshot::host
