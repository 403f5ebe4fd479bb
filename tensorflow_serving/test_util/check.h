// CHECK_TRUE for the native plane's C++ tests: Debian's toolchain here has no
// gtest, so a failed check prints its file, line and condition and exits 1,
// which Bazel reports as the test's failure.

#ifndef TENSORFLOW_SERVING_TEST_UTIL_CHECK_H_
#define TENSORFLOW_SERVING_TEST_UTIL_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define CHECK_TRUE(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (0)

#endif  // TENSORFLOW_SERVING_TEST_UTIL_CHECK_H_
