import gc

from absl.testing import absltest

from tensorflow_serving.core.servable_handle import ServableHandle
from tensorflow_serving.core.servable_id import ServableId


class ServableHandleTest(absltest.TestCase):

    def test_releases_once_on_exit(self):
        released = []
        handle = ServableHandle(ServableId("m", 1), "obj", released.append, "token")
        with handle as h:
            self.assertIs(h, handle)
            self.assertEqual(h.id, ServableId("m", 1))
            self.assertEqual(h.servable, "obj")
            self.assertEqual(released, [])
        self.assertEqual(released, ["token"])
        handle.release()
        self.assertEqual(released, ["token"])

    def test_dropped_handle_is_released(self):
        released = []
        ServableHandle(ServableId("m", 1), "obj", released.append, "t")
        gc.collect()
        self.assertEqual(released, ["t"])


if __name__ == "__main__":
    absltest.main()
