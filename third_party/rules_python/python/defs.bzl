"""Forwards rules_python's public rules to Bazel 4.2.3's built-in Python rules."""

def py_binary(**attrs):
    native.py_binary(**attrs)  # buildifier: disable=native-py

def py_library(**attrs):
    native.py_library(**attrs)  # buildifier: disable=native-py

def py_test(**attrs):
    native.py_test(**attrs)  # buildifier: disable=native-py
