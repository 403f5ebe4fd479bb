// Tests JSON <-> tensors: RapidJSON's parse errors and values as upstream's
// server sees them, the predict, classify and regress request rules with
// their exact error texts, the answers' exact bytes, and hostile bodies.

#include "tensorflow_serving/util/json_tensor.h"

#include <sys/resource.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/text_format.h"
#include "tensorflow/core/example/example.pb.h"
#include "tensorflow_serving/servables/tensorflow/tensor_util.h"
#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

using TensorInfoMap = google::protobuf::Map<std::string, TensorInfo>;
using TensorMap = google::protobuf::Map<std::string, TensorProto>;

TensorInfoMapGetter Infos(std::initializer_list<std::pair<const char*, DataType>> inputs) {
  TensorInfoMap infos;
  for (const auto& [name, dtype] : inputs) infos[name].set_dtype(dtype);
  return [infos](const std::string&, TensorInfoMap* out) {
    *out = infos;
    return absl::OkStatus();
  };
}

// Fails the test, showing both, when `actual` is not `expected`.
void ExpectEq(const std::string& actual, const std::string& expected, int line) {
  if (actual == expected) return;
  std::fprintf(stderr, "line %d:\n  expected: [%s]\n  actual:   [%s]\n", line, expected.c_str(),
               actual.c_str());
  std::exit(1);
}
#define EXPECT_EQ_STR(actual, expected) ExpectEq((actual), (expected), __LINE__)

void ExpectStatus(const absl::Status& status, absl::StatusCode code, const std::string& message,
                  int line) {
  if (status.code() == code && status.message() == message) return;
  std::fprintf(stderr, "line %d:\n  expected: %d [%s]\n  actual:   %s\n", line,
               static_cast<int>(code), message.c_str(), status.ToString().c_str());
  std::exit(1);
}
#define EXPECT_INVALID(status, message) \
  ExpectStatus((status), absl::StatusCode::kInvalidArgument, (message), __LINE__)

absl::Status Predict(const std::string& body, const TensorInfoMapGetter& infos,
                     PredictRequest* request = nullptr,
                     JsonPredictRequestFormat* format = nullptr) {
  PredictRequest unused_request;
  JsonPredictRequestFormat unused_format;
  return FillPredictRequestFromJson(body, infos, request ? request : &unused_request,
                                    format ? format : &unused_format);
}

// The request's tensor `name`, which must equal the TensorProto in `text`.
void ExpectTensor(const PredictRequest& request, const std::string& name,
                  const std::string& text, int line) {
  TensorProto expected;
  CHECK_TRUE(google::protobuf::TextFormat::ParseFromString(text, &expected));
  const auto it = request.inputs().find(name);
  if (it == request.inputs().end()) {
    std::fprintf(stderr, "line %d: no input %s\n", line, name.c_str());
    std::exit(1);
  }
  ExpectEq(it->second.DebugString(), expected.DebugString(), line);
}
#define EXPECT_TENSOR(request, name, text) ExpectTensor((request), (name), (text), __LINE__)

std::string ParseError(const std::string& body) {
  return std::string(Predict(body, Infos({{"x", DT_INT32}})).message());
}

// ------------------------------------------------ RapidJSON: parse errors

void TestParseErrorsAreRapidJsons() {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"   ", "The document is empty. at offset: 3"},
      {"]", "The document is empty. at offset: 0"},
      {std::string("\0{}", 3), "The document is empty. at offset: 0"},
      {"instances = [1]", "Invalid value. at offset: 0"},
      {"[1,", "Invalid value. at offset: 3"},
      {"[1,]", "Invalid value. at offset: 3"},
      {"[1 2]", "Missing a comma or ']' after an array element. at offset: 3"},
      {"[01]", "Missing a comma or ']' after an array element. at offset: 2"},
      {"{,}", "Missing a name for object member. at offset: 1"},
      {R"({"a":1,})", "Missing a name for object member. at offset: 7"},
      {R"({"a" 1})", "Missing a colon after a name of object member. at offset: 5"},
      {R"({"a":1 "b":2})", "Missing a comma or '}' after an object member. at offset: 7"},
      {R"("abc)", "Missing a closing quotation mark in string. at offset: 4"},
      {R"(["a\x"])", "Invalid escape character in string. at offset: 3"},
      {R"(["\u12G4"])", "Incorrect hex digit after \\u escape in string. at offset: 2"},
      {R"(["\ud800"])", "The surrogate pair in string is invalid. at offset: 2"},
      {R"(["\ud800\u0041"])", "The surrogate pair in string is invalid. at offset: 2"},
      // RapidJSON 1.1.0 calls a raw control character an invalid escape.
      {"[\"a\x01\"]", "Invalid escape character in string. at offset: 3"},
      {"[1e400]", "Number too big to be stored in double. at offset: 1"},
      {"[" + std::string(400, '9') + "]", "Number too big to be stored in double. at offset: 1"},
      {"[1.]", "Miss fraction part in number. at offset: 3"},
      {"[1e]", "Miss exponent in number. at offset: 3"},
      {"1.", "Miss fraction part in number. at offset: 2"},
      {"[tru]", "Invalid value. at offset: 4"},
      {"[-]", "Invalid value. at offset: 2"},
      {"[Nax]", "Invalid value. at offset: 3"},
      {"[Infinit]", "Invalid value. at offset: 8"},
      {R"({"instances": [1, 2)", "Missing a comma or ']' after an array element. at offset: 19"},
  };
  for (const auto& [body, error] : cases) {
    EXPECT_EQ_STR(ParseError(body), "JSON Parse error: " + error);
  }
  // Upstream's own text for an empty body: no offset, no full stop.
  EXPECT_EQ_STR(ParseError(""), "JSON Parse error: The document is empty");
}

// Each of the three bytes of a UTF-8 byte order mark is skipped when it is
// there, in order, before RapidJSON reads; offsets still count them.
void TestByteOrderMarkBytesAreSkipped() {
  for (const char* bom : {"\xef\xbb\xbf", "\xef", "\xbb", "\xbf", "\xef\xbf"}) {
    PredictRequest request;
    CHECK_TRUE(Predict(std::string(bom) + R"({"instances": [7]})", Infos({{"x", DT_INT32}}),
                       &request)
                   .ok());
    CHECK_TRUE(request.inputs().at("x").int_val(0) == 7);
  }
  EXPECT_EQ_STR(ParseError("\xef\xbb\xbf{"),
                "JSON Parse error: Missing a name for object member. at offset: 4");
  EXPECT_EQ_STR(ParseError("\xbf\xbb{}"), "JSON Parse error: Invalid value. at offset: 1");
}

// ------------------------------------------------------ RapidJSON: values

// One value as a DT_DOUBLE input reads it.
double AsDouble(const std::string& number) {
  PredictRequest request;
  const absl::Status status =
      Predict(R"({"inputs": )" + number + "}", Infos({{"x", DT_DOUBLE}}), &request);
  if (!status.ok()) {
    std::fprintf(stderr, "%s: %s\n", number.c_str(), status.ToString().c_str());
    std::exit(1);
  }
  return request.inputs().at("x").double_val(0);
}

void TestNumbersReadAsRapidJson110Reads() {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK_TRUE(AsDouble("1.5") == 1.5 && AsDouble("-0.0") == 0 && std::signbit(AsDouble("-0.0")));
  CHECK_TRUE(AsDouble("-0") == 0 && !std::signbit(AsDouble("-0")));  // the integer 0
  CHECK_TRUE(AsDouble("1e300") == 1e300);
  CHECK_TRUE(AsDouble("Inf") == inf && AsDouble("-Inf") == -inf && AsDouble("Infinity") == inf &&
             AsDouble("-Infinity") == -inf);
  CHECK_TRUE(std::isnan(AsDouble("NaN")) && std::isnan(AsDouble("-NaN")));
  // Without kParseFullPrecisionFlag, as upstream: the digits times a power of
  // ten, each rounded, so not always the nearest double.
  CHECK_TRUE(AsDouble("1e-45") == 1.0000000000000002e-45);
  CHECK_TRUE(AsDouble("0.1") == 0.1);
  // A positive exponent past 308 is an error; a value that overflows on the
  // way is Infinity.
  CHECK_TRUE(AsDouble("2e308") == inf && AsDouble("-1.7976931348623159e308") == -inf);
  // After NaN or Inf, 1.1.0 reads on as if from a zero: NaN.5 is 0.5.
  CHECK_TRUE(AsDouble("NaN.5") == 0.5 && AsDouble("-Inf.25") == -0.25 && AsDouble("Infe3") == 0);
}

