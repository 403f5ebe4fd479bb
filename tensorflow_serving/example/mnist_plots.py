"""The pictures mnist_client draws for a learner (--plot_dir).

Two PNG files: the test digits the served model got wrong, each panel titled
with its true and predicted label, and a histogram of the requests' latencies
with their median and 99th percentile marked. Drawn with matplotlib's Agg
canvas directly (no pyplot, no display, no global figure state), so it works
on a machine without a screen and from any thread.
"""

import math
import os

from matplotlib.backends import backend_agg
from matplotlib import figure
import numpy

WRONG_DIGITS_FILE = 'wrong_digits.png'
LATENCY_FILE = 'latency_histogram.png'
# At most this many wrong digits are drawn (the first ones, in test order):
# beyond ten rows the panels get too small to read.
MAX_DIGIT_PANELS = 100
_COLUMNS = 10
_PANEL_INCHES = 1.0
_DPI = 100
# The digits are drawn white on black (0 is black) and every text in another
# colour, so black stands for the panels alone.
_TEXT_COLOUR = '#1f3d7a'
_WRONG_COLOUR = '#b22222'
_BAR_COLOUR = '#4c72b0'
PLOT_BACKGROUND = '#f4efe1'  # the histogram's one panel (no text blends into it)


def _save(fig, path):
    backend_agg.FigureCanvasAgg(fig)
    fig.savefig(path, dpi=_DPI, facecolor='white')


def write_wrong_digits(path, wrong, num_tests):
    """Writes the grid of wrong digits; returns how many panels it has.

    Args:
      path: the PNG file to write.
      wrong: (image, true label, predicted label) of each wrong answer, the
        image 784 pixels in [0, 1].
      num_tests: how many digits were sent, for the title.
    """
    shown = list(wrong)[:MAX_DIGIT_PANELS]
    rows = max(1, math.ceil(len(shown) / _COLUMNS))
    columns = _COLUMNS if len(shown) >= _COLUMNS else max(len(shown), 4)
    fig = figure.Figure(figsize=(columns * _PANEL_INCHES,
                                 rows * _PANEL_INCHES * 1.25 + 0.6))
    title = '%d of %d test digits predicted wrong' % (len(wrong), num_tests)
    if len(wrong) > len(shown):
        title += ' (the first %d shown)' % len(shown)
    fig.suptitle(title, color=_TEXT_COLOUR, fontsize=11)
    if not shown:
        fig.text(0.5, 0.4, 'none: every answer was right', ha='center',
                 color=_TEXT_COLOUR)
    for i, (image, true_label, predicted) in enumerate(shown):
        axes = fig.add_subplot(rows, columns, i + 1)
        axes.imshow(numpy.reshape(image, (28, 28)), cmap='gray', vmin=0.0,
                    vmax=1.0, interpolation='nearest')
        axes.set_title('true %d\npredicted %d' % (true_label, predicted),
                       fontsize=7, color=_WRONG_COLOUR, pad=2, linespacing=1.0)
        axes.set_axis_off()
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02,
                        top=1.0 - 0.6 / (rows * _PANEL_INCHES * 1.25 + 0.6),
                        wspace=0.15, hspace=0.6)
    _save(fig, path)
    return len(shown)


def write_latency_histogram(path, latencies):
    """Writes the histogram of latencies (seconds, non-empty); returns 1 panel."""
    milliseconds = numpy.asarray(latencies, dtype=float) * 1000.0
    p50, p99 = numpy.percentile(milliseconds, [50, 99], method='inverted_cdf')
    fig = figure.Figure(figsize=(7.0, 4.0))
    axes = fig.add_subplot(1, 1, 1, facecolor=PLOT_BACKGROUND)
    axes.hist(milliseconds, bins=min(50, max(5, len(milliseconds) // 10)),
              color=_BAR_COLOUR)
    for value, name, style in ((p50, 'p50', '--'), (p99, 'p99', ':')):
        axes.axvline(value, color=_WRONG_COLOUR, linestyle=style, linewidth=1.2,
                     label='%s %.1f ms' % (name, value))
    axes.set_xlabel('latency of one request (ms)', color=_TEXT_COLOUR)
    axes.set_ylabel('requests', color=_TEXT_COLOUR)
    axes.set_title('%d requests' % len(milliseconds), color=_TEXT_COLOUR)
    axes.legend(loc='upper right', labelcolor=_TEXT_COLOUR)
    fig.tight_layout()
    _save(fig, path)
    return 1


def write_plots(plot_dir, wrong, num_tests, latencies):
    """Writes both pictures into plot_dir (created if needed).

    Returns:
      [(path, description)] of the files written.
    """
    os.makedirs(plot_dir, exist_ok=True)
    digits = os.path.join(plot_dir, WRONG_DIGITS_FILE)
    panels = write_wrong_digits(digits, wrong, num_tests)
    latency = os.path.join(plot_dir, LATENCY_FILE)
    write_latency_histogram(latency, latencies)
    shown = '%d wrong digits' % len(wrong)
    if panels < len(wrong):
        shown += ', the first %d shown' % panels
    return [(digits, shown),
            (latency, 'latency histogram of %d requests' % len(latencies))]
