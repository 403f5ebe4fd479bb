// Tests the native encoders (Tensor::AsProtoField / AsProtoTensorContent) and
// the decode checks, on tensors made without TensorFlow.

#include "tensorflow_serving/servables/tensorflow/tensor_util.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tensorflow/core/platform/ctstring.h"
#include "tensorflow_serving/servables/tensorflow/fake_tf_c_api.h"
#include "tensorflow_serving/test_util/check.h"

namespace tensorflow {
namespace serving {
namespace {

template <typename T>
TensorView View(DataType dtype, std::vector<int64_t> dims, const std::vector<T>& values) {
  TensorView view;
  view.dtype = dtype;
  view.dims = std::move(dims);
  view.data = reinterpret_cast<const char*>(values.data());
  view.byte_size = values.size() * sizeof(T);
  view.num_elements = static_cast<int64_t>(values.size());
  return view;
}

void TestFloatMatrix() {
  const std::vector<float> values = {1.5f, -2.f, 3.f, 0.f, 5.f, 6.f};
  const TensorView view = View(DT_FLOAT, {2, 3}, values);
  TensorProto proto;
  proto.add_string_val("stale");  // cleared first
  CHECK_TRUE(AsProtoField(view, &proto));
  CHECK_TRUE(proto.dtype() == DT_FLOAT);
  CHECK_TRUE(proto.tensor_shape().dim_size() == 2 && proto.tensor_shape().dim(1).size() == 3);
  CHECK_TRUE(proto.float_val_size() == 6 && proto.float_val(1) == -2.f);
  CHECK_TRUE(proto.string_val_size() == 0 && proto.tensor_content().empty());
  CHECK_TRUE(AsProtoTensorContent(view, &proto));
  CHECK_TRUE(proto.float_val_size() == 0);
  CHECK_TRUE(proto.tensor_content() ==
             std::string(reinterpret_cast<const char*>(values.data()), 6 * sizeof(float)));
}

void TestScalarKeepsAnEmptyShape() {
  const std::vector<double> values = {2.5};
  TensorProto proto;
  CHECK_TRUE(AsProtoField(View(DT_DOUBLE, {}, values), &proto));
  CHECK_TRUE(proto.has_tensor_shape() && proto.tensor_shape().dim_size() == 0);
  CHECK_TRUE(proto.double_val_size() == 1 && proto.double_val(0) == 2.5);
  // Present even though empty: TensorShape::AsProto writes it.
  CHECK_TRUE(proto.SerializeAsString().find(std::string("\x12\x00", 2)) != std::string::npos);
}

void TestSmallIntegersHalvesBoolsAndComplex() {
  TensorProto proto;
  const std::vector<int8_t> int8s = {-128, 127};
  CHECK_TRUE(AsProtoField(View(DT_INT8, {2}, int8s), &proto));
  CHECK_TRUE(proto.int_val_size() == 2 && proto.int_val(0) == -128);
  const std::vector<uint16_t> halves = {0x3c00, 0xbc00};
  CHECK_TRUE(AsProtoField(View(DT_HALF, {2}, halves), &proto));
  CHECK_TRUE(proto.half_val_size() == 2 && proto.half_val(1) == 0xbc00);
  const bool bools[] = {true, false, true};
  TensorView view;
  view.dtype = DT_BOOL;
  view.dims = {3};
  view.data = reinterpret_cast<const char*>(bools);
  view.byte_size = 3;
  view.num_elements = 3;
  CHECK_TRUE(AsProtoField(view, &proto));
  CHECK_TRUE(proto.bool_val_size() == 3 && proto.bool_val(0) && !proto.bool_val(1));
  const std::vector<float> pairs = {1.f, 2.f, 3.f, 4.f};  // two complex64 values
  view = View(DT_COMPLEX64, {2}, pairs);
  view.num_elements = 2;
  CHECK_TRUE(AsProtoField(view, &proto));
  CHECK_TRUE(proto.scomplex_val_size() == 4 && proto.scomplex_val(3) == 4.f);
}

void TestStrings() {
  TfTensor tensor = FakeStringTensor({3}, {"a", std::string("\xff\0b", 3), std::string(40, 'x')});
  const TensorView view = ViewOf(FakeTfCApi(), tensor.get());
  TensorProto proto;
  CHECK_TRUE(AsProtoField(view, &proto));
  CHECK_TRUE(proto.string_val_size() == 3 && proto.string_val(1) == std::string("\xff\0b", 3));
  CHECK_TRUE(proto.string_val(2) == std::string(40, 'x'));
  CHECK_TRUE(AsProtoTensorContent(view, &proto));
  // TensorFlow's EncodeStringList: the varint lengths, then the bytes.
  CHECK_TRUE(proto.tensor_content() ==
             std::string("\x01\x03\x28", 3) + "a" + std::string("\xff\0b", 3) +
                 std::string(40, 'x'));
  // Rows of a view.
  const TensorView last = Rows(view, 2, 3);
  CHECK_TRUE(AsProtoField(last, &proto));
  CHECK_TRUE(proto.string_val_size() == 1 && proto.tensor_shape().dim(0).size() == 1);
}

void TestUnsupportedDtype() {
  const std::vector<int32_t> handle = {1};
  TensorProto proto;
  CHECK_TRUE(!AsProtoField(View(DT_RESOURCE, {1}, handle), &proto));
  CHECK_TRUE(proto.dtype() == DT_INVALID);
}

void TestDecodeChecks() {
  TensorProto proto;
  std::string detail;
  proto.set_dtype(DT_FLOAT);
  proto.mutable_tensor_shape()->add_dim()->set_size(4);
  proto.add_float_val(1.f);
  CHECK_TRUE(CheckDecodable(proto, 64 << 20, &detail) == DecodeCheck::kOk);
  proto.mutable_tensor_shape()->mutable_dim(0)->set_size(int64_t{1} << 40);
  CHECK_TRUE(CheckDecodable(proto, 64 << 20, &detail) == DecodeCheck::kFillTooLarge);
  CHECK_TRUE(detail ==
             "its 1 value(s) would fill shape [1099511627776] (4398046511104 bytes), more "
             "than --max_tensor_fill_bytes=67108864");
  proto.mutable_tensor_shape()->mutable_dim(0)->set_size(-1);
  CHECK_TRUE(CheckDecodable(proto, 64 << 20, &detail) == DecodeCheck::kUnparseable);
  proto.mutable_tensor_shape()->clear_dim();
  for (int i = 0; i < 65; ++i) proto.mutable_tensor_shape()->add_dim()->set_size(1);
  CHECK_TRUE(CheckDecodable(proto, 64 << 20, &detail) == DecodeCheck::kUnparseable);
  proto.mutable_tensor_shape()->clear_dim();
  proto.set_dtype(DT_QINT8);  // TensorFlow has it; the server does not carry it
  CHECK_TRUE(CheckDecodable(proto, 64 << 20, &detail) == DecodeCheck::kUnparseable);
  proto.set_dtype(DT_INT64);
  for (int i = 0; i < 3; ++i) proto.mutable_tensor_shape()->add_dim()->set_size(int64_t{1} << 30);
  CHECK_TRUE(CheckDecodable(proto, 64 << 20, &detail) == DecodeCheck::kUnparseable);  // overflow
}

}  // namespace
}  // namespace serving
}  // namespace tensorflow

int main() {
  using namespace tensorflow::serving;  // NOLINT
  TestFloatMatrix();
  TestScalarKeepsAnEmptyShape();
  TestSmallIntegersHalvesBoolsAndComplex();
  TestStrings();
  TestUnsupportedDtype();
  TestDecodeChecks();
  std::puts("tensor_util_test: OK");
  return 0;
}