void TestIntegerKindsDecideTypes() {
  PredictRequest request;
  // Within uint64 integers stay integers; beyond, doubles.
  CHECK_TRUE(Predict(R"({"inputs": [18446744073709551615]})", Infos({{"x", DT_UINT64}}),
                     &request)
                 .ok());
  CHECK_TRUE(request.inputs().at("x").uint64_val(0) == 18446744073709551615ull);
  EXPECT_INVALID(Predict(R"({"inputs": [18446744073709551616]})", Infos({{"x", DT_UINT64}})),
                 "JSON Value: 18446744073709553000.0 Type: Number is not of expected type: uint64");
  CHECK_TRUE(Predict(R"({"inputs": [-9223372036854775808]})", Infos({{"x", DT_INT64}}), &request)
                 .ok());
  CHECK_TRUE(request.inputs().at("x").int64_val(0) == std::numeric_limits<int64_t>::min());
  EXPECT_INVALID(Predict(R"({"inputs": [-9223372036854775809]})", Infos({{"x", DT_INT64}})),
                 "JSON Value: -9223372036854776000.0 Type: Number is not of expected type: int64");
  EXPECT_INVALID(Predict(R"({"inputs": [9223372036854775808]})", Infos({{"x", DT_INT64}})),
                 "JSON Value: 9223372036854775808 Type: Number is not of expected type: int64");
  EXPECT_INVALID(Predict(R"({"inputs": [-1]})", Infos({{"x", DT_UINT32}})),
                 "JSON Value: -1 Type: Number is not of expected type: uint32");
  EXPECT_INVALID(Predict(R"({"inputs": [4294967296]})", Infos({{"x", DT_UINT32}})),
                 "JSON Value: 4294967296 Type: Number is not of expected type: uint32");
}

void TestStringsKeepTheirBytes() {
  PredictRequest request;
  CHECK_TRUE(Predict("{\"inputs\": [\"\xff\xfe\", \"\\ud83d\\ude00\", \"\\u0000a\", \"\\udc00\"]}",
                     Infos({{"x", DT_STRING}}), &request)
                 .ok());
  const TensorProto& t = request.inputs().at("x");
  CHECK_TRUE(t.string_val(0) == "\xff\xfe");      // no encoding check, as upstream
  CHECK_TRUE(t.string_val(1) == "\xf0\x9f\x98\x80");
  CHECK_TRUE(t.string_val(2) == std::string("\0a", 2));
  CHECK_TRUE(t.string_val(3) == "\xed\xb0\x80");  // 1.1.0 takes a lone low surrogate
}

void TestAnyDepthParses() {
  std::string body = R"({"instances":[1], "nested":)";
  body.append(500000, '[').append(500000, ']').append("}");
  PredictRequest request;
  CHECK_TRUE(Predict(body, Infos({{"x", DT_INT32}}), &request).ok());
  CHECK_TRUE(request.inputs().at("x").int_val_size() == 1);
  // Quoted in an error, a deep value costs only the quote's 256 bytes.
  body = R"({"signature_name":)";
  body.append(500000, '[').append(500000, ']').append("}");
  const absl::Status status = Predict(body, Infos({{"x", DT_INT32}}));
  CHECK_TRUE(absl::IsInvalidArgument(status));
  CHECK_TRUE(status.message().size() < 400);
  CHECK_TRUE(absl::EndsWith(status.message(), "'signature_name' key must be a string value."));
}

// --------------------------------------------------- quoting JSON values

void TestQuotedValuesAreRapidJsonsPrettyWriter() {
  // Single-line arrays, four-space objects, numbers by RapidJSON's Grisu2
  // (not always the shortest digits), strings escaped as RapidJSON does.
  EXPECT_INVALID(
      Predict(R"({"signature_name": {"a": [1, 2.5, 1e-7, 1e21, 1e23, "x\n\u0001\/é"], "o": {}},)"
              R"( "inputs": 1})",
              Infos({{"x", DT_INT32}})),
      "JSON Value: {\n    \"signature_name\": {\n        \"a\": [1, 2.5, 1e-7, 1e21, "
      "9.999999999999999e22, \"x\\n\\u0001/é\"],\n        \"o\": {}\n    },\n    \"inputs\": 1\n} "
      "not formatted correctly. 'signature_name' key must be a string value.");
  // PrettyWriter writes a value's separator before it refuses NaN or Inf.
  EXPECT_INVALID(Predict(R"({"inputs": [[1.0, 1e-6, 123456789012.0, NaN, 2], "x"]})",
                         Infos({{"x", DT_DOUBLE}})),
                 "JSON Value: \"x\" found at incorrect level: 2 in the JSON DOM. Expected at "
                 "level: 2");
  EXPECT_INVALID(Predict(R"({"inputs": 1, "instances": [1.0, 1e-6, 123456789012.0, NaN, 2]})",
                         Infos({{"x", DT_DOUBLE}})),
                 "JSON Value: {\n    \"inputs\": 1,\n    \"instances\": [1.0, 0.000001, "
                 "123456789012.0,  Not formatted correctly expecting only one of 'inputs' or "
                 "'instances' keys to exist ");
  EXPECT_INVALID(Predict(R"({"inputs": [NaN]})", Infos({{"x", DT_STRING}})),
                 "JSON Value:  Type: Number is not of expected type: string");
}

void TestQuotesAreCutAfter256Bytes() {
  // Cut once the quote has 256 bytes, before the value that follows.
  std::string numbers = "[0";
  for (int i = 1; i < 1000; ++i) absl::StrAppend(&numbers, ", ", i);
  const absl::Status status = Predict(
      absl::StrCat(R"({"signature_name": )", numbers, R"(], "inputs": 1})"),
      Infos({{"x", DT_INT32}}));
  const std::string prefix = "JSON Value: ";
  const std::string suffix = " not formatted correctly. 'signature_name' key must be a string value.";
  const std::string quote(status.message().substr(
      prefix.size(), status.message().size() - prefix.size() - suffix.size()));
  CHECK_TRUE(quote.size() >= 256 && quote.size() < 262);
  CHECK_TRUE(quote.rfind("{\n    \"signature_name\": [0, 1, 2, ", 0) == 0);
  // A long string is written whole: the limit is checked before each value.
  EXPECT_INVALID(Predict(absl::StrCat(R"({"instances": [[")", std::string(300, 's'), R"("]]})"),
                         Infos({{"x", DT_INT32}})),
                 absl::StrCat("Failed to process element: 0 of 'instances' list. Error: "
                              "INVALID_ARGUMENT: JSON Value: \"",
                              std::string(300, 's'),
                              "\" Type: String is not of expected type: int32"));
  // The limit counts bytes, not characters.
  std::string wide = R"({"signature_name": [)";
  for (int i = 0; i < 100; ++i) wide += i ? R"(, "é")" : R"("é")";
  const absl::Status cut = Predict(wide + R"(], "inputs": 1})", Infos({{"x", DT_INT32}}));
  CHECK_TRUE(absl::StrContains(cut.message(), R"("é", "é")"));
  CHECK_TRUE(cut.message().size() - prefix.size() - suffix.size() < 262);
}

// ------------------------------------------------------ predict requests

