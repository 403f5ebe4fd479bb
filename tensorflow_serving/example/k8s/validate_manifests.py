"""Checks Kubernetes and KServe manifests offline, strictly, and as a set.

No upstream counterpart: upstream ships resnet_k8s.yaml unchecked. Without an
API server, three checks stand in for one:

* Kubernetes kinds: kubernetes-validate's strict JSON schemas (unknown
  fields, wrong types, missing required fields) for several Kubernetes
  versions. A kind or apiVersion with no schema is an error, not a warning.
* KServe kinds: KServe's generated Python models (its SDK's
  `kserve.models`) give every field's name and type and the required ones;
  the Kubernetes types they embed (containers, volumes, ...) are checked
  against the strict JSON schemas above.
* The set as a whole, what only an API server or controller would notice:
  workload selectors match their pod templates, each Service and
  PodDisruptionBudget selects some pods and each Service targetPort exists
  on them, each HorizontalPodAutoscaler targets a workload in the set, and
  each InferenceService names a runtime in the set that supports its model
  format and its protocol version.

Run with the manifest check's own venv (@k8s_validate//:python):
    validate_manifests.py --kserve_sdk DIR FILE.yaml...
"""

import argparse
import importlib
import re
import sys
import types

import jsonschema
from kubernetes_validate import utils as kv_utils
import referencing
import yaml

