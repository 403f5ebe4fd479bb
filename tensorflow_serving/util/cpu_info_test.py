import os
import subprocess
import sys

from absl.testing import absltest

from tensorflow_serving.util import cpu_info


class NumSchedulableCpusTest(absltest.TestCase):

    def test_counts_the_affinity_mask(self):
        self.assertEqual(cpu_info.num_schedulable_cpus(), len(os.sched_getaffinity(0)))

    def test_a_process_pinned_to_one_cpu_counts_one(self):
        # A child pinned to one CPU, as `taskset -c N` pins a server.
        cpu = min(os.sched_getaffinity(0))
        code = ("import os, sys; os.sched_setaffinity(0, {%d}); "
                "from tensorflow_serving.util import cpu_info; "
                "print(cpu_info.num_schedulable_cpus(), os.cpu_count())" % cpu)
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                             text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        pinned, machine = (int(n) for n in out.stdout.split())
        self.assertEqual(pinned, 1)
        self.assertEqual(machine, os.cpu_count())


if __name__ == "__main__":
    absltest.main()