void TestRowFormat() {
  PredictRequest request;
  JsonPredictRequestFormat format;
  CHECK_TRUE(Predict(R"({"instances": [[1,2],[3,4],[5,6]]})", Infos({{"x", DT_INT32}}),
                     &request, &format)
                 .ok());
  CHECK_TRUE(format == JsonPredictRequestFormat::kRow);
  CHECK_TRUE(request.model_spec().signature_name().empty());
  EXPECT_TENSOR(request, "x",
                "dtype: DT_INT32 tensor_shape { dim { size: 3 } dim { size: 2 } } "
                "int_val: [1, 2, 3, 4, 5, 6]");
  // The shape comes from the JSON, not the signature; ints and doubles alike
  // become floats through double.
  CHECK_TRUE(Predict(R"({"instances": [1, 2.0, 3, 5.003, 0.007, 1435774380, 1435774380.0]})",
                     Infos({{"x", DT_FLOAT}}), &request)
                 .ok());
  EXPECT_TENSOR(request, "x",
                "dtype: DT_FLOAT tensor_shape { dim { size: 7 } } "
                "float_val: [1, 2, 3, 5.003, 0.007, 1435774336, 1435774336]");
  CHECK_TRUE(Predict(R"({"instances": [1.0, 2, 0.662, 0]})", Infos({{"x", DT_DOUBLE}}), &request)
                 .ok());
  EXPECT_TENSOR(request, "x",
                "dtype: DT_DOUBLE tensor_shape { dim { size: 4 } } double_val: [1, 2, 0.662, 0]");
  // Beyond float's range: +-Infinity, and zero below it.
  CHECK_TRUE(Predict(R"({"instances": [1.7976931348623157e308, -1.7976931348623157e308,)"
                     R"( 2.2250738585072014e-308, -2.2250738585072014e-308]})",
                     Infos({{"x", DT_FLOAT}}), &request)
                 .ok());
  const TensorProto& limits = request.inputs().at("x");
  CHECK_TRUE(std::isinf(limits.float_val(0)) && limits.float_val(0) > 0);
  CHECK_TRUE(std::isinf(limits.float_val(1)) && limits.float_val(1) < 0);
  CHECK_TRUE(limits.float_val(2) == 0 && !std::signbit(limits.float_val(2)));
  CHECK_TRUE(limits.float_val(3) == 0 && std::signbit(limits.float_val(3)));
}

void TestRowFormatWithSignatureAndNamedInputs() {
  PredictRequest request;
  CHECK_TRUE(Predict(R"({"signature_name": "s", "instances": [
                        {"a": [[1,2],[3,4]], "b": ["foo", "bar"], "f": [1.0, NaN], "d": [NaN]},
                        {"a": [[7,8],[9,0]], "b": ["baz", {"b64": "/w=="}],
                         "f": [2.0, Infinity], "d": [2.0]}]})",
                     Infos({{"a", DT_INT64}, {"b", DT_STRING}, {"f", DT_FLOAT}, {"d", DT_DOUBLE}}),
                     &request)
                 .ok());
  CHECK_TRUE(request.model_spec().signature_name() == "s");
  CHECK_TRUE(request.inputs_size() == 4);
  EXPECT_TENSOR(request, "a",
                "dtype: DT_INT64 tensor_shape { dim { size: 2 } dim { size: 2 } dim { size: 2 } } "
                "int64_val: [1, 2, 3, 4, 7, 8, 9, 0]");
  EXPECT_TENSOR(request, "b",
                "dtype: DT_STRING tensor_shape { dim { size: 2 } dim { size: 2 } } "
                "string_val: ['foo', 'bar', 'baz', '\\377']");
  EXPECT_TENSOR(request, "f",
                "dtype: DT_FLOAT tensor_shape { dim { size: 2 } dim { size: 2 } } "
                "float_val: [1, nan, 2, inf]");
  EXPECT_TENSOR(request, "d",
                "dtype: DT_DOUBLE tensor_shape { dim { size: 2 } dim { size: 1 } } "
                "double_val: [nan, 2]");
  // b64 values, plain and as one named input.
  CHECK_TRUE(Predict(R"({"instances": [{"b64": "aGVsbG8="}, {"b64": "d29ybGQ="}]})",
                     Infos({{"x", DT_STRING}}), &request)
                 .ok());
  EXPECT_TENSOR(request, "x",
                "dtype: DT_STRING tensor_shape { dim { size: 2 } } "
                "string_val: ['hello', 'world']");
  CHECK_TRUE(Predict(R"({"instances": [{"x": [[{"b64": "aGVsbG8="}], [{"b64": "d29ybGQ="}]]}]})",
                     Infos({{"x", DT_STRING}}), &request)
                 .ok());
  EXPECT_TENSOR(request, "x",
                "dtype: DT_STRING tensor_shape { dim { size: 1 } dim { size: 2 } dim { size: 1 } } "
                "string_val: ['hello', 'world']");
}

void TestColumnarFormat() {
  PredictRequest request;
  JsonPredictRequestFormat format;
  // Keys the signature lacks are ignored.
  CHECK_TRUE(Predict(R"({"inputs": {"a": [[1, 2]], "b": true, "s": {"b64": "aGVsbG8="},)"
                     R"( "extra": 1}})",
                     Infos({{"a", DT_INT32}, {"b", DT_BOOL}, {"s", DT_STRING}}), &request,
                     &format)
                 .ok());
  CHECK_TRUE(format == JsonPredictRequestFormat::kColumnar);
  CHECK_TRUE(request.inputs_size() == 3);
  EXPECT_TENSOR(request, "a",
                "dtype: DT_INT32 tensor_shape { dim { size: 1 } dim { size: 2 } } "
                "int_val: [1, 2]");
  EXPECT_TENSOR(request, "b", "dtype: DT_BOOL tensor_shape {} bool_val: true");
  EXPECT_TENSOR(request, "s", "dtype: DT_STRING tensor_shape {} string_val: 'hello'");
  // One input may go unnamed.
  CHECK_TRUE(Predict(R"({"inputs": [[[1,2],[3,4],[5,6]]]})", Infos({{"x", DT_INT32}}), &request)
                 .ok());
  EXPECT_TENSOR(request, "x",
                "dtype: DT_INT32 tensor_shape { dim { size: 1 } dim { size: 3 } dim { size: 2 } }"
                " int_val: [1, 2, 3, 4, 5, 6]");
  // int_val carries small integers; TensorFlow narrows them as a cast does.
  CHECK_TRUE(Predict(R"({"inputs": [300, -1]})", Infos({{"x", DT_UINT8}}), &request).ok());
  EXPECT_TENSOR(request, "x", "dtype: DT_UINT8 tensor_shape { dim { size: 2 } } int_val: [300, -1]");
  // The body may go on after its root value, and need not end in a NUL.
  const std::string padded = R"({"instances": [[1,2],[3,4]]}X)";
  CHECK_TRUE(FillPredictRequestFromJson(absl::string_view(padded.data(), padded.size() - 1),
                                        Infos({{"x", DT_INT32}}), &request, &format)
                 .ok());
  CHECK_TRUE(Predict(padded, Infos({{"x", DT_INT32}}), &request).ok());
  CHECK_TRUE(request.inputs().at("x").int_val_size() == 4);
}

void TestBase64() {
  PredictRequest request;
  // absl::Base64Unescape: padding optional, whitespace ignored.
  CHECK_TRUE(Predict(R"({"inputs": [{"b64": "aGk="}, {"b64": "aGk"}, {"b64": " a G k = "}]})",
                     Infos({{"x", DT_STRING}}), &request)
                 .ok());
  EXPECT_TENSOR(request, "x",
                "dtype: DT_STRING tensor_shape { dim { size: 3 } } string_val: ['hi','hi','hi']");
  for (const char* bad : {"not base64!", "aGk==", "Y", "YQ==="}) {
    EXPECT_INVALID(Predict(absl::StrCat(R"({"inputs": [{"b64": ")", bad, R"("}]})"),
                           Infos({{"x", DT_STRING}})),
                   "Unable to base64 decode");
  }
  EXPECT_INVALID(Predict(R"({"inputs": [{"b64": 5}]})", Infos({{"x", DT_STRING}})),
                 "JSON Value: {\n    \"b64\": 5\n} not formatted correctly for base64 data");
  // Not a b64 value: other members, or for another dtype.
  EXPECT_INVALID(Predict(R"({"inputs": [{"b64": "aGk=", "c": 1}]})", Infos({{"x", DT_STRING}})),
                 "JSON Value: {\n    \"b64\": \"aGk=\",\n    \"c\": 1\n} not formatted correctly "
                 "for base64 data");
  EXPECT_INVALID(Predict(R"({"inputs": [{"b64": "aGk="}]})", Infos({{"x", DT_INT32}})),
                 "JSON Value: {\n    \"b64\": \"aGk=\"\n} Type: Object is not of expected type: "
                 "int32");
}

