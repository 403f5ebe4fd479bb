"""Tests mnist_input_data: IDX parsing, validation, batching, data lookup."""

import gzip
import hashlib
import io
import os
import re
import struct
from unittest import mock
import urllib.error

from absl.testing import absltest
import numpy

from tensorflow_serving.example import mnist_input_data
from tensorflow_serving.test_util import test_util

_FILES = (mnist_input_data.TRAIN_IMAGES, mnist_input_data.TRAIN_LABELS,
          mnist_input_data.TEST_IMAGES, mnist_input_data.TEST_LABELS)


def _images_idx(images):
    count, rows, cols = images.shape
    return struct.pack('>IIII', 2051, count, rows, cols) + images.tobytes()


def _labels_idx(labels):
    return struct.pack('>II', 2049, len(labels)) + labels.tobytes()


def _write_gz(path, payload):
    with gzip.open(path, 'wb') as f:
        f.write(payload)


def _random_split(rng, count):
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=numpy.uint8)
    labels = rng.integers(0, 10, size=count, dtype=numpy.uint8)
    return images, labels


class MnistInputDataTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        rng = numpy.random.default_rng(7)
        self.train_images, self.train_labels = _random_split(rng, 120)
        self.test_images, self.test_labels = _random_split(rng, 30)
        self.work_dir = self.create_tempdir().full_path
        self._write_all(self.work_dir)

    def _write_all(self, directory):
        os.makedirs(directory, exist_ok=True)
        payloads = (_images_idx(self.train_images),
                    _labels_idx(self.train_labels),
                    _images_idx(self.test_images),
                    _labels_idx(self.test_labels))
        for name, payload in zip(_FILES, payloads):
            _write_gz(os.path.join(directory, name), payload)

    def _path(self, name):
        return os.path.join(self.work_dir, name)

    def test_round_trip(self):
        data = mnist_input_data.read_data_sets(self.work_dir)
        held_out = mnist_input_data.validation_size(120)
        self.assertEqual(held_out, 10)
        self.assertEqual(data.validation.num_examples, held_out)
        self.assertEqual(data.train.num_examples, 120 - held_out)
        self.assertEqual(data.test.num_examples, 30)

        self.assertEqual(data.train.images.shape, (110, 784))
        self.assertEqual(data.train.images.dtype, numpy.float32)
        expected = self.train_images.reshape(120, 784) / 255.0
        numpy.testing.assert_allclose(data.validation.images,
                                      expected[:held_out], rtol=1e-6)
        numpy.testing.assert_allclose(data.train.images, expected[held_out:],
                                      rtol=1e-6)
        numpy.testing.assert_array_equal(data.train.labels,
                                         self.train_labels[held_out:])
        numpy.testing.assert_array_equal(data.test.labels, self.test_labels)
        self.assertGreaterEqual(data.test.images.min(), 0.0)
        self.assertLessEqual(data.test.images.max(), 1.0)

    def test_validation_size_is_proportional_and_capped(self):
        self.assertEqual(mnist_input_data.validation_size(60000), 5000)
        self.assertEqual(mnist_input_data.validation_size(120000), 5000)
        self.assertEqual(mnist_input_data.validation_size(8004), 667)

    def test_one_hot_labels(self):
        data = mnist_input_data.read_data_sets(self.work_dir, one_hot=True)
        self.assertEqual(data.test.labels.shape, (30, 10))
        numpy.testing.assert_array_equal(data.test.labels.sum(axis=1),
                                         numpy.ones(30))
        numpy.testing.assert_array_equal(data.test.labels.argmax(axis=1),
                                         self.test_labels)

    def test_next_batch_across_epochs(self):
        data = mnist_input_data.read_data_sets(self.work_dir, seed=3)
        test = data.test  # 30 examples
        seen = []
        for _ in range(3):
            images, labels = test.next_batch(10)
            self.assertEqual(images.shape, (10, 784))
            seen.append((images, labels))
        self.assertEqual(test.epochs_completed, 0)
        # The first epoch is in file order.
        numpy.testing.assert_array_equal(
            numpy.concatenate([labels for _, labels in seen]),
            self.test_labels)

        images, labels = test.next_batch(10)
        self.assertEqual(test.epochs_completed, 1)
        # The second epoch starts over with a reshuffled set: still the same
        # (image, label) pairs, in another order.
        rows = {(img.tobytes(), int(lab))
                for img, lab in zip(test.images, test.labels)}
        originals = {(img.tobytes(), int(lab)) for img, lab in
                     zip(seen[0][0], seen[0][1])}
        originals |= {(img.tobytes(), int(lab)) for batch in seen[1:]
                      for img, lab in zip(*batch)}
        self.assertEqual(rows, originals)
        self.assertFalse(numpy.array_equal(test.labels, self.test_labels))
        numpy.testing.assert_array_equal(images, test.images[:10])

        # An epoch ends early when the rest is smaller than a batch.
        test.next_batch(15)
        test.next_batch(15)
        test.next_batch(15)
        self.assertEqual(test.epochs_completed, 2)

    def test_next_batch_is_deterministic_with_a_seed(self):
        first = mnist_input_data.read_data_sets(self.work_dir, seed=5).test
        second = mnist_input_data.read_data_sets(self.work_dir, seed=5).test
        for _ in range(5):
            numpy.testing.assert_array_equal(first.next_batch(7)[1],
                                             second.next_batch(7)[1])

    def test_next_batch_rejects_batch_larger_than_set(self):
        test = mnist_input_data.read_data_sets(self.work_dir).test
        with self.assertRaisesRegex(ValueError, 'batch_size'):
            test.next_batch(31)

    def test_fake_data(self):
        data = mnist_input_data.read_data_sets('', fake_data=True,
                                               one_hot=True)
        images, labels = data.train.next_batch(4, fake_data=True)
        self.assertLen(images, 4)
        self.assertLen(images[0], 784)
        self.assertEqual(labels[0], [1] + [0] * 9)

    def test_truncated_images_rejected_with_file_name(self):
        path = self._path(mnist_input_data.TRAIN_IMAGES)
        payload = _images_idx(self.train_images)
        _write_gz(path, payload[:-100])
        with self.assertRaisesRegex(ValueError,
                                    'Truncated.*' + re.escape(path)):
            mnist_input_data.read_data_sets(self.work_dir)

    def test_truncated_gzip_rejected_with_file_name(self):
        path = self._path(mnist_input_data.TEST_LABELS)
        with open(path, 'rb') as f:
            compressed = f.read()
        with open(path, 'wb') as f:
            f.write(compressed[:len(compressed) // 2])
        with self.assertRaisesRegex(ValueError, re.escape(path)):
            mnist_input_data.read_data_sets(self.work_dir)

    def test_not_gzip_rejected_with_file_name(self):
        path = self._path(mnist_input_data.TEST_IMAGES)
        with open(path, 'wb') as f:
            f.write(_images_idx(self.test_images))  # not compressed
        with self.assertRaisesRegex(ValueError, re.escape(path)):
            mnist_input_data.read_data_sets(self.work_dir)

    def test_truncated_labels_rejected_with_file_name(self):
        path = self._path(mnist_input_data.TRAIN_LABELS)
        _write_gz(path, _labels_idx(self.train_labels)[:-1])
        with self.assertRaisesRegex(ValueError,
                                    'Truncated.*' + re.escape(path)):
            mnist_input_data.read_data_sets(self.work_dir)

    def test_trailing_bytes_rejected(self):
        path = self._path(mnist_input_data.TEST_LABELS)
        _write_gz(path, _labels_idx(self.test_labels) + b'\0')
        with self.assertRaisesRegex(ValueError,
                                    'Oversized.*' + re.escape(path)):
            mnist_input_data.read_data_sets(self.work_dir)

    def test_wrong_magic_rejected_with_file_name(self):
        # A label file where an image file belongs, and the other way round.
        images = self._path(mnist_input_data.TRAIN_IMAGES)
        _write_gz(images, _labels_idx(self.train_labels))
        with self.assertRaisesRegex(
                ValueError, 'Invalid magic number 2049.*' + re.escape(images)):
            mnist_input_data.read_data_sets(self.work_dir)
        self._write_all(self.work_dir)
        labels = self._path(mnist_input_data.TEST_LABELS)
        _write_gz(labels, _images_idx(self.test_images))
        with self.assertRaisesRegex(
                ValueError, 'Invalid magic number 2051.*' + re.escape(labels)):
            mnist_input_data.read_data_sets(self.work_dir)

    def test_label_out_of_range_rejected(self):
        labels = self.test_labels.copy()
        labels[3] = 10
        _write_gz(self._path(mnist_input_data.TEST_LABELS), _labels_idx(labels))
        with self.assertRaisesRegex(ValueError, 'Invalid label 10'):
            mnist_input_data.read_data_sets(self.work_dir)

    def test_image_and_label_counts_must_match(self):
        _write_gz(self._path(mnist_input_data.TEST_LABELS),
                  _labels_idx(self.test_labels[:-2]))
        with self.assertRaisesRegex(ValueError, '30 images.*28 labels'):
            mnist_input_data.read_data_sets(self.work_dir)

    def test_bundled_copy_from_runfiles_dir(self):
        runfiles = self.create_tempdir().full_path
        self._write_all(os.path.join(runfiles, 'mnist_data'))
        empty_work_dir = self.create_tempdir().full_path
        with test_util.runfiles_env(RUNFILES_DIR=runfiles):
            found = mnist_input_data.find_bundled(
                mnist_input_data.TEST_LABELS)
            data = mnist_input_data.read_data_sets(empty_work_dir)
        self.assertEqual(found, os.path.join(runfiles, 'mnist_data',
                                             mnist_input_data.TEST_LABELS))
        numpy.testing.assert_array_equal(data.test.labels, self.test_labels)
        self.assertEmpty(os.listdir(empty_work_dir))

    def test_bundled_copy_from_runfiles_manifest(self):
        elsewhere = self.create_tempdir().full_path
        self._write_all(elsewhere)
        manifest = os.path.join(self.create_tempdir().full_path, 'MANIFEST')
        with open(manifest, 'w') as f:
            for name in _FILES:
                f.write(f'mnist_data/{name} {os.path.join(elsewhere, name)}\n')
        with test_util.runfiles_env(RUNFILES_MANIFEST_FILE=manifest):
            found = mnist_input_data.find_bundled(mnist_input_data.TRAIN_IMAGES)
        self.assertEqual(os.path.join(elsewhere, mnist_input_data.TRAIN_IMAGES),
                         found)

    def test_work_dir_wins_over_bundled_copy(self):
        runfiles = self.create_tempdir().full_path
        self._write_all(os.path.join(runfiles, 'mnist_data'))
        with test_util.runfiles_env(RUNFILES_DIR=runfiles):
            path = mnist_input_data.maybe_download(
                mnist_input_data.TEST_IMAGES, self.work_dir)
        self.assertEqual(path, self._path(mnist_input_data.TEST_IMAGES))


class DownloadTest(absltest.TestCase):
    """The last resort: download into the work dir, checking SHA-256."""

    def setUp(self):
        super().setUp()
        self.work_dir = os.path.join(self.create_tempdir().full_path, 'new')
        self.enter_context(mock.patch.object(mnist_input_data, 'find_bundled',
                                             return_value=None))

    def test_download_checks_sha256(self):
        payload = gzip.compress(
            _labels_idx(numpy.arange(10, dtype=numpy.uint8)))
        name = mnist_input_data.TEST_LABELS
        with mock.patch.dict(mnist_input_data.SHA256,
                             {name: hashlib.sha256(payload).hexdigest()}), \
                mock.patch.object(urllib.request, 'urlopen',
                                  return_value=io.BytesIO(payload)) as urlopen:
            path = mnist_input_data.maybe_download(name, self.work_dir)
        self.assertEqual(urlopen.call_args[0][0],
                         mnist_input_data.SOURCE_URL + name)
        self.assertEqual(path, os.path.join(self.work_dir, name))
        numpy.testing.assert_array_equal(
            mnist_input_data.extract_labels(path), numpy.arange(10))

    def test_digest_mismatch_leaves_nothing_behind(self):
        with mock.patch.object(urllib.request, 'urlopen',
                               return_value=io.BytesIO(b'not mnist')):
            with self.assertRaisesRegex(IOError, 'SHA-256'):
                mnist_input_data.maybe_download(
                    mnist_input_data.TRAIN_IMAGES, self.work_dir)
        self.assertEmpty(os.listdir(self.work_dir))

    def test_unreachable_source_explains_what_to_do(self):
        error = urllib.error.URLError('Name or service not known')
        with mock.patch.object(urllib.request, 'urlopen', side_effect=error):
            with self.assertRaisesRegex(
                    IOError, 'neither in .* nor bundled by Bazel.*bazel run'):
                mnist_input_data.read_data_sets(self.work_dir)


if __name__ == '__main__':
    absltest.main()
