"""Reads back the panels of a picture mnist_plots drew (for tests).

A panel is a rectangle of one colour that nothing else in the picture uses
(black for a digit, the plot background for the histogram): the picture is
decoded, the pixels of that colour found, and their separate rectangles
counted, row band by row band. Lines across a panel (a histogram's marker
lines, a few pixels wide) do not split it.
"""

from matplotlib import colors
from matplotlib import image as mpl_image
import numpy

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def decode(path):
    """The PNG file's pixels as an (height, width, 3) float array in [0, 1].

    Raises:
      ValueError: the file is not a PNG image.
    """
    with open(path, 'rb') as f:
        if f.read(len(_PNG_SIGNATURE)) != _PNG_SIGNATURE:
            raise ValueError('%s is not a PNG file' % path)
    pixels = mpl_image.imread(path, format='png')
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError('%s is not an RGB(A) picture' % path)
    return pixels[..., :3]


def _runs(flags, max_gap):
    """[start, end) of the True runs of a 1-D array; gaps up to max_gap joined."""
    runs = []
    for index in numpy.flatnonzero(flags):
        if runs and index - runs[-1][1] <= max_gap:
            runs[-1][1] = index + 1
        else:
            runs.append([index, index + 1])
    return runs


def count_panels(path, colour, min_size=20, max_gap=5):
    """How many separate rectangles of `colour` the PNG at `path` shows.

    Args:
      path: a PNG file.
      colour: any matplotlib colour ('black', '#f4efe1').
      min_size: narrower or lower runs (text, anti-aliased edges) are not panels.
      max_gap: columns of another colour up to this wide do not split a panel.
    """
    pixels = decode(path)
    target = numpy.asarray(colors.to_rgb(colour))
    mask = numpy.all(numpy.abs(pixels - target) <= 2.0 / 255, axis=-1)
    count = 0
    for top, bottom in _runs(mask.any(axis=1), 0):
        if bottom - top < min_size:
            continue
        for left, right in _runs(mask[top:bottom].any(axis=0), max_gap):
            if right - left >= min_size:
                count += 1
    return count
