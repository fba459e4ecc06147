"""Kubernetes Events: what one looks like, when two are the same, when they go. Pure.

An Occurrence is what the kubelet or a controller reports (`recorder.Eventf(obj, type, reason,
message)`); the Correlator turns occurrences into core/v1 Event objects as client-go's
EventCorrelator does: the same occurrence again (same source, involved object, type, reason and
message: client-go's getEventKey, which leaves out the involved object's resourceVersion) updates
the one Event, count + 1 and lastTimestamp moved, under the same name, `<involved name>.<hex of
the first time in nanoseconds>`. Events expire a while after they were last seen (the API
server stores them with a one hour TTL, refreshed by each update), and their number is bounded:
the least recently seen go first. events.k8s.io/v1 is the same Event with its fields renamed.

Every stored Event, new or counted again, is a store version, and the store's watch window is
shared with every kind (a resumed watch older than the window is answered 410 and lists again),
so Events are limited where client-go limits them (tools/record/events_cache.go): a source may
report 25 times about one object, then once per 5 minutes (EventSourceObjectSpamFilter; what is
over budget is not stored at all); the 10th different message with the same reason about an
object within 10 minutes becomes one "(combined from similar events): ..." Event that later
ones count on (EventAggregator); and expiry deletes at most SWEEP_MAX_DELETIONS at a time.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from localsvc.model.clock import now_iso

Obj = dict[str, Any]

DEFAULT_TTL_SECONDS = 3600.0  # kube-apiserver --event-ttl
DEFAULT_LIMIT = 2000  # Events the node keeps at most (the oldest go first)
EVENTS_V1_GROUP = "events.k8s.io"  # its Events are the store's core/v1 ones, fields renamed
# client-go's EventCorrelator defaults (tools/record/events_cache.go)
SPAM_BURST = 25  # reports a source may make about one object at once
SPAM_REFILL_SECONDS = 300.0  # then one more per this many seconds (defaultSpamQPS 1/300)
AGGREGATE_MAX_MESSAGES = 10  # different messages of one reason about one object ...
AGGREGATE_WINDOW_SECONDS = 600.0  # ... within this long since the last are combined
AGGREGATE_PREFIX = "(combined from similar events): "
CACHE_ENTRIES = 4096  # the sources+objects each of the two remembers (client-go's LRU size)
# Deletions per expiry pass: a burst of expiries is spread over syncs instead of flushing the
# store's watch window (1000 versions) at once.
SWEEP_MAX_DELETIONS = 100
NORMAL, WARNING = "Normal", "Warning"

# Who reports, as a cluster's components name themselves (source.component).
KUBELET = "kubelet"
SCHEDULER = "default-scheduler"
DEPLOYMENT_CONTROLLER = "deployment-controller"
REPLICASET_CONTROLLER = "replicaset-controller"
SERVICE_CONTROLLER = "service-controller"


@dataclass(frozen=True)
class ObjectRef:
    """An Event's involvedObject (corev1.ObjectReference)."""

    kind: str
    namespace: str
    name: str
    uid: str = ""
    api_version: str = "v1"
    resource_version: str = ""
    field_path: str = ""  # "spec.containers{NAME}" for a container's events

    def as_dict(self) -> Obj:
        ref: Obj = {"kind": self.kind, "namespace": self.namespace, "name": self.name,
                    "uid": self.uid, "apiVersion": self.api_version}
        if self.resource_version:
            ref["resourceVersion"] = self.resource_version
        if self.field_path:
            ref["fieldPath"] = self.field_path
        return ref

    def container(self, name: str, init: bool = False) -> ObjectRef:
        """The reference to one of a pod's containers, as the kubelet's events carry it."""
        field = "initContainers" if init else "containers"
        return ObjectRef(self.kind, self.namespace, self.name, self.uid, self.api_version,
                         self.resource_version, f"spec.{field}{{{name}}}")


def reference_to(obj: Mapping[str, Any]) -> ObjectRef:
    """The reference to a stored object (ref.GetReference: kind, apiVersion, uid, version)."""
    meta = obj.get("metadata") or {}
    return ObjectRef(str(obj.get("kind", "")), str(meta.get("namespace", "")),
                     str(meta.get("name", "")), str(meta.get("uid", "")),
                     str(obj.get("apiVersion", "v1")), str(meta.get("resourceVersion", "")))


