"""Schemas of our own for the two custom resources the manifests use, since Kubernetes'
schemas (kubernetes-validate) do not know them: KEDA's ScaledObject (keda.sh/v1alpha1) and
the Prometheus Operator's ServiceMonitor (monitoring.coreos.com/v1).

They cover the fields we write, typed as the CRDs type them, and refuse any other field, so
a misspelt or misplaced one (``maxReplicas``, a trigger's ``lagthreshold``) fails the test
as it would fail ``kubectl apply`` against the CRD. Kafka trigger metadata are strings in
KEDA (a map of string to string), numbers included.
"""

from __future__ import annotations

from typing import Any

_STRING = {"type": "string"}
_INT = {"type": "integer", "minimum": 0}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_METADATA = {"type": "object"}  # validated as ObjectMeta would be by the API server

_KAFKA_METADATA = _object(
    {
        name: _STRING
        for name in (
            "bootstrapServers",
            "consumerGroup",
            "topic",
            "lagThreshold",
            "activationLagThreshold",
            "offsetResetPolicy",
            "allowIdleConsumers",
            "scaleToZeroOnInvalidOffset",
            "excludePersistentLag",
            "limitToPartitionsWithLag",
            "partitionLimitation",
            "version",
            "sasl",
            "tls",
        )
    },
    required=("bootstrapServers", "consumerGroup"),
)

_POLICY = _object(
    {"type": {"enum": ["Pods", "Percent"]}, "value": _INT, "periodSeconds": _INT},
    required=("type", "value", "periodSeconds"),
)
_SCALING_RULES = _object(
    {
        "stabilizationWindowSeconds": _INT,
        "selectPolicy": {"enum": ["Max", "Min", "Disabled"]},
        "policies": {"type": "array", "items": _POLICY},
    }
)

SCALED_OBJECT = _object(
    {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": _METADATA,
        "spec": _object(
            {
                "scaleTargetRef": _object(
                    {"name": _STRING, "kind": _STRING, "apiVersion": _STRING},
                    required=("name",),
                ),
                "minReplicaCount": _INT,
                "maxReplicaCount": _INT,
                "idleReplicaCount": _INT,
                "pollingInterval": _INT,
                "cooldownPeriod": _INT,
                "advanced": _object(
                    {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": _object(
                            {
                                "name": _STRING,
                                "behavior": _object(
                                    {"scaleUp": _SCALING_RULES, "scaleDown": _SCALING_RULES}
                                ),
                            }
                        ),
                    }
                ),
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": _object(
                        {
                            "type": {"const": "kafka"},
                            "name": _STRING,
                            "metadata": _KAFKA_METADATA,
                            "authenticationRef": _object({"name": _STRING}, required=("name",)),
                        },
                        required=("type", "metadata"),
                    ),
                },
            },
            required=("scaleTargetRef", "triggers"),
        ),
    },
    required=("apiVersion", "kind", "metadata", "spec"),
)

_DURATION = {"type": "string", "pattern": r"^(0|([0-9]+(\.[0-9]+)?(ms|s|m|h))+)$"}

SERVICE_MONITOR = _object(
    {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": _METADATA,
        "spec": _object(
            {
                "selector": _object(
                    {
                        "matchLabels": {"type": "object", "additionalProperties": _STRING},
                        "matchExpressions": {"type": "array"},
                    }
                ),
                "namespaceSelector": _object(
                    {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": _STRING}}
                ),
                "podTargetLabels": {"type": "array", "items": _STRING},
                "targetLabels": {"type": "array", "items": _STRING},
                "jobLabel": _STRING,
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": _object(
                        {
                            "port": _STRING,
                            "path": _STRING,
                            "scheme": {"enum": ["http", "https"]},
                            "interval": _DURATION,
                            "scrapeTimeout": _DURATION,
                            "honorLabels": {"type": "boolean"},
                        }
                    ),
                },
            },
            required=("selector", "endpoints"),
        ),
    },
    required=("apiVersion", "kind", "metadata", "spec"),
)

CUSTOM_SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("keda.sh/v1alpha1", "ScaledObject"): SCALED_OBJECT,
    ("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
}