void TestRequestErrors() {
  const auto x = Infos({{"x", DT_INT32}});
  EXPECT_INVALID(Predict("[1]", x), "JSON Value: [1] Is not object");
  EXPECT_INVALID(Predict(R"({"signature_name": 5, "instances": [1]})", x),
                 "JSON Value: {\n    \"signature_name\": 5,\n    \"instances\": [1]\n} not "
                 "formatted correctly. 'signature_name' key must be a string value.");
  EXPECT_INVALID(Predict(R"({"foo": 1})", x), "Missing 'inputs' or 'instances' key");
  EXPECT_INVALID(Predict(R"({"inputs": 1, "instances": [1]})", x),
                 "JSON Value: {\n    \"inputs\": 1,\n    \"instances\": [1]\n} Not formatted "
                 "correctly expecting only one of 'inputs' or 'instances' keys to exist ");
  EXPECT_INVALID(Predict(R"({"instances": 3})", x),
                 "JSON Value: {\n    \"instances\": 3\n} Expecting 'instances' to be an list/array");
  EXPECT_INVALID(Predict(R"({"instances": []})", x),
                 "JSON Value: {\n    \"instances\": []\n} No values in 'instances' array");
  EXPECT_INVALID(Predict(R"({"instances": [[1,2],[3,4],[5,6,7]]})", x),
                 "Failed to process element: 2 of 'instances' list. Error: INVALID_ARGUMENT: "
                 "Expecting tensor size: 2 but got: 3");
  EXPECT_INVALID(Predict(R"({"instances": [[1,2],[3,4],[[5,6]]]})", x),
                 "Failed to process element: 2 of 'instances' list. Error: INVALID_ARGUMENT: "
                 "Expecting shape [2] but got: [1,2]");
  EXPECT_INVALID(Predict(R"({"instances": [1, [1]]})", x),
                 "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: "
                 "Expecting shape [] but got: [1]");
  EXPECT_INVALID(Predict(R"({"instances": [[1,2],["a", "b"]]})", x),
                 "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: "
                 "JSON Value: \"a\" Type: String is not of expected type: int32");
  EXPECT_INVALID(Predict(R"({"instances": [1.0]})", x),
                 "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
                 "JSON Value: 1.0 Type: Number is not of expected type: int32");
  EXPECT_INVALID(Predict(R"({"instances": [2147483648]})", x),
                 "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
                 "JSON Value: 2147483648 Type: Number is not of expected type: int32");
  EXPECT_INVALID(Predict(R"({"instances": [true]})", x),
                 "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
                 "JSON Value: true Type: True is not of expected type: int32");
  EXPECT_INVALID(Predict(R"({"inputs": [[1], 2]})", x),
                 "JSON Value: 2 found at incorrect level: 2 in the JSON DOM. Expected at level: 2");
  EXPECT_INVALID(Predict(R"({"inputs": [1, [2]]})", x),
                 "Encountered list at unexpected level: 1 expected < 1");
  EXPECT_INVALID(Predict(R"({"inputs": [[1, 2], [3]]})", x),
                 "Encountered list at unexpected size: 1 at level: 1 expected size: 2");
  EXPECT_INVALID(Predict(R"({"inputs": [[[1], [2]], [[3], 4]]})", x),
                 "JSON Value: 4 found at incorrect level: 3 in the JSON DOM. Expected at level: 3");
  EXPECT_INVALID(Predict(R"({"inputs": [null]})", Infos({{"x", DT_FLOAT}})),
                 "JSON Value: null Type: Null is not of expected type: float");
  EXPECT_INVALID(Predict(R"({"inputs": [1]})", Infos({})),
                 "Failed to get input map for signature: DEFAULT");
  EXPECT_INVALID(Predict(R"({"signature_name": "s", "inputs": [1]})", Infos({})),
                 "Failed to get input map for signature: s");
  // A dtype JSON cannot carry, once there is a value to convert.
  ExpectStatus(Predict(R"({"inputs": [1.5]})", Infos({{"x", DT_HALF}})),
               absl::StatusCode::kUnimplemented, "Conversion of JSON Value: 1.5 to type: half",
               __LINE__);
  ExpectStatus(Predict(R"({"inputs": [1]})", Infos({{"x", DT_INVALID}})),
               absl::StatusCode::kUnimplemented, "Conversion of JSON Value: 1 to type: INVALID",
               __LINE__);
  ExpectStatus(Predict(R"({"inputs": [1]})", Infos({{"x", DT_FLOAT_REF}})),
               absl::StatusCode::kUnimplemented,
               "Conversion of JSON Value: 1 to type: float_ref", __LINE__);
  PredictRequest request;
  CHECK_TRUE(Predict(R"({"inputs": []})", Infos({{"x", DT_HALF}}), &request).ok());
  EXPECT_TENSOR(request, "x", "dtype: DT_HALF tensor_shape { dim { size: 0 } }");
  // The signature lookup's own error, after the JSON's.
  const TensorInfoMapGetter failing = [](const std::string& name, TensorInfoMap*) {
    return absl::FailedPreconditionError(absl::StrCat("no signature ", name));
  };
  ExpectStatus(Predict(R"({"signature_name": "q", "inputs": [1]})", failing),
               absl::StatusCode::kFailedPrecondition, "no signature q", __LINE__);
  EXPECT_INVALID(Predict(R"({"signature_name": "q", "inputs": [1})", failing),
                 "JSON Parse error: Missing a comma or ']' after an array element. at offset: 36");
}

void TestNamedInputErrors() {
  const auto two = Infos({{"a", DT_INT32}, {"b", DT_STRING}});
  EXPECT_INVALID(Predict(R"({"instances": [1]})", two),
                 "instances is a plain list, but expecting list of objects as multiple input "
                 "tensors required as per tensorinfo_map");
  EXPECT_INVALID(Predict(R"({"instances": [{"a": 1, "b": "x"}, [1]]})", two),
                 "Expecting object but got list at item 1 of input list");
  EXPECT_INVALID(Predict(R"({"instances": [{"a": 1, "c": "x"}]})", two),
                 "Failed to process element: 0 key: c of 'instances' list. Error: "
                 "INVALID_ARGUMENT: JSON object: does not have named input: c");
  EXPECT_INVALID(Predict(R"({"instances": [{"a": 1}]})", two),
                 "Failed to process element: 0 of 'instances' list. JSON object: {\n    \"a\": "
                 "1\n} keys must be equal to: a,b");
  EXPECT_INVALID(Predict(R"({"instances": [{"a": [1], "b": "x"}, {"a": [[1]], "b": "y"}]})", two),
                 "Failed to process element: 1 key: a of 'instances' list. Error: "
                 "INVALID_ARGUMENT: Expecting shape [1] but got: [1,1]");
  EXPECT_INVALID(Predict(R"({"instances": [["x"], {"b": ["y"]}]})", Infos({{"b", DT_STRING}})),
                 "Expecting value/list but got object at item 1 of input list");
  EXPECT_INVALID(Predict(R"({"inputs": {"a": 1}})", two),
                 "Missing named input: b in 'inputs' object.");
  EXPECT_INVALID(Predict(R"({"inputs": [1]})", two),
                 "inputs is a plain value/list, but expecting an object as multiple input "
                 "tensors required as per tensorinfo_map");
  // Inputs are checked in name order.
  EXPECT_INVALID(Predict(R"({"inputs": {"c": 1}})", Infos({{"c", DT_INT32}, {"b", DT_INT32},
                                                         {"a", DT_INT32}})),
                 "Missing named input: a in 'inputs' object.");
}