@dataclass(frozen=True)
class Occurrence:
    """One report: `type` Normal or Warning, `reason` a CamelCase word, `message` for people."""

    ref: ObjectRef
    type: str
    reason: str
    message: str
    component: str
    host: str = ""  # the node name for the kubelet's events

    def key(self) -> tuple[str, ...]:
        """client-go getEventKey: what makes two reports the same Event."""
        ref = self.ref
        return (self.component, self.host, ref.kind, ref.namespace, ref.name, ref.field_path,
                ref.uid, ref.api_version, self.type, self.reason, self.message)

    def spam_key(self) -> tuple[str, ...]:
        """client-go getSpamKey: the source and the object, whose reports share one budget."""
        ref = self.ref
        return (self.component, self.host, ref.kind, ref.namespace, ref.name, ref.uid,
                ref.api_version)

    def aggregate_key(self) -> tuple[str, ...]:
        """client-go EventAggregatorByReasonFunc: the same report but for its message (and
        the container: fieldPath is not part of it)."""
        return (*self.spam_key(), self.type, self.reason)


def event_name(involved_name: str, first_seen: float, later: int = 0) -> str:
    """`<involved name>.<hex of nanoseconds>`, as client-go names a new Event (`later`
    nanoseconds on, when that name is taken)."""
    return f"{involved_name}.{int(first_seen * 1e9) + later:x}"


def event_object(occurrence: Occurrence, name: str, first_seen: float, last_seen: float,
                 count: int) -> Obj:
    """The core/v1 Event for `occurrence` seen `count` times."""
    ref = occurrence.ref
    source: Obj = {"component": occurrence.component}
    if occurrence.host:
        source["host"] = occurrence.host
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": ref.namespace or "default"},
        "involvedObject": ref.as_dict(),
        "reason": occurrence.reason, "message": occurrence.message, "source": source,
        "firstTimestamp": now_iso(first_seen), "lastTimestamp": now_iso(last_seen),
        "count": count, "type": occurrence.type, "eventTime": None,
        "reportingComponent": occurrence.component,
        "reportingInstance": occurrence.host,
    }


@dataclass
class _Seen:
    name: str
    namespace: str
    first: float
    last: float
    count: int


@dataclass
class _Bucket:
    """A token bucket, full at first (client-go's flowcontrol token bucket)."""

    tokens: float
    at: float

    def take(self, now: float, burst: int, refill_seconds: float) -> bool:
        self.tokens = min(float(burst), self.tokens + max(0.0, now - self.at) / refill_seconds)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass
class _Similar:
    messages: set[str]
    last: float


class SpamFilter:
    """EventSourceObjectSpamFilter: `burst` reports per source and object, then one per
    `refill_seconds`; the least recently heard of beyond `entries` are forgotten (full again)."""

    def __init__(self, burst: int = SPAM_BURST, refill_seconds: float = SPAM_REFILL_SECONDS,
                 entries: int = CACHE_ENTRIES):
        self.burst, self.refill_seconds, self.entries = burst, refill_seconds, entries
        self._buckets: OrderedDict[tuple[str, ...], _Bucket] = OrderedDict()

    def allows(self, occurrence: Occurrence, now: float) -> bool:
        key = occurrence.spam_key()
        bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
        self._buckets[key] = bucket
        if len(self._buckets) > self.entries:
            self._buckets.popitem(last=False)
        return bucket.take(now, self.burst, self.refill_seconds)


class Aggregator:
    """EventAggregator: the `most`-th different message of one reason about one object within
    `window` seconds of the last is reported as one combined Event (correlated by the
    aggregate key, so later ones count on it); the message set never grows beyond `most`."""

    def __init__(self, most: int = AGGREGATE_MAX_MESSAGES,
                 window: float = AGGREGATE_WINDOW_SECONDS, entries: int = CACHE_ENTRIES):
        self.most, self.window, self.entries = most, window, entries
        self._similar: OrderedDict[tuple[str, ...], _Similar] = OrderedDict()

    def aggregate(self, occurrence: Occurrence, now: float) -> tuple[Occurrence, tuple[str, ...]]:
        """The occurrence to record and its correlation key."""
        key = occurrence.aggregate_key()
        similar = self._similar.pop(key, None)
        if similar is None or now - similar.last > self.window:
            similar = _Similar(set(), now)
        similar.messages.add(occurrence.message)
        similar.last = now
        self._similar[key] = similar
        if len(self._similar) > self.entries:
            self._similar.popitem(last=False)
        if len(similar.messages) < self.most:
            return occurrence, occurrence.key()
        similar.messages.pop()
        combined = Occurrence(occurrence.ref, occurrence.type, occurrence.reason,
                              AGGREGATE_PREFIX + occurrence.message, occurrence.component,
                              occurrence.host)
        return combined, ("aggregate", *key)


