import os
import threading

from absl.testing import absltest
import grpc
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.config import model_server_config_pb2

from tensorflow_serving.core.servable_state import ManagerState
from tensorflow_serving.core.test_util.fake_loader import FakeLoader
from tensorflow_serving.model_servers import server_core
from tensorflow_serving.test_util import test_util
from tensorflow_serving.util import status

_TIMEOUT = 10


class _Observer(server_core.ServingObserver):
    """Records what ServerCore tells the data plane, as the native one hears it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._versions = {}
        self._labels = {}
        self._unavailable = {}
        self._logging = {}

    def versions_changed(self, name, versions):
        with self._lock:
            self._versions[name] = {v: s for v, s in versions.items()}

    def labels_changed(self, name, labels):
        with self._lock:
            self._labels[name] = dict(labels)

    def unavailable_changed(self, name, reason, loading_versions):
        with self._lock:
            if reason is None:
                self._unavailable.pop(name, None)
            else:
                self._unavailable[name] = (reason, set(loading_versions))

    def logging_changed(self, name, logging_config):
        with self._lock:
            if logging_config is None:
                self._logging.pop(name, None)
            else:
                self._logging[name] = type(logging_config)()
                self._logging[name].CopyFrom(logging_config)

    def logging(self, name):
        """The LoggingConfig the data plane has for `name`, or None."""
        with self._lock:
            return self._logging.get(name)

    def versions(self, name):
        """{version: servable} the data plane may serve of `name`."""
        with self._lock:
            return dict(self._versions.get(name, {}))

    def labels(self, name):
        with self._lock:
            return dict(self._labels.get(name, {}))

    def unavailable(self, name):
        """(reason, loading versions) for a configured model, None if not configured."""
        with self._lock:
            return self._unavailable.get(name)


class ServerCoreTest(absltest.TestCase):

    def setUp(self):
        super().setUp()
        self.base = self.create_tempdir().full_path
        self.loaders = {}
        self.loader_made = threading.Event()  # set by every new loader
        self.cores = []

    def tearDown(self):
        for core in self.cores:
            core.stop()
        super().tearDown()

    def _loader_factory(self, name, version, path):
        # A version directory holding a file named FAIL fails to load.
        fail = os.path.exists(os.path.join(path, "FAIL"))
        loader = FakeLoader(servable=(name, version, path), fail_times=-1 if fail else 0,
                            error=status.not_found(f"no model in {path}"))
        self.loaders[(name, version)] = loader
        self.loader_made.set()
        return loader

    def _version(self, model, version, fail=False):
        path = os.path.join(self.base, model, str(version))
        os.makedirs(path, exist_ok=True)
        if fail:
            open(os.path.join(path, "FAIL"), "w").close()
        return path

    def _model_config(self, config, name, policy=None, labels=None, **fields):
        model = config.model_config_list.config.add(
            name=name, base_path=os.path.join(self.base, name), model_platform="tensorflow")
        for key, value in fields.items():
            setattr(model, key, value)
        if policy == "all":
            model.model_version_policy.all.SetInParent()
        elif isinstance(policy, list):
            model.model_version_policy.specific.versions.extend(policy)
        elif isinstance(policy, int):
            model.model_version_policy.latest.num_versions = policy
        for label, version in (labels or {}).items():
            model.version_labels[label] = version
        return model

    def _config(self, *models):
        config = model_server_config_pb2.ModelServerConfig()
        for model in models:
            if isinstance(model, str):
                model = (model,)
            name, policy, labels, fields = (model + (None, None, None))[:4]
            self._model_config(config, name, policy, labels, **(fields or {}))
        return config

    def _core(self, config, poll=0.0, start=True, **options):
        self.observer = _Observer()
        core = server_core.ServerCore(server_core.ServerCoreOptions(
            model_server_config=config, loader_factory=self._loader_factory,
            file_system_poll_wait_seconds=poll, max_num_load_retries=1,
            load_retry_interval_micros=0, serving_observer=self.observer, **options))
        self.cores.append(core)
        if start:
            core.start()
        return core

    def _assert_error(self, code, substring, fn, *args):
        with self.assertRaises(status.ServingError) as cm:
            fn(*args)
        self.assertEqual(cm.exception.code, code, cm.exception.message)
        self.assertIn(substring, cm.exception.message)
        return cm.exception

    def test_serves_latest_and_specific(self):
        self._version("m", 1)
        self._version("m", 2)
        core = self._core(self._config(("m", 2)))
        versions = self.observer.versions("m")
        self.assertEqual(sorted(versions), [1, 2])
        self.assertEqual(versions[2][:2], ("m", 2))
        self.assertEqual(self.observer.unavailable("m"), ("", set()))
        self.assertEqual(core.model_names(), ["m"])
        self.assertEqual(core.available_versions("m"), [1, 2])
        self.assertEqual([(v, s) for v, s, _ in core.model_version_states("m")],
                         [(2, ManagerState.AVAILABLE), (1, ManagerState.AVAILABLE)])

    def test_status_errors(self):
        self._version("m", 1)
        core = self._core(self._config("m"))
        self.assertIsNone(self.observer.unavailable("foo"))  # not configured
        self._assert_error(grpc.StatusCode.NOT_FOUND, "Could not find any versions of model foo",
                           core.model_version_states, "foo")
        self._assert_error(grpc.StatusCode.NOT_FOUND, "Could not find version 3 of model m",
                           core.model_version_states, "m", 3)

    def test_invalid_configs(self):
        core = self._core(self._config(), start=False)
        cases = [
            (self._config("a", "a"), "Illegal to list model a multiple times"),
            (self._config(("a", None, None, {"model_platform": "pytorch"})),
             "Model a requests unsupported platform pytorch"),
            (self._config(("a", None, None, {"model_platform": ""})), "for model a"),
            (self._config(("a", None, None, {"base_path": ""})), "Expected model a to have an absolute"),
            (self._config(("a", None, None, {"base_path": "rel/a"})), "got base_path()=rel/a"),
            (self._config(("", None, None)), "empty name"),
            (self._config(("a", None, None, {"model_platform": "", "model_type": 2})),
             "not supported (model a)"),
        ]
        for config, message in cases:
            self._assert_error(grpc.StatusCode.INVALID_ARGUMENT, message, core.reload_config, config)
        custom = model_server_config_pb2.ModelServerConfig()
        custom.custom_model_config.Pack(model_pb2.ModelSpec())
        self._assert_error(grpc.StatusCode.INVALID_ARGUMENT,
                           "ModelServer does not yet support custom model config.",
                           core.reload_config, custom)
        self.assertEqual(core.model_names(), [])
        # The deprecated model_type TENSORFLOW still works.
        self._version("a", 1)
        core.reload_config(self._config(("a", None, None, {"model_platform": "", "model_type": 1})))
        self.assertEqual(core.available_versions("a"), [1])

    def test_reload_adds_and_removes_models(self):
        self._version("a", 1)
        self._version("b", 5)
        core = self._core(self._config("a"))
        core.reload_config(self._config("b"))
        # The new model is ready when reload_config returns.
        self.assertEqual(list(self.observer.versions("b")), [5])
        self.assertIsNone(self.observer.unavailable("a"))  # no longer configured
        self.assertTrue(self.loaders[("a", 1)].unloaded.wait(_TIMEOUT))
        self.assertEqual(self.observer.versions("a"), {})
        self.assertEqual(core.model_names(), ["b"])
        self.assertEqual([m.name for m in core.config.model_config_list.config], ["b"])
        # The removed model's history is still reported.
        test_util.wait_for(lambda: core.model_version_states("a")[0][1] == ManagerState.END,
                           "a's version END", _TIMEOUT)

    def test_reload_changes_version_policy(self):
        self._version("m", 1)
        self._version("m", 2)
        core = self._core(self._config("m"))
        self.assertEqual(core.available_versions("m"), [2])
        core.reload_config(self._config(("m", [1])))
        self.assertEqual(core.available_versions("m"), [1])
        self.assertTrue(self.loaders[("m", 2)].unloaded.wait(_TIMEOUT))
        core.reload_config(self._config(("m", "all")))
        self.assertEqual(core.available_versions("m"), [1, 2])

    def test_labels(self):
        for v in (1, 2):
            self._version("m", v)
        core = self._core(self._config(("m", "all", {"stable": 1, "canary": 2})))
        self.assertEqual(self.observer.labels("m"), {"stable": 1, "canary": 2})
        self.assertEqual(core.version_labels("m"), {"stable": 1, "canary": 2})
        # A label may only point to an AVAILABLE version.
        self._assert_error(
            grpc.StatusCode.FAILED_PRECONDITION,
            "Request to assign label to version 3 of model m, which is not currently "
            "available for inference",
            core.reload_config, self._config(("m", "all", {"stable": 1, "canary": 3})))
        self.assertEqual(core.version_labels("m"), {"stable": 1, "canary": 2})
        self.assertEqual(self.observer.labels("m"), {"stable": 1, "canary": 2})
        core.reload_config(self._config(("m", "all", {"stable": 2})))
        self.assertEqual(self.observer.labels("m"), {"stable": 2})

    def test_labels_for_unavailable_versions_when_allowed(self):
        self._version("m", 1)
        core = self._core(self._config(("m", None, {"next": 2})),
                          allow_version_labels_for_unavailable_models=True)
        self.assertEqual(self.observer.labels("m"), {"next": 2})
        self.assertEqual(list(self.observer.versions("m")), [1])
        # Moving an existing label to an unavailable version is still refused.
        self._assert_error(grpc.StatusCode.FAILED_PRECONDITION, "version 3 of model m",
                           core.reload_config, self._config(("m", None, {"next": 3})))

    def test_missing_base_path_is_waited_for_at_startup(self):
        core = self._core(self._config("m"), poll=0.02, start=False)
        starter = threading.Thread(target=core.start)
        starter.start()
        test_util.wait_for(lambda: core.model_names() == ["m"], "model m configured",
                           _TIMEOUT)
        self.assertTrue(starter.is_alive())  # as upstream: start() waits for a version
        test_util.wait_for(lambda: self.observer.unavailable("m") == (
            "no versions of the model were found", set()), "m's reason", _TIMEOUT)
        self._assert_error(grpc.StatusCode.NOT_FOUND, "Could not find any versions",
                           core.model_version_states, "m")
        self._version("m", 3)
        starter.join(_TIMEOUT)
        self.assertFalse(starter.is_alive())
        self.assertEqual(list(self.observer.versions("m")), [3])
        self.assertEqual(self.observer.unavailable("m"), ("", set()))

    def test_stop_ends_a_startup_that_waits_for_versions(self):
        core = self._core(self._config("m"), poll=0.02, start=False)
        errors = []

        def start():
            try:
                core.start()
            except status.ServingError as e:
                errors.append(e)

        starter = threading.Thread(target=start)
        starter.start()
        test_util.wait_for(lambda: core.model_names() == ["m"], "model m configured",
                           _TIMEOUT)
        core.stop()
        starter.join(_TIMEOUT)
        self.assertFalse(starter.is_alive())
        self.assertEqual(errors[0].code, grpc.StatusCode.FAILED_PRECONDITION)

    def test_failed_new_version_keeps_old_one_serving(self):
        self._version("m", 1)
        core = self._core(self._config("m"), poll=0.02)
        self._version("m", 2, fail=True)
        test_util.wait_for(lambda: any(v == 2 and s == ManagerState.END
                                       for v, s, _ in core.model_version_states("m")),
                           "version 2 END", _TIMEOUT)
        states = {v: (s, e) for v, s, e in core.model_version_states("m")}
        self.assertEqual(states[1], (ManagerState.AVAILABLE, None))
        self.assertEqual(states[2][1].code, grpc.StatusCode.NOT_FOUND)
        self.assertEqual(self.loaders[("m", 2)].load_calls, 2)  # max_num_load_retries=1
        self.assertEqual(list(self.observer.versions("m")), [1])

    def test_startup_fails_when_a_model_fails_to_load(self):
        self._version("m", 1, fail=True)
        self._version("ok", 1)
        core = self._core(self._config("ok", "m"), start=False)
        e = self._assert_error(grpc.StatusCode.UNKNOWN, "1 servable(s) did not become "
                               "available: {{{name: m version: 1} due to error: NOT_FOUND: ",
                               core.start)
        self.assertTrue(e.message.endswith("}, }"), e.message)
        # The reason, but never the load error or paths: GetModelStatus has those.
        self.assertEqual(self.observer.unavailable("m"),
                         ("no version of the model could be loaded", set()))
        [(version, state, error)] = core.model_version_states("m")
        self.assertEqual((version, state, error.code),
                         (1, ManagerState.END, grpc.StatusCode.NOT_FOUND))

    def test_reload_fails_when_a_new_model_fails_to_load(self):
        self._version("a", 1)
        self._version("b", 1, fail=True)
        core = self._core(self._config("a"))
        self._assert_error(grpc.StatusCode.UNKNOWN,
                           "1 model(s) did not become available: {{{name: b version: 1} "
                           "due to error: NOT_FOUND: ",
                           core.reload_config, self._config("a", "b"))
        # The models that did load keep serving.
        self.assertEqual(list(self.observer.versions("a")), [1])
        # Reloading the same config again waits for no new model.
        core.reload_config(self._config("a", "b"))

    def test_logging_config_without_this_servers_collector_is_refused(self):
        self._version("m", 1)
        config = self._config("m")
        config.model_config_list.config[0].logging_config.sampling_config.sampling_rate = 1
        self._assert_error(grpc.StatusCode.INVALID_ARGUMENT,
                           "Model m: logging_config.log_collector_config.type '' is not a "
                           "log collector of this server; use 'tfrecord'",
                           self._core(config, start=False).start)
        collector = config.model_config_list.config[0].logging_config.log_collector_config
        collector.type = "tfrecord"
        self._assert_error(grpc.StatusCode.INVALID_ARGUMENT,
                           "filename_prefix is empty", self._core(config, start=False).start)
        collector.filename_prefix = "/logs/m"
        config.model_config_list.config[0].logging_config.sampling_config.sampling_rate = 1.5
        self._assert_error(grpc.StatusCode.INVALID_ARGUMENT,
                           "sampling_rate 1.5 is outside [0, 1]",
                           self._core(config, start=False).start)

    def test_logging_config_reaches_the_observer_and_leaves_it(self):
        self._version("m", 1)
        self._version("n", 1)
        config = self._config("m", "n")
        logging_config = config.model_config_list.config[0].logging_config
        logging_config.log_collector_config.type = "tfrecord"
        logging_config.log_collector_config.filename_prefix = "/logs/m"
        logging_config.sampling_config.sampling_rate = 0.5
        core = self._core(config)
        self.assertEqual(self.observer.logging("m"), logging_config)
        self.assertIsNone(self.observer.logging("n"))
        core.reload_config(self._config("m", "n"))
        self.assertIsNone(self.observer.logging("m"))

    def test_loading_version_is_not_found_as_upstream(self):
        self._version("m", 1)
        gate = threading.Event()
        slow = FakeLoader("slow", gate=gate)
        observer = _Observer()
        core = server_core.ServerCore(server_core.ServerCoreOptions(
            model_server_config=self._config("m"), loader_factory=lambda *a: slow,
            file_system_poll_wait_seconds=0, serving_observer=observer))
        self.cores.append(core)
        starter = threading.Thread(target=core.start)
        starter.start()
        self.assertTrue(slow.load_started.wait(_TIMEOUT))
        self.assertTrue(starter.is_alive())  # start() blocks until the load ends
        test_util.wait_for(lambda: observer.unavailable("m") == (
            "the model is still loading", {1}), "m's reason while loading", _TIMEOUT)
        gate.set()
        starter.join(_TIMEOUT)
        self.assertFalse(starter.is_alive())
        self.assertEqual(observer.versions("m"), {1: "slow"})
        self.assertEqual(observer.unavailable("m"), ("", set()))

    def test_poll_once_mode(self):
        self._version("m", 1)
        core = self._core(self._config("m"), poll=0)
        self.loader_made.clear()
        self._version("m", 2)
        # No poll finds version 2: no loader is made for it.
        self.assertFalse(self.loader_made.wait(0.1))
        self.assertEqual(core.available_versions("m"), [1])
        # A reload polls again.
        core.reload_config(self._config("m"))
        self.assertEqual(core.available_versions("m"), [2])

    def test_fail_if_no_model_versions_found(self):
        os.makedirs(os.path.join(self.base, "m"))
        core = self._core(self._config("m"), start=False, fail_if_no_model_versions_found=True)
        self._assert_error(grpc.StatusCode.NOT_FOUND, "Unable to find a numerical version path",
                           core.start)

    def test_state_listener_and_stop(self):
        self._version("m", 1)
        core = self._core(self._config(), start=False)
        events = []
        core.add_state_listener(lambda sid, state, err: events.append((sid.version, state)))
        core.reload_config(self._config("m"))
        core.stop()
        self.assertTrue(self.loaders[("m", 1)].unloaded.is_set())
        self.assertEqual([s for _, s in events],
                         [ManagerState.START, ManagerState.LOADING, ManagerState.AVAILABLE,
                          ManagerState.UNLOADING, ManagerState.END])
        self.assertEqual(self.observer.versions("m"), {})
        self._assert_error(grpc.StatusCode.FAILED_PRECONDITION, "stopped",
                           core.reload_config, self._config("m"))

    def test_empty_config_is_a_no_op(self):
        core = self._core(model_server_config_pb2.ModelServerConfig())
        self.assertEqual(core.model_names(), [])


if __name__ == "__main__":
    absltest.main()
