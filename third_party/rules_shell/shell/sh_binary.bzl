"""Forwards rules_shell's sh_binary to Bazel 4.2.3's built-in rule."""

def sh_binary(**attrs):
    native.sh_binary(**attrs)  # buildifier: disable=native-sh-binary
