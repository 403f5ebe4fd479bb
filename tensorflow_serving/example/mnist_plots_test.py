"""Tests the learner's pictures: each PNG decodes and shows its panels."""

import os

from absl.testing import absltest
import numpy

from tensorflow_serving.example import mnist_plots
from tensorflow_serving.example import png_panels


def _digit(rng):
    """A 784-pixel image like MNIST's: a bright stroke on a black square."""
    image = numpy.zeros((28, 28), numpy.float32)
    image[6:22, 11:17] = rng.uniform(0.4, 1.0, (16, 6))
    return image.reshape(784)


class MnistPlotsTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.create_tempdir().full_path
        self.rng = numpy.random.default_rng(7)

    def _wrong(self, count):
        return [(_digit(self.rng), i % 10, (i + 3) % 10) for i in range(count)]

    def test_one_panel_per_wrong_digit(self):
        for count in (1, 4, 10, 23):
            path = os.path.join(self.dir, 'wrong_%d.png' % count)
            self.assertEqual(
                mnist_plots.write_wrong_digits(path, self._wrong(count), 1000),
                count)
            self.assertEqual(png_panels.count_panels(path, 'black'), count, path)

    def test_at_most_a_hundred_panels(self):
        path = os.path.join(self.dir, 'many.png')
        self.assertEqual(
            mnist_plots.write_wrong_digits(path, self._wrong(130), 10000), 100)
        self.assertEqual(png_panels.count_panels(path, 'black'), 100)

    def test_no_wrong_digit_still_writes_a_picture(self):
        path = os.path.join(self.dir, 'none.png')
        self.assertEqual(mnist_plots.write_wrong_digits(path, [], 50), 0)
        self.assertEqual(png_panels.count_panels(path, 'black'), 0)
        self.assertGreater(png_panels.decode(path).size, 0)

    def test_latency_histogram_has_one_panel(self):
        for count in (1, 30, 2000):
            path = os.path.join(self.dir, 'latency_%d.png' % count)
            latencies = self.rng.lognormal(-6.0, 0.5, count)
            self.assertEqual(mnist_plots.write_latency_histogram(path, latencies), 1)
            self.assertEqual(
                png_panels.count_panels(path, mnist_plots.PLOT_BACKGROUND), 1, path)

    def test_write_plots_creates_the_directory_and_names_both_files(self):
        plot_dir = os.path.join(self.dir, 'a', 'b')
        written = mnist_plots.write_plots(plot_dir, self._wrong(3), 20,
                                          [0.002] * 20)
        self.assertEqual([path for path, _ in written], [
            os.path.join(plot_dir, 'wrong_digits.png'),
            os.path.join(plot_dir, 'latency_histogram.png')])
        self.assertEqual(written[0][1], '3 wrong digits')
        for path, _ in written:
            self.assertGreater(png_panels.decode(path).shape[0], 100)

    def test_counter_tells_a_png_from_anything_else(self):
        path = os.path.join(self.dir, 'not.png')
        with open(path, 'w') as f:
            f.write('not a picture')
        with self.assertRaises(ValueError):
            png_panels.decode(path)


if __name__ == '__main__':
    absltest.main()