// RapidJSON's DOM keeps every member of an object: a name looked up finds
// the first, but walking an object meets them all, as upstream does.
void TestRepeatedNamesAreAllSeen() {
  PredictRequest request;
  CHECK_TRUE(Predict(R"({"instances": [7], "instances": 8})", Infos({{"x", DT_INT32}}), &request)
                 .ok());
  CHECK_TRUE(request.inputs().at("x").int_val(0) == 7);
  EXPECT_INVALID(Predict(R"({"instances": [{"x": [1, 2], "x": [3]}]})", Infos({{"x", DT_INT32}})),
                 "Failed to process element: 0 key: x of 'instances' list. Error: "
                 "INVALID_ARGUMENT: Expecting tensor size: 2 but got: 1");
  EXPECT_INVALID(Predict(R"({"a": 1, "a": 2})", Infos({{"x", DT_INT32}})),
                 "Missing 'inputs' or 'instances' key");
  EXPECT_INVALID(Predict(R"({"signature_name": 1, "a": 1, "a": 2})", Infos({{"x", DT_INT32}})),
                 "JSON Value: {\n    \"signature_name\": 1,\n    \"a\": 1,\n    \"a\": 2\n} not "
                 "formatted correctly. 'signature_name' key must be a string value.");
  // {"b64": ..., "b64": ...} has two members: no b64 value.
  EXPECT_INVALID(Predict(R"({"inputs": [{"b64": "aGk=", "b64": "aGk="}]})",
                         Infos({{"x", DT_STRING}})),
                 "JSON Value: {\n    \"b64\": \"aGk=\",\n    \"b64\": \"aGk=\"\n} not formatted "
                 "correctly for base64 data");
  // Names are read as C strings, up to a NUL.
  CHECK_TRUE(Predict(R"({"instances": [{"x\u0000y": 5}]})", Infos({{"x", DT_INT32}}), &request)
                 .ok());
  CHECK_TRUE(request.inputs().at("x").int_val(0) == 5);
}

// Numeric bodies are read without a DOM when they can only succeed; every
// answer is still the DOM path's, and the signature is looked up once.
void TestNumericBodies() {
  struct Case {
    std::string body;
    std::vector<std::pair<const char*, DataType>> inputs;
    std::string expected;  // the tensor "x", or the error
  };
  const std::vector<Case> cases = {
      {R"({"instances": [[1, 2.5], [3, 4]]})", {{"x", DT_FLOAT}},
       "dtype: DT_FLOAT tensor_shape { dim { size: 2 } dim { size: 2 } } "
       "float_val: [1, 2.5, 3, 4]"},
      {R"({"inputs": -7, "signature_name": "s", "signature_name": 5})", {{"x", DT_DOUBLE}},
       "dtype: DT_DOUBLE tensor_shape { } double_val: -7"},
      {R"({"o": {"inputs": 1}, "instances": [5], "instances": "no", "inputs\u0000": 1})",
       {{"x", DT_DOUBLE}}, "dtype: DT_DOUBLE tensor_shape { dim { size: 1 } } double_val: 5"},
      {R"({"instances": [[1, 2], [3, 4]]})", {{"x", DT_INT32}},
       "dtype: DT_INT32 tensor_shape { dim { size: 2 } dim { size: 2 } } int_val: [1, 2, 3, 4]"},
      {R"({"instances": [[1], [2]]})", {{"x", DT_FLOAT}, {"y", DT_FLOAT}},
       "instances is a plain list, but expecting list of objects as multiple input tensors "
       "required as per tensorinfo_map"},
      {R"({"instances": [[1, 2], [3]]})", {{"x", DT_FLOAT}},
       "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: Expecting "
       "tensor size: 2 but got: 1"},
      {R"({"instances": [[], []]})", {{"x", DT_FLOAT}},
       "dtype: DT_FLOAT tensor_shape { dim { size: 2 } dim { size: 0 } }"},
      {R"({"instances": [[1]], "inputs": [1]})", {{"x", DT_FLOAT}},
       "JSON Value: {\n    \"instances\": [[1]],\n    \"inputs\": [1]\n} Not formatted "
       "correctly expecting only one of 'inputs' or 'instances' keys to exist "},
      {R"({"signature_name": 5, "inputs": [1]})", {{"x", DT_FLOAT}},
       "JSON Value: {\n    \"signature_name\": 5,\n    \"inputs\": [1]\n} not formatted "
       "correctly. 'signature_name' key must be a string value."},
      {R"({"inputs": [1, [2]]})", {{"x", DT_FLOAT}},
       "Encountered list at unexpected level: 1 expected < 1"},
  };
  for (const Case& c : cases) {
    int lookups = 0;
    TensorInfoMap infos;
    for (const auto& [name, dtype] : c.inputs) infos[name].set_dtype(dtype);
    PredictRequest request;
    JsonPredictRequestFormat format;
    const absl::Status status = FillPredictRequestFromJson(
        c.body,
        [&](const std::string&, TensorInfoMap* out) {
          ++lookups;
          *out = infos;
          return absl::OkStatus();
        },
        &request, &format);
    // None when the signature name itself is refused.
    CHECK_TRUE(lookups == (absl::StrContains(c.expected, "signature_name") ? 0 : 1));
    if (status.ok()) {
      EXPECT_TENSOR(request, "x", c.expected);
      CHECK_TRUE(request.inputs_size() == 1);
    } else {
      EXPECT_INVALID(status, c.expected);
    }
  }
}

// ------------------------------------------------------ hostile requests

long PeakRssKb() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

void TestHostileRequests() {
  // 100,000 nested lists: a tensor of that rank, which decoding refuses
  // ("tensor parsing error: x"), with no recursion anywhere.
  const int depth = 100000;
  std::string body = R"({"instances": )";
  body.append(depth, '[').append("1.0").append(depth, ']').append("}");
  PredictRequest request;
  CHECK_TRUE(Predict(body, Infos({{"x", DT_FLOAT}}), &request).ok());
  const TensorProto& deep = request.inputs().at("x");
  CHECK_TRUE(deep.tensor_shape().dim_size() == depth && deep.float_val_size() == 1);
  std::string detail;
  CHECK_TRUE(CheckDecodable(deep, int64_t{64} << 20, &detail) ==
             DecodeCheck::kUnparseable);
  // A 5,000-digit integer.
  EXPECT_INVALID(Predict(absl::StrCat(R"({"instances": [)", std::string(5000, '9'), "]}"),
                         Infos({{"x", DT_FLOAT}})),
                 "JSON Parse error: Number too big to be stored in double. at offset: 15");
  // A first instance of 200,000 values followed by 1,000,000 empty ones
  // claims 2e11 floats; nothing that size is reserved before the values
  // disagree.
  body = R"({"instances": [[)";
  for (int i = 0; i < 200000; ++i) body += i ? ",1" : "1";
  body += "]";
  for (int i = 0; i < 1000000; ++i) body += ",[]";
  body += "]}";
  const long before = PeakRssKb();
  EXPECT_INVALID(Predict(body, Infos({{"x", DT_FLOAT}})),
                 "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: "
                 "Expecting tensor size: 200000 but got: 0");
  EXPECT_INVALID(Predict(absl::StrCat(R"({"inputs": )", body.substr(14)),
                         Infos({{"x", DT_FLOAT}})),
                 "Encountered list at unexpected size: 0 at level: 1 expected size: 200000");
  CHECK_TRUE(PeakRssKb() - before < (256 << 10));
}

// ------------------------------------------------------------- answers

std::string Json(const TensorMap& tensors, JsonPredictRequestFormat format,
                 int64_t max_fill_bytes = int64_t{64} << 20) {
  std::string json;
  const absl::Status status = MakeJsonFromTensors(tensors, format, &json, max_fill_bytes);
  if (!status.ok()) return "ERROR " + status.ToString();
  return json;
}

TensorProto Tensor(const std::string& text) {
  TensorProto tensor;
  CHECK_TRUE(google::protobuf::TextFormat::ParseFromString(text, &tensor));
  return tensor;
}

constexpr auto kRow = JsonPredictRequestFormat::kRow;
constexpr auto kColumnar = JsonPredictRequestFormat::kColumnar;

