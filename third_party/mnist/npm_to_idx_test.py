"""Tests npm_to_idx.py through its command line, as Bazel's rule runs it."""

import collections
import gzip
import json
import os
import struct
import subprocess
import sys

from absl.testing import absltest

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'npm_to_idx.py')
_PIXELS = 784


def _image(label, index):
    """A distinct, recognisable 784-byte image for (label, index)."""
    return bytes((label * 37 + index * 11 + p) % 256 for p in range(_PIXELS))


def _write_digits(directory, counts):
    """Writes {label}.json like the npm package; returns {label: [images]}."""
    images = {}
    for label, count in enumerate(counts):
        images[label] = [_image(label, i) for i in range(count)]
        data = [round(b / 255, 3) for image in images[label] for b in image]
        with open(os.path.join(directory, f'{label}.json'), 'w') as f:
            json.dump({'data': data}, f)
    return images


def _read_idx(path):
    with gzip.open(path) as f:
        return f.read()


def _run(*args):
    return subprocess.run([sys.executable, _SCRIPT, *args],
                          capture_output=True, text=True, check=False)


class NpmToIdxTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        self.digits = self.create_tempdir('digits').full_path
        self.out = os.path.join(self.create_tempdir().full_path, 'out')

    def _split(self, prefix):
        images = _read_idx(
            os.path.join(self.out, f'{prefix}-images-idx3-ubyte.gz'))
        labels = _read_idx(
            os.path.join(self.out, f'{prefix}-labels-idx1-ubyte.gz'))
        magic, count, rows, cols = struct.unpack('>IIII', images[:16])
        self.assertEqual((magic, rows, cols), (2051, 28, 28))
        self.assertLen(images, 16 + count * _PIXELS)
        label_magic, label_count = struct.unpack('>II', labels[:8])
        self.assertEqual((label_magic, label_count), (2049, count))
        self.assertLen(labels, 8 + count)
        return [(images[16 + i * _PIXELS:16 + (i + 1) * _PIXELS], labels[8 + i])
                for i in range(count)]

    def test_converts_splits_and_shuffles(self):
        counts = [7, 5, 6, 10, 5, 9, 5, 8, 5, 11]
        images = _write_digits(self.digits, counts)
        result = _run(self.digits, self.out)
        self.assertEqual(result.returncode, 0, result.stderr)

        train, test = self._split('train'), self._split('t10k')
        pairs = [(i, image, label) for label in images
                 for i, image in enumerate(images[label])]
        expected_test = {(image, label) for i, image, label in pairs
                         if i % 5 == 4}
        expected_train = {(image, label) for i, image, label in pairs
                          if i % 5 != 4}
        self.assertCountEqual(test, expected_test)
        self.assertCountEqual(train, expected_train)
        self.assertLen(train, sum(counts) - len(expected_test))
        self.assertIn(f'Wrote {len(train)} training and {len(test)} test',
                      result.stdout)
        # Shuffled: the labels are not grouped by class any more.
        train_labels = [label for _, label in train]
        self.assertNotEqual(train_labels, sorted(train_labels))
        self.assertEqual(collections.Counter(train_labels)[9], 9)

    def test_output_is_byte_identical_across_runs(self):
        _write_digits(self.digits, [6] * 10)
        other = os.path.join(self.create_tempdir().full_path, 'other')
        self.assertEqual(_run(self.digits, self.out).returncode, 0)
        self.assertEqual(_run(self.digits, other).returncode, 0)
        names = sorted(os.listdir(self.out))
        self.assertLen(names, 4)
        for name in names:
            with open(os.path.join(self.out, name), 'rb') as f:
                first = f.read()
            with open(os.path.join(other, name), 'rb') as f:
                self.assertEqual(first, f.read(), name)
            # gzip header: bytes 4..7 are the mtime, flag bit 3 a file name.
            self.assertEqual(first[4:8], b'\0\0\0\0', name)
            self.assertFalse(first[3] & 0x08, name)

    def test_rejects_length_not_multiple_of_784(self):
        _write_digits(self.digits, [5] * 10)
        with open(os.path.join(self.digits, '3.json'), 'w') as f:
            json.dump({'data': [0.5] * (_PIXELS + 1)}, f)
        result = _run(self.digits, self.out)
        self.assertEqual(result.returncode, 1)
        self.assertIn('3.json', result.stderr)
        self.assertIn('multiple of 784', result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        self.assertFalse(os.path.exists(self.out))

    def test_rejects_values_outside_unit_interval(self):
        _write_digits(self.digits, [5] * 10)
        data = [0.0] * (2 * _PIXELS)
        data[_PIXELS + 3] = 1.5
        with open(os.path.join(self.digits, '7.json'), 'w') as f:
            json.dump({'data': data}, f)
        result = _run(self.digits, self.out)
        self.assertEqual(result.returncode, 1)
        self.assertIn('7.json', result.stderr)
        self.assertIn('image 1, pixel 3', result.stderr)
        self.assertIn('1.5', result.stderr)

    def test_rejects_non_numbers(self):
        _write_digits(self.digits, [5] * 10)
        for bad in ('"0.5"', 'true', 'NaN'):
            with open(os.path.join(self.digits, '0.json'), 'w') as f:
                f.write('{"data": [%s%s]}' % ('0, ' * (_PIXELS - 1), bad))
            result = _run(self.digits, self.out)
            self.assertEqual(result.returncode, 1, bad)
            self.assertIn('0.json', result.stderr)
            self.assertNotIn('Traceback', result.stderr)

    def test_missing_class_file(self):
        _write_digits(self.digits, [5] * 9)  # no 9.json
        result = _run(self.digits, self.out)
        self.assertEqual(result.returncode, 1)
        self.assertIn('9.json: missing', result.stderr)

    def test_usage(self):
        result = _run(self.digits)
        self.assertEqual(result.returncode, 2)
        self.assertIn('Usage: npm_to_idx.py <digits_dir> <out_dir>',
                      result.stderr)


if __name__ == '__main__':
    absltest.main()
