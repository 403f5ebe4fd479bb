// Tests Utf8OrEscaped: TensorFlow's messages as text, as Python's UTF-8
// decoder with "backslashreplace" writes them.

#include <cstdio>
#include <string>

#include "tensorflow_serving/servables/tensorflow/tf_c_api.h"
#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

void TestValidUtf8IsUnchanged() {
  CHECK_TRUE(Utf8OrEscaped("plain") == "plain");
  CHECK_TRUE(Utf8OrEscaped("") == "");
  const std::string text = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  // é€😀
  CHECK_TRUE(Utf8OrEscaped(text) == text);
  const std::string edges = "\xef\xbf\xbf\xf4\x8f\xbf\xbf";  // U+FFFF, U+10FFFF
  CHECK_TRUE(Utf8OrEscaped(edges) == edges);
  CHECK_TRUE(Utf8OrEscaped(std::string("a\0b", 3)) == std::string("a\0b", 3));
}

void TestInvalidBytesAreEscapedOneByOne() {
  CHECK_TRUE(Utf8OrEscaped("a\xff" "b") == "a\\xffb");
  // A sequence cut short, then ASCII.
  CHECK_TRUE(Utf8OrEscaped("\xe2\x82" "A") == "\\xe2\\x82A");
  // Surrogates, overlong forms and code points above U+10FFFF.
  CHECK_TRUE(Utf8OrEscaped("\xed\xa0\x80") == "\\xed\\xa0\\x80");
  CHECK_TRUE(Utf8OrEscaped("\xc0\x80") == "\\xc0\\x80");
  CHECK_TRUE(Utf8OrEscaped("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");
  CHECK_TRUE(Utf8OrEscaped("\xf5") == "\\xf5");
  // Truncated at the end, and stray continuation bytes.
  CHECK_TRUE(Utf8OrEscaped("\xf0\x9f\x98") == "\\xf0\\x9f\\x98");
  CHECK_TRUE(Utf8OrEscaped("x\xc3") == "x\\xc3");
  CHECK_TRUE(Utf8OrEscaped("\x80\xbf") == "\\x80\\xbf");
  // Valid sequences around invalid bytes stay as they are.
  CHECK_TRUE(Utf8OrEscaped("\xc3\xa9\xff\xc3\xa9") == "\xc3\xa9\\xff\xc3\xa9");
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving;  // NOLINT
  TestValidUtf8IsUnchanged();
  TestInvalidBytesAreEscapedOneByOne();
  std::puts("tf_c_api_test: OK");
  return 0;
}
