// The text between the LLM and the voice: sentence splitting, thinking removed, markdown cleaned,
// and the SSE framing the text arrives in.
#include <gtest/gtest.h>

#include "host/engines/sentence_splitter.h"
#include "host/engines/speech_text.h"
#include "host/engines/sse_parser.h"

namespace earshot::host {
namespace {

std::vector<std::string> split_streamed(const std::string& text, size_t piece,
                                        SplitterConfig config = {0, 300}) {
  SentenceSplitter s(config);
  std::vector<std::string> out;
  auto emit = [&](std::string sentence) { out.push_back(std::move(sentence)); };
  for (size_t i = 0; i < text.size(); i += piece)
    s.push(text.substr(i, piece), emit);
  s.finish(emit);
  return out;
}

TEST(SentenceSplitter, SplitsAtSentenceEndsHoweverTheTextIsChunked) {
  const std::string text = "It is 3.5 degrees. Dr. Smith says so! Is it cold? Yes";
  const std::vector<std::string> expected = {"It is 3.5 degrees.", "Dr. Smith says so!",
                                             "Is it cold?", "Yes"};
  for (size_t piece : {1, 2, 3, 7, 100})
    EXPECT_EQ(split_streamed(text, piece), expected) << piece;
}

TEST(SentenceSplitter, EmitsASentenceAsSoonAsTheNextWordShowsItEnded) {
  SentenceSplitter s({0, 300});
  std::vector<std::string> out;
  auto emit = [&](std::string x) { out.push_back(x); };
  s.push("Hello there.", emit);
  EXPECT_TRUE(out.empty());  // could be "there.5"
  s.push(" Next", emit);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], "Hello there.");
}

TEST(SentenceSplitter, CutsALongFirstSentenceAtAClauseButNotLaterOnes) {
  const std::string text =
      "Well, considering everything you have told me about the garden, I would water it "
      "tonight. Later sentences, even long ones with commas, stay whole.";
  std::vector<std::string> out = split_streamed(text, 5, {40, 300});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0], "Well, considering everything you have told me about the garden,");
  EXPECT_EQ(out[1], "I would water it tonight.");
}

TEST(SentenceSplitter, ListsAndParagraphsAndOverlongTextAreCut) {
  std::vector<std::string> out = split_streamed("Buy:\n- milk\n- eggs\n\nThat is all", 4);
  EXPECT_EQ(out, (std::vector<std::string>{"Buy:", "- milk", "- eggs", "That is all"}));
  std::string words;
  for (int i = 0; i < 100; ++i)
    words += "word ";
  out = split_streamed(words, 9, {0, 60});
  EXPECT_GT(out.size(), 5u);
  for (const std::string& s : out)
    EXPECT_LE(s.size(), 60u);
}

TEST(ThinkFilter, RemovesThinkingEvenWhenTagsAreSplitAcrossChunks) {
  const std::string text =
      "<think>The user wants the time.</think>It is noon. <think>x</think>Bye.";
  for (size_t piece : {1, 3, 5, 200}) {
    ThinkFilter f;
    std::string spoken;
    for (size_t i = 0; i < text.size(); i += piece)
      spoken += f.push(text.substr(i, piece));
    spoken += f.finish();
    EXPECT_EQ(spoken, "It is noon. Bye.") << piece;
  }
  ThinkFilter unclosed;  // a model cut off mid-thought says nothing of it
  EXPECT_EQ(unclosed.push("<think>still thinking"), "");
  EXPECT_EQ(unclosed.finish(), "");
  ThinkFilter lone;
  EXPECT_EQ(lone.push("a < b and <thin"), "a < b and ");
  EXPECT_EQ(lone.finish(), "<thin");
}

TEST(CleanForSpeech, StripsMarkdownAVoiceShouldNotRead) {
  EXPECT_EQ(clean_for_speech("**Bold** and *it* and `code` and snake_case"),
            "Bold and it and code and snake_case");
  EXPECT_EQ(clean_for_speech("## Heading\n- item one\n* item two"), "Heading item one item two");
  EXPECT_EQ(clean_for_speech("See [the docs](https://x.y/z) now"), "See the docs now");
  EXPECT_EQ(clean_for_speech("```cpp\nint x;\n```\nDone"), "int x; Done");
  EXPECT_EQ(clean_for_speech("|---|---|"), "");
  EXPECT_EQ(clean_for_speech("line<br>break"), "linebreak");
}

TEST(SseParser, HandlesCrlfSplitEventsCommentsAndMultiLineData) {
  const std::string stream =
      ": keep-alive\r\n\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: line1\ndata: line2\nid: 7\n\n"
      "data: [DONE]\n\n";
  for (size_t piece : {1, 2, 5, 1000}) {
    SseParser p;
    std::vector<std::string> events;
    for (size_t i = 0; i < stream.size(); i += piece)
      p.push(stream.substr(i, piece), [&](const std::string& d) {
        events.push_back(d);
        return true;
      });
    EXPECT_EQ(events, (std::vector<std::string>{"{\"a\":1}", "line1\nline2", "[DONE]"})) << piece;
  }
}

TEST(SseParser, DropsOversizedEventsAndKeepsGoing) {
  SseParser p(64);
  std::vector<std::string> events;
  p.push("data: " + std::string(200, 'x') + "\n\ndata: ok\n\n", [&](const std::string& d) {
    events.push_back(d);
    return true;
  });
  EXPECT_EQ(events, std::vector<std::string>{"ok"});
  EXPECT_EQ(p.oversized_events(), 1u);
}

}  // namespace
}  // namespace earshot::host
