"""Forwards rules_shell's sh_test to Bazel 4.2.3's built-in rule."""

def sh_test(**attrs):
    native.sh_test(**attrs)  # buildifier: disable=native-sh-test