class Correlator:
    """The Events recorded so far, by correlation key, least recently seen first; what a
    source reports beyond its budget is dropped, similar reports are combined."""

    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS, limit: int = DEFAULT_LIMIT,
                 spam: SpamFilter | None = None, aggregator: Aggregator | None = None):
        self.ttl = ttl
        self.limit = max(1, limit)
        self.spam = spam or SpamFilter()
        self.aggregator = aggregator or Aggregator()
        self._seen: OrderedDict[tuple[str, ...], _Seen] = OrderedDict()
        self._names: set[tuple[str, str]] = set()  # (namespace, name) of the kept Events

    def __len__(self) -> int:
        return len(self._seen)

    def observe(self, occurrence: Occurrence, now: float) -> Obj | None:
        """The Event to store for `occurrence` at `now`: a new one, or the same again with
        count + 1 (same name); None when its source is over budget (nothing is stored)."""
        if not self.spam.allows(occurrence, now):
            return None
        occurrence, key = self.aggregator.aggregate(occurrence, now)
        # An expired Event is not this method's to drop: the caller forgets what expired()
        # returns first (and deletes it), so its name is never lost here.
        seen = self._seen.pop(key, None)
        if seen is None:
            namespace = occurrence.ref.namespace or "default"
            name, step = event_name(occurrence.ref.name, now), 0
            while (namespace, name) in self._names:  # two in the same nanosecond
                step += 1
                name = event_name(occurrence.ref.name, now, step)
            self._names.add((namespace, name))
            seen = _Seen(name, namespace, now, now, 1)
        else:
            seen.last, seen.count = now, seen.count + 1
        self._seen[key] = seen  # moved to the end: the most recently seen
        return event_object(occurrence, seen.name, seen.first, seen.last, seen.count)

    def keep_written(self, namespace: str, name: str, now: float) -> None:
        """An Event a client wrote through the API: kept (and expired, and bounded) like the
        node's own, seen now."""
        key = ("written", namespace, name)
        seen = self._seen.pop(key, None) or _Seen(name, namespace, now, now, 1)
        seen.last = now
        self._seen[key] = seen
        self._names.add((namespace, name))

    def forget(self, namespace: str, name: str) -> None:
        """An Event deleted through the API: the same report again makes a new one."""
        for key, seen in list(self._seen.items()):
            if (seen.namespace, seen.name) == (namespace, name):
                del self._seen[key]
        self._names.discard((namespace, name))

    def expired(self, now: float, most: int = SWEEP_MAX_DELETIONS) -> list[tuple[str, str]]:
        """(namespace, name) of the Events not seen for `ttl` seconds, and of the least
        recently seen beyond `limit`, `most` at a time (the rest go on a later call); they are
        forgotten here, the caller deletes them."""
        gone: list[tuple[str, str]] = []
        while self._seen and len(gone) < most:
            key, seen = next(iter(self._seen.items()))
            if now - seen.last <= self.ttl and len(self._seen) <= self.limit:
                break
            del self._seen[key]
            self._names.discard((seen.namespace, seen.name))
            gone.append((seen.namespace, seen.name))
        return gone


def as_events_v1(event: Mapping[str, Any]) -> Obj:
    """A core/v1 Event in events.k8s.io/v1's shape (the API server's conversion)."""
    out: Obj = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
                "metadata": event.get("metadata") or {},
                "eventTime": event.get("eventTime"),
                "reportingController": event.get("reportingComponent", ""),
                "reportingInstance": event.get("reportingInstance", ""),
                "action": event.get("action", ""), "reason": event.get("reason", ""),
                "regarding": event.get("involvedObject") or {},
                "note": event.get("message", ""), "type": event.get("type", ""),
                "deprecatedSource": event.get("source") or {},
                "deprecatedFirstTimestamp": event.get("firstTimestamp"),
                "deprecatedLastTimestamp": event.get("lastTimestamp"),
                "deprecatedCount": event.get("count", 0)}
    if event.get("related"):
        out["related"] = event["related"]
    if event.get("series"):
        out["series"] = event["series"]
    return out