K8S_VERSIONS = ("1.25", "1.29", "1.33", "1.37")
_DEFS_ID = "https://kubernetes.io/api/_definitions.json"
# KServe kinds and their model classes; other serving.kserve.io kinds and
# versions are errors (unknown), as an API server without them would say.
KSERVE_KINDS = {
    ("serving.kserve.io/v1alpha1", "ServingRuntime"): "V1alpha1ServingRuntime",
    ("serving.kserve.io/v1alpha1", "ClusterServingRuntime"): "V1alpha1ClusterServingRuntime",
    ("serving.kserve.io/v1beta1", "InferenceService"): "V1beta1InferenceService",
}
_WORKLOADS = {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"}


def load_documents(path):
    """The non-empty YAML documents of a file, as (where, object) pairs."""
    with open(path) as f:
        docs = list(yaml.safe_load_all(f))
    out = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            out.append(("%s#%d" % (path, i), doc))
            continue
        name = (doc.get("metadata") or {}).get("name", "?")
        out.append(("%s: %s/%s" % (path, doc.get("kind", "?"), name), doc))
    return out


# --- Kubernetes schemas ---------------------------------------------------------

class KubernetesSchemas:
    """kubernetes-validate's strict schemas, by Kubernetes version."""

    def __init__(self, versions=K8S_VERSIONS):
        self.versions = versions
        self._validators = {}
        self._definition_files = {}

    def validate(self, doc):
        """Every error of a Kubernetes object against each version's schema.

        kubernetes_validate.validate stops at the first error and only warns
        about a missing schema; this reports all errors, and a kind or
        apiVersion without a schema is one of them.
        """
        errors = []
        # The bundle's file naming: apps/v1 -> apps-v1, rbac.authorization.k8s.io/v1 -> rbac-v1.
        api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", str(doc["apiVersion"]))
        for version in self.versions:
            schema_dir = "kubernetes-json-schema/v%s.0-local-strict" % version
            try:
                schema = kv_utils.schema_contents(
                    "%s/%s-%s.json" % (schema_dir, str(doc["kind"]).lower(), api), version)
            except FileNotFoundError:
                errors.append("Couldn't find schema for kind %s with api version %s for "
                              "Kubernetes %s" % (doc["kind"], doc["apiVersion"], version))
                continue
            registry = (referencing.Resource.from_contents(self._definitions_file(version))
                        @ referencing.Registry())
            validator = jsonschema.Draft202012Validator(schema, registry=registry)
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path))):
                errors.append("Kubernetes %s: %s: %s" % (version, _path(e.path), e.message))
        return _dedupe(errors)

    def definition_name(self, model_type):
        """The schema definition of a type named as the generated clients do.

        V1Container -> io.k8s.api.core.v1.Container,
        K8sIoApiAppsV1DeploymentStrategy -> io.k8s.api.apps.v1.DeploymentStrategy.
        """
        defs = self._definitions(self.versions[-1])
        if model_type == "ResourceQuantity":
            return "io.k8s.apimachinery.pkg.api.resource.Quantity"
        m = re.match(r"K8sIoApi([A-Z][a-z0-9]*)(V\d+(?:(?:alpha|beta)\d+)?)(\w+)$", model_type)
        if m:
            name = "io.k8s.api.%s.%s.%s" % (m.group(1).lower(), m.group(2).lower(), m.group(3))
            return name if name in defs else None
        m = re.match(r"(V\d+(?:(?:alpha|beta)\d+)?)([A-Z]\w+)$", model_type)
        if not m:
            return None
        suffix = ".%s.%s" % (m.group(1).lower(), m.group(2))
        matches = sorted(d for d in defs if d.endswith(suffix))
        for preferred in ("io.k8s.api.core.", "io.k8s.apimachinery.pkg.apis.meta."):
            for d in matches:
                if d.startswith(preferred):
                    return d
        return matches[0] if len(matches) == 1 else None

    def validate_definition(self, value, definition):
        errors = []
        for version in self.versions:
            validator = self._validator(version, definition)
            for e in validator.iter_errors(value):
                errors.append("Kubernetes %s: %s: %s" % (version, _path(e.path), e.message))
        return _dedupe(errors)

    def _definitions_file(self, version):
        if version not in self._definition_files:
            self._definition_files[version] = kv_utils.schema_contents(
                "kubernetes-json-schema/v%s.0-local-strict/_definitions.json" % version,
                version)
        return self._definition_files[version]

    def _definitions(self, version):
        return self._definitions_file(version)["$defs"]

    def _validator(self, version, definition):
        key = (version, definition)
        if key not in self._validators:
            registry = (referencing.Resource.from_contents(self._definitions_file(version))
                        @ referencing.Registry())
            schema = {"$ref": "%s#/$defs/%s" % (_DEFS_ID, definition)}
            self._validators[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self._validators[key]


def _path(parts):
    return ".".join(str(p) for p in parts) or "(top)"


def _dedupe(errors):
    seen, out = set(), []
    for e in errors:
        key = re.sub(r"^Kubernetes [\d.]+: ", "", e)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


# --- KServe models ---------------------------------------------------------------

def load_kserve_models(sdk_dir):
    """KServe's generated models, without the SDK's server dependencies.

    The SDK's package __init__ imports its model server (fastapi, ray, ...);
    the models need only `six` and `kserve.configuration.Configuration`, so
    the package is stood up with just those.
    """
    package = types.ModuleType("kserve")
    package.__path__ = [sdk_dir.rstrip("/") + "/kserve"]
    configuration = types.ModuleType("kserve.configuration")

    class Configuration:  # what the models read: validate on the client side
        client_side_validation = True

    configuration.Configuration = Configuration
    sys.modules["kserve"] = package
    sys.modules["kserve.configuration"] = configuration
    return importlib.import_module("kserve.models")


class KServeValidator:
    """Checks KServe objects against the SDK's models, field by field."""

    def __init__(self, models, schemas):
        self.models = models
        self.schemas = schemas

    def validate(self, doc):
        cls_name = KSERVE_KINDS.get((doc.get("apiVersion"), doc.get("kind")))
        if cls_name is None:
            return ["no KServe schema for kind %s with apiVersion %s (known: %s)" % (
                doc.get("kind"), doc.get("apiVersion"),
                ", ".join("%s %s" % k for k in sorted(KSERVE_KINDS)))]
        errors = []
        self._check(doc, cls_name, [], errors)
        return errors

    def _check(self, value, type_name, path, errors):
        where = _path(path)
        if type_name == "object":
            return
        if type_name == "str":
            if not isinstance(value, str):
                errors.append("%s: %r is not a string" % (where, value))
            return
        if type_name == "int":
            if not isinstance(value, int) or isinstance(value, bool):
                errors.append("%s: %r is not an integer" % (where, value))
            return
        if type_name == "float":
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                errors.append("%s: %r is not a number" % (where, value))
            return
        if type_name == "bool":
            if not isinstance(value, bool):
                errors.append("%s: %r is not a boolean" % (where, value))
            return
        m = re.match(r"list\[(.+)\]$", type_name)
        if m:
            if not isinstance(value, list):
                errors.append("%s: expected a list" % where)
                return
            for i, item in enumerate(value):
                self._check(item, m.group(1), path + [i], errors)
            return
        m = re.match(r"dict\(str, (.+)\)$", type_name)
        if m:
            if not isinstance(value, dict):
                errors.append("%s: expected a map" % where)
                return
            for k, item in value.items():
                if not isinstance(k, str):
                    errors.append("%s: key %r is not a string" % (where, k))
                self._check(item, m.group(1), path + [k], errors)
            return
        cls = getattr(self.models, type_name, None)
        if cls is not None:
            self._check_model(value, cls, path, errors)
            return
        definition = self.schemas.definition_name(type_name)
        if definition is None:
            errors.append("%s: no schema for type %s" % (where, type_name))
            return
        for e in self.schemas.validate_definition(value, definition):
            errors.append("%s: %s" % (where, e))

    def _check_model(self, value, cls, path, errors):
        where = _path(path)
        if not isinstance(value, dict):
            errors.append("%s: expected an object (%s)" % (where, cls.__name__))
            return
        by_json = {j: p for p, j in cls.attribute_map.items()}
        for key, item in value.items():
            if key not in by_json:
                errors.append("%s: unknown field %r (%s has: %s)" % (
                    where, key, cls.__name__, ", ".join(sorted(by_json))))
                continue
            self._check(item, cls.openapi_types[by_json[key]], path + [key], errors)
        # The generated constructors reject missing required fields and
        # values outside an enum; only present fields are passed.
        try:
            cls(**{by_json[k]: v for k, v in value.items() if k in by_json})
        except ValueError as e:
            errors.append("%s: %s" % (where, e))


# --- the set as a whole ----------------------------------------------------------

def _matches(selector, labels):
    """Whether a label selector (matchLabels/matchExpressions) selects labels."""
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return False  # an empty selector: invalid for workloads, too broad elsewhere
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions", []) or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _ns(doc):
    return (doc.get("metadata") or {}).get("namespace", "default")


def cross_check(documents):
    """Errors that need the whole set: (where, message) pairs."""
    docs = [(w, d) for w, d in documents if isinstance(d, dict)]
    pods = []  # (namespace, labels, containers, workload where)
    workloads = {}
    runtimes = {}
    errors = []
    for where, doc in docs:
        kind, spec = doc.get("kind"), doc.get("spec") or {}
        if kind in _WORKLOADS:
            template = spec.get("template") or {}
            labels = (template.get("metadata") or {}).get("labels") or {}
            if not _matches(spec.get("selector") or {}, labels):
                errors.append((where, "spec.selector does not select the pod template's "
                               "labels %s" % labels))
            containers = (template.get("spec") or {}).get("containers") or []
            pods.append((_ns(doc), labels, containers, where))
            workloads[(_ns(doc), kind, (doc.get("metadata") or {}).get("name"))] = doc
        elif kind in ("ServingRuntime", "ClusterServingRuntime"):
            runtimes[(doc.get("metadata") or {}).get("name")] = (kind, _ns(doc), spec)
    for where, doc in docs:
        kind, spec = doc.get("kind"), doc.get("spec") or {}
        if kind == "Service" and spec.get("selector"):
            selected = [p for p in pods if p[0] == _ns(doc) and
                        all(p[1].get(k) == v for k, v in spec["selector"].items())]
            if not selected:
                errors.append((where, "selector %s selects no pods of the workloads here"
                               % spec["selector"]))
            for port in spec.get("ports") or []:
                target = port.get("targetPort", port.get("port"))
                for _, _, containers, pod_where in selected:
                    declared = [(p.get("name"), p.get("containerPort"))
                                for c in containers for p in c.get("ports") or []]
                    ok = (any(n == target for n, _ in declared) if isinstance(target, str)
                          else any(n == target for _, n in declared))
                    if not ok:
                        errors.append((where, "targetPort %r is not a container port of %s"
                                       % (target, pod_where)))
        elif kind == "PodDisruptionBudget":
            if not any(p[0] == _ns(doc) and _matches(spec.get("selector") or {}, p[1])
                       for p in pods):
                errors.append((where, "selector selects no pods of the workloads here"))
        elif kind == "HorizontalPodAutoscaler":
            ref = spec.get("scaleTargetRef") or {}
            if (_ns(doc), ref.get("kind"), ref.get("name")) not in workloads:
                errors.append((where, "scaleTargetRef %s/%s is not a workload here"
                               % (ref.get("kind"), ref.get("name"))))
            if spec.get("minReplicas", 1) > spec.get("maxReplicas", 0):
                errors.append((where, "minReplicas is above maxReplicas"))
        elif kind == "InferenceService":
            model = ((spec.get("predictor") or {}).get("model") or {})
            runtime = model.get("runtime")
            fmt = (model.get("modelFormat") or {}).get("name")
            if runtime is not None:
                if runtime not in runtimes:
                    errors.append((where, "runtime %r is not a ServingRuntime here" % runtime))
                elif fmt not in {f.get("name") for f in
                                 runtimes[runtime][2].get("supportedModelFormats") or []}:
                    errors.append((where, "runtime %r does not support model format %r"
                                   % (runtime, fmt)))
                # KServe's controller picks a runtime only for a protocol it
                # lists; an InferenceService that names none asks for v1.
                elif (model.get("protocolVersion") or "v1") not in (
                        runtimes[runtime][2].get("protocolVersions") or ["v1", "grpc-v1"]):
                    errors.append((where, "runtime %r does not support protocol %r"
                                   % (runtime, model.get("protocolVersion") or "v1")))
    return errors


# --- all together ------------------------------------------------------------------

class ManifestChecker:

    def __init__(self, kserve_sdk, versions=K8S_VERSIONS):
        self.schemas = KubernetesSchemas(versions)
        self.kserve = KServeValidator(load_kserve_models(kserve_sdk), self.schemas)

    def check_documents(self, documents):
        """All errors of a set of (where, object) documents, as strings."""
        errors = []
        for where, doc in documents:
            if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
                errors.append("%s: not a Kubernetes object (apiVersion and kind needed)" % where)
                continue
            if str(doc["apiVersion"]).startswith("serving.kserve.io/"):
                found = self.kserve.validate(doc)
            else:
                found = self.schemas.validate(doc)
            errors.extend("%s: %s" % (where, e) for e in found)
        errors.extend("%s: %s" % e for e in cross_check(documents))
        return errors

    def check_files(self, paths):
        documents = []
        for path in paths:
            documents.extend(load_documents(path))
        return documents, self.check_documents(documents)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kserve_sdk", required=True,
                        help="directory holding KServe's SDK package (kserve/)")
    parser.add_argument("--k8s_versions", default=",".join(K8S_VERSIONS))
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    checker = ManifestChecker(args.kserve_sdk, tuple(args.k8s_versions.split(",")))
    documents, errors = checker.check_files(args.files)
    for e in errors:
        print("ERROR " + e)
    if errors:
        print("%d error(s) in %d object(s)" % (len(errors), len(documents)))
        return 1
    print("OK: %d object(s) valid for Kubernetes %s and KServe's models, and consistent"
          % (len(documents), ", ".join(checker.schemas.versions)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
