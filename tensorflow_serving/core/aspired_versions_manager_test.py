import threading
import time

from absl.testing import absltest
import grpc

from tensorflow_serving.core import aspired_versions_manager
from tensorflow_serving.core.servable_id import ServableId
from tensorflow_serving.core.servable_state import ManagerState
from tensorflow_serving.core.test_util.fake_loader import FakeLoader
from tensorflow_serving.test_util import test_util
from tensorflow_serving.util import status

_TIMEOUT = 10


class AspiredVersionsManagerTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        self.manager = aspired_versions_manager.AspiredVersionsManager(
            max_num_load_retries=2, load_retry_interval_micros=0)
        self.events = []
        self.manager.add_listener(lambda sid, state, err: self.events.append((sid, state)))
        self.loaders = {}
        self.factory_calls = []

    def tearDown(self):
        self.manager.stop(timeout=_TIMEOUT)
        super().tearDown()

    def _aspire(self, name, loaders):
        """Aspires {version: FakeLoader}; keeps the loaders for assertions."""
        factories = {}
        for version, loader in loaders.items():
            self.loaders[(name, version)] = loader

            def factory(loader=loader, version=version):
                self.factory_calls.append((name, version))
                return loader
            factories[version] = factory
        self.manager.set_aspired_versions(name, factories)

    def _settle(self, *names):
        self.assertTrue(self.manager.wait_until_settled(names or ["m"], timeout=_TIMEOUT))

    def _state(self, name, version):
        return self.manager.version_states(name)[version][0]

    def test_loads_and_serves_latest(self):
        self._aspire("m", {1: FakeLoader("v1"), 2: FakeLoader("v2")})
        self._settle()
        self.assertEqual(self.manager.available_versions("m"), [1, 2])
        with self.manager.get_handle("m") as handle:
            self.assertEqual(handle.id, ServableId("m", 2))
            self.assertEqual(handle.servable, "v2")
        with self.manager.get_handle("m", 1) as handle:
            self.assertEqual(handle.servable, "v1")
        self.assertIsNone(self.manager.get_handle("m", 3))
        self.assertIsNone(self.manager.get_handle("other"))
        self.assertEqual(
            [s for sid, s in self.events if sid == ServableId("m", 1)],
            [ManagerState.START, ManagerState.LOADING, ManagerState.AVAILABLE])

    def test_factory_called_once_per_version(self):
        self._aspire("m", {1: FakeLoader()})
        self._settle()
        self._aspire("m", {1: FakeLoader()})
        self._aspire("m", {1: FakeLoader()})
        self._settle()
        self.assertEqual(self.factory_calls, [("m", 1)])

    def test_new_version_available_before_old_unloaded(self):
        self._aspire("m", {1: FakeLoader("v1")})
        self._settle()
        gate = threading.Event()
        self._aspire("m", {2: FakeLoader("v2", gate=gate)})
        self.loaders[("m", 2)].load_started.wait(_TIMEOUT)
        # While version 2 loads, version 1 keeps serving.
        self.assertEqual(self._state("m", 1), ManagerState.AVAILABLE)
        with self.manager.get_handle("m") as handle:
            self.assertEqual(handle.servable, "v1")
        gate.set()
        self._settle()
        self.assertTrue(self.loaders[("m", 1)].unloaded.wait(_TIMEOUT))
        test_util.wait_for(lambda: self._state("m", 1) == ManagerState.END,
                           "version 1 END", _TIMEOUT)
        order = [(sid.version, s) for sid, s in self.events
                 if (sid.version, s) in ((2, ManagerState.AVAILABLE), (1, ManagerState.UNLOADING))]
        self.assertEqual(order, [(2, ManagerState.AVAILABLE), (1, ManagerState.UNLOADING)])
        with self.manager.get_handle("m") as handle:
            self.assertEqual(handle.id.version, 2)

    def test_held_handle_delays_unload(self):
        self._aspire("m", {1: FakeLoader("v1")})
        self._settle()
        handle = self.manager.get_handle("m")
        self._aspire("m", {2: FakeLoader("v2")})
        self._settle()
        test_util.wait_for(lambda: self._state("m", 1) == ManagerState.UNLOADING,
                           "version 1 UNLOADING", _TIMEOUT)
        # New requests go to version 2; version 1 is no longer handed out...
        self.assertEqual(self.manager.get_handle("m").id.version, 2)
        self.assertIsNone(self.manager.get_handle("m", 1))
        # ... but stays loaded for the request that holds it.
        self.assertFalse(self.loaders[("m", 1)].unloaded.wait(0.05))
        self.assertEqual(self.loaders[("m", 1)].unload_calls, 0)
        self.assertEqual(handle.servable, "v1")
        handle.release()
        self.assertTrue(self.loaders[("m", 1)].unloaded.wait(_TIMEOUT))
        test_util.wait_for(lambda: self._state("m", 1) == ManagerState.END,
                           "version 1 END", _TIMEOUT)
        self.assertEqual(self.loaders[("m", 1)].unload_calls, 1)

    def test_failed_version_never_replaces_good_one(self):
        self._aspire("m", {1: FakeLoader("v1")})
        self._settle()
        self._aspire("m", {2: FakeLoader(fail_times=-1, error=ValueError("corrupt"))})
        self._settle()
        state, error = self.manager.version_states("m")[2]
        self.assertEqual(state, ManagerState.END)
        self.assertEqual(error.code, grpc.StatusCode.UNKNOWN)
        self.assertIn("corrupt", error.message)
        # Retries: 1 attempt + max_num_load_retries.
        self.assertEqual(self.loaders[("m", 2)].load_calls, 3)
        self.assertEqual(self._state("m", 1), ManagerState.AVAILABLE)
        with self.manager.get_handle("m") as handle:
            self.assertEqual(handle.servable, "v1")
        # The source re-sending the failed version does not retry it.
        self._aspire("m", {2: FakeLoader()})
        self._settle()
        self.assertEqual(self.factory_calls.count(("m", 2)), 1)
        # A newer good version replaces version 1.
        self._aspire("m", {3: FakeLoader("v3")})
        self._settle()
        self.assertTrue(self.loaders[("m", 1)].unloaded.wait(_TIMEOUT))
        self.assertEqual(self.manager.available_versions("m"), [3])

    def test_serving_error_code_is_kept(self):
        self._aspire("m", {1: FakeLoader(fail_times=-1, error=status.not_found("no pb"))})
        self._settle()
        state, error = self.manager.version_states("m")[1]
        self.assertEqual(state, ManagerState.END)
        self.assertEqual(error, status.not_found("no pb"))
        self.assertIsNone(self.manager.get_handle("m"))

    def test_retry_then_success(self):
        self._aspire("m", {1: FakeLoader("v1", fail_times=2)})
        self._settle()
        self.assertEqual(self._state("m", 1), ManagerState.AVAILABLE)
        self.assertEqual(self.loaders[("m", 1)].load_calls, 3)
        self.assertIsNone(self.manager.version_states("m")[1][1])

    def test_no_retries(self):
        manager = aspired_versions_manager.AspiredVersionsManager(
            max_num_load_retries=0, load_retry_interval_micros=0)
        loader = FakeLoader(fail_times=1)
        manager.set_aspired_versions("m", {1: lambda: loader})
        self.assertTrue(manager.wait_until_settled(["m"], timeout=_TIMEOUT))
        self.assertEqual(loader.load_calls, 1)
        self.assertEqual(manager.version_states("m")[1][0], ManagerState.END)
        manager.stop(timeout=_TIMEOUT)

    def test_unaspiring_cancels_retry_wait(self):
        manager = aspired_versions_manager.AspiredVersionsManager(
            max_num_load_retries=5, load_retry_interval_micros=60_000_000)
        loader = FakeLoader(fail_times=-1)
        manager.set_aspired_versions("m", {1: lambda: loader})
        loader.load_started.wait(_TIMEOUT)
        start = time.monotonic()
        manager.set_aspired_versions("m", {})
        test_util.wait_for(lambda: manager.version_states("m")[1][0] == ManagerState.END,
                           "version 1 END", _TIMEOUT)
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(loader.load_calls, 1)
        manager.stop(timeout=_TIMEOUT)

    def test_unaspire_all_unloads(self):
        self._aspire("m", {1: FakeLoader(), 2: FakeLoader()})
        self._settle()
        self._aspire("m", {})
        self.assertIsNone(self.manager.get_handle("m"))
        for v in (1, 2):
            self.assertTrue(self.loaders[("m", v)].unloaded.wait(_TIMEOUT))
        test_util.wait_for(lambda: all(s == ManagerState.END for s, _ in
                                       self.manager.version_states("m").values()),
                           "every version END", _TIMEOUT)
        self.assertEqual(self.manager.available_versions("m"), [])

    def test_reaspire_after_unload_loads_again(self):
        self._aspire("m", {1: FakeLoader("a")})
        self._settle()
        self._aspire("m", {})
        test_util.wait_for(lambda: self._state("m", 1) == ManagerState.END,
                           "version 1 END", _TIMEOUT)
        self._aspire("m", {1: FakeLoader("b")})
        self._settle()
        with self.manager.get_handle("m") as handle:
            self.assertEqual(handle.servable, "b")

    def test_models_are_independent(self):
        self._aspire("a", {1: FakeLoader("a1")})
        self._aspire("b", {7: FakeLoader("b7")})
        self._settle("a", "b")
        self.assertEqual(self.manager.get_handle("a").servable, "a1")
        self.assertEqual(self.manager.get_handle("b").servable, "b7")
        self.assertEqual(self.manager.servable_names(), ["a", "b"])

    def test_wait_until_settled_times_out_for_unknown_name(self):
        self.assertFalse(self.manager.wait_until_settled(["nobody"], timeout=0.05))

    def test_stop_waits_for_handles(self):
        self._aspire("m", {1: FakeLoader()})
        self._settle()
        handle = self.manager.get_handle("m")
        threading.Timer(0.1, handle.release).start()
        self.manager.stop(timeout=_TIMEOUT)
        self.assertEqual(self.loaders[("m", 1)].unload_calls, 1)
        self.assertEqual(self._state("m", 1), ManagerState.END)
        # Nothing is loaded after stop.
        self._aspire("m", {2: FakeLoader()})
        self.assertIsNone(self.manager.get_handle("m"))


if __name__ == "__main__":
    absltest.main()