void TestAnswerLayout() {
  TensorMap one;
  one["y"] = Tensor("dtype: DT_FLOAT tensor_shape { dim { size: 3 } } float_val: [3, 3.5, 4]");
  EXPECT_EQ_STR(Json(one, kRow), "{\n    \"predictions\": [3.0, 3.5, 4.0\n    ]\n}");
  one["y"] = Tensor("dtype: DT_FLOAT tensor_shape { dim { size: 2 } dim { size: 1 } } "
                    "float_val: [0.1, 3]");
  EXPECT_EQ_STR(Json(one, kColumnar),
                "{\n    \"outputs\": [\n        [\n            0.1\n        ],\n        [\n"
                "            3.0\n        ]\n    ]\n}");
  EXPECT_EQ_STR(Json(one, kRow), "{\n    \"predictions\": [[0.1], [3.0]\n    ]\n}");
  one["y"] = Tensor("dtype: DT_FLOAT tensor_shape {} float_val: 2.5");
  EXPECT_EQ_STR(Json(one, kColumnar), "{\n    \"outputs\": 2.5\n}");
  EXPECT_EQ_STR(Json(one, kRow), "ERROR INVALID_ARGUMENT: Tensor name: y has no shape information ");

  TensorMap two;
  two["a"] = Tensor("dtype: DT_INT64 tensor_shape { dim { size: 2 } } int64_val: [1, 2]");
  two["b_bytes"] = Tensor("dtype: DT_STRING tensor_shape { dim { size: 2 } } string_val: ['x', 'y']");
  EXPECT_EQ_STR(Json(two, kRow),
                "{\n    \"predictions\": [\n        {\n            \"a\": 1,\n            \"b_bytes\": "
                "{\n                \"b64\": \"eA==\"\n            }\n        },\n        {\n"
                "            \"a\": 2,\n            \"b_bytes\": {\n                \"b64\": "
                "\"eQ==\"\n            }\n        }\n    ]\n}");
  EXPECT_EQ_STR(Json(two, kColumnar),
                "{\n    \"outputs\": {\n        \"a\": [\n            1,\n            2\n        ],"
                "\n        \"b_bytes\": [\n            {\n                \"b64\": \"eA==\"\n"
                "            },\n            {\n                \"b64\": \"eQ==\"\n            }\n"
                "        ]\n    }\n}");
  two["c"] = Tensor("dtype: DT_INT32 tensor_shape { dim { size: 3 } } int_val: [1, 2, 3]");
  EXPECT_EQ_STR(Json(two, kRow),
                "ERROR INVALID_ARGUMENT: Tensor name: c has inconsistent batch size: 3 expecting: 2");

  TensorMap upstream;  // upstream's multi-output example
  upstream["int_tensor"] = Tensor(
      "dtype: DT_INT32 tensor_shape { dim { size: 2 } dim { size: 3 } dim { size: 2 } } "
      "int_val: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]");
  upstream["str_tensor"] = Tensor(
      "dtype: DT_STRING tensor_shape { dim { size: 2 } dim { size: 2 } } "
      "string_val: ['foo', 'bar', 'baz', 'bat']");
  upstream["float_tensor"] =
      Tensor("dtype: DT_FLOAT tensor_shape { dim { size: 2 } dim { size: 1 } } float_val: [1, 2]");
  upstream["double_scalar_tensor"] =
      Tensor("dtype: DT_DOUBLE tensor_shape { dim { size: 2 } } double_val: [8, 9]");
  upstream["str_tensor_bytes"] = Tensor(
      "dtype: DT_STRING tensor_shape { dim { size: 2 } dim { size: 2 } } "
      "string_val: ['hello', 'world', 'tf', 'serving']");
  EXPECT_EQ_STR(
      Json(upstream, kRow),
      "{\n    \"predictions\": [\n        {\n            \"double_scalar_tensor\": 8.0,\n"
      "            \"float_tensor\": [1.0],\n            \"int_tensor\": [[1, 2], [3, 4], [5, "
      "6]],\n            \"str_tensor\": [\"foo\", \"bar\"],\n            \"str_tensor_bytes\": "
      "[{\n                    \"b64\": \"aGVsbG8=\"\n                }, {\n                    "
      "\"b64\": \"d29ybGQ=\"\n                }]\n        },\n        {\n            "
      "\"double_scalar_tensor\": 9.0,\n            \"float_tensor\": [2.0],\n            "
      "\"int_tensor\": [[7, 8], [9, 0], [1, 2]],\n            \"str_tensor\": [\"baz\", "
      "\"bat\"],\n            \"str_tensor_bytes\": [{\n                    \"b64\": "
      "\"dGY=\"\n                }, {\n                    \"b64\": \"c2VydmluZw==\"\n      "
      "          }]\n        }\n    ]\n}");

  TensorMap empty_batch;
  empty_batch["a"] = Tensor("dtype: DT_COMPLEX64 tensor_shape { dim { size: 0 } dim { size: 2 } }");
  empty_batch["b"] = Tensor("dtype: DT_STRING tensor_shape { dim { size: 0 } }");
  EXPECT_EQ_STR(Json(empty_batch, kRow), "{\n    \"predictions\": []\n}");
  EXPECT_EQ_STR(Json(empty_batch, kColumnar),
                "{\n    \"outputs\": {\n        \"a\": [],\n        \"b\": []\n    }\n}");
}

void TestAnswerValues() {
  TensorMap t;
  // Six digits when they read back as the same float, else nine; ".0" on
  // whole numbers.
  t["y"] = Tensor("dtype: DT_FLOAT tensor_shape { dim { size: 12 } } "
                  "float_val: [0.1, 123456789, 1e-5, 9e6, nan, -inf, -0.0, 999999, 0.5, .0003, "
                  "555557.5, inf]");
  EXPECT_EQ_STR(Json(t, kRow),
                "{\n    \"predictions\": [0.1, 123456792.0, 1e-05, 9e+06, NaN, -Infinity, -0.0, "
                "999999.0, 0.5, 0.0003, 555557.5, Infinity\n    ]\n}");
  t["y"] = Tensor("dtype: DT_DOUBLE tensor_shape { dim { size: 3 } } "
                  "double_val: [0.3333333333333333, 1e300, 0.25]");
  EXPECT_EQ_STR(Json(t, kRow),
                "{\n    \"predictions\": [0.33333333333333331, 1e+300, 0.25\n    ]\n}");
  t["y"] = Tensor("dtype: DT_INT8 tensor_shape { dim { size: 2 } } int_val: [-128, 127]");
  EXPECT_EQ_STR(Json(t, kRow), "{\n    \"predictions\": [-128, 127\n    ]\n}");
  t["y"] = Tensor("dtype: DT_UINT64 tensor_shape { dim { size: 1 } } uint64_val: 18446744073709551615");
  EXPECT_EQ_STR(Json(t, kRow), "{\n    \"predictions\": [18446744073709551615\n    ]\n}");
  t["y"] = Tensor("dtype: DT_BOOL tensor_shape { dim { size: 2 } } bool_val: [true, false]");
  EXPECT_EQ_STR(Json(t, kRow), "{\n    \"predictions\": [true, false\n    ]\n}");
  // Strings keep their bytes, escaped as RapidJSON escapes them.
  t["y"] = Tensor("dtype: DT_STRING tensor_shape { dim { size: 2 } } "
                  "string_val: ['a\"b\\001', '\\377']");
  EXPECT_EQ_STR(Json(t, kColumnar),
                "{\n    \"outputs\": [\n        \"a\\\"b\\u0001\",\n        \"\xff\"\n    ]\n}");
  t["y"] = Tensor("dtype: DT_COMPLEX64 tensor_shape { dim { size: 1 } } scomplex_val: [1, 2]");
  EXPECT_EQ_STR(Json(t, kRow),
                "ERROR INVALID_ARGUMENT: Failed to write JSON value for tensor type: complex64");
  t["y"] = Tensor("dtype: DT_UINT16 tensor_shape { dim { size: 1 } } int_val: 1");
  EXPECT_EQ_STR(Json(t, kRow),
                "ERROR INVALID_ARGUMENT: Failed to write JSON value for tensor type: uint16");
  EXPECT_EQ_STR(Json(TensorMap(), kRow),
                "ERROR INVALID_ARGUMENT: Cannot convert empty tensor map to JSON");
  EXPECT_EQ_STR(Json(t, JsonPredictRequestFormat::kInvalid),
                "ERROR INVALID_ARGUMENT: Invalid request format");
}

