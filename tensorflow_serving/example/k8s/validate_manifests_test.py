"""The shipped manifests pass validate_manifests; each kind of mistake fails it.

Run under the manifest check's venv by manifests_test.sh, with the KServe SDK
directory as the first argument.
"""

import copy
import os
import sys
import unittest

import validate_manifests

_HERE = os.path.dirname(os.path.abspath(__file__))
_FILES = ("mnist_k8s.yaml", "mnist_kserve.yaml")
_KSERVE_SDK = None


def setUpModule():
    global CHECKER, DOCS  # pylint: disable=global-variable-undefined
    CHECKER = validate_manifests.ManifestChecker(_KSERVE_SDK)
    DOCS = []
    for name in _FILES:
        DOCS.extend(validate_manifests.load_documents(os.path.join(_HERE, name)))


def _find(docs, kind):
    for _, doc in docs:
        if doc["kind"] == kind:
            return doc
    raise KeyError(kind)


class ShippedManifestsTest(unittest.TestCase):

    def test_every_object_is_valid_and_consistent(self):
        self.assertEqual(CHECKER.check_documents(DOCS), [])

    def test_the_expected_objects_are_shipped(self):
        kinds = sorted(d["kind"] for _, d in DOCS)
        self.assertEqual(kinds, ["Deployment", "HorizontalPodAutoscaler", "InferenceService",
                                 "InferenceService", "PersistentVolumeClaim", "PodDisruptionBudget", "Service",
                                 "ServingRuntime"])

    def test_deployment_is_upstream_compatible_and_hardened(self):
        deployment = _find(DOCS, "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        self.assertTrue(pod["securityContext"]["runAsNonRoot"])
        container, = pod["containers"]
        self.assertEqual({p["containerPort"] for p in container["ports"]}, {8500, 8501})
        self.assertIn({"name": "MODEL_NAME", "value": "mnist"}, container["env"])
        self.assertEqual(container["volumeMounts"][0]["mountPath"], "/models/mnist")
        self.assertTrue(container["securityContext"]["readOnlyRootFilesystem"])
        self.assertIn("readinessProbe", container)
        self.assertIn("livenessProbe", container)
        self.assertIn("requests", container["resources"])
        self.assertIn("--enable_grpc_healthcheck_service=true", container["args"])

    def test_kserve_runtime_runs_the_server_as_kserve_does(self):
        runtime = _find(DOCS, "ServingRuntime")
        container, = runtime["spec"]["containers"]
        self.assertEqual(container["command"], ["/usr/bin/tensorflow_model_server"])
        self.assertIn("--model_base_path=/mnt/models", container["args"])
        self.assertIn("--model_name={{.Name}}", container["args"])


class MistakesTest(unittest.TestCase):
    """Each mutation of the shipped set must produce an error naming it."""

    def assert_error(self, mutate, *fragments):
        docs = copy.deepcopy(DOCS)
        mutate({d["kind"]: d for _, d in docs})
        errors = CHECKER.check_documents(docs)
        joined = "\n".join(errors)
        for fragment in fragments:
            self.assertIn(fragment, joined)
        return errors

    def test_misspelled_field(self):
        def mutate(d):
            d["Deployment"]["spec"]["replica"] = d["Deployment"]["spec"].pop("replicas")
        self.assert_error(mutate, "'replica' was unexpected")

    def test_wrong_type(self):
        def mutate(d):
            d["Service"]["spec"]["ports"][0]["port"] = "8500"
        self.assert_error(mutate, "'8500' is not of type 'integer'")

    def test_missing_required_field(self):
        def mutate(d):
            del d["Deployment"]["spec"]["template"]["spec"]["containers"][0]["name"]
        self.assert_error(mutate, "'name' is a required property")

    def test_every_error_is_reported_not_only_the_first(self):
        def mutate(d):
            d["Deployment"]["spec"]["replica"] = 3
            d["Deployment"]["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "x"
        self.assert_error(mutate, "'replica' was unexpected", "'imagePullPolcy' was unexpected")

    def test_removed_api_version_has_no_schema(self):
        def mutate(d):
            d["HorizontalPodAutoscaler"]["apiVersion"] = "autoscaling/v2beta1"
        self.assert_error(mutate, "Couldn't find schema for kind HorizontalPodAutoscaler "
                                  "with api version autoscaling/v2beta1 for Kubernetes 1.25")

    def test_unknown_kind_has_no_schema(self):
        def mutate(d):
            d["PodDisruptionBudget"]["kind"] = "PodDisruptionBudgett"
        self.assert_error(mutate, "Couldn't find schema for kind PodDisruptionBudgett")

    def test_field_newer_than_the_oldest_version(self):
        # A field an older API server rejects: checked per version.
        def mutate(d):
            d["HorizontalPodAutoscaler"]["spec"]["behavior"] = {
                "scaleDown": {"tolerance": "0.05"}}
        self.assert_error(mutate, "Kubernetes 1.25: spec.behavior.scaleDown")

    def test_deployment_selector_must_select_its_template(self):
        def mutate(d):
            d["Deployment"]["spec"]["selector"]["matchLabels"]["app"] = "other"
        self.assert_error(mutate, "spec.selector does not select the pod template's labels")

    def test_service_selector_must_select_pods(self):
        def mutate(d):
            d["Service"]["spec"]["selector"] = {"app": "mnist-srever"}
        self.assert_error(mutate, "selector {'app': 'mnist-srever'} selects no pods")

    def test_service_target_port_must_exist(self):
        def mutate(d):
            d["Service"]["spec"]["ports"][1]["targetPort"] = "rest"
        self.assert_error(mutate, "targetPort 'rest' is not a container port")

    def test_pdb_selector_must_select_pods(self):
        def mutate(d):
            d["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] = {"app": "x"}
        self.assert_error(mutate, "PodDisruptionBudget/mnist-pdb: selector selects no pods")

    def test_hpa_target_must_exist(self):
        def mutate(d):
            d["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] = "mnist"
        self.assert_error(mutate, "scaleTargetRef Deployment/mnist is not a workload here")

    def test_hpa_min_above_max(self):
        def mutate(d):
            d["HorizontalPodAutoscaler"]["spec"]["minReplicas"] = 11
        self.assert_error(mutate, "minReplicas is above maxReplicas")

    def test_kserve_unknown_field(self):
        def mutate(d):
            model = d["InferenceService"]["spec"]["predictor"]["model"]
            model["storageURI"] = model.pop("storageUri")
        self.assert_error(mutate, "spec.predictor.model: unknown field 'storageURI'")

    def test_kserve_wrong_type(self):
        def mutate(d):
            d["InferenceService"]["spec"]["predictor"]["minReplicas"] = "2"
        self.assert_error(mutate, "spec.predictor.minReplicas: '2' is not an integer")

    def test_kserve_missing_required_field(self):
        def mutate(d):
            del d["ServingRuntime"]["spec"]["containers"]
        self.assert_error(mutate, "Invalid value for `containers`, must not be `None`")

    def test_kserve_embedded_kubernetes_types_are_checked(self):
        def mutate(d):
            container = d["ServingRuntime"]["spec"]["containers"][0]
            container["securityContext"]["runAsNonroot"] = True
        self.assert_error(mutate, "ServingRuntime/tf-serving-bazel: spec.containers.0",
                          "'runAsNonroot' was unexpected")

    def test_kserve_unserved_version(self):
        def mutate(d):
            d["InferenceService"]["apiVersion"] = "serving.kserve.io/v1alpha2"
        self.assert_error(mutate, "no KServe schema for kind InferenceService "
                                  "with apiVersion serving.kserve.io/v1alpha2")

    def test_inference_service_runtime_must_exist(self):
        def mutate(d):
            d["InferenceService"]["spec"]["predictor"]["model"]["runtime"] = "tf-serving"
        self.assert_error(mutate, "runtime 'tf-serving' is not a ServingRuntime here")

    def test_inference_service_model_format_must_be_supported(self):
        def mutate(d):
            d["InferenceService"]["spec"]["predictor"]["model"]["modelFormat"]["name"] = "onnx"
        self.assert_error(mutate, "does not support model format 'onnx'")

    def test_inference_service_protocol_must_be_supported(self):
        def mutate(d):
            d["ServingRuntime"]["spec"]["protocolVersions"] = ["v1", "grpc-v1"]
        self.assert_error(mutate, "runtime 'tf-serving-bazel' does not support protocol 'v2'")

    def test_the_runtime_serves_both_protocols(self):
        runtime = _find(DOCS, "ServingRuntime")
        self.assertEqual(runtime["spec"]["protocolVersions"], ["v1", "grpc-v1", "v2", "grpc-v2"])
        v2 = [d for _, d in DOCS if d["kind"] == "InferenceService"
              and d["spec"]["predictor"]["model"].get("protocolVersion") == "v2"]
        self.assertEqual([d["metadata"]["name"] for d in v2], ["mnist-v2"])


if __name__ == "__main__":
    _KSERVE_SDK = sys.argv.pop(1)
    unittest.main()