def from_events_v1(event: Mapping[str, Any]) -> Obj:
    """An events.k8s.io/v1 Event in core/v1's shape (as_events_v1 the other way), as stored."""
    out: Obj = {"apiVersion": "v1", "kind": "Event", "metadata": event.get("metadata") or {},
                "involvedObject": event.get("regarding") or {},
                "reason": event.get("reason", ""), "message": event.get("note", ""),
                "source": event.get("deprecatedSource") or {},
                "firstTimestamp": event.get("deprecatedFirstTimestamp"),
                "lastTimestamp": event.get("deprecatedLastTimestamp"),
                "count": event.get("deprecatedCount", 0), "type": event.get("type", ""),
                "eventTime": event.get("eventTime"), "action": event.get("action", ""),
                "reportingComponent": event.get("reportingController", ""),
                "reportingInstance": event.get("reportingInstance", "")}
    for name in ("related", "series"):
        if event.get(name):
            out[name] = event[name]
    return out


def event_problems(event: Mapping[str, Any], events_v1: bool) -> list[tuple[str, str, Any]]:
    """(field error type, field path, value) of what the API server refuses in a written Event
    (core/v1 shape; `events_v1`: it came as events.k8s.io/v1, whose names the paths use):
    involvedObject's namespace other than the Event's; for an Event with an eventTime (the
    new API), the reporting controller and instance, action and reason left out; a type other
    than Normal or Warning."""
    problems: list[tuple[str, str, Any]] = []
    involved = event.get("involvedObject")
    regarding = "regarding" if events_v1 else "involvedObject"
    if not isinstance(involved, dict):
        return [("FieldValueRequired", regarding, None)]
    namespace = (event.get("metadata") or {}).get("namespace") or ""
    theirs = involved.get("namespace") or ""
    if theirs != namespace and (theirs or namespace not in ("", "default")):
        problems.append(("FieldValueInvalid", f"{regarding}.namespace", theirs))
    if event.get("eventTime") or events_v1:
        if events_v1 and not event.get("eventTime"):
            problems.append(("FieldValueRequired", "eventTime", None))
        for name, shown in (("reportingComponent",
                             "reportingController" if events_v1 else "reportingComponent"),
                            ("reportingInstance", "reportingInstance"), ("action", "action"),
                            ("reason", "reason")):
            if not event.get(name):
                problems.append(("FieldValueRequired", shown, None))
    if event.get("type") not in (None, "", NORMAL, WARNING) or (events_v1 and not event.get("type")):
        problems.append(("FieldValueNotSupported", "type", event.get("type")))
    return problems


# -- the messages of a cluster's components (1.32), in one place

def scheduled(namespace: str, pod: str, node: str) -> tuple[str, str]:
    return "Scheduled", f"Successfully assigned {namespace}/{pod} to {node}"


def scaled(direction: str, replica_set: str, before: int, after: int) -> tuple[str, str]:
    """deployment-controller's ScalingReplicaSet ("up" or "down")."""
    return "ScalingReplicaSet", f"Scaled {direction} replica set {replica_set} from {before} to {after}"


def back_off(container: str, pod: str, namespace: str, uid: str) -> tuple[str, str]:
    """The kubelet's BackOff; the pod printed as format.Pod: NAME_NAMESPACE(UID)."""
    return "BackOff", (f"Back-off restarting failed container {container} in pod "
                       f"{pod}_{namespace}({uid})")




def service_failures(services: Mapping[str, Mapping[str, Any]], lb_pending: Mapping[str, str],
                     publish_errors: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Service key -> (reason, message) of each stored Service whose NodePort or LoadBalancer
    ports are not published: a LoadBalancer waiting for a port another one holds, or a host
    port the node could not publish. A LoadBalancer's words are the service controller's."""
    failures: dict[str, tuple[str, str]] = {}
    for key, service in services.items():
        why = lb_pending.get(key) or publish_errors.get(key)
        if not why:
            continue
        if (service.get("spec") or {}).get("type") == "LoadBalancer":
            failures[key] = ("SyncLoadBalancerFailed",
                             f"Error syncing load balancer: failed to ensure load balancer: {why}")
        else:
            failures[key] = ("FailedToPublishNodePort", why)
    return failures

__all__ = ["Aggregator", "Correlator", "EVENTS_V1_GROUP", "ObjectRef", "Occurrence", "SpamFilter",
           "as_events_v1", "back_off", "event_name", "event_object", "event_problems",
           "from_events_v1", "reference_to", "scaled", "scheduled", "service_failures"]