// Outputs are read as Tensor::FromProto reads them.
void TestAnswersFromAnyEncoding() {
  TensorMap t;
  const float floats[] = {1.5f, -2.f, 0.1f, 4.f};
  TensorProto content = Tensor("dtype: DT_FLOAT tensor_shape { dim { size: 2 } dim { size: 2 } }");
  content.set_tensor_content(std::string(reinterpret_cast<const char*>(floats), sizeof(floats)));
  t["y"] = content;
  EXPECT_EQ_STR(Json(t, kRow), "{\n    \"predictions\": [[1.5, -2.0], [0.1, 4.0]\n    ]\n}");
  const int8_t int8s[] = {-1, 5};
  content = Tensor("dtype: DT_INT8 tensor_shape { dim { size: 2 } }");
  content.set_tensor_content(std::string(reinterpret_cast<const char*>(int8s), sizeof(int8s)));
  t["y"] = content;
  EXPECT_EQ_STR(Json(t, kRow), "{\n    \"predictions\": [-1, 5\n    ]\n}");
  // Strings: varint lengths, then the bytes.
  content = Tensor("dtype: DT_STRING tensor_shape { dim { size: 2 } }");
  content.set_tensor_content(std::string("\x02\x01" "hiX", 5));
  t["y_bytes"] = content;
  t.erase("y");
  EXPECT_EQ_STR(Json(t, kRow),
                "{\n    \"predictions\": [{\n            \"b64\": \"aGk=\"\n        }, {\n"
                "            \"b64\": \"WA==\"\n        }\n    ]\n}");
  content.set_tensor_content(std::string("\x02\x02" "hiX", 5));
  t["y_bytes"] = content;
  EXPECT_EQ_STR(Json(t, kRow), "ERROR INVALID_ARGUMENT: tensor parsing error: y_bytes");
  t.clear();
  content = Tensor("dtype: DT_FLOAT tensor_shape { dim { size: 2 } }");
  content.set_tensor_content("abc");
  t["y"] = content;
  EXPECT_EQ_STR(Json(t, kRow), "ERROR INVALID_ARGUMENT: tensor parsing error: y");
  content = Tensor("dtype: DT_BOOL tensor_shape { dim { size: 2 } }");
  content.set_tensor_content(std::string("\x01\x02", 2));
  t["y"] = content;
  EXPECT_EQ_STR(Json(t, kRow), "ERROR INVALID_ARGUMENT: tensor parsing error: y");
  // A short value list repeats its last value; an empty one gives zeros.
  t["y"] = Tensor("dtype: DT_INT32 tensor_shape { dim { size: 2 } dim { size: 2 } } "
                  "int_val: [1, 2]");
  EXPECT_EQ_STR(Json(t, kRow), "{\n    \"predictions\": [[1, 2], [2, 2]\n    ]\n}");
  t["y"] = Tensor("dtype: DT_STRING tensor_shape { dim { size: 3 } }");
  EXPECT_EQ_STR(Json(t, kRow), "{\n    \"predictions\": [\"\", \"\", \"\"\n    ]\n}");
  t["y"] = Tensor("dtype: DT_FLOAT tensor_shape { dim { size: 2 } dim { size: 3 } } "
                  "float_val: [9e6, 999999, .5, .0003, .00003, 555557.5]");
  EXPECT_EQ_STR(Json(t, kColumnar),
                "{\n    \"outputs\": [\n        [\n            9e+06,\n            999999.0,\n"
                "            0.5\n        ],\n        [\n            0.0003,\n            3e-05,\n"
                "            555557.5\n        ]\n    ]\n}");
}

// A declared shape is never written beyond --max_tensor_fill_bytes, and
// nothing is allocated for it.
void TestDeclaredShapesAreCapped() {
  TensorMap t;
  t["y"] = Tensor("dtype: DT_FLOAT tensor_shape { dim { size: 1 } dim { size: 1073741824 } } "
                  "float_val: 1");
  EXPECT_EQ_STR(Json(t, kRow),
                "ERROR INVALID_ARGUMENT: tensor parsing error: y: its 1 value(s) would fill shape "
                "[1,1073741824] (4294967296 bytes), more than --max_tensor_fill_bytes=67108864");
  t["y"] = Tensor("dtype: DT_FLOAT tensor_shape { dim { size: 1099511627776 } dim { size: 0 } }");
  EXPECT_EQ_STR(Json(t, kColumnar),
                "ERROR INVALID_ARGUMENT: tensor parsing error: y: its shape [1099511627776,0] "
                "would be written as more than 33554432 empty lists, more than "
                "--max_tensor_fill_bytes=67108864");
  EXPECT_EQ_STR(Json(t, kColumnar, 1 << 30),
                "ERROR INVALID_ARGUMENT: tensor parsing error: y: its shape [1099511627776,0] "
                "would be written as more than 536870912 empty lists, more than "
                "--max_tensor_fill_bytes=1073741824");
  t["y"] = Tensor("dtype: DT_FLOAT tensor_shape { dim { size: 4 } dim { size: 0 } }");
  EXPECT_EQ_STR(Json(t, kColumnar, 8), "{\n    \"outputs\": [\n        [],\n        [],\n"
                                       "        [],\n        []\n    ]\n}");
  EXPECT_EQ_STR(Json(t, kColumnar, 7),
                "ERROR INVALID_ARGUMENT: tensor parsing error: y: its shape [4,0] would be written "
                "as 4 empty lists, more than --max_tensor_fill_bytes=7");
  t["y"] = Tensor("dtype: DT_FLOAT tensor_shape { dim { size: -1 } } float_val: 1");
  EXPECT_EQ_STR(Json(t, kColumnar), "ERROR INVALID_ARGUMENT: tensor parsing error: y");
  t["y"] = Tensor("dtype: DT_FLOAT tensor_shape { dim { size: 3 } } float_val: 1");
  EXPECT_EQ_STR(Json(t, kRow, /*max_fill_bytes=*/-1),
                "{\n    \"predictions\": [1.0, 1.0, 1.0\n    ]\n}");
}

void TestNamesAreWrittenAsCStrings() {
  TensorMap t;
  t[std::string("a\0b", 3)] = Tensor("dtype: DT_INT32 tensor_shape { dim { size: 1 } } int_val: 1");
  t["c"] = Tensor("dtype: DT_INT32 tensor_shape { dim { size: 1 } } int_val: 2");
  EXPECT_EQ_STR(Json(t, kColumnar),
                "{\n    \"outputs\": {\n        \"a\": [\n            1\n        ],\n        \"c\": "
                "[\n            2\n        ]\n    }\n}");
}

// ------------------------------------------------- classify and regress

std::string ExampleText(const Example& example) {
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.PrintToString(example, &text);
  return text;
}

template <typename Request>
absl::Status Fill(const std::string& body, Request* request);
template <>
absl::Status Fill(const std::string& body, ClassificationRequest* request) {
  return FillClassificationRequestFromJson(body, request);
}
template <>
absl::Status Fill(const std::string& body, RegressionRequest* request) {
  return FillRegressionRequestFromJson(body, request);
}

