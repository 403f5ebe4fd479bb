from absl.testing import absltest

from tensorflow_serving.core import loader
from tensorflow_serving.core.test_util import fake_loader


class LoaderTest(absltest.TestCase):

    def test_base_class_must_be_implemented(self):
        base = loader.Loader()
        for method in (base.load, base.unload, base.servable):
            with self.assertRaises(NotImplementedError):
                method()

    def test_fake_loader_fails_then_succeeds(self):
        fake = fake_loader.FakeLoader(servable="s", fail_times=1)
        with self.assertRaisesRegex(RuntimeError, "fake load failure"):
            fake.load()
        self.assertFalse(fake.loaded)
        fake.load()
        self.assertTrue(fake.loaded)
        self.assertEqual(fake.load_calls, 2)
        self.assertEqual(fake.servable(), "s")
        fake.unload()
        self.assertFalse(fake.loaded)
        self.assertTrue(fake.unloaded.is_set())


if __name__ == "__main__":
    absltest.main()
