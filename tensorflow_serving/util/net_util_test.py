"""net_util.pick_unused_port gives bindable ports outside the ephemeral range."""

import socket

from absl.testing import absltest

from tensorflow_serving.util import net_util


class PickUnusedPortTest(absltest.TestCase):

    def test_port_is_bindable_and_below_ephemeral_range(self):
        low = net_util._ephemeral_low()  # pylint: disable=protected-access
        for _ in range(20):
            port = net_util.pick_unused_port()
            if low > 15001:
                self.assertLess(port, low)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("", port))  # raises if the port was not free

    def test_skips_a_port_in_use(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
            busy.bind(("", net_util.pick_unused_port()))
            busy.listen()
            taken = busy.getsockname()[1]
            ports = {net_util.pick_unused_port() for _ in range(200)}
            self.assertNotIn(taken, ports)


if __name__ == "__main__":
    absltest.main()