template <typename Request>
void TestExamplesRequest() {
  Request request;
  CHECK_TRUE(Fill(R"({"signature_name": "c", "context": {"k": "v", "loc": ["sfo"]},
                    "examples": [{"x": 1, "t": true, "r": [8.0, 9.0, NaN, Infinity]},
                                 {"x": [1.5, 2.0], "s": [{"b64": "eA=="}, "z"], "m": [1, true, false]},
                                 {"n": "bar", "e": []}]})",
                  &request)
                 .ok());
  CHECK_TRUE(request.model_spec().signature_name() == "c");
  const auto& input = request.input().example_list_with_context();
  CHECK_TRUE(input.context().features().feature().at("k").bytes_list().value(0) == "v");
  CHECK_TRUE(input.context().features().feature().at("loc").bytes_list().value(0) == "sfo");
  CHECK_TRUE(input.examples_size() == 3);
  const auto& first = input.examples(0).features().feature();
  CHECK_TRUE(first.at("x").int64_list().value(0) == 1);
  CHECK_TRUE(first.at("t").int64_list().value(0) == 1);
  const auto& ratings = first.at("r").float_list().value();
  CHECK_TRUE(ratings.size() == 4 && ratings[0] == 8 && std::isnan(ratings[2]) &&
             std::isinf(ratings[3]));
  const auto& second = input.examples(1).features().feature();
  CHECK_TRUE(second.at("x").float_list().value_size() == 2);
  CHECK_TRUE(second.at("s").bytes_list().value(0) == "x" &&
             second.at("s").bytes_list().value(1) == "z");
  CHECK_TRUE(second.at("m").int64_list().value_size() == 3 &&
             second.at("m").int64_list().value(2) == 0);
  const auto& third = input.examples(2).features().feature();
  CHECK_TRUE(third.at("e").kind_case() == Feature::KIND_NOT_SET);

  request.Clear();
  CHECK_TRUE(Fill(R"({"examples": [{"names": ["foo", "bar"], "age": 20}]})", &request).ok());
  CHECK_TRUE(request.input().has_example_list() && request.model_spec().signature_name().empty());
  CHECK_TRUE(ExampleText(request.input().example_list().examples(0)).find(
                 "key: \"age\" value { int64_list { value: 20 } }") != std::string::npos);

  // A repeated feature name: the last one is the feature, as upstream
  // assigns each in turn; names end at a NUL.
  request.Clear();
  CHECK_TRUE(Fill(R"({"examples": [{"a": 1, "a": "s", "b\u0000c": 2.5}]})", &request).ok());
  const auto& repeated = request.input().example_list().examples(0).features().feature();
  CHECK_TRUE(repeated.size() == 2 && repeated.at("a").bytes_list().value(0) == "s");
  CHECK_TRUE(repeated.at("b").float_list().value(0) == 2.5f);

  const std::vector<std::pair<std::string, std::string>> errors = {
      {R"({"x": 1})",
       "JSON Value: {\n    \"x\": 1\n} When method is classify, key 'examples' is expected and "
       "was not found"},
      {R"({"examples": 1})",
       "JSON Value: {\n    \"examples\": 1\n} Expecting 'examples' value to be an list/array"},
      {R"({"examples": []})", "JSON Value: {\n    \"examples\": []\n} 'examples' value is an empty array"},
      {R"({"examples": [1]})", "Example must be JSON object but got JSON Number"},
      {R"({"examples": [[{"a": 1}]]})", "Example must be JSON object but got JSON Array"},
      {R"({"context": [{"a": 1}]})", "Example must be JSON object but got JSON Array"},
      {R"({"examples": [{"x": [1, 2.5]}]})", "Unexpected element type in feature: x expecting type: int64"},
      {R"({"examples": [{"x": [2.5, 1]}]})", "Unexpected element type in feature: x expecting type: float"},
      {R"({"examples": [{"x": ["s", true]}]})", "Unexpected element type in feature: x expecting type: bytes"},
      {R"({"examples": [{"x": null}]})", "Feature: x has element with unexpected JSON type: Null"},
      {R"({"examples": [{"x": [10, {"test": 10}]}]})",
       "Feature: x has element with unexpected JSON type: Object"},
      {R"({"examples": [{"x": [[1]]}]})", "Feature: x has element with unexpected JSON type: Array"},
      {R"({"examples": [{"x": [20, 18446744073709551603]}]})",
       "Feature: x has uint64_t element. Only int64_t is supported."},
      {R"({"examples": [{"x": {"b64": "?"}}]})", "Unable to base64 decode"},
      {R"({"signature_name": ["hello"], "examples": [{}]})",
       "JSON Value: {\n    \"signature_name\": [\"hello\"],\n    \"examples\": [{}]\n} not "
       "formatted correctly. 'signature_name' key must be a string value."},
      {"", "JSON Parse error: The document is empty"},
      {"[]", "JSON Value: [] Is not object"},
  };
  for (const auto& [body, error] : errors) {
    Request r;
    EXPECT_INVALID(Fill(body, &r), error);
  }
}

void TestResults() {
  ClassificationResult classification;
  CHECK_TRUE(google::protobuf::TextFormat::ParseFromString(
      R"(classifications { classes { label: "car" score: 0.2 } classes { label: "bike" score: 0.7 } }
         classifications { classes { label: "a\"" score: 0.1 } classes { score: nan } })",
      &classification));
  std::string json;
  CHECK_TRUE(MakeJsonFromClassificationResult(classification, &json).ok());
  EXPECT_EQ_STR(json,
                "{\n    \"results\": [[[\"car\", 0.2], [\"bike\", 0.7]], [[\"a\\\"\", 0.1], [\"\", "
                "NaN]]\n    ]\n}");
  RegressionResult regression;
  CHECK_TRUE(google::protobuf::TextFormat::ParseFromString(
      "regressions { value: 2.5 } regressions { value: 3 } regressions { value: -inf } "
      "regressions { value: 0.9 }",
      &regression));
  CHECK_TRUE(MakeJsonFromRegressionResult(regression, &json).ok());
  EXPECT_EQ_STR(json, "{\n    \"results\": [2.5, 3.0, -Infinity, 0.9]\n}");
  EXPECT_INVALID(MakeJsonFromClassificationResult(ClassificationResult(), &json),
                 "Cannot convert empty ClassificationResults to JSON");
  EXPECT_INVALID(MakeJsonFromRegressionResult(RegressionResult(), &json),
                 "Cannot convert empty RegressionResults to JSON");
}

void TestStatusJson() {
  std::string json = "kept";
  MakeJsonFromStatus(absl::OkStatus(), &json);
  EXPECT_EQ_STR(json, "kept");
  json.clear();
  MakeJsonFromStatus(absl::InvalidArgumentError("bad \"x\"\n'y'"), &json);
  EXPECT_EQ_STR(json, "{\n    \"error\": \"bad \\\"x\\\"\\n'y'\"\n}");
}

// The tutorial's request and answer: 784 floats in, 10 out.
void TestMnist() {
  std::string body = R"({"instances": [[)";
  // Pixels as the tutorial's data has them: three decimals.
  for (int i = 0; i < 784; ++i) {
    absl::StrAppend(&body, i ? ", " : "", i % 3 ? absl::StrFormat("0.%03d", i) : "0");
  }
  body += "]]}";
  PredictRequest request;
  CHECK_TRUE(Predict(body, Infos({{"images", DT_FLOAT}}), &request).ok());
  const TensorProto& images = request.inputs().at("images");
  CHECK_TRUE(images.float_val_size() == 784 && images.tensor_shape().dim(1).size() == 784);
  for (int i = 0; i < 784; ++i) {
    CHECK_TRUE(images.float_val(i) == static_cast<float>(i % 3 ? i / 1000.0 : 0));
  }
  TensorMap outputs;
  outputs["scores"] = Tensor(
      "dtype: DT_FLOAT tensor_shape { dim { size: 1 } dim { size: 10 } } "
      "float_val: [1.2e-05, 0.0001, 0.9, 3.3e-08, 0.002, 0, 1, 0.0625, 0.33333334, 7e-45]");
  EXPECT_EQ_STR(Json(outputs, kRow),
                "{\n    \"predictions\": [[1.2e-05, 0.0001, 0.9, 3.3e-08, 0.002, 0.0, 1.0, "
                "0.0625, 0.333333343, 7.00649e-45]\n    ]\n}");
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving;  // NOLINT
  TestHostileRequests();  // first: it measures the peak RSS
  TestParseErrorsAreRapidJsons();
  TestByteOrderMarkBytesAreSkipped();
  TestNumbersReadAsRapidJson110Reads();
  TestIntegerKindsDecideTypes();
  TestStringsKeepTheirBytes();
  TestAnyDepthParses();
  TestQuotedValuesAreRapidJsonsPrettyWriter();
  TestQuotesAreCutAfter256Bytes();
  TestRowFormat();
  TestRowFormatWithSignatureAndNamedInputs();
  TestColumnarFormat();
  TestBase64();
  TestRequestErrors();
  TestNamedInputErrors();
  TestNumericBodies();
  TestRepeatedNamesAreAllSeen();
  TestAnswerLayout();
  TestAnswerValues();
  TestAnswersFromAnyEncoding();
  TestDeclaredShapesAreCapped();
  TestNamesAreWrittenAsCStrings();
  TestExamplesRequest<tensorflow::serving::ClassificationRequest>();
  TestExamplesRequest<tensorflow::serving::RegressionRequest>();
  TestResults();
  TestStatusJson();
  TestMnist();
  std::puts("PASS");
  return 0;
}
